#include "store/task_sets.h"

#include <fmt/format.h>

#include <algorithm>

#include <boost/json.hpp>

namespace banshi::store {

Result<int64_t> TaskSetSizes::count(const TaskSetDialect& dialect, const std::string& from_where,
                                    const std::vector<Binding>& bindings) {
  std::string key = from_where;
  for (const Binding& b : bindings) {
    key += '\x1f';
    key += std::holds_alternative<int64_t>(b) ? std::to_string(std::get<int64_t>(b)) : std::get<std::string>(b);
  }
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(key);
    if (it != counts_.end() && now - it->second.second < kKeep) return it->second.first;
  }
  auto n = dialect.count(from_where, bindings);
  if (!n.ok()) return n.error();
  std::lock_guard lock(mutex_);
  if (counts_.size() >= 4096) std::erase_if(counts_, [&](const auto& e) { return now - e.second.second >= kKeep; });
  if (counts_.size() < 4096) counts_[key] = {*n, now};
  return *n;
}

std::string any_prefix(const StartsWith& starts_with, const std::string& column,
                       const std::vector<std::string>& prefixes, std::vector<Binding>& bindings) {
  if (prefixes.empty()) return "FALSE";
  for (const std::string& p : prefixes) {
    if (p.empty()) return "TRUE";
  }
  std::string sql = "(";
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (i > 0) sql += " OR ";
    sql += starts_with(column, prefixes[i], bindings);
  }
  return sql + ")";
}

namespace {

using Candidate = std::optional<std::pair<DrivingSet, int64_t>>;

// The tasks whose region starts with one of `prefixes`, and how many (up to
// kSmallTaskSet each); none when a prefix is empty (every task) or none given.
Result<Candidate> region_set(const TaskSetDialect& dialect, TaskSetSizes& sizes,
                             const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return Candidate();
  DrivingSet set;
  int64_t count = 0;
  for (const std::string& p : prefixes) {
    if (p.empty()) return Candidate();
    std::vector<Binding> bindings;
    const std::string where = dialect.starts_with("region", p, bindings);
    auto n = sizes.count(dialect, "FROM user_tasks WHERE " + where, bindings);
    if (!n.ok()) return n.error();
    count += *n;
    if (!set.sql.empty()) set.sql += " UNION ";
    set.sql += "SELECT id AS id FROM user_tasks WHERE " + where;
    set.bindings.insert(set.bindings.end(), bindings.begin(), bindings.end());
  }
  return std::make_optional(std::make_pair(std::move(set), count));
}

// The tasks offered to the caller: assigned to them, offered to them by
// name, or offered to a group of their department (the department itself or
// "<department>-..."). A user's own offers are few; the department's are
// counted.
Result<Candidate> offer_set(const TaskSetDialect& dialect, TaskSetSizes& sizes, const TaskQuery::Visibility& v) {
  const std::string user = v.user.empty() ? std::string("\x01") : v.user;
  DrivingSet offer{"SELECT task_id AS id FROM task_candidates WHERE kind = 2 AND value = ? "
                   "UNION SELECT id FROM user_tasks WHERE assignee = ?",
                   {user, user}};
  int64_t count = 0;
  if (!v.department.empty()) {
    std::vector<Binding> exact{v.department};
    auto n = sizes.count(dialect, "FROM task_candidates WHERE kind = 1 AND value = ?", exact);
    if (!n.ok()) return n.error();
    std::vector<Binding> group_bindings;
    const std::string groups = dialect.starts_with("value", v.department + "-", group_bindings);
    auto m = sizes.count(dialect, "FROM task_candidates WHERE kind = 1 AND " + groups, group_bindings);
    if (!m.ok()) return m.error();
    count = *n + *m;
    offer.sql = "SELECT task_id AS id FROM task_candidates WHERE kind = 1 AND value = ? UNION SELECT task_id FROM "
                "task_candidates WHERE kind = 1 AND " + groups + " UNION " + offer.sql;
    std::vector<Binding> front{v.department};
    front.insert(front.end(), group_bindings.begin(), group_bindings.end());
    offer.bindings.insert(offer.bindings.begin(), front.begin(), front.end());
  }
  return std::make_optional(std::make_pair(std::move(offer), count));
}

}  // namespace

Result<std::optional<DrivingSet>> small_task_set(const TaskSetDialect& dialect, TaskSetSizes& sizes,
                                                 const TaskQuery& q) {
  std::optional<DrivingSet> best;
  int64_t best_count = kSmallTaskSet;
  auto consider = [&](Result<Candidate> r) -> Result<void> {
    if (!r.ok()) return r.error();
    if (*r && (*r)->second < best_count) {
      best_count = (*r)->second;
      best = std::move((*r)->first);
    }
    return {};
  };
  const TaskQuery::Visibility& v = q.visible;
  if (v.active) {
    auto offer = offer_set(dialect, sizes, v);
    if (!offer.ok()) return offer.error();
    if (!v.monitor) {
      // Visible: offered, and in a work region; either set holds them all.
      if (auto r = consider(std::move(offer)); !r.ok()) return r.error();
      if (best_count > 0) {
        if (auto r = consider(region_set(dialect, sizes, v.work_regions)); !r.ok()) return r.error();
      }
    } else {
      // Visible: offered (and in a work region), or in a watched region:
      // only both sets together hold them all.
      auto watched = region_set(dialect, sizes, v.monitor_regions);
      if (!watched.ok()) return watched.error();
      if (*watched && *offer) {
        DrivingSet both{(*offer)->first.sql + " UNION " + (*watched)->first.sql, (*offer)->first.bindings};
        both.bindings.insert(both.bindings.end(), (*watched)->first.bindings.begin(),
                             (*watched)->first.bindings.end());
        const int64_t count = (*offer)->second + (*watched)->second;
        if (auto r = consider(std::make_optional(std::make_pair(std::move(both), count))); !r.ok()) return r.error();
      }
    }
  }
  if (best_count > 0) {
    if (auto r = consider(region_set(dialect, sizes, q.regions)); !r.ok()) return r.error();
  }
  return best;
}

