// api/problem.h — every error answer as application/problem+json (RFC 9457).
//
// Each kind of error has a stable `type` URI, https://banshi.dev/problems/<kind>,
// listed in docs/api/README.md; clients branch on it, never on `title` or
// `detail`. A 400 names the offending field in the `field` member. A 500
// never carries internals: its detail is a fixed sentence and the cause goes
// to the server log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/http_types.h"
#include "banshi/result.h"

namespace banshi::api {

enum class ProblemKind {
  kBadRequest,            // 400 malformed JSON, wrong type, missing or unknown field, bad parameter
  kInvalidModel,          // 400 a BPMN file that does not validate (with `diagnostics`)
  kUnauthorized,          // 401 no valid session cookie or bearer token, or a failed login
  kForbidden,             // 403 authenticated, but the role, scope or CSRF header does not allow it
  kNotFound,              // 404
  kMethodNotAllowed,      // 405 (with an Allow header)
  kConflict,              // 409 the engine refused because of the current state
  kPayloadTooLarge,       // 413
  kUnsupportedMediaType,  // 415
  kHeaderTooLarge,        // 431
  kUpgradeRequired,       // 426 a plain GET on the WebSocket route
  kGone,                  // 410 what was asked for is no longer kept (an event stream's `since`)
  kTooManyRequests,       // 429 the client's request rate is over its limit (with Retry-After)
  kInternal,              // 500
  kNotReady,              // 503 from /readyz
  kUnavailable,           // 503 over the connection cap or shutting down
};

inline constexpr std::string_view kProblemBase = "https://banshi.dev/problems/";

std::string_view problem_slug(ProblemKind kind);
int problem_status(ProblemKind kind);
std::string_view problem_title(ProblemKind kind);
// Every kind, for documentation and tests.
std::vector<ProblemKind> all_problem_kinds();

// A problem response. `field` (400 only) names the offending member or
// parameter; `extra` members are merged into the document.
Response problem(ProblemKind kind, std::string detail, std::string field = {}, boost::json::object extra = {});

// Maps an engine or store Error to its problem: not-found → 404; conflict,
// duplicate and rejected → 409; bad-request → 400; invalid-model → 400 with
// one diagnostic per line; everything else → 500 (logged, not sent).
Response problem_from_error(const Error& error);

}  // namespace banshi::api
