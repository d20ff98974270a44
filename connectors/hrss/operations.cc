// hrss (人社/就业): unemployment registration and 就业困难人员 recognition.
#include "departments.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> hrss_operations() {
  std::vector<http::OperationSpec> ops;
  http::OperationSpec s;
  s.department = "hrss";
  s.method = "POST";
  s.body = "{idNumber: applicant.idNumber}";

  s.name = "hrss.register-unemployment";
  s.path = "/hrss/unemployment-registrations";
  s.result = "{unemploymentRegistrationNumber: response.registrationNumber}";
  ops.push_back(s);

  s.name = "hrss.recognize-employment-difficulty";
  s.path = "/hrss/employment-difficulty-recognitions";
  s.result = "{employmentDifficultyRecognized: response.recognized, employmentDifficultyId: response.recognitionId}";
  ops.push_back(s);
  return ops;
}

}  // namespace banshi::connectors
