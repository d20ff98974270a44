// connectors/notification/gateway.h — the front door's Gateway
// (frontdoor/gateway.h) over the department connectors: the pre-fill asks
// data sharing (household registration, 低保/特困, death records) and the DPF
// registry (the certificates a person holds) through HTTP/JSON operations,
// and messages go to the SMS gateway (`notification.send-sms`).
//
// The operations (front_door_operations()) are HTTP operation specs like
// every department adapter (departments.h); the simulators serve them
// (`banshi simulate`: GET /dpf/holders/{id}/certificates, POST
// /notification/sms and GET /notification/sms/outbox for tests).
//
// Threads: lookup() and send() block their caller until the answer or the
// timeout (send(): of its last attempt, after the backoffs between them);
// any number of callers at once. The gateway runs its own I/O
// thread. Nothing here logs an ID number, a phone number or a message text.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "banshi/result.h"
#include "frontdoor/gateway.h"
#include "http/http_connector.h"

namespace banshi::connectors {

// data-sharing.household-record, dpf.holder-certificates, notification.send-sms.
std::vector<http::OperationSpec> front_door_operations();

struct GatewayEndpoints {
  std::string data_sharing_url;  // base URL of the data-sharing platform
  std::string dpf_url;           // base URL of the DPF registry
  std::string sms_url;           // base URL of the SMS gateway
  std::string ca_file;           // PEM bundle for https; empty: the system's
  std::chrono::milliseconds timeout{5000};
  // A message the SMS gateway could not take (unreachable, 5xx, no answer in
  // time) is sent again, up to sms_attempts in all, after sms_backoff doubled
  // each time, with the same idempotency key, so a gateway that took it but
  // whose answer was lost does not send it twice. A refusal (4xx) is final.
  int sms_attempts = 3;
  std::chrono::milliseconds sms_backoff{500};
};

class ConnectorGateway final : public frontdoor::Gateway {
 public:
  static Result<std::unique_ptr<ConnectorGateway>> create(const GatewayEndpoints& endpoints);
  ~ConnectorGateway() override;
  ConnectorGateway(const ConnectorGateway&) = delete;
  ConnectorGateway& operator=(const ConnectorGateway&) = delete;

  Result<frontdoor::SharedRecord> lookup(const std::string& id_number) override;
  Result<void> send(const frontdoor::OutgoingMessage& message) override;

 private:
  ConnectorGateway() = default;
  // One operation, waited for; its result variables, or Error{code} for a
  // business answer (a 4xx: "person-not-found") and Error{"unavailable"} otherwise.
  // `idempotency_key`: the same on every attempt of one message; empty: a fresh one.
  Result<boost::json::object> call(const std::shared_ptr<http::HttpConnector>& op, boost::json::object variables,
                                   const std::string& idempotency_key = {});

  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::shared_ptr<http::HttpClient> client_;
  std::shared_ptr<http::HttpConnector> household_, assistance_, death_, certificates_, sms_;
  std::chrono::milliseconds timeout_{5000};
  int sms_attempts_ = 3;
  std::chrono::milliseconds sms_backoff_{500};
};

}  // namespace banshi::connectors
