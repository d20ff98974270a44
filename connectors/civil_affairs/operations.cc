// civil-affairs (民政): 低保/特困 status and the two subsidies.
#include "departments.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> civil_affairs_operations() {
  std::vector<http::OperationSpec> ops;
  http::OperationSpec s;
  s.department = "civil-affairs";

  s.name = "civil-affairs.check-assistance";
  s.method = "GET";
  s.path = R"(="/civil-affairs/assistance/" + applicant.idNumber)";
  s.result = "{dibao: response.dibao, tekun: response.tekun}";
  ops.push_back(s);

  // When a certificate is issued the person is told what they may apply for (便捷自愿申办).
  s.name = "civil-affairs.notify-subsidy-eligibility";
  s.result = "{livingSubsidyOffered: response.dibao, nursingSubsidyOffered: not(response.tekun)}";
  ops.push_back(s);

  s.name = "civil-affairs.decide-subsidy";
  s.method = "POST";
  s.path = "/civil-affairs/subsidy-decisions";
  s.body = "{idNumber: applicant.idNumber, subsidy: subsidy}";
  s.result = "{subsidyDecisionId: response.decisionId, subsidyGranted: response.decision = \"granted\", "
             "subsidyMonthlyAmount: response.monthlyAmount, subsidyFromMonth: response.fromMonth}";
  ops.push_back(s);

  // One month of a granted subsidy (the month after the last one paid); `subsidy` is living or nursing.
  s.name = "civil-affairs.pay-subsidy";
  s.path = "/civil-affairs/subsidy-payments";
  s.body = "{idNumber: applicant.idNumber, subsidy: subsidy}";
  s.result = "{subsidyPaymentId: response.paymentId, subsidyPaidMonth: response.month, "
             "subsidyPaidAmount: response.amount}";
  ops.push_back(s);

  // Stops every subsidy the holder draws from the first day of next month (certificate cancelled).
  s.name = "civil-affairs.stop-subsidy";
  s.path = "/civil-affairs/subsidy-stops";
  s.body = "{idNumber: applicant.idNumber}";
  s.result = "{subsidiesStopped: response.stopped, subsidiesStopFrom: response.stopFrom}";
  ops.push_back(s);
  return ops;
}

}  // namespace banshi::connectors
