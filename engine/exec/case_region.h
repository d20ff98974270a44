// exec/case_region.h — the region of a case, from the variables it starts with.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace banshi::exec {

// A string member of `o`; empty when absent or not a string.
inline std::string string_member(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The region of a case: its applicant's (applicant.region), else a top-level
// region variable; empty when neither is given. The engine stores it on the
// instance (instances.region); the API checks it against the caller's
// regions before a start.
inline std::string case_region(const boost::json::object& start_variables) {
  std::string region;
  if (const boost::json::value* a = start_variables.if_contains("applicant"); a && a->is_object()) {
    region = string_member(a->get_object(), "region");
  }
  return region.empty() ? string_member(start_variables, "region") : region;
}

}  // namespace banshi::exec
