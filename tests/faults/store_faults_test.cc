// Faults in the storage under the engine: a full disk and I/O errors,
// injected by a SQLite VFS that wraps the real one. A command whose commit
// fails gets a clean error and changes nothing; what was committed before
// stays; the database passes SQLite's integrity check; once the fault clears
// the engine carries on, and a restart finds exactly the committed work.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;

// --- the faulty VFS ------------------------------------------------------------

enum class Fault { kNone, kDiskFull, kWriteError, kSyncError, kReadError };
std::atomic<Fault> g_fault{Fault::kNone};
std::atomic<int> g_faults_injected{0};

// Each test process says how many faults it injected; the test command adds
// them up in its summary.
class FaultCount : public ::testing::Environment {
 public:
  void TearDown() override { std::printf("faults: %d store faults injected\n", g_faults_injected.load()); }
};
[[maybe_unused]] ::testing::Environment* const g_fault_count = ::testing::AddGlobalTestEnvironment(new FaultCount);

sqlite3_vfs* g_real = nullptr;

struct FaultyFile {
  sqlite3_file base;     // must be first: SQLite sees this
  sqlite3_file* real;    // the wrapped file, allocated after this struct
  bool log;              // a write-ahead log
};

// Writes that reached write-ahead log files, and their bytes.
std::atomic<int> g_log_writes{0};
std::atomic<int64_t> g_log_bytes{0};

const sqlite3_io_methods* faulty_methods();

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<FaultyFile*>(f)->real; }

int x_close(sqlite3_file* f) {
  int rc = real_of(f)->pMethods ? real_of(f)->pMethods->xClose(real_of(f)) : SQLITE_OK;
  return rc;
}
int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (g_fault.load() == Fault::kReadError) {
    ++g_faults_injected;
    return SQLITE_IOERR_READ;
  }
  return real_of(f)->pMethods->xRead(real_of(f), buf, amt, off);
}
int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  Fault fault = g_fault.load();
  if (fault == Fault::kDiskFull) {
    ++g_faults_injected;
    return SQLITE_FULL;
  }
  if (fault == Fault::kWriteError) {
    ++g_faults_injected;
    return SQLITE_IOERR_WRITE;
  }
  if (reinterpret_cast<FaultyFile*>(f)->log) {
    ++g_log_writes;
    g_log_bytes += amt;
  }
  return real_of(f)->pMethods->xWrite(real_of(f), buf, amt, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); }
