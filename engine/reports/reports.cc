#include "reports/reports.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <fmt/core.h>

#include "model/iso8601.h"

namespace banshi::reports {

namespace {

constexpr double kMsPerHour = 3600.0 * 1000.0;

struct Title {
  const char* zh;
  const char* en;
};

Column column(const Options& o, std::string key, Title t, ColumnKind kind) {
  return Column{std::move(key), o.language == Language::kEn ? t.en : t.zh, kind};
}

std::string month_of(int64_t ms, int32_t utc_offset_minutes) {
  const int64_t local = ms + int64_t{utc_offset_minutes} * 60000;
  const int64_t days = local >= 0 ? local / 86400000 : (local - 86399999) / 86400000;
  int64_t y = 0;
  unsigned m = 0, d = 0;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}", y, m);
}

std::string name_of(const Options& o, const std::string& process_id) {
  auto it = o.process_names.find(process_id);
  return it == o.process_names.end() ? process_id : it->second;
}

double ratio(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

double hours(int64_t ms) { return std::round(static_cast<double>(ms) / kMsPerHour * 100.0) / 100.0; }

bool completed_late(const store::ReportTask& t) {
  return t.sla_state == 3 || (t.due_at > 0 && t.completed_at > t.due_at);
}

}  // namespace

bool known_report(std::string_view name) {
  for (const char* n : kReportNames) {
    if (name == n) return true;
  }
  return false;
}

bool is_internal_process(std::string_view process_id) {
  return process_id == "data-comparison" || process_id == "rating-follow-up";
}

int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

int64_t median(const std::vector<int64_t>& sorted) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

Table cases_report(const std::vector<store::ReportCase>& cases, const Options& o) {
  struct Counts {
    int64_t started = 0, completed = 0, terminated = 0, running = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> groups;
  for (const store::ReportCase& c : cases) {
    if (is_internal_process(c.process_id)) continue;
    Counts& n = groups[{c.process_id, c.region, month_of(c.started_at, o.utc_offset_minutes)}];
    ++n.started;
    if (c.status == 2) ++n.completed;
    else if (c.status == 3) ++n.terminated;
    else ++n.running;
  }
  Table t{"cases", o.language == Language::kEn ? "Cases by operation, region and month" : "按业务、地区和月份统计的办件量",
          {column(o, "processId", {"业务编码", "Operation"}, ColumnKind::kText),
           column(o, "name", {"业务名称", "Name"}, ColumnKind::kText),
           column(o, "region", {"地区", "Region"}, ColumnKind::kText),
           column(o, "month", {"月份", "Month"}, ColumnKind::kText),
           column(o, "started", {"受理", "Started"}, ColumnKind::kInteger),
           column(o, "completed", {"办结", "Completed"}, ColumnKind::kInteger),
           column(o, "terminated", {"终止", "Terminated"}, ColumnKind::kInteger),
           column(o, "running", {"在办", "Running"}, ColumnKind::kInteger)},
          {}};
  for (const auto& [key, n] : groups) {
    const auto& [process, region, month] = key;
    t.rows.push_back({process, name_of(o, process), region, month, n.started, n.completed, n.terminated, n.running});
  }
  return t;
}

Table on_time_report(const std::vector<store::ReportTask>& tasks, const Options& o) {
  struct Counts {
    int64_t completed = 0, late = 0;
  };
  std::map<std::pair<std::string, std::string>, Counts> groups;
  int64_t all = 0, all_late = 0;
  for (const store::ReportTask& task : tasks) {
    if (task.completed_at == 0 || is_internal_process(task.process_id)) continue;
    Counts& n = groups[{task.process_id, task.region}];
    ++n.completed;
    ++all;
    if (completed_late(task)) ++n.late, ++all_late;
  }
  Table t{"on-time", o.language == Language::kEn ? "On-time rate of completed steps" : "办理环节按时办结率",
          {column(o, "processId", {"业务编码", "Operation"}, ColumnKind::kText),
           column(o, "name", {"业务名称", "Name"}, ColumnKind::kText),
           column(o, "region", {"地区", "Region"}, ColumnKind::kText),
           column(o, "completed", {"办结环节", "Completed"}, ColumnKind::kInteger),
           column(o, "onTime", {"按时", "On time"}, ColumnKind::kInteger),
           column(o, "late", {"超时", "Late"}, ColumnKind::kInteger),
           column(o, "onTimeRate", {"按时办结率", "On-time rate"}, ColumnKind::kPercent)},
          {}};
  for (const auto& [key, n] : groups) {
    t.rows.push_back({key.first, name_of(o, key.first), key.second, n.completed, n.completed - n.late, n.late,
                      ratio(n.completed - n.late, n.completed)});
  }
  if (!groups.empty()) {
    t.rows.push_back({std::string("*"), std::string(o.language == Language::kEn ? "All" : "合计"), std::string("*"),
                      all, all - all_late, all_late, ratio(all - all_late, all)});
  }
  return t;
}

Table steps_report(const std::vector<store::ReportTask>& tasks, const Options& o) {
  struct Step {
    std::string name;
    std::vector<int64_t> handling;
    int64_t open = 0;
  };
  std::map<std::pair<std::string, std::string>, Step> steps;
  for (const store::ReportTask& task : tasks) {
    if (is_internal_process(task.process_id)) continue;
    Step& s = steps[{task.process_id, task.element_id}];
    if (s.name.empty()) s.name = task.name;
    if (task.completed_at == 0) {
      ++s.open;
    } else {
      s.handling.push_back(std::max<int64_t>(0, task.completed_at - task.created_at));
    }
  }
  Table t{"steps", o.language == Language::kEn ? "Handling time per step (hours)" : "各环节办理用时（小时）",
          {column(o, "processId", {"业务编码", "Operation"}, ColumnKind::kText),
           column(o, "elementId", {"环节编码", "Step"}, ColumnKind::kText),
           column(o, "name", {"环节名称", "Name"}, ColumnKind::kText),
           column(o, "completed", {"办结", "Completed"}, ColumnKind::kInteger),
           column(o, "open", {"在办", "Open"}, ColumnKind::kInteger),
           column(o, "medianHours", {"中位用时", "Median"}, ColumnKind::kHours),
           column(o, "p90Hours", {"90%用时", "90th percentile"}, ColumnKind::kHours),
           column(o, "maxHours", {"最长用时", "Longest"}, ColumnKind::kHours)},
          {}};
  for (auto& [key, s] : steps) {
    std::sort(s.handling.begin(), s.handling.end());
    const int64_t longest = s.handling.empty() ? 0 : s.handling.back();
    t.rows.push_back({key.first, key.second, s.name, static_cast<int64_t>(s.handling.size()), s.open,
                      hours(median(s.handling)), hours(percentile(s.handling, 0.9)), hours(longest)});
  }
  return t;
}

Table sla_report(const std::vector<store::ReportTask>& tasks, const Options& o) {
  struct Counts {
    int64_t tasks = 0, escalated = 0, breached = 0, overdue_now = 0;
  };
  std::map<std::pair<std::string, std::string>, Counts> groups;
  for (const store::ReportTask& task : tasks) {
    if (is_internal_process(task.process_id)) continue;
    Counts& n = groups[{task.department, task.region}];
    ++n.tasks;
    if (task.escalation_level > 0 || task.sla_state == 2) ++n.escalated;
    if (task.sla_state == 3) ++n.breached;
    // A paused clock's due time is going to move: not overdue unless it was already.
    const bool paused_in_time = task.sla_paused_at != 0 && task.sla_state <= 1;
    if (task.completed_at == 0 && task.due_at > 0 && task.due_at <= o.now && !paused_in_time) ++n.overdue_now;
  }
  Table t{"sla", o.language == Language::kEn ? "Breaches and escalations" : "超期与督办",
          {column(o, "department", {"部门", "Department"}, ColumnKind::kText),
           column(o, "region", {"地区", "Region"}, ColumnKind::kText),
           column(o, "tasks", {"环节数", "Tasks"}, ColumnKind::kInteger),
           column(o, "escalated", {"升级督办", "Escalated"}, ColumnKind::kInteger),
           column(o, "breached", {"严重超期", "Breached"}, ColumnKind::kInteger),
           column(o, "overdueNow", {"当前超期在办", "Overdue now"}, ColumnKind::kInteger),
           column(o, "breachRate", {"严重超期率", "Breach rate"}, ColumnKind::kPercent)},
          {}};
  for (const auto& [key, n] : groups) {
    t.rows.push_back({key.first, key.second, n.tasks, n.escalated, n.breached, n.overdue_now,
                      ratio(n.breached, n.tasks)});
  }
  return t;
}

Table ratings_report(const std::vector<store::RatingRecord>& ratings, const Options& o) {
  struct Counts {
    int64_t total = 0, follow_ups = 0;
    int64_t levels[5] = {0, 0, 0, 0, 0};
  };
  std::map<std::pair<std::string, std::string>, Counts> groups;
  for (const store::RatingRecord& r : ratings) {
    if (r.level < 1 || r.level > 5) continue;
    Counts& n = groups[{r.process_id, r.region}];
    ++n.total;
    ++n.levels[r.level - 1];
    if (r.follow_up_id != 0) ++n.follow_ups;
  }
  Table t{"ratings", o.language == Language::kEn ? "Ratings of finished cases" : "政务服务好差评",
          {column(o, "processId", {"业务编码", "Operation"}, ColumnKind::kText),
           column(o, "name", {"业务名称", "Name"}, ColumnKind::kText),
           column(o, "region", {"地区", "Region"}, ColumnKind::kText),
           column(o, "ratings", {"评价数", "Ratings"}, ColumnKind::kInteger),
           column(o, "verySatisfied", {"非常满意", "Very satisfied"}, ColumnKind::kInteger),
           column(o, "satisfied", {"满意", "Satisfied"}, ColumnKind::kInteger),
           column(o, "basicallySatisfied", {"基本满意", "Basically satisfied"}, ColumnKind::kInteger),
           column(o, "dissatisfied", {"不满意", "Dissatisfied"}, ColumnKind::kInteger),
           column(o, "veryDissatisfied", {"非常不满意", "Very dissatisfied"}, ColumnKind::kInteger),
           column(o, "satisfactionRate", {"满意率", "Satisfaction rate"}, ColumnKind::kPercent),
           column(o, "followUps", {"差评整改", "Follow-ups"}, ColumnKind::kInteger)},
          {}};
  for (const auto& [key, n] : groups) {
    t.rows.push_back({key.first, name_of(o, key.first), key.second, n.total, n.levels[0], n.levels[1], n.levels[2],
                      n.levels[3], n.levels[4], ratio(n.levels[0] + n.levels[1] + n.levels[2], n.total),
                      n.follow_ups});
  }
  return t;
}

std::string_view level_word(int32_t level) {
  static constexpr std::string_view kWords[] = {"very_satisfied", "satisfied", "basically_satisfied", "dissatisfied",
                                                "very_dissatisfied"};
  return level >= 1 && level <= 5 ? kWords[level - 1] : std::string_view();
}

int32_t level_of(std::string_view word) {
  for (int32_t l = 1; l <= 5; ++l) {
    if (level_word(l) == word) return l;
  }
  return 0;
}

}  // namespace banshi::reports
