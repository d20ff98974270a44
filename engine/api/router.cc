#include "api/router.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "api/problem.h"

namespace banshi::api {

void Router::add(std::string method, std::string path_template, Handler handler) {
  Route r;
  r.segments = split(path_template);
  r.method = std::move(method);
  r.path_template = std::move(path_template);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

std::vector<std::string> Router::split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t end = path.find('/', i);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(i, end - i));
    i = end;
  }
  if (!path.empty() && path.back() == '/' && path.size() > 1) out.emplace_back();  // "/a/" differs from "/a"
  return out;
}

bool Router::match(const Route& route, const std::vector<std::string>& segments, PathParams& params) {
  if (route.segments.size() != segments.size()) return false;
  PathParams found;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& t = route.segments[i];
    if (t.size() >= 2 && t.front() == '{' && t.back() == '}') {
      std::string decoded;
      if (segments[i].empty() || !percent_decode(segments[i], decoded, false)) return false;
      found[t.substr(1, t.size() - 2)] = std::move(decoded);
    } else if (t != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

Response Router::route(const Request& request) const {
  std::vector<std::string> segments = split(request.path);
  std::vector<std::string> allowed;
  std::string matched_template;
  for (const Route& r : routes_) {
    PathParams params;
    if (!match(r, segments, params)) continue;
    matched_template = r.path_template;
    if (r.method != request.method) {
      allowed.push_back(r.method);
      continue;
    }
    Response response;
    try {
      response = r.handler(request, params);
    } catch (const std::exception& e) {
      response = problem_from_error(Error{"exception", e.what()});
    }
    response.route = r.path_template;
    return response;
  }
  if (!allowed.empty()) {
    std::string allow;
    for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    Response response = problem(ProblemKind::kMethodNotAllowed,
                                "The method " + request.method + " is not allowed here; use " + allow + ".");
    response.headers.emplace_back("Allow", allow);
    response.route = matched_template;
    return response;
  }
  if (fallback_ && (request.method == "GET" || request.method == "HEAD")) {
    Response response;
    try {
      response = fallback_(request, {});
    } catch (const std::exception& e) {
      response = problem_from_error(Error{"exception", e.what()});
    }
    if (response.route.empty()) response.route = "static";
    return response;
  }
  Response response = problem(ProblemKind::kNotFound, "There is no resource at this path.");
  response.route = "unmatched";
  return response;
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const Route& r : routes_) out.push_back(RouteInfo{r.method, r.path_template});
  return out;
}

}  // namespace banshi::api
