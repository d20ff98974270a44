#include "http/http_connector.h"

#include "expr/json_text.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace banshi::connectors::http {

namespace json = boost::json;

namespace {

Result<std::optional<expr::Expression>> compile(const std::string& op, const char* field, const std::string& text) {
  std::string_view src = text;
  if (src.empty()) return std::optional<expr::Expression>{};
  if (src.front() == '=') src.remove_prefix(1);
  auto e = expr::Expression::compile(src);
  if (!e.ok()) return Error{"bad-config", fmt::format("{}: {} {}", op, field, expr::to_string(e.error()))};
  return std::optional<expr::Expression>(std::move(e).value());
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

expr::Value eval(const expr::Expression& e, const json::object& vars) {
  expr::JsonVariables v(vars);
  expr::EvalContext ctx;
  ctx.variables = &v;
  ctx.now_epoch_ms = now_ms();
  return e.evaluate(ctx);
}

Reply incident(std::string why) {
  Reply r = Reply::retry(std::move(why));
  r.outcome.no_retry = true;
  return r;
}

}  // namespace

std::string encode_target(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                std::string_view("-._~/?=&").find(static_cast<char>(c)) != std::string_view::npos;
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::shared_ptr<HttpConnector>> HttpConnector::create(std::shared_ptr<HttpClient> client,
                                                             const EndpointConfig& endpoint, const OperationSpec& spec) {
  if (spec.name.empty()) return Error{"bad-config", "an HTTP operation needs a name"};
  static const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  bool method_ok = false;
  for (const char* m : kMethods) method_ok = method_ok || spec.method == m;
  if (!method_ok) return Error{"bad-config", fmt::format("{}: method '{}' is not GET, POST, PUT, PATCH or DELETE", spec.name, spec.method)};
  if (spec.path.empty()) return Error{"bad-config", fmt::format("{}: the operation has no path", spec.name)};
  auto url = parse_url(endpoint.base_url);
  if (!url.ok()) return Error{"bad-config", fmt::format("{}: {}", spec.name, url.error().message)};
  std::shared_ptr<HttpConnector> c(new HttpConnector());
  c->client_ = std::move(client);
  c->url_ = *url;
  c->headers_ = endpoint.headers;
  c->spec_ = spec;
  if (spec.path.front() == '=') {
    auto p = compile(spec.name, "path", spec.path);
    if (!p.ok()) return p.error();
    c->path_ = std::move(*p);
  } else if (spec.path.front() != '/') {
    return Error{"bad-config", fmt::format("{}: the path '{}' must start with '/' (or '=' for FEEL)", spec.name, spec.path)};
  }
  for (auto [field, text, slot] : {std::tuple{"body", &spec.body, &c->body_}, std::tuple{"result", &spec.result, &c->result_},
                                   std::tuple{"errorCode", &spec.error_code, &c->error_code_}}) {
    auto e = compile(spec.name, field, *text);
    if (!e.ok()) return e.error();
    *slot = std::move(*e);
  }
  return c;
}

Result<HttpRequest> HttpConnector::build_request(const Call& call) const {
  HttpRequest req;
  req.method = spec_.method;
  req.deadline = call.deadline;
  if (path_) {
    expr::Value p = eval(*path_, call.variables);
    if (!p.is_string()) {
      return Error{"mapping", fmt::format("{}: the path gave {} instead of text{}", spec_.name, expr::kind_name(p.kind()),
                                          p.is_null() && !p.null_reason().empty() ? ": " + p.null_reason() : "")};
    }
    if (p.as_string().empty() || p.as_string().front() != '/') {
      return Error{"mapping", fmt::format("{}: the path must start with '/'", spec_.name)};
    }
    req.target = encode_target(p.as_string());
  } else {
    req.target = spec_.path;
  }
  if (body_) {
    expr::Value b = eval(*body_, call.variables);
    if (b.is_null()) {
      return Error{"mapping", fmt::format("{}: the request body gave null{}", spec_.name,
                                          b.null_reason().empty() ? "" : ": " + b.null_reason())};
    }
    req.body = expr::json_text(expr::to_json(b));
    req.headers.emplace_back("Content-Type", "application/json");
  }
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("Idempotency-Key", call.idempotency_key);
  for (const auto& h : headers_) req.headers.push_back(h);
  return req;
}

Reply HttpConnector::map_response(const Call& call, const HttpResponse& response) const {
  const int s = response.status;
  if (s == 408 || s == 429 || s >= 500) {
    Reply r = Reply::retry(fmt::format("{} answered {}", spec_.department.empty() ? spec_.name : spec_.department, s),
                           true);
    // The system says when to come back (a 503 for maintenance, a 429): the
    // next attempt waits that long instead of the task's backoff.
    if (response.retry_after_ms >= 0 && (s == 429 || s == 503)) r.outcome.retry_after_ms = response.retry_after_ms;
    return r;
  }
  json::object scope = call.variables;
  boost::system::error_code ec;
  json::value body = response.body.empty() ? json::value() : json::parse(response.body, ec);
  if (ec) body = nullptr;
  scope["response"] = body;
  scope["status"] = s;
  if (s >= 200 && s < 300) {
    if (!result_) return Reply::ok();
    // A result is read from a JSON answer: an empty or non-JSON 2xx (a proxy's
    // page, a truncated body) must not complete the job with nulls.
    if (response.body.empty() || ec) {
      return incident(fmt::format("{} answered {} without a JSON body", spec_.name, s));
    }
    expr::Value r = eval(*result_, scope);
    if (!r.is_context()) {
      return incident(fmt::format("{}: the result mapping gave {} instead of a context{}", spec_.name,
                                  expr::kind_name(r.kind()),
                                  r.is_null() && !r.null_reason().empty() ? ": " + r.null_reason() : ""));
    }
    json::value out = expr::to_json(r);
    return Reply::ok(out.is_object() ? out.as_object() : json::object{});
  }
  if (s >= 400 && s < 500) {
    std::string code;
    std::string message;
    if (body.is_object()) {
      if (auto* d = body.as_object().if_contains("detail"); d && d->is_string()) message = std::string(d->as_string());
      if (auto* c = body.as_object().if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
    }
    if (error_code_) {
      expr::Value c = eval(*error_code_, scope);
      if (c.is_string()) code = c.as_string();
    }
    if (code.empty()) code = fmt::format("http-{}", s);
    if (spec_.on_client_error == ClientErrorPolicy::kIncident) {
      return incident(fmt::format("{} refused the request ({} {}): {}", spec_.name, s, code, message));
    }
    json::object vars;
    vars["errorCode"] = code;
    vars["errorMessage"] = message;
    return Reply::business_error(code, message, std::move(vars));
  }
  return incident(fmt::format("{}: unexpected status {}", spec_.name, s));
}

void HttpConnector::call(Call call, Done done) {
  auto req = build_request(call);
  if (!req.ok()) {
    Reply r = incident(req.error().message);
    r.local = true;  // nothing was sent
    done(std::move(r));
    return;
  }
  auto self = shared_from_this();
  client_->request(url_, std::move(req).value(), [self, call = std::move(call), done = std::move(done)](Result<HttpResponse> r) {
    if (!r.ok()) {
      if (r.error().code == "bad-url") {
        Reply local = incident(fmt::format("{}: {}", self->spec_.name, r.error().message));
        local.local = true;  // nothing was sent
        done(std::move(local));
      } else {
        done(Reply::retry(fmt::format("{}: {}", self->spec_.name, r.error().message), true));
      }
      return;
    }
    done(self->map_response(call, *r));
  });
}

}  // namespace banshi::connectors::http
