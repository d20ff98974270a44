#include "reports/comparison.h"

#include "expr/json_text.h"

#include <set>
#include <string>

#include <boost/json.hpp>
#include <fmt/core.h>

namespace banshi::reports {

namespace json = boost::json;

JobOutcome record_comparison_run(store::Store& store, const JobContext& job, int64_t now) {
  auto list = [&](const char* name, json::array& out) -> bool {
    auto it = job.variables.find(name);
    if (it == job.variables.end() || it->value().is_null()) return true;  // nothing found or started
    if (!it->value().is_array()) return false;
    out = it->value().get_array();
    return true;
  };
  json::array found, started;
  if (!list("findings", found) || !list("started", started)) {
    JobOutcome bad = JobOutcome::failed("the variables findings and started must be lists");
    bad.no_retry = true;
    return bad;
  }
  // A multi-instance body that started nothing leaves null in its slot.
  json::array started_items;
  for (const json::value& v : started) {
    if (!v.is_null()) started_items.push_back(v);
  }
  store::ComparisonRunRecord run;
  run.instance_id = job.instance_id;
  run.run_key = job.idempotency_key.empty() ? fmt::format("job-{}", job.job_id) : job.idempotency_key;
  run.at = now;
  run.found_count = static_cast<int64_t>(found.size());
  run.started_count = static_cast<int64_t>(started_items.size());
  run.found = expr::json_text(found);
  run.started = expr::json_text(started_items);
  auto id = store.add_comparison_run(run);
  if (!id.ok()) return JobOutcome::failed(fmt::format("cannot record the comparison run: {}", id.error().message));
  return JobOutcome::completed(json::object{{"comparisonRunId", *id}});
}

}  // namespace banshi::reports

namespace banshi::reports {

JobOutcome list_comparison_subjects(Engine& engine, const JobContext& job) {
  (void)job;
  static constexpr const char* kCopied[] = {"applicant", "certificateNumber", "disability", "dibao",
                                            "tekun",     "pensionEligible",   "birthDate"};
  json::array subjects;
  store::InstanceQuery q;
  q.process_id = "linked-services";
  q.status = 1;
  q.limit = 500;
  std::vector<store::InstanceRecord> running;
  while (running.size() < kMaxComparisonSubjects) {
    auto page = engine.store().instances(q);
    if (!page.ok()) return JobOutcome::failed(fmt::format("cannot list the holders: {}", page.error().message));
    running.insert(running.end(), page->begin(), page->end());
    if (page->size() < q.limit) break;
    q.offset += q.limit;
  }
  if (running.size() > kMaxComparisonSubjects) running.resize(kMaxComparisonSubjects);
  std::set<std::string> holders;
  for (const store::InstanceRecord& r : running) {
    auto view = engine.inspect_instance(r.id);
    if (!view.ok()) continue;
    const json::object& vars = view->variables;
    auto applicant = vars.find("applicant");
    if (applicant == vars.end() || !applicant->value().is_object()) continue;
    // One entry per holder (the newest case), so one run never reports a
    // holder's death twice.
    const json::value* id = applicant->value().as_object().if_contains("idNumber");
    const std::string id_number = id && id->is_string() ? std::string(id->as_string()) : std::string();
    if (!id_number.empty() && !holders.insert(id_number).second) continue;
    json::object s{{"instanceId", r.id}};
    for (const char* name : kCopied) {
      auto it = vars.find(name);
      s[name] = it == vars.end() ? json::value(nullptr) : it->value();
    }
    // A cancellation of the holder's certificate already under way: a death
    // found again before it ends must not start a second one.
    bool cancelling = false;
    if (!id_number.empty()) {
      store::InstanceQuery c;
      c.process_id = kCancellationProcess;
      c.status = 1;
      c.applicant_id = id_number;
      c.limit = 1;
      auto found = engine.store().instances(c);
      if (!found.ok()) return JobOutcome::failed(fmt::format("cannot look for cancellations: {}", found.error().message));
      cancelling = !found->empty();
    }
    s["cancellationRunning"] = cancelling;
    subjects.push_back(std::move(s));
  }
  return JobOutcome::completed(json::object{{"subjects", std::move(subjects)}});
}

}  // namespace banshi::reports