int x_sync(sqlite3_file* f, int flags) {
  if (g_fault.load() == Fault::kSyncError) {
    ++g_faults_injected;
    return SQLITE_IOERR_FSYNC;
  }
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
int x_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return real_of(f)->pMethods->xFileControl(real_of(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int x_device_chars(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, p);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }

const sqlite3_io_methods* faulty_methods() {
  static const sqlite3_io_methods m = {
      2,           x_close,        x_read,        x_write,      x_truncate,       x_sync,
      x_file_size, x_lock,         x_unlock,      x_check_reserved, x_file_control, x_sector_size,
      x_device_chars, x_shm_map,   x_shm_lock,    x_shm_barrier, x_shm_unmap,     nullptr,
      nullptr};
  return &m;
}

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<FaultyFile*>(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->log = (flags & SQLITE_OPEN_WAL) != 0;
  std::memset(f->real, 0, static_cast<size_t>(g_real->szOsFile));
  int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? faulty_methods() : nullptr;
  return rc;
}

sqlite3_vfs g_faulty;

// Installs the faulty VFS as the default, wrapping the real default.
void install_faulty_vfs() {
  if (g_real) return;
  g_real = sqlite3_vfs_find(nullptr);
  g_faulty = *g_real;
  g_faulty.zName = "banshi-faulty";
  g_faulty.szOsFile = static_cast<int>(sizeof(FaultyFile)) + g_real->szOsFile;
  g_faulty.xOpen = x_open;
  g_faulty.pAppData = nullptr;
  ASSERT_EQ(sqlite3_vfs_register(&g_faulty, 1), SQLITE_OK);
}

// --- the test --------------------------------------------------------------------

const char* kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <userTask id="t" name="Review" bs:candidateGroups="qa"/>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

class StoreFaults : public ::testing::TestWithParam<Fault> {
 protected:
  void SetUp() override {
    install_faulty_vfs();
    g_fault = Fault::kNone;
    dir_ = fs::temp_directory_path() / ("banshi-faults-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(static_cast<int>(GetParam())));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    open();
  }
  void TearDown() override {
    g_fault = Fault::kNone;
    engine_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    store::sqlite::SqliteOptions o;
    o.path = (dir_ / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), std::make_shared<ManualClock>(1'770'000'000'000));
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();
  }
  Result<InstanceId> start(const std::string& key) {
    StartRequest r;
    r.process_id = "p";
    r.business_key = key;
    r.variables = boost::json::object{{"key", key}};
    return engine_->start_instance(r);
  }
  size_t count_instances() {
    store::InstanceQuery q;
    q.limit = 10000;
    auto list = engine_->store().instances(q);
    EXPECT_TRUE(list.ok());
    return list.ok() ? list->size() : 0;
  }
  std::string integrity() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((dir_ / "banshi.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::string result;
    sqlite3_exec(
        db, "PRAGMA integrity_check",
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) += values[0] ? values[0] : "";
          return 0;
        },
        &result, nullptr);
    sqlite3_close(db);
    return result;
  }

  fs::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(StoreFaults, AFailedCommitChangesNothingAndTheEngineCarriesOn) {
  ASSERT_TRUE(engine_->deploy("p.bpmn", kModel, "test").ok());
  std::vector<InstanceId> committed;
  for (int i = 0; i < 5; ++i) {
    auto id = start("before-" + std::to_string(i));
    ASSERT_TRUE(id.ok()) << id.error().message;
    committed.push_back(*id);
  }
  store::TaskQuery tq;
  tq.limit = 100;
  auto tasks = engine_->store().tasks(tq);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 5u);

  const int injected_before = g_faults_injected.load();
  g_fault = GetParam();
  // Starts and completions during the fault fail cleanly.
  for (int i = 0; i < 3; ++i) {
    auto id = start("during-" + std::to_string(i));
    EXPECT_FALSE(id.ok()) << "a start committed while the disk was failing";
  }
  auto done = engine_->complete_task((*tasks)[0].id, boost::json::object{{"ok", true}}, "");
  EXPECT_FALSE(done.ok()) << "a completion committed while the disk was failing";
  EXPECT_GT(g_faults_injected.load(), injected_before) << "no fault was injected";
  g_fault = Fault::kNone;

  // What was committed is intact and nothing half-written is visible.
  EXPECT_EQ(count_instances(), 5u);
  auto still = engine_->store().tasks(tq);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->size(), 5u) << "the failed completion removed its task";

  // The engine carries on: the same commands now succeed.
  auto again = engine_->complete_task((*tasks)[0].id, boost::json::object{{"ok", true}}, "");
  EXPECT_TRUE(again.ok()) << again.error().message;
  auto after = start("after-0");
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(count_instances(), 6u);

  // A restart finds exactly the committed work, in a sound database.
  engine_.reset();
  EXPECT_EQ(integrity(), "ok");
  open();
  EXPECT_EQ(count_instances(), 6u);
  auto reopened = engine_->store().tasks(tq);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->size(), 5u);  // four of the first five, and the one started after the fault
  for (const store::TaskRecord& t : *reopened) {
    EXPECT_TRUE(engine_->complete_task(t.id, boost::json::object{{"ok", true}}, "").ok());
  }
  store::InstanceQuery active;
  active.status = 1;
  active.limit = 100;
  auto left = engine_->store().instances(active);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << left->size() << " instances did not end";
}

// A deployment of several files whose transaction meets the
// fault stores none of them: no process, no decision, no timer start event;
// once the fault clears the same deployment stores all three.
TEST_P(StoreFaults, AFailedDeploymentOfSeveralFilesStoresNone) {
  const std::string timer_model = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="t">
  <process id="nightly" isExecutable="true">
    <startEvent id="tick"><timerEventDefinition><timeCycle>R/P1D</timeCycle></timerEventDefinition></startEvent>
    <sequenceFlow id="f1" sourceRef="tick" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";
  const std::string decision = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="rules" name="rules" namespace="urn:t">
  <decision id="fee" name="fee"><literalExpression id="l"><text>5</text></literalExpression></decision>
</definitions>)";
  const std::vector<DeploymentResource> files = {{"nightly.bpmn", timer_model}, {"rules.dmn", decision}, {"p.bpmn", kModel}};
  g_fault = GetParam();
  auto failed = engine_->deploy_resources(files, "test");
  g_fault = Fault::kNone;
  ASSERT_FALSE(failed.ok()) << "a deployment committed while the disk was failing";
  EXPECT_EQ(integrity(), "ok");
  engine_.reset();
  open();  // what the database holds, not what a cache remembers
  auto defs = engine_->store().definitions("");
  ASSERT_TRUE(defs.ok());
  EXPECT_TRUE(defs->empty()) << defs->size() << " processes were stored";
  auto decisions = engine_->store().decisions("");
  ASSERT_TRUE(decisions.ok());
  EXPECT_TRUE(decisions->empty()) << decisions->size() << " decisions were stored";
  auto timers = engine_->store().start_timers("");
  ASSERT_TRUE(timers.ok());
  EXPECT_TRUE(timers->empty()) << timers->size() << " start timers were stored";

  auto stored = engine_->deploy_resources(files, "test");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->processes.size(), 2u);
  EXPECT_EQ(stored->decisions.size(), 1u);
  EXPECT_EQ(engine_->store().start_timers("nightly")->size(), 1u);
}

