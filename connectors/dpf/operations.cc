// dpf (残联): the disability-certificate registry.
#include "departments.h"

namespace banshi::connectors {

namespace {
// The national codes, from a code or a name: category 1 视力 … 7 多重, level 1 一级 … 4 四级.
constexpr const char* kCategory =
    R"(get value({"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"视力":1,"听力":2,"言语":3,"肢体":4,"智力":5,"精神":6,"多重":7}, string(disability.category)))";
constexpr const char* kLevel =
    R"(get value({"1":1,"2":2,"3":3,"4":4,"一级":1,"二级":2,"三级":3,"四级":4}, string(disability.level)))";
const std::string kCertificatePath = R"(="/dpf/certificates/" + certificateNumber)";
}  // namespace

std::vector<http::OperationSpec> dpf_operations() {
  std::vector<http::OperationSpec> ops;
  auto op = [&](std::string name, std::string method, std::string path, std::string body, std::string result) {
    http::OperationSpec s;
    s.name = std::move(name);
    s.department = "dpf";
    s.method = std::move(method);
    s.path = std::move(path);
    s.body = std::move(body);
    s.result = std::move(result);
    ops.push_back(std::move(s));
  };
  const std::string issued = "{certificateNumber: response.certificateNumber, certificateValidUntil: response.validUntil, "
                             "certificateRegion: response.regionCode}";
  op("dpf.issue-certificate", "POST", "/dpf/certificates",
     std::string("{idNumber: applicant.idNumber, category: ") + kCategory + ", level: " + kLevel + "}", issued);
  op("dpf.get-certificate", "GET", kCertificatePath, "",
     "{certificateStatus: response.status, certificateRegion: response.regionCode, certificateValidUntil: response.validUntil}");
  op("dpf.renew-certificate", "POST", kCertificatePath + R"( + "/renewal")", "{}", issued);
  op("dpf.transfer-certificate", "POST", kCertificatePath + R"( + "/transfer")", "{toRegion: transfer.toRegion}",
     "{certificateRegion: response.regionCode}");
  op("dpf.report-loss", "POST", kCertificatePath + R"( + "/loss")", "{}",
     "{certificateNumber: response.certificateNumber, replacedCertificateNumber: response.replaces}");
  // The workflows say not-meeting-standard (不再符合残疾标准) where the registry says no-longer-eligible.
  op("dpf.cancel-certificate", "POST", kCertificatePath + R"( + "/cancellation")",
     R"({reason: if cancellation.reason = "not-meeting-standard" then "no-longer-eligible" else cancellation.reason})",
     "{certificateStatus: response.status, reapplyFrom: response.reapplyFrom}");
  op("dpf.change-certificate", "POST", kCertificatePath + R"( + "/change")",
     std::string("{category: ") + kCategory + ", level: " + kLevel + "}",
     "{certificateNumber: response.certificateNumber, replacedCertificateNumber: response.replaces, "
     "certificateValidUntil: response.validUntil}");
  // Before a new issue: does the person hold an active card, and when was the
  // newest one cancelled (no new application within a year of a cancellation)?
  // lastCancellation is null for a person whose card was never cancelled. An
  // answer without a list of items is an incident, never "nothing held".
  op("dpf.check-reapply", "GET", R"(="/dpf/holders/" + applicant.idNumber + "/certificates")", "",
     R"(if not(response.items instance of list) then null else {active: response.items[status = "active"],
         cancelled: response.items[status = "cancelled"],
         newest: if count(cancelled) = 0 then null else string(max(for c in cancelled return date(c.cancelledAt))),
         last: if count(cancelled) = 0 then null else if newest = null then cancelled[1] else cancelled[cancelledAt = newest][1],
         out: {activeCertificateNumber: if count(active) = 0 then null else active[1].certificateNumber,
               lastCancellation: if last = null then null else {certificateNumber: last.certificateNumber,
                 cancelledAt: last.cancelledAt, reapplyFrom: last.reapplyFrom,
                 reason: if last.cancelReason = "no-longer-eligible" then "not-meeting-standard" else last.cancelReason},
               reapplyFrom: if last = null then null else last.reapplyFrom}}.out)");
  return ops;
}

}  // namespace banshi::connectors
