#include "store/rows.h"

#include <boost/json.hpp>

namespace banshi::store::rows {

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string().c_str(), item.as_string().size());
  }
  return out;
}

}  // namespace banshi::store::rows
