#include "store/task_sets.h"

#include <fmt/format.h>

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

}  // namespace banshi::store
