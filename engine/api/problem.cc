#include "api/problem.h"

#include "expr/json_text.h"

#include <atomic>

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

namespace banshi::api {

namespace json = boost::json;

std::string_view problem_slug(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kBadRequest: return "bad-request";
    case ProblemKind::kInvalidModel: return "invalid-model";
    case ProblemKind::kUnauthorized: return "unauthorized";
    case ProblemKind::kForbidden: return "forbidden";
    case ProblemKind::kNotFound: return "not-found";
    case ProblemKind::kMethodNotAllowed: return "method-not-allowed";
    case ProblemKind::kConflict: return "conflict";
    case ProblemKind::kPayloadTooLarge: return "payload-too-large";
    case ProblemKind::kUnsupportedMediaType: return "unsupported-media-type";
    case ProblemKind::kHeaderTooLarge: return "header-too-large";
    case ProblemKind::kTooManyRequests: return "too-many-requests";
    case ProblemKind::kUpgradeRequired: return "upgrade-required";
    case ProblemKind::kGone: return "gone";
    case ProblemKind::kInternal: return "internal";
    case ProblemKind::kNotReady: return "not-ready";
    case ProblemKind::kUnavailable: return "unavailable";
  }
  return "internal";
}

int problem_status(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kBadRequest: return 400;
    case ProblemKind::kInvalidModel: return 400;
    case ProblemKind::kUnauthorized: return 401;
    case ProblemKind::kForbidden: return 403;
    case ProblemKind::kNotFound: return 404;
    case ProblemKind::kMethodNotAllowed: return 405;
    case ProblemKind::kConflict: return 409;
    case ProblemKind::kPayloadTooLarge: return 413;
    case ProblemKind::kUnsupportedMediaType: return 415;
    case ProblemKind::kHeaderTooLarge: return 431;
    case ProblemKind::kTooManyRequests: return 429;
    case ProblemKind::kUpgradeRequired: return 426;
    case ProblemKind::kGone: return 410;
    case ProblemKind::kInternal: return 500;
    case ProblemKind::kNotReady: return 503;
    case ProblemKind::kUnavailable: return 503;
  }
  return 500;
}

std::string_view problem_title(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kBadRequest: return "The request is malformed";
    case ProblemKind::kInvalidModel: return "The BPMN model is not valid";
    case ProblemKind::kUnauthorized: return "Authentication is required";
    case ProblemKind::kForbidden: return "Not allowed";
    case ProblemKind::kNotFound: return "Not found";
    case ProblemKind::kMethodNotAllowed: return "Method not allowed";
    case ProblemKind::kConflict: return "The request conflicts with the current state";
    case ProblemKind::kPayloadTooLarge: return "The request body is too large";
    case ProblemKind::kUnsupportedMediaType: return "Unsupported media type";
    case ProblemKind::kHeaderTooLarge: return "The request header is too large";
    case ProblemKind::kTooManyRequests: return "Too many requests";
    case ProblemKind::kUpgradeRequired: return "Upgrade to WebSocket";
    case ProblemKind::kGone: return "No longer kept";
    case ProblemKind::kInternal: return "Internal server error";
    case ProblemKind::kNotReady: return "The server is not ready";
    case ProblemKind::kUnavailable: return "The server is unavailable";
  }
  return "Internal server error";
}

std::vector<ProblemKind> all_problem_kinds() {
  return {ProblemKind::kBadRequest,       ProblemKind::kInvalidModel,         ProblemKind::kNotFound,
          ProblemKind::kMethodNotAllowed, ProblemKind::kConflict,             ProblemKind::kPayloadTooLarge,
          ProblemKind::kUnsupportedMediaType, ProblemKind::kHeaderTooLarge,   ProblemKind::kTooManyRequests,
          ProblemKind::kUpgradeRequired,  ProblemKind::kInternal,
          ProblemKind::kNotReady,         ProblemKind::kUnavailable,          ProblemKind::kUnauthorized,
          ProblemKind::kForbidden,        ProblemKind::kGone};
}

Response problem(ProblemKind kind, std::string detail, std::string field, json::object extra) {
  json::object doc;
  doc["type"] = std::string(kProblemBase) + std::string(problem_slug(kind));
  doc["title"] = problem_title(kind);
  doc["status"] = problem_status(kind);
  doc["detail"] = std::move(detail);
  if (!field.empty()) doc["field"] = std::move(field);
  for (auto& kv : extra) doc[kv.key()] = std::move(kv.value());
  Response r;
  r.status = problem_status(kind);
  r.content_type = "application/problem+json";
  r.body = expr::json_text(doc);
  return r;
}

Response problem_from_error(const Error& error) {
  if (error.code == "not-found") return problem(ProblemKind::kNotFound, error.message);
  if (error.code == "conflict" || error.code == "duplicate" || error.code == "rejected") {
    return problem(ProblemKind::kConflict, error.message);
  }
  if (error.code == "bad-request") return problem(ProblemKind::kBadRequest, error.message);
  if (error.code == "unavailable") return problem(ProblemKind::kUnavailable, error.message);
  // A deployment naming a connector no runtime serves is refused like an invalid model: one diagnostic per task.
  if (error.code == "invalid-model" || error.code == "unknown-connector") {
    json::array diagnostics;
    std::string_view rest = error.message;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty()) diagnostics.emplace_back(line);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
    std::string detail = diagnostics.size() == 1 ? std::string(diagnostics.front().as_string())
                                                 : std::to_string(diagnostics.size()) + " validation errors";
    json::object extra;
    extra["diagnostics"] = std::move(diagnostics);
    return problem(ProblemKind::kInvalidModel, std::move(detail), {}, std::move(extra));
  }
  static std::atomic<uint64_t> next_ref{1};
  uint64_t ref = next_ref.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("internal error (ref {}): {}: {}", ref, error.code, error.message);
  return problem(ProblemKind::kInternal,
                 "The server could not complete the request; the server log has the details under ref " +
                     std::to_string(ref) + ".");
}

}  // namespace banshi::api
