// data-sharing (政数局): shared data (户籍, 低保, death records) and the
// e-certificate platform.
#include "departments.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> data_sharing_operations() {
  std::vector<http::OperationSpec> ops;
  http::OperationSpec s;
  s.department = "data-sharing";
  s.method = "GET";

  s.name = "data-sharing.verify-identity";
  s.path = R"(="/data-sharing/household/" + applicant.idNumber)";
  s.result = "{identityVerified: response.name = applicant.name, householdRegion: response.regionCode}";
  ops.push_back(s);

  s.name = "data-sharing.lookup-household";
  s.result = "{householdRegion: response.regionCode, householdRegionName: response.regionName, birthDate: response.birthDate}";
  ops.push_back(s);

  s.name = "data-sharing.check-assistance";
  s.path = R"(="/data-sharing/assistance/" + applicant.idNumber)";
  s.result = "{dibao: response.dibao, tekun: response.tekun}";
  ops.push_back(s);

  s.name = "data-sharing.check-death";
  s.path = R"(="/data-sharing/deaths/" + applicant.idNumber)";
  s.result = "{deceased: response.deceased, dateOfDeath: response.dateOfDeath}";
  ops.push_back(s);

  s.name = "data-sharing.push-e-certificate";
  s.method = "POST";
  s.path = "/data-sharing/e-certificates";
  s.body = "{certificateNumber: certificateNumber}";
  s.result = "{eCertificateId: response.eCertificateId}";
  ops.push_back(s);
  return ops;
}

}  // namespace banshi::connectors
