// connectors/http/http_connector.h — a connector that calls one operation of
// a department system over HTTP/JSON.
//
// The operation maps the task's variables to a request and the answer back
// to variables, both by FEEL (compiled once, when the connector is created):
// - path: the request target below the endpoint's base URL; literal text,
//   or FEEL when it starts with '=' (="/dpf/certificates/" + certificateNumber).
// - body: FEEL giving the JSON body (usually a context); empty: no body.
// - result: FEEL over the task's variables plus `response` (the parsed JSON
//   answer, null when not JSON) and `status`, giving a context whose entries
//   become process variables; empty: none.
// - error_code: FEEL over the same, giving the BPMN error code of a 4xx
//   answer; empty: the answer's "code" member, else "http-<status>".
//
// Status handling: 2xx completes; 408, 429 and 5xx, a timeout or a broken
// connection are retryable failures that count toward the department's
// circuit breaker; other 4xx answers are BPMN errors (the model catches
// business outcomes) or, with on_client_error = kIncident, an incident at
// once (retrying a refused request cannot help). A mapping that fails at run
// time (a missing variable) is also an incident at once, naming the reason.
// Every request carries the job's Idempotency-Key header.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "banshi/result.h"
#include "expr/feel.h"
#include "http/http_client.h"
#include "sdk/connector.h"

namespace banshi::connectors::http {

enum class ClientErrorPolicy : uint8_t { kBpmnError, kIncident };

struct OperationSpec {
  std::string name;        // "dpf.register-certificate"
  std::string department;  // "dpf"
  std::string method = "POST";
  std::string path;
  std::string body;
  std::string result;
  std::string error_code;
  ClientErrorPolicy on_client_error = ClientErrorPolicy::kBpmnError;
};

struct EndpointConfig {
  std::string base_url;  // "http://127.0.0.1:8090" or "https://dpf.example.gov.cn/api"
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request (an API token)
};

class HttpConnector final : public AsyncConnector, public std::enable_shared_from_this<HttpConnector> {
 public:
  // Errors name the operation and, for FEEL, the field and line:column.
  static Result<std::shared_ptr<HttpConnector>> create(std::shared_ptr<HttpClient> client, const EndpointConfig& endpoint,
                                                       const OperationSpec& spec);
  void call(Call call, Done done) override;
  const OperationSpec& spec() const { return spec_; }

  // Pure pieces, public for tests: the request a call would send, and the reply an answer maps to.
  Result<HttpRequest> build_request(const Call& call) const;
  Reply map_response(const Call& call, const HttpResponse& response) const;

 private:
  HttpConnector() = default;
  std::shared_ptr<HttpClient> client_;
  Url url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  OperationSpec spec_;
  std::optional<expr::Expression> path_, body_, result_, error_code_;
};

// Percent-encodes what may not stand in a request target (keeps / ? = & and unreserved characters).
std::string encode_target(std::string_view text);

}  // namespace banshi::connectors::http
