// assessment (评定机构): the designated institutions rate category and level.
#include "departments.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> assessment_operations() {
  http::OperationSpec s;
  s.department = "assessment";
  s.name = "assessment.assess";
  s.method = "POST";
  s.path = "/assessment/assessments";
  s.body = R"({idNumber: applicant.idNumber, category: get value({"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"视力":1,"听力":2,"言语":3,"肢体":4,"智力":5,"精神":6,"多重":7}, string(disability.category))})";
  s.result = "{meetsStandard: response.meetsStandard, assessmentId: response.assessmentId, "
             "disability: {category: response.categoryName, level: response.level}}";
  return {s};
}

}  // namespace banshi::connectors
