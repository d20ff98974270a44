// How long banshi takes to be ready again after a restart with a big store.
//
//   bench_peer_restart fill DB MODEL [FINISHED] [WAITING]
//     Creates DB with FINISHED ended and WAITING waiting instances of MODEL
//     (bench/peer/models/user-task.bpmn: start -> user task -> end). The
//     engine itself runs one instance to the user task and one to its end;
//     their stored rows (instance state blob, the task row, the history
//     entries) are then copied under fresh instance ids through
//     Store::write() in batches of 20,000, so every row is what the engine
//     would have written. Prints one JSON line.
//
//   bench_peer_restart open DB
//     Measures, in a fresh process, the time from SqliteStore::open +
//     Engine::open on DB until the engine has answered a first
//     start_instance() and a complete_task() of one of the waiting tasks
//     written by `fill` (that instance is read back from the store), and the
//     process's peak RSS (getrusage). Prints one JSON line.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <sys/resource.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

using namespace banshi;

namespace {

[[noreturn]] void die(const std::string& why) {
  fmt::print(stderr, "bench_peer_restart: {}\n", why);
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) die(fmt::format("{}: {}", what, r.error().message));
  return std::move(r).value();
}
void must(Result<void> r, const char* what) {
  if (!r.ok()) die(fmt::format("{}: {}", what, r.error().message));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

std::unique_ptr<Engine> open_engine(const std::string& db, bool durable) {
  store::sqlite::SqliteOptions o;
  o.path = db;
  o.durable = durable;
  auto s = must(store::sqlite::SqliteStore::open(o), "open store");
  return must(Engine::open(EngineConfig{}, std::move(s), std::make_shared<SystemClock>()), "open engine");
}

const char* kProcess = "user_task";
const char* kWorker = "w0";

int fill(const std::string& db, const std::string& model, int64_t finished, int64_t waiting) {
  auto t0 = std::chrono::steady_clock::now();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  std::ifstream in(model, std::ios::binary);
  if (!in) die("cannot read " + model);
  std::stringstream xml;
  xml << in.rdbuf();

  // Two real instances: one left waiting at its user task, one completed.
  auto engine = open_engine(db, /*durable=*/false);
  must(engine->deploy(std::filesystem::path(model).filename().string(), xml.str(), "bench"), "deploy");
  engine->start();
  StartRequest req;
  req.process_id = kProcess;
  req.variables["worker"] = kWorker;
  InstanceId waiting_id = must(engine->start_instance(req), "start");
  InstanceId done_id = must(engine->start_instance(req), "start");
  store::Store& st = engine->store();
  store::TaskQuery q;
  q.assignee = kWorker;
  q.limit = 10;
  store::TaskRecord task;
  int64_t done_task = 0;
  for (const store::TaskRecord& t : must(st.tasks(q), "tasks")) {
    if (t.instance_id == waiting_id) task = t;
    if (t.instance_id == done_id) done_task = t.id;
  }
  if (task.id == 0 || done_task == 0) die("the prototype tasks were not created");
  must(engine->complete_task(done_task, {}, kWorker), "complete");
  auto waiting_rec = must(st.instance(waiting_id), "instance");
  auto done_rec = must(st.instance(done_id), "instance");
  if (!waiting_rec || !done_rec || done_rec->status == 1 || done_rec->ended_at == 0) die("prototypes are not as expected");
  auto waiting_hist = must(st.history(waiting_id), "history");
  auto done_hist = must(st.history(done_id), "history");

  // Copies under fresh ids, in big transactions.
  const int64_t total = finished + waiting;
  const int64_t first = must(st.allocate_ids("instance", total), "allocate ids");
  const int64_t base_time = done_rec->started_at - 90LL * 24 * 3600 * 1000;  // spread over the last 90 days
  const int64_t step_ms = std::max<int64_t>(1, 90LL * 24 * 3600 * 1000 / std::max<int64_t>(1, total));
  constexpr int64_t kBatch = 20000;
  const int64_t stride = waiting > 0 ? std::max<int64_t>(1, total / waiting) : 0;  // waiting ones interleaved
  for (int64_t from = 0; from < total; from += kBatch) {
    store::WriteBatch b;
    for (int64_t i = from; i < std::min(total, from + kBatch); ++i) {
      const bool is_waiting = stride > 0 && i % stride == 0 && i / stride < waiting;
      const store::InstanceRecord& proto = is_waiting ? *waiting_rec : *done_rec;
      store::InstanceRecord r = proto;
      r.id = first + i;
      r.started_at = base_time + i * step_ms;
      r.ended_at = is_waiting ? 0 : r.started_at + 60000;
      b.instances.push_back(store::InstanceWrite{std::move(r), 0});
      for (const store::HistoryRecord& h : is_waiting ? waiting_hist : done_hist) {
        store::HistoryRecord c = h;
        c.instance_id = first + i;
        c.at = base_time + i * step_ms;
        b.history.push_back(std::move(c));
      }
      if (is_waiting) {
        store::TaskRecord t = task;
        t.id = 0;
        t.instance_id = first + i;
        t.created_at = base_time + i * step_ms;
        b.tasks_added.push_back(std::move(t));
      }
    }
    must(st.write(b), "write batch");
  }
  engine->stop();
  engine.reset();
  fmt::print("{{\"fill_seconds\":{:.1f},\"finished\":{},\"waiting\":{},\"db_mb\":{:.0f}}}\n", seconds_since(t0),
             finished + 1, waiting + 1, static_cast<double>(std::filesystem::file_size(db)) / 1048576.0);
  return 0;
}

int open(const std::string& db) {
  if (!std::filesystem::exists(db)) die(db + " does not exist: run fill first");
  auto t0 = std::chrono::steady_clock::now();
  store::sqlite::SqliteOptions o;
  o.path = db;
  o.durable = true;
  auto s = must(store::sqlite::SqliteStore::open(o), "open store");
  auto engine = must(Engine::open(EngineConfig{}, std::move(s), std::make_shared<SystemClock>()), "open engine");
  engine->start();
  const double opened = seconds_since(t0);
  StartRequest req;
  req.process_id = kProcess;
  req.variables["worker"] = "restart";
  InstanceId fresh = must(engine->start_instance(req), "start after restart");
  const double started = seconds_since(t0);
  store::TaskQuery q;
  q.assignee = kWorker;
  q.limit = 1;
  auto tasks = must(engine->store().tasks(q), "tasks");
  if (tasks.empty()) die("no waiting task in the store");
  must(engine->complete_task(tasks.front().id, {}, kWorker), "complete after restart");
  const double ready = seconds_since(t0);
  const double rss = peak_rss_mb();
  auto ended = must(engine->store().instance(tasks.front().instance_id), "instance");
  engine->stop();
  fmt::print(
      "{{\"open_seconds\":{:.3f},\"first_start_seconds\":{:.3f},\"ready_seconds\":{:.3f},\"peak_rss_mb\":{:.1f},"
      "\"new_instance\":{},\"completed_instance_ended\":{}}}\n",
      opened, started, ready, rss, fresh, ended && ended->ended_at != 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::string(argv[1]) == "fill") {
    return fill(argv[2], argv[3], argc > 4 ? std::atoll(argv[4]) : 1000000, argc > 5 ? std::atoll(argv[5]) : 100000);
  }
  if (argc >= 3 && std::string(argv[1]) == "open") return open(argv[2]);
  fmt::print(stderr, "usage: bench_peer_restart fill DB MODEL [FINISHED] [WAITING] | open DB\n");
  return 1;
}
