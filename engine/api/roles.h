// api/roles.h — the roles a user may hold and the shape of departments and
// region codes. docs/operations.md ("Users and roles") is the reference.
//
// - Roles: staff, supervisor, monitor, designer, admin; a user may hold several.
// - A department is 1 to 32 characters of a-z, 0-9 (e.g. "dpf"). A task
//   belongs to department D when one of its candidate groups is D or starts
//   with "D-" (e.g. "dpf-county").
// - A region code is 6 digits and hierarchical by prefix once its trailing
//   "00" pairs are dropped: 220000 (province) covers 22xxxx, 220100 (city)
//   covers 2201xx, 220102 (county) covers itself.
#pragma once

#include <string>
#include <string_view>

namespace banshi::api {

inline constexpr std::string_view kRoleNames[] = {"staff", "supervisor", "monitor", "designer", "admin"};

inline bool known_role(std::string_view role) {
  for (std::string_view r : kRoleNames) {
    if (r == role) return true;
  }
  return false;
}

// A department code: 1 to 32 of a-z, 0-9 and inner '-' ("dpf", "civil-affairs").
inline bool valid_department(std::string_view d) {
  if (d.empty() || d.size() > 32 || d.front() == '-' || d.back() == '-') return false;
  for (char c : d) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

inline bool valid_region(std::string_view r) {
  if (r.size() != 6) return false;
  for (char c : r) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The prefix a region code covers: "220100" → "2201"; "000000" → "" (everything).
inline std::string region_prefix(std::string_view region) {
  std::string p(region);
  while (p.size() >= 2 && p.compare(p.size() - 2, 2, "00") == 0) p.resize(p.size() - 2);
  return p;
}

// Whether a task's candidate group belongs to a department.
inline bool group_of_department(std::string_view group, std::string_view department) {
  if (department.empty()) return false;
  if (group == department) return true;
  return group.size() > department.size() + 1 && group.substr(0, department.size()) == department &&
         group[department.size()] == '-';
}

}  // namespace banshi::api