std::string json_list(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const auto& value : values) array.emplace_back(boost::json::string_view(value.data(), value.size()));
  return boost::json::serialize(array);
}

std::string task_page_sql(const std::string& columns, const TaskQuery& q, const TaskPageDialect& d,
                          size_t max_page, std::vector<Binding>& bindings) {
  // The WHERE and ORDER BY shape comes from fixed fragments; every value is
  // bound. List filters bind one JSON array each, so the number of shapes
  // stays small and each is prepared once per connection.
  std::string sql = columns + "WHERE 1 = 1";
  if (!q.assignee.empty()) {
    sql += " AND t.assignee = ?";
    bindings.emplace_back(q.assignee);
  }
  if (q.unassigned_only) sql += " AND t.assignee = ''";
  // Candidate checks are correlated with the task row (an index look-up on
  // task_candidates' key per row) rather than a set of every matching task
  // built first: a page of 50 then stops after 50 matching rows instead of
  // collecting every candidate row of a department on each query.
  if (!q.candidate_groups.empty() && !q.candidate_user.empty()) {
    // Someone may take a task offered to them or to any of their groups.
    sql += fmt::format(" AND ({} OR {})", d.group_in_list, d.user_is);
    bindings.emplace_back(json_list(q.candidate_groups));
    bindings.emplace_back(q.candidate_user);
  } else if (!q.candidate_groups.empty()) {
    sql += fmt::format(" AND {}", d.group_in_list);
    bindings.emplace_back(json_list(q.candidate_groups));
  } else if (!q.candidate_user.empty()) {
    sql += fmt::format(" AND {}", d.user_is);
    bindings.emplace_back(q.candidate_user);
  }
  if (!q.regions.empty()) sql += " AND " + any_prefix(d.starts_with, d.region_column, q.regions, bindings);
  if (!q.process_id.empty()) {
    sql += " AND t.process_id = ?";
    bindings.emplace_back(q.process_id);
  }
  if (q.due_before != 0) {
    sql += " AND t.due_at > 0 AND t.due_at < ?";
    bindings.emplace_back(q.due_before);
  }
  if (q.sla_state >= 0) {
    sql += " AND t.sla_state = ?";
    bindings.emplace_back(int64_t{q.sla_state});
  }
  if (q.instance_id != 0) {
    sql += " AND t.instance_id = ?";
    bindings.emplace_back(q.instance_id);
  }
  if (q.visible.active) {
    const TaskQuery::Visibility& v = q.visible;
    const std::string department = v.department.empty() ? std::string("\x01") : v.department;  // matches no group
    const std::string user = v.user.empty() ? std::string("\x01") : v.user;                    // matches no one
    // Bindings in the order of the placeholders: the offer, the regions, the escalation.
    std::vector<Binding> work_bindings;
    const std::string offered = d.offered(v.groups_only, user, department, work_bindings);
    const std::string regions = any_prefix(d.starts_with, d.region_column, v.work_regions, work_bindings);
    const std::string work = fmt::format("({} AND {} AND ({} OR t.sla_state NOT IN (?, ?) OR t.assignee = ?))",
                                         offered, regions, d.flag);
    work_bindings.emplace_back(int64_t{v.see_escalated ? 1 : 0});
    work_bindings.emplace_back(int64_t{TaskQuery::Visibility::kEscalatedState});
    work_bindings.emplace_back(int64_t{TaskQuery::Visibility::kBreachedState});
    work_bindings.emplace_back(user);
    bindings.insert(bindings.end(), work_bindings.begin(), work_bindings.end());
    if (v.monitor) {
      // A monitor without regions watches the whole country.
      const std::string watched = v.monitor_regions.empty()
                                      ? std::string(d.always)
                                      : any_prefix(d.starts_with, d.region_column, v.monitor_regions, bindings);
      sql += fmt::format(" AND ({} OR {})", work, watched);
    } else {
      sql += " AND " + work;
    }
  }
  const char* direction = q.descending ? "DESC" : "ASC";
  switch (q.sort) {
    case TaskQuery::Sort::kCreated:
      sql += fmt::format(" ORDER BY t.created_at {0}, t.id {0}", direction);
      break;
    case TaskQuery::Sort::kDue:
      // Tasks without a due date come last in either direction.
      sql += fmt::format(" ORDER BY (t.due_at = 0), t.due_at {0}, t.id {0}", direction);
      break;
    case TaskQuery::Sort::kPriority:
      sql += fmt::format(" ORDER BY t.priority {0}, t.created_at ASC, t.id ASC", direction);
      break;
  }
  sql += " LIMIT ? OFFSET ?";
  bindings.emplace_back(static_cast<int64_t>(std::min(q.limit, max_page)));
  bindings.emplace_back(static_cast<int64_t>(q.offset));
  return sql;
}

}  // namespace banshi::store
