// connectors/departments.h — the department adapters: each department's
// operations as HTTP/JSON operations (name, route, request and result
// mappings in FEEL), documented in docs/connectors.md. The routes are the
// ones the simulators (simulators/) serve; a real department system with
// another shape gets its own specs here or in the server's configuration.
//
// Conventions for the variables the mappings read: applicant.idNumber (the
// resident ID number), certificateNumber, disability.category and
// disability.level (a national code 1–7 / 1–4, or its name: 肢体, 二级).
#pragma once

#include <string>
#include <vector>

#include "http/http_connector.h"

namespace banshi::connectors {

std::vector<http::OperationSpec> dpf_operations();
std::vector<http::OperationSpec> civil_affairs_operations();
std::vector<http::OperationSpec> hrss_operations();
std::vector<http::OperationSpec> social_insurance_operations();
std::vector<http::OperationSpec> data_sharing_operations();
std::vector<http::OperationSpec> assessment_operations();

// Every department's operations.
std::vector<http::OperationSpec> all_operations();
// The department codes: dpf, civil-affairs, hrss, social-insurance, data-sharing, assessment.
const std::vector<std::string>& department_codes();

}  // namespace banshi::connectors
