// Faults in the storage under the engine: a full disk and I/O errors,
// injected by a SQLite VFS that wraps the real one. A command whose commit
// fails gets a clean error and changes nothing; what was committed before
// stays; the database passes SQLite's integrity check; once the fault clears
// the engine carries on, and a restart finds exactly the committed work. A
// failed sync of the log after a group commit is the exception (SyncFaults):
// the store stops until the process is restarted.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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
#include "../unit/store/test_util.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;

// --- the faulty VFS ------------------------------------------------------------

// kSyncError fails every sync of the log; kSqliteLogSync only SQLite's own
// (in COMMIT and checkpoints), not the one the store runs after a group
// commit (SqliteOptions::sync_log).
enum class Fault { kNone, kDiskFull, kWriteError, kSyncError, kReadError, kSqliteLogSync };
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

// Writes that reached write-ahead log files, and their bytes; syncs of them.
std::atomic<int> g_log_writes{0};
std::atomic<int64_t> g_log_bytes{0};
std::atomic<int> g_log_syncs{0};
// A log's header was written and not synced since, and frames were written
// after it meanwhile: what a crash could turn into old frames replayed.
std::atomic<bool> g_header_unsynced{false};
std::atomic<int> g_frames_after_unsynced_header{0};
std::atomic<int> g_log_headers{0};

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
    if (off == 0) {
      ++g_log_headers;
      g_header_unsynced = true;
      if (amt > 32) ++g_frames_after_unsynced_header;  // a frame in the same write as the header
    } else if (g_header_unsynced.load()) {
      ++g_frames_after_unsynced_header;
    }
  }
  return real_of(f)->pMethods->xWrite(real_of(f), buf, amt, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); }
