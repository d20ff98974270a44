// api/router.h — a pure router: from a Request to the handler of its route.
//
// Routes are method + path template ("/api/v1/tasks/{id}/complete"); a
// `{name}` segment matches one non-empty path segment and is handed to the
// handler percent-decoded. route() answers 404 problem+json for an unknown
// path and 405 with an Allow header when the path is known but the method is
// not. A handler that throws becomes a 500 that leaks nothing.
//
// Threads: add() before use; route() is const and may run on many threads at
// once (handlers must be thread-safe themselves).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http_types.h"

namespace banshi::api {

using PathParams = std::map<std::string, std::string>;
using Handler = std::function<Response(const Request&, const PathParams&)>;

struct RouteInfo {
  std::string method;
  std::string path_template;
};

class Router {
 public:
  void add(std::string method, std::string path_template, Handler handler);
  // The fallback for a GET/HEAD on a path no route knows (static files);
  // without one such paths are a 404.
  void set_fallback(Handler handler) { fallback_ = std::move(handler); }

  Response route(const Request& request) const;
  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string method;
    std::string path_template;
    std::vector<std::string> segments;
    Handler handler;
  };
  static std::vector<std::string> split(const std::string& path);
  static bool match(const Route& route, const std::vector<std::string>& segments, PathParams& params);

  std::vector<Route> routes_;
  Handler fallback_;
};

}  // namespace banshi::api
