#include "notification/gateway.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "departments.h"

namespace banshi::connectors {

namespace json = boost::json;

std::vector<http::OperationSpec> front_door_operations() {
  std::vector<http::OperationSpec> ops;
  http::OperationSpec s;
  s.method = "GET";

  // The pre-fill: the person as the household registration holds them.
  s.department = "data-sharing";
  s.name = "data-sharing.household-record";
  s.path = R"(="/data-sharing/household/" + applicant.idNumber)";
  s.result = "{name: response.name, region: response.regionCode, regionName: response.regionName, birthDate: response.birthDate}";
  ops.push_back(s);

  // Every certificate the registry holds for a person, newest first.
  s.department = "dpf";
  s.name = "dpf.holder-certificates";
  s.path = R"(="/dpf/holders/" + applicant.idNumber + "/certificates")";
  s.result = "{certificates: response.items}";
  ops.push_back(s);

  // One SMS; the text carries no personal data beyond what it needs.
  s.department = "notification";
  s.name = "notification.send-sms";
  s.method = "POST";
  s.path = "/notification/sms";
  s.body = "{to: message.to, text: message.text, purpose: message.purpose}";
  s.result = "{messageId: response.messageId}";
  ops.push_back(s);
  return ops;
}

Result<std::unique_ptr<ConnectorGateway>> ConnectorGateway::create(const GatewayEndpoints& e) {
  std::unique_ptr<ConnectorGateway> g(new ConnectorGateway());
  g->timeout_ = e.timeout;
  g->sms_attempts_ = std::max(1, e.sms_attempts);
  g->sms_backoff_ = e.sms_backoff;
  http::ClientOptions co;
  co.ca_file = e.ca_file;
  co.user_agent = "banshi-frontdoor";
  auto client = http::HttpClient::create(g->ioc_, co);
  if (!client.ok()) return client.error();
  g->client_ = *client;
  auto make = [&](const std::string& base, const http::OperationSpec& spec,
                  std::shared_ptr<http::HttpConnector>& out) -> Result<void> {
    if (base.empty()) return Error{"bad-config", fmt::format("{} has no endpoint URL", spec.name)};
    auto c = http::HttpConnector::create(g->client_, http::EndpointConfig{base, {}}, spec);
    if (!c.ok()) return c.error();
    out = *c;
    return {};
  };
  auto own = front_door_operations();
  const http::OperationSpec* assistance = nullptr;
  const http::OperationSpec* death = nullptr;
  auto shared = data_sharing_operations();
  for (const auto& op : shared) {
    if (op.name == "data-sharing.check-assistance") assistance = &op;
    if (op.name == "data-sharing.check-death") death = &op;
  }
  if (!assistance || !death) return Error{"bad-config", "the data-sharing adapter lacks check-assistance or check-death"};
  if (auto r = make(e.data_sharing_url, own[0], g->household_); !r.ok()) return r.error();
  if (auto r = make(e.data_sharing_url, *assistance, g->assistance_); !r.ok()) return r.error();
  if (auto r = make(e.data_sharing_url, *death, g->death_); !r.ok()) return r.error();
  if (auto r = make(e.dpf_url, own[1], g->certificates_); !r.ok()) return r.error();
  if (auto r = make(e.sms_url, own[2], g->sms_); !r.ok()) return r.error();
  g->work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      g->ioc_.get_executor());
  g->thread_ = std::thread([io = &g->ioc_] { io->run(); });
  return g;
}

ConnectorGateway::~ConnectorGateway() {
  work_.reset();
  // Connections still open keep the context busy; stop it, then free them.
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
  household_.reset();
  assistance_.reset();
  death_.reset();
  certificates_.reset();
  sms_.reset();
  client_.reset();
}

namespace {
std::atomic<uint64_t> next_call{1};
std::string fresh_key() {
  return fmt::format("frontdoor-{}-{}", std::chrono::steady_clock::now().time_since_epoch().count(),
                     next_call.fetch_add(1));
}
}  // namespace

