#include "departments.h"

namespace banshi::connectors {

const std::vector<std::string>& department_codes() {
  static const std::vector<std::string> kCodes = {"dpf", "civil-affairs", "hrss", "social-insurance", "data-sharing",
                                                  "assessment"};
  return kCodes;
}

std::vector<http::OperationSpec> all_operations() {
  std::vector<http::OperationSpec> out;
  for (auto* f : {&dpf_operations, &civil_affairs_operations, &hrss_operations, &social_insurance_operations,
                  &data_sharing_operations, &assessment_operations}) {
    for (auto& op : f()) out.push_back(std::move(op));
  }
  return out;
}

}  // namespace banshi::connectors
