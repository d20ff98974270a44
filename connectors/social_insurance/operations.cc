// social-insurance (社保): the resident pension contribution paid on behalf of
// the severely disabled (免申即享: started from shared data, no application).
#include "departments.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> social_insurance_operations() {
  http::OperationSpec s;
  s.department = "social-insurance";
  s.name = "social-insurance.pay-contribution";
  s.method = "POST";
  s.path = "/social-insurance/contributions";
  s.body = "{idNumber: applicant.idNumber, year: contributionYear}";
  s.result = "{contributionId: response.contributionId, contributionAmount: response.amount}";
  std::vector<http::OperationSpec> ops{s};

  // Stops paying on the holder's behalf from next month (certificate cancelled).
  s.name = "social-insurance.stop-contribution";
  s.path = "/social-insurance/contribution-stops";
  s.body = "{idNumber: applicant.idNumber}";
  s.result = "{contributionStopFrom: response.stopFrom}";
  ops.push_back(s);
  return ops;
}

}  // namespace banshi::connectors
