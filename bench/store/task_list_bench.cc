// bench_task_list — how long one page of the task list takes in the store
// itself, for callers who may see many, few or none of the open tasks, on
// SQLite or PostgreSQL (bench/store/run.sh runs both).
//
// Fills the store with MANY open tasks offered to the group dpf-county in
// region 220102 and FEW offered to tax-county in region 220103, each with its
// instance, then times pages of 50 (Store::tasks with the caller's
// visibility, as the server asks) and prints one JSON line per caller.
//
// Usage: bench_task_list LOCATION [MANY [FEW [PAGES [again]]]]
//   LOCATION  a SQLite file (removed first) or a postgres:// URL (an empty
//             database: the tables are created)
//   again     time the pages of a store an earlier run filled (with the same
//             MANY and FEW), without removing or filling anything
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "store/store.h"

using namespace banshi;
using namespace banshi::store;

namespace {

[[noreturn]] void die(const std::string &why) {
  fmt::print(stderr, "bench_task_list: {}\n", why);
  std::exit(1);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void fill(Store &store, int64_t definition_key, int64_t first_id, int64_t count,
          const std::string &group, const std::string &region) {
  const int64_t kBatch = 5000;
  for (int64_t from = 0; from < count; from += kBatch) {
    WriteBatch b;
    for (int64_t i = from; i < std::min(count, from + kBatch); ++i) {
      const InstanceId id = first_id + i;
      InstanceWrite w;
      w.record.id = id;
      w.record.definition_key = definition_key;
      w.record.process_id = "bench";
      w.record.definition_version = 1;
      w.record.status = 1;
      w.record.version = 1;
      w.record.started_at = 1'700'000'000'000 + id;
      w.record.region = region;
      b.instances.push_back(std::move(w));
      TaskRecord t;
      t.instance_id = id;
      t.key = 2;
      t.process_id = "bench";
      t.element_id = "check";
      t.name = "Check the application";
      t.business_key = fmt::format("B-{}", id);
      t.candidate_groups = {group};
      t.region = region;
      t.created_at = 1'700'000'000'000 + id;
      t.payload = "{}";
      b.tasks_added.push_back(std::move(t));
    }
    if (auto r = store.write(b); !r.ok())
      die(r.error().message);
  }
}

struct Caller {
  const char *name;
  TaskQuery::Visibility visible;
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    die("usage: bench_task_list LOCATION [MANY [FEW [PAGES]]]");
  const std::string location = argv[1];
  const int64_t many = argc > 2 ? std::atoll(argv[2]) : 100000;
  const int64_t few = argc > 3 ? std::atoll(argv[3]) : 20;
  const int pages = argc > 4 ? std::atoi(argv[4]) : 2000;
  const bool postgres = location.rfind("postgres", 0) == 0;
  const bool again = argc > 5 && std::string(argv[5]) == "again";
  if (!postgres && !again) {
    for (const char *suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(location + suffix);
  }
  OpenOptions options;
  options.durable = false;
  auto opened = open_store(location, options);
  if (!opened.ok())
    die(opened.error().message);
  Store &store = **opened;
  const int64_t t0 = now_us();
  if (!again) {
    if (auto m = store.migrate(); !m.ok())
      die(m.error().message);
    DefinitionRecord d;
    d.process_id = "bench";
    d.name = "bench";
    d.resource = "bench.bpmn";
    d.xml = "<definitions/>";
    d.checksum = "bench";
    auto deployed = store.deploy({d});
    if (!deployed.ok())
      die(deployed.error().message);
    const int64_t key = deployed->front().key;
    fill(store, key, 1, many, "dpf-county", "220102");
    fill(store, key, many + 1, few, "tax-county", "220103");
  }
  const double fill_s = static_cast<double>(now_us() - t0) / 1e6;

  auto clerk = [](const char *department, std::vector<std::string> regions) {
    TaskQuery::Visibility v;
    v.active = true;
    v.user = fmt::format("{}-clerk", department);
    v.department = department;
    v.work_regions = std::move(regions);
    return v;
  };
  TaskQuery::Visibility monitor;
  monitor.active = true;
  monitor.user = "monitor";
  monitor.monitor = true;
  monitor.monitor_regions = {"220103"};
  const Caller callers[] = {
      {"clerk who sees all of MANY", clerk("dpf", {"2201"})},
      {"clerk who sees the FEW", clerk("tax", {"2201"})},
      {"clerk who sees none", clerk("hr", {"2201"})},
      {"clerk of another region", clerk("dpf", {"2202"})},
      {"monitor of the FEW's region", monitor},
  };
  for (const Caller &c : callers) {
    TaskQuery q;
    q.visible = c.visible;
    q.limit = 50;
    std::vector<int64_t> took;
    size_t seen = 0;
    for (int i = 0; i < pages; ++i) {
      const int64_t start = now_us();
      auto page = store.tasks(q);
      took.push_back(now_us() - start);
      if (!page.ok())
        die(page.error().message);
      seen = page->size();
    }
    std::sort(took.begin(), took.end());
    double sum = 0;
    for (int64_t t : took)
      sum += static_cast<double>(t);
    fmt::print("{{\"store\":\"{}\",\"caller\":\"{}\",\"open_tasks\":{},"
               "\"page\":{},\"pages\":{},\"mean_us\":{:.0f},"
               "\"p50_us\":{},\"p99_us\":{},\"fill_seconds\":{:.1f}}}\n",
               postgres ? "postgresql" : "sqlite", c.name, many + few, seen,
               pages, sum / static_cast<double>(took.size()),
               took[took.size() / 2],
               took[std::min(took.size() - 1, took.size() * 99 / 100)], fill_s);
  }
  return 0;
}