Result<json::object> ConnectorGateway::call(const std::shared_ptr<http::HttpConnector>& op, json::object variables,
                                            const std::string& idempotency_key) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto answered = promise->get_future();
  Call c;
  c.type = op->spec().name;
  c.idempotency_key = idempotency_key.empty() ? fresh_key() : idempotency_key;
  c.deadline = SteadyClock::now() + timeout_;
  c.variables = std::move(variables);
  c.executor = ioc_.get_executor();
  op->call(std::move(c), [promise](Reply r) { promise->set_value(std::move(r)); });
  if (answered.wait_for(timeout_ + std::chrono::seconds(1)) != std::future_status::ready) {
    return Error{"unavailable", fmt::format("{} did not answer in time", op->spec().name)};
  }
  Reply r = answered.get();
  switch (r.outcome.kind) {
    case JobOutcome::Kind::kCompleted: return std::move(r.outcome.variables);
    case JobOutcome::Kind::kBpmnError: return Error{r.outcome.error_code, op->spec().name + " refused the request"};
    case JobOutcome::Kind::kFailed: break;
  }
  return Error{"unavailable", fmt::format("{} cannot be reached", op->spec().name)};
}

namespace {

// Whether a department's refusal says the person (or card) is not on its
// records: its own code naming what it did not find (person-not-found,
// certificate-not-found). A bare 404 (a proxy, a wrong base path, an unknown
// route: "http-404", "not-found") says nothing of the person, and must not
// read as "not registered".
bool is_not_found(const std::string& code) {
  constexpr std::string_view kSuffix = "-not-found";
  return code.size() > kSuffix.size() && code.compare(code.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

Error unavailable_after(const Error& e) {
  return e.code == "unavailable" ? e : Error{"unavailable", fmt::format("the shared data refused the request ({})", e.code)};
}

}  // namespace

Result<frontdoor::SharedRecord> ConnectorGateway::lookup(const std::string& id_number) {
  json::object vars{{"applicant", json::object{{"idNumber", id_number}}}};
  frontdoor::SharedRecord s;
  auto household = call(household_, vars);
  if (!household.ok()) {
    // Only "not found" means no registration: a refusal (401, 403, 400: an
    // expired token, a changed allow-list) must not read as "not registered".
    if (!is_not_found(household.error().code)) return unavailable_after(household.error());
    return s;  // no household registration holds the number: found = false
  }
  auto text = [](const json::object& o, const char* k) {
    const json::value* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  s.found = true;
  s.name = text(*household, "name");
  s.region = text(*household, "region");
  s.region_name = text(*household, "regionName");
  s.birth_date = text(*household, "birthDate");
  auto assistance = call(assistance_, vars);
  if (!assistance.ok()) return Error{"unavailable", assistance.error().message};
  auto flag = [](const json::object& o, const char* k) {
    const json::value* v = o.if_contains(k);
    return v && v->is_bool() && v->as_bool();
  };
  s.dibao = flag(*assistance, "dibao");
  s.tekun = flag(*assistance, "tekun");
  auto death = call(death_, vars);
  if (!death.ok()) return Error{"unavailable", death.error().message};
  s.deceased = flag(*death, "deceased");
  auto certs = call(certificates_, vars);
  if (!certs.ok()) {
    if (!is_not_found(certs.error().code)) return unavailable_after(certs.error());
    return s;  // holds no certificate
  }
  if (const json::value* list = certs->if_contains("certificates"); list && list->is_array()) {
    for (const json::value& v : list->as_array()) {
      if (!v.is_object()) continue;
      const json::object& c = v.as_object();
      frontdoor::HeldCertificate h;
      h.number = text(c, "certificateNumber");
      h.category = text(c, "categoryName");
      if (const json::value* l = c.if_contains("level"); l && l->is_int64()) h.level = static_cast<int>(l->as_int64());
      h.status = text(c, "status");
      h.valid_until = text(c, "validUntil");
      // The active certificate wins; otherwise the first (newest) one.
      if (!s.certificate || (h.status == "active" && s.certificate->status != "active")) s.certificate = h;
    }
  }
  return s;
}

Result<void> ConnectorGateway::send(const frontdoor::OutgoingMessage& m) {
  const json::object vars{{"message", json::object{{"to", m.phone}, {"text", m.text}, {"purpose", m.purpose}}}};
  const std::string key = fresh_key();
  auto wait = sms_backoff_;
  for (int attempt = 1;; ++attempt) {
    auto r = call(sms_, vars, key);
    if (r.ok()) return {};
    // A refusal (a 4xx: a bad number, a text too long) will not change by asking again.
    if (r.error().code != "unavailable") return Error{"refused", r.error().message};
    if (attempt >= sms_attempts_) {
      return Error{"unavailable", fmt::format("{} (after {} attempts)", r.error().message, attempt)};
    }
    std::this_thread::sleep_for(wait);
    wait *= 2;
  }
}

}  // namespace banshi::connectors