// A durable store hands each commit's log frames to the file system in one
// write (store/sqlite/wal_buffer.h); the weaker mode, whose commits do not
// sync, writes them one by one, two writes a frame. The same frames either way.
TEST(LogWrites, ADurableCommitReachesTheLogInOneWrite) {
  install_faulty_vfs();
  g_fault = Fault::kNone;
  struct Count {
    int writes;
    int64_t bytes;
  };
  auto run = [](bool durable) -> Count {
    const fs::path dir = fs::temp_directory_path() / ("banshi-log-writes-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    store::sqlite::SqliteOptions o;
    o.path = (dir / "banshi.db").string();
    o.durable = durable;
    auto s = store::sqlite::SqliteStore::open(o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) return {};
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), std::make_shared<ManualClock>(1'770'000'000'000));
    EXPECT_TRUE(e.ok()) << e.error().message;
    if (!e.ok()) return {};
    EXPECT_TRUE((*e)->deploy("p.bpmn", kModel, "test").ok());
    const int writes = g_log_writes.load();
    const int64_t bytes = g_log_bytes.load();
    for (int i = 0; i < 20; ++i) {  // one commit each
      StartRequest r;
      r.process_id = "p";
      r.business_key = "k" + std::to_string(i);
      EXPECT_TRUE((*e)->start_instance(r).ok());
    }
    Count c{g_log_writes.load() - writes, g_log_bytes.load() - bytes};
    e->reset();
    fs::remove_all(dir);
    return c;
  };
  const Count gathered = run(true);
  const Count one_by_one = run(false);
  // Each commit writes a few pages (instance, task, candidates, history and
  // their indexes), each a header and a page.
  EXPECT_GE(one_by_one.writes, 20 * 2 * 3);
  EXPECT_LE(gathered.writes, 20 + 2) << "one a commit, and the log header when the log starts over";
  std::printf("log writes for 20 commits: %d gathered, %d one by one\n", gathered.writes, one_by_one.writes);
  EXPECT_GT(gathered.bytes, 20 * 3 * 4096);
  EXPECT_EQ(gathered.bytes, one_by_one.bytes);
}

INSTANTIATE_TEST_SUITE_P(Faults, StoreFaults,
                         ::testing::Values(Fault::kDiskFull, Fault::kWriteError, Fault::kSyncError),
                         [](const ::testing::TestParamInfo<Fault>& param_info) {
                           switch (param_info.param) {
                             case Fault::kDiskFull: return std::string("DiskFull");
                             case Fault::kWriteError: return std::string("WriteError");
                             case Fault::kSyncError: return std::string("SyncError");
                             default: return std::string("None");
                           }
                         });

// An instance the store cannot read (an I/O error) is not taken for one that
// does not exist: the command fails with the store's error, and once the
// store reads again it applies. (It was answered "does not exist" before,
// and a command with no caller to tell, such as a child's completion for
// its parent, was dropped while the rest of its batch committed.)
TEST(ReadFaults, AnInstanceThatCannotBeReadIsNotTakenForAbsent) {
  install_faulty_vfs();
  g_fault = Fault::kNone;
  const fs::path dir = fs::temp_directory_path() / ("banshi-read-faults-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    store::sqlite::SqliteOptions o;
    o.path = (dir / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EngineConfig config;
    config.instance_cache = 0;  // every command reads its instance from the store
    auto e = Engine::open(config, std::move(s).value(), std::make_shared<ManualClock>(1'770'000'000'000));
    ASSERT_TRUE(e.ok()) << e.error().message;
    auto engine = std::move(e).value();
    ASSERT_TRUE(engine->deploy("p.bpmn", kModel, "designer").ok());
    StartRequest r;
    r.process_id = "p";
    auto id = engine->start_instance(r);
    ASSERT_TRUE(id.ok()) << id.error().message;

    g_fault = Fault::kReadError;
    auto refused = engine->cancel_instance(*id, "read fault");
    g_fault = Fault::kNone;
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().code, "not-found") << refused.error().message;
    auto stored = engine->store().instance(*id);
    ASSERT_TRUE(stored.ok() && *stored);
    EXPECT_EQ((*stored)->status, 1) << "nothing was written";

    auto cancelled = engine->cancel_instance(*id, "the store reads again");
    ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
    EXPECT_NE((*engine->store().instance(*id))->status, 1);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace banshi
