#include "store/page_sql.h"

#include <fmt/format.h>

#include <algorithm>

#include <boost/json.hpp>

namespace banshi::store {

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

std::string instance_page_sql(const std::string& columns, const InstanceQuery& q, const InstancePageDialect& d,
                              size_t max_page, std::vector<Binding>& bindings) {
  std::string sql = columns + "WHERE 1 = 1";
  if (!q.process_id.empty()) {
    sql += " AND process_id = ?";
    bindings.emplace_back(q.process_id);
  }
  if (!q.business_key.empty()) {
    sql += " AND business_key = ?";
    bindings.emplace_back(q.business_key);
  }
  if (q.status >= 0) {
    sql += " AND status = ?";
    bindings.emplace_back(int64_t{q.status});
  }
  if (q.started_after != 0) {
    sql += " AND started_at > ?";
    bindings.emplace_back(q.started_after);
  }
  if (q.started_before != 0) {
    sql += " AND started_at < ?";
    bindings.emplace_back(q.started_before);
  }
  if (!q.applicant_id.empty()) {
    sql += " AND applicant_id = ?";
    bindings.emplace_back(q.applicant_id);
  }
  if (!q.applicant_name.empty()) {
    if (q.name_prefix) {
      sql += " AND " + d.name_starts_with(q.applicant_name, bindings);
    } else {
      sql += " AND applicant_name = ?";
      bindings.emplace_back(q.applicant_name);
    }
  }
  if (!q.any_region || !q.regions.empty()) {
    sql += fmt::format(" AND {}", d.region_in_list);
    bindings.emplace_back(json_list(q.regions));
  }
  sql += " ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?";
  bindings.emplace_back(static_cast<int64_t>(std::min(q.limit, max_page)));
  bindings.emplace_back(static_cast<int64_t>(q.offset));
  return sql;
}

std::string incident_page_sql(const std::string& columns, const IncidentQuery& q, const char* region_in_list,
                              size_t max_page, std::vector<Binding>& bindings) {
  std::string sql = columns + "WHERE 1 = 1";
  if (q.instance_id != 0) {
    sql += " AND n.instance_id = ?";
    bindings.emplace_back(q.instance_id);
  }
  if (!q.any_region || !q.regions.empty()) {
    // `region` is the instance's: incidents have no region of their own.
    sql += fmt::format(" AND EXISTS (SELECT 1 FROM instances i WHERE i.id = n.instance_id AND {})", region_in_list);
    bindings.emplace_back(json_list(q.regions));
  }
  if (max_page == 0) return sql;
  sql += " ORDER BY n.id LIMIT ? OFFSET ?";
  bindings.emplace_back(static_cast<int64_t>(std::min(q.limit, max_page)));
  bindings.emplace_back(static_cast<int64_t>(q.offset));
  return sql;
}

}  // namespace banshi::store
