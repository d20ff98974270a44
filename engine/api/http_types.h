// api/http_types.h — the server's own small request and response values.
//
// The router and every handler see only these types, never a socket or a
// Beast message, so routing is a pure function testable without a network.
// The transport (server.h) converts to and from HTTP/1.1 on the wire.
//
// Ownership: plain values; copy or move freely. Not synchronised: one
// request is handled by one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace banshi::api {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // "GET", "POST", ... as sent
  std::string target;   // the raw request target: path and query, still percent-encoded
  std::string path;     // the raw path (no query), still percent-encoded
  Fields query;         // decoded name/value pairs in their order; a name may repeat
  Fields headers;       // names in lower case
  std::string body;
  // The client's IP address as the transport saw it ("127.0.0.1", "::1");
  // empty when unknown (a request built in a test). Never taken from a header.
  std::string remote_address;

  // Builds a request from a method and a raw target; splits and decodes the query.
  static Request make(std::string method, std::string target, std::string body = {}, Fields headers = {});

  // The first header with that (lower-case) name, if any.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  // The first / every query value with that name.
  std::optional<std::string_view> param(std::string_view name) const;
  std::vector<std::string> params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type;  // empty when there is no body
  std::string body;
  Fields headers;            // extra headers (Allow, Location, ...)
  // The route template that answered ("/api/v1/tasks/{id}"), or a fixed
  // label ("static", "unmatched") — for metrics; never sent.
  std::string route;
};

// Percent-decodes `in`; false when an escape is malformed. With `plus_is_space`
// (query strings) '+' decodes to a space.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace banshi::api