int x_sync(sqlite3_file* f, int flags) {
  const Fault fault = g_fault.load();
  if (fault == Fault::kSyncError || (fault == Fault::kSqliteLogSync && reinterpret_cast<FaultyFile*>(f)->log)) {
    ++g_faults_injected;
    return SQLITE_IOERR_FSYNC;
  }
  if (reinterpret_cast<FaultyFile*>(f)->log) {
    ++g_log_syncs;
    g_header_unsynced = false;
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
    // The log's sync that the store runs itself after a group commit
    // (SqliteStore::sync_written) fails as SQLite's own do.
    o.sync_log = [](int fd) {
      if (g_fault.load() == Fault::kSyncError) {
        ++g_faults_injected;
        errno = EIO;
        return -1;
      }
      return ::fdatasync(fd);
    };
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

// A full disk or a failed write: the commit is rolled back.
class CommitFaults : public StoreFaults {};

TEST_P(CommitFaults, AFailedCommitChangesNothingAndTheEngineCarriesOn) {
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

std::string fault_name(const ::testing::TestParamInfo<Fault>& param_info) {
  switch (param_info.param) {
    case Fault::kDiskFull: return "DiskFull";
    case Fault::kWriteError: return "WriteError";
    case Fault::kSyncError: return "SyncError";
    default: return "None";
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, StoreFaults,
                         ::testing::Values(Fault::kDiskFull, Fault::kWriteError, Fault::kSyncError), fault_name);
INSTANTIATE_TEST_SUITE_P(Faults, CommitFaults, ::testing::Values(Fault::kDiskFull, Fault::kWriteError), fault_name);

// A failed sync of the log. A group commit's sync runs after its COMMIT,
// beside the next batch (Store::write_unsynced), so it cannot be rolled
// back; and after a failed fsync the kernel may have dropped the pages it
// could not write, so a later sync that succeeds proves nothing. The
// callers of that batch hear that it may be lost, and the store refuses
// every read and write from then on, even once the disk is well again. A
// restart reads what reached the file: here, where the machine did not
// stop, the batch whose sync failed is there, whole, and the engine carries
// on from it.
class SyncFaults : public StoreFaults {};

TEST_P(SyncFaults, AFailedSyncStopsTheStoreUntilARestart) {
  ASSERT_TRUE(engine_->deploy("p.bpmn", kModel, "test").ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(start("before-" + std::to_string(i)).ok());
  store::TaskQuery tq;
  tq.limit = 100;
  auto tasks = engine_->store().tasks(tq);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 5u);

  const int injected_before = g_faults_injected.load();
  g_fault = Fault::kSyncError;
  auto lost = start("during-0");
  ASSERT_FALSE(lost.ok()) << "a start was answered while its log could not be synced";
  EXPECT_NE(lost.error().message.find("may be lost"), std::string::npos) << lost.error().message;
  EXPECT_GT(g_faults_injected.load(), injected_before) << "no fault was injected";
  g_fault = Fault::kNone;

  auto refused = start("after-0");
  ASSERT_FALSE(refused.ok()) << "the store wrote again after a failed sync";
  EXPECT_NE(refused.error().message.find("refuses reads and writes"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(engine_->complete_task((*tasks)[0].id, boost::json::object{{"ok", true}}, "").ok());
  EXPECT_FALSE(engine_->store().tasks(tq).ok()) << "a read could show a commit that may be lost";

  engine_.reset();
  EXPECT_EQ(integrity(), "ok");
  open();
  EXPECT_EQ(count_instances(), 6u) << "the five before and the one whose sync failed";
  auto reopened = engine_->store().tasks(tq);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  ASSERT_EQ(reopened->size(), 6u);
  for (const store::TaskRecord& t : *reopened) {
    EXPECT_TRUE(engine_->complete_task(t.id, boost::json::object{{"ok", true}}, "").ok());
  }
  ASSERT_TRUE(start("after-1").ok());
  store::InstanceQuery active;
  active.status = 1;
  active.limit = 100;
  auto left = engine_->store().instances(active);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 1u) << "only the instance started after the restart waits";
}

INSTANTIATE_TEST_SUITE_P(Faults, SyncFaults, ::testing::Values(Fault::kSyncError), fault_name);

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

// The engine's group commits leave the log's sync to the store's own
// (SqliteStore::sync_written), which the VFS does not see; everything else
// still syncs in COMMIT. And when the log starts over after a checkpoint,
// its new header is synced before any frame is written after it, even by a
// commit whose sync is deferred: otherwise a crash could leave the old
// header with new frames over old ones, and recovery would replay old
// frames over newer pages.
TEST(LogSyncs, DeferredCommitsSkipTheLogSyncButNeverTheHeaders) {
  install_faulty_vfs();
  g_fault = Fault::kNone;
  const fs::path dir = fs::temp_directory_path() / ("banshi-log-syncs-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::atomic<int> own_syncs{0};
  store::sqlite::SqliteOptions o;
  o.path = (dir / "banshi.db").string();
  o.sync_log = [&](int fd) {
    ++own_syncs;
    return ::fdatasync(fd);
  };
  {
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), std::make_shared<ManualClock>(1'770'000'000'000));
    ASSERT_TRUE(e.ok()) << e.error().message;
    ASSERT_TRUE((*e)->deploy("p.bpmn", kModel, "test").ok());  // a durable commit
    StartRequest r;
    r.process_id = "p";
    ASSERT_TRUE((*e)->start_instance(r).ok());  // ids allocated, durably, once

    const int syncs = g_log_syncs.load();
    const int headers = g_log_headers.load();
    g_frames_after_unsynced_header = 0;
    // Enough commits for several checkpoints, each letting the log start over.
    for (int i = 0; i < 600; ++i) {
      r.business_key = "k" + std::to_string(i);
      auto id = (*e)->start_instance(r);
      ASSERT_TRUE(id.ok()) << id.error().message;
    }
    const int restarts = g_log_headers.load() - headers;
    EXPECT_GE(restarts, 2) << "the log never started over";
    EXPECT_EQ(g_frames_after_unsynced_header.load(), 0) << "frames were written after a header not yet synced";
    EXPECT_GE(own_syncs.load(), 600) << "each answer waits for a sync";
    // The log is synced by SQLite only for the new headers and the
    // checkpoints (each syncs the log, then the database file).
    EXPECT_LE(g_log_syncs.load() - syncs, 3 * restarts + 10)
        << "the commits synced the log themselves: " << g_log_syncs.load() - syncs;
    std::printf("600 commits: %d syncs of the store's own, %d of SQLite's, %d log restarts\n", own_syncs.load(),
                g_log_syncs.load() - syncs, restarts);

    // A commit outside a group commit (a claim) syncs in COMMIT as before.
    store::TaskQuery tq;
    tq.limit = 1;
    auto tasks = (*e)->store().tasks(tq);
    ASSERT_TRUE(tasks.ok() && !tasks->empty());
    const int before_claim = g_log_syncs.load();
    ASSERT_TRUE((*e)->claim_task(tasks->front().id, "ana").ok());
    EXPECT_GE(g_log_syncs.load(), before_claim + 1);
  }
  fs::remove_all(dir);
}

// The store's own: commits whose log sync is deferred (write_unsynced), then
// a sync of SQLite's that fails. The log's frames of those commits sit before
// the failed sync's; the kernel may have dropped them, so the store stops as
// when its own sync fails. Once they are synced, a failed sync loses only its
// own commit, which fails, and the store carries on.
class DeferredSyncFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    install_faulty_vfs();
    g_fault = Fault::kNone;
    options_.path = dir_.file("deferred.db");
    options_.reader_connections = 1;
    options_.sync_log = [](int fd) { return ::fdatasync(fd); };  // never fails here
    store_ = store::testing::open_store(options_);
    ASSERT_NE(store_, nullptr);
    key_ = store::testing::deploy_one(*store_);
  }
  void TearDown() override { g_fault = Fault::kNone; }
  store::WriteBatch instance(InstanceId id) {
    store::WriteBatch b;
    b.instances.push_back(store::testing::new_instance(id, key_));
    return b;
  }

  store::testing::TempDir dir_;
  store::sqlite::SqliteOptions options_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  int64_t key_ = 0;
};

TEST_F(DeferredSyncFaults, ACommitWhoseSyncFailsBehindDeferredCommitsStopsTheStore) {
  ASSERT_TRUE(store_->write_unsynced(instance(1)).ok());
  ASSERT_TRUE(store_->write_unsynced(instance(2)).ok());
  g_fault = Fault::kSqliteLogSync;
  auto failed = store_->write(instance(3));
  g_fault = Fault::kNone;
  ASSERT_FALSE(failed.ok()) << "a commit was answered while its log could not be synced";
  EXPECT_NE(failed.error().message.find("refuses reads and writes"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(store_->sync_written().ok()) << "the deferred commits were taken for durable";
  EXPECT_FALSE(store_->write(instance(4)).ok());
  EXPECT_FALSE(store_->instance(1).ok()) << "a read could show a commit that may be lost";

  store_.reset();
  store_ = store::testing::open_store(options_);
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(store_->instance(1)->has_value());
  EXPECT_TRUE(store_->instance(2)->has_value());
  EXPECT_FALSE(store_->instance(4)->has_value());
  EXPECT_TRUE(store_->write(instance(5)).ok());
}

TEST_F(DeferredSyncFaults, ACommitWhoseSyncFailsWithNothingDeferredFailsAlone) {
  ASSERT_TRUE(store_->write_unsynced(instance(1)).ok());
  ASSERT_TRUE(store_->sync_written().ok());
  const int injected = g_faults_injected.load();
  g_fault = Fault::kSqliteLogSync;
  auto failed = store_->write(instance(2));
  g_fault = Fault::kNone;
  ASSERT_FALSE(failed.ok());
  EXPECT_GT(g_faults_injected.load(), injected) << "no fault was injected";
  EXPECT_EQ(failed.error().message.find("refuses"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(store_->instance(2)->has_value());
  ASSERT_TRUE(store_->write(instance(2)).ok());
  ASSERT_TRUE(store_->write_unsynced(instance(3)).ok());
  EXPECT_TRUE(store_->instance(3)->has_value());
}

// The store checkpoints the log itself (SQLite's automatic checkpoint is off
// so that a deferred commit never runs one); the checkpoint syncs the log
// first. When that sync fails while commits wait for theirs, they may be
// lost, and the store stops.
TEST_F(DeferredSyncFaults, ACheckpointWhoseSyncFailsWhileCommitsWaitStopsTheStore) {
  g_fault = Fault::kSqliteLogSync;
  const int injected = g_faults_injected.load();
  int written = 0;
  Result<void> w;
  // Each commit adds a few pages to the log; a checkpoint is due at 1000.
  for (InstanceId id = 1; id <= 2000; ++id) {
    w = store_->write_unsynced(instance(id));
    if (!w.ok()) break;
    ++written;
  }
  g_fault = Fault::kNone;
  ASSERT_FALSE(w.ok()) << "no checkpoint ran in 2000 commits";
  EXPECT_GT(g_faults_injected.load(), injected);
  EXPECT_NE(w.error().message.find("a checkpoint could not sync the log"), std::string::npos) << w.error().message;
  EXPECT_GT(written, 10) << "the store stopped before any checkpoint was due";
  EXPECT_FALSE(store_->sync_written().ok());
  EXPECT_FALSE(store_->instance(1).ok());

  store_.reset();
  store_ = store::testing::open_store(options_);
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(store_->instance(written)->has_value()) << "the last commit that reached the file";
}

}  // namespace
}  // namespace banshi
