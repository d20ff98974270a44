// The connectors against real department simulators over HTTP, and with the
// engine: every adapter operation, idempotency across a timeout, outage →
// retries → incident → manual retry, the circuit breaker, external-task lease
// expiry, and a plugin loaded from a shared library.
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "api/server.h"
#include "banshi/engine.h"
#include "calendar/business_calendar.h"
#include "departments.h"
#include "http/http_client.h"
#include "http/http_connector.h"
#include "model/iso8601.h"
#include "sdk/plugin.h"
#include "sdk/runtime.h"
#include "simulators/people.h"
#include "simulators/simulator.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::connectors {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 10s) {
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

sim::Person person(bool (*pred)(const sim::Person&)) {
  for (int seq = 0; seq < 1000; ++seq) {
    auto p = sim::person_of(sim::make_id_number("220102", "19800501", seq));
    if (p && pred(*p)) return *p;
  }
  ADD_FAILURE() << "no synthetic person fits";
  return {};
}

std::string one_task(const std::string& connector, const std::string& attrs) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <serviceTask id="t" bs:connector=")" + connector + "\" " + attrs + R"(/>
    <boundaryEvent id="refused" attachedToRef="t"><errorEventDefinition/></boundaryEvent>
    <sequenceFlow id="f2" sourceRef="t" targetRef="done"/><endEvent id="done"/>
    <sequenceFlow id="f3" sourceRef="refused" targetRef="refusedEnd"/><endEvent id="refusedEnd"/>
  </process></definitions>)";
}

class ConnectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimulatorOptions so;
    so.today = "2026-03-02";
    simulator_ = std::make_unique<sim::Simulator>(so);
    api::ServerOptions o;
    o.port = 0;
    o.threads = 6;
    server_ = std::make_unique<api::Server>(o, [this](const api::Request& r) { return simulator_->handle(r); });
    ASSERT_TRUE(server_->start().ok());
    base_url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    dir_ = fs::temp_directory_path() / ("banshi-connectors-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    if (runtime_) runtime_->stop();
    if (engine_) engine_->stop();
    client_.reset();  // its pooled connections live on the runtime's I/O context
    runtime_.reset();
    engine_.reset();
    server_->stop();
    fs::remove_all(dir_);
  }

  // An engine on SQLite with a connector runtime holding every department operation.
  void open_engine(RuntimeOptions ro = {}) {
    store::sqlite::SqliteOptions so;
    so.path = (dir_ / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(so);
    ASSERT_TRUE(s.ok());
    EngineConfig ec;
    ec.default_retry_backoff_ms = 50;
    ec.working_days = working_days_;
    auto e = Engine::open(ec, std::move(s).value(), clock_ ? clock_ : std::make_shared<SystemClock>());
    ASSERT_TRUE(e.ok());
    engine_ = std::move(e).value();
    ro.poll_interval = 10ms;
    runtime_ = std::make_unique<Runtime>(*engine_, ro);
    auto client = http::HttpClient::create(runtime_->io_context());
    ASSERT_TRUE(client.ok());
    client_ = *client;
    for (const http::OperationSpec& op : all_operations()) {
      auto c = http::HttpConnector::create(client_, http::EndpointConfig{base_url_, {}}, op);
      ASSERT_TRUE(c.ok()) << c.error().message;
      ASSERT_TRUE(runtime_->add(op.name, op.department, *c).ok());
    }
    runtime_->install_deploy_check();
    engine_->start();
    runtime_->start();
  }

  uint8_t status(InstanceId id) {
    auto r = engine_->store().instance(id);
    return r.ok() && *r ? (*r)->status : 0;
  }
  std::string history(InstanceId id) {
    std::string all;
    auto h = engine_->store().history(id);
    if (h.ok()) {
      for (const auto& r : *h) all += r.records;
    }
    return all;
  }
  // The jobs of `topic` that `worker` leases for `lock_ms`, fetched again
  // until there are some (or `within` has passed: none).
  std::vector<JobContext> fetch_some(const std::string& topic, const std::string& worker, int64_t lock_ms,
                                     std::chrono::milliseconds within = 10s) {
    std::vector<JobContext> got;
    eventually([&] {
      auto r = engine_->fetch_and_lock({topic}, worker, 5, lock_ms);
      if (r.ok() && !r->empty()) got = *r;
      return !got.empty();
    }, within);
    return got;
  }

  InstanceId start(json::object vars) {
    StartRequest req;
    req.process_id = "p";
    req.variables = std::move(vars);
    auto id = engine_->start_instance(req);
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
    return id.ok() ? *id : 0;
  }
  std::vector<store::IncidentRecord> incidents() {
    auto r = engine_->store().incidents(0);
    return r.ok() ? *r : std::vector<store::IncidentRecord>{};
  }
  DepartmentStatus department(const std::string& code) {
    for (const auto& d : runtime_->departments()) {
      if (d.department == code) return d;
    }
    return {};
  }

  std::unique_ptr<sim::Simulator> simulator_;
  std::shared_ptr<const expr::WorkingDays> working_days_;  // for the shipped models' deadlines
  std::shared_ptr<Clock> clock_;                           // null: the system clock
  std::unique_ptr<api::Server> server_;
  std::string base_url_;
  fs::path dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Runtime> runtime_;
  std::shared_ptr<http::HttpClient> client_;
};

// --- the adapters, called directly -------------------------------------------------

class AdapterCalls {
 public:
  AdapterCalls(const std::string& base_url) {
    work_.emplace(ioc_.get_executor());
    thread_ = std::thread([this] { ioc_.run(); });
    client_ = *http::HttpClient::create(ioc_);
    for (const http::OperationSpec& op : all_operations()) {
      auto c = http::HttpConnector::create(client_, http::EndpointConfig{base_url, {{"Authorization", "Bearer t"}}}, op);
      EXPECT_TRUE(c.ok()) << c.error().message;
      if (c.ok()) ops_[op.name] = *c;
    }
  }
  ~AdapterCalls() {
    work_.reset();
    thread_.join();
    ops_.clear();
    client_.reset();  // before the I/O context its connections live on
  }
  Reply call(const std::string& name, json::object vars, const std::string& key) {
    called.insert(name);
    Call c;
    c.type = name;
    c.idempotency_key = key;
    c.deadline = SteadyClock::now() + 5s;
    c.variables = std::move(vars);
    std::promise<Reply> p;
    ops_.at(name)->call(c, [&p](Reply r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  std::set<std::string> called;
  std::shared_ptr<http::HttpClient> client_;

 private:
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::map<std::string, std::shared_ptr<http::HttpConnector>> ops_;
};

json::value var(const Reply& r, const char* name) {
  const json::value* v = r.outcome.variables.if_contains(name);
  return v ? *v : json::value();
}

TEST_F(ConnectorsTest, EveryAdapterOperationAgainstTheSimulators) {
  AdapterCalls a(base_url_);
  sim::Person p = person([](const sim::Person& x) { return !x.deceased && !x.tekun && !x.dibao; });
  json::object applicant{{"idNumber", p.id_number}, {"name", p.name}};
  json::object base{{"applicant", applicant}};
  int key = 0;
  auto call = [&](const std::string& name, json::object extra) {
    json::object v = base;
    for (auto& [k, val] : extra) v[k] = val;
    return a.call(name, v, "k-" + std::to_string(++key));
  };
  auto ok = [](const Reply& r) { return r.outcome.kind == JobOutcome::Kind::kCompleted; };

  Reply r = call("data-sharing.verify-identity", {});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  EXPECT_EQ(var(r, "identityVerified"), json::value(true));
  EXPECT_EQ(var(r, "householdRegion"), json::value("220102"));
  r = call("data-sharing.lookup-household", {});
  EXPECT_EQ(var(r, "birthDate"), json::value("1980-05-01"));
  r = call("data-sharing.check-assistance", {});
  EXPECT_EQ(var(r, "dibao"), json::value(false));
  r = call("data-sharing.check-death", {});
  EXPECT_EQ(var(r, "deceased"), json::value(false));
  r = call("assessment.assess", {{"disability", json::object{{"category", "肢体"}}}});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  EXPECT_EQ(var(r, "disability").as_object().at("category"), json::value("肢体"));

  // Never held a card: nothing stands in the way of a new issue, and the
  // variables are there (null), not missing.
  r = call("dpf.check-reapply", {});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  for (const char* name : {"activeCertificateNumber", "lastCancellation", "reapplyFrom"}) {
    ASSERT_TRUE(r.outcome.variables.contains(name)) << name;
    EXPECT_TRUE(var(r, name).is_null()) << name;
  }

  r = call("dpf.issue-certificate", {{"disability", json::object{{"category", "肢体"}, {"level", "二级"}}}});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  std::string number = p.id_number + "42";
  EXPECT_EQ(var(r, "certificateNumber"), json::value(number));
  EXPECT_EQ(var(r, "certificateValidUntil"), json::value("2036-03-02"));
  r = call("dpf.check-reapply", {});
  EXPECT_EQ(var(r, "activeCertificateNumber"), json::value(number));
  EXPECT_TRUE(var(r, "lastCancellation").is_null());
  json::object cert{{"certificateNumber", number}};
  r = call("dpf.get-certificate", cert);
  EXPECT_EQ(var(r, "certificateStatus"), json::value("active"));
  r = call("dpf.renew-certificate", cert);
  EXPECT_TRUE(ok(r)) << r.outcome.message;
  json::object move = cert;
  move["transfer"] = json::object{{"toRegion", "220402"}};
  r = call("dpf.transfer-certificate", move);
  EXPECT_EQ(var(r, "certificateRegion"), json::value("220402"));
  r = call("dpf.report-loss", cert);
  EXPECT_EQ(var(r, "certificateNumber"), json::value(number + "B1"));
  EXPECT_EQ(var(r, "replacedCertificateNumber"), json::value(number));
  json::object change{{"certificateNumber", number + "B1"}, {"disability", json::object{{"category", 4}, {"level", 1}}}};
  r = call("dpf.change-certificate", change);
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  std::string changed = p.id_number + "41";
  EXPECT_EQ(var(r, "certificateNumber"), json::value(changed));
  r = call("data-sharing.push-e-certificate", {{"certificateNumber", changed}});
  EXPECT_TRUE(var(r, "eCertificateId").is_string()) << r.outcome.message;

  r = call("civil-affairs.check-assistance", {});
  EXPECT_EQ(var(r, "tekun"), json::value(false));
  r = call("civil-affairs.notify-subsidy-eligibility", {});
  EXPECT_EQ(var(r, "livingSubsidyOffered"), json::value(false));
  EXPECT_EQ(var(r, "nursingSubsidyOffered"), json::value(true));
  r = call("civil-affairs.decide-subsidy", {{"subsidy", "nursing"}});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  EXPECT_EQ(var(r, "subsidyGranted"), json::value(true));
  EXPECT_EQ(var(r, "subsidyMonthlyAmount"), json::value(90));
  r = call("civil-affairs.decide-subsidy", {{"subsidy", "living"}});  // not in 低保: a business outcome
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kBpmnError);
  EXPECT_EQ(r.outcome.error_code, "not-eligible");
  EXPECT_FALSE(r.unreachable);

  r = call("hrss.register-unemployment", {});
  EXPECT_TRUE(var(r, "unemploymentRegistrationNumber").is_string()) << r.outcome.message;
  r = call("hrss.recognize-employment-difficulty", {});
  EXPECT_EQ(var(r, "employmentDifficultyRecognized"), json::value(true));
  r = call("social-insurance.pay-contribution", {{"contributionYear", 2026}});
  EXPECT_EQ(var(r, "contributionAmount"), json::value(100));
  r = call("civil-affairs.pay-subsidy", {{"subsidy", "nursing"}});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  EXPECT_EQ(var(r, "subsidyPaidMonth"), json::value("2026-03"));
  EXPECT_EQ(var(r, "subsidyPaidAmount"), json::value(90));
  r = call("civil-affairs.pay-subsidy", {{"subsidy", "nursing"}});
  EXPECT_EQ(var(r, "subsidyPaidMonth"), json::value("2026-04"));
  r = call("civil-affairs.stop-subsidy", {});
  EXPECT_EQ(var(r, "subsidiesStopFrom"), json::value("2026-04"));
  EXPECT_EQ(var(r, "subsidiesStopped"), json::value(json::array{"nursing"}));
  r = call("civil-affairs.pay-subsidy", {{"subsidy", "nursing"}});  // May is after the stop
  EXPECT_EQ(r.outcome.error_code, "subsidy-stopped");
  r = call("social-insurance.stop-contribution", {});
  EXPECT_EQ(var(r, "contributionStopFrom"), json::value("2026-04"));
  // The workflows' reason not-meeting-standard is the registry's no-longer-eligible.
  r = call("dpf.cancel-certificate",
           {{"certificateNumber", changed}, {"cancellation", json::object{{"reason", "not-meeting-standard"}}}});
  EXPECT_EQ(var(r, "certificateStatus"), json::value("cancelled"));
  auto registry = simulator_->handle(api::Request::make("GET", "/dpf/certificates/" + changed));
  EXPECT_EQ(json::parse(registry.body).at("cancelReason"), json::value("no-longer-eligible"));
  EXPECT_EQ(var(r, "reapplyFrom"), json::value("2027-03-02"));
  // After the cancellation: no active card, and a new application waits a year.
  r = call("dpf.check-reapply", {});
  ASSERT_TRUE(ok(r)) << r.outcome.message;
  EXPECT_TRUE(var(r, "activeCertificateNumber").is_null());
  EXPECT_EQ(json::serialize(var(r, "lastCancellation")),
            R"({"certificateNumber":")" + changed +
                R"(","cancelledAt":"2026-03-02","reapplyFrom":"2027-03-02","reason":"not-meeting-standard"})");
  EXPECT_EQ(var(r, "reapplyFrom"), json::value("2027-03-02"));

  // A mapping that cannot be evaluated is an incident at once, not a retry.
  r = a.call("dpf.get-certificate", {}, "k-missing");
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.outcome.no_retry);
  EXPECT_NE(r.outcome.message.find("path"), std::string::npos) << r.outcome.message;

  std::set<std::string> all;
  for (const auto& op : all_operations()) all.insert(op.name);
  EXPECT_EQ(a.called, all);
  // Sequential calls share kept-alive connections.
  EXPECT_LE(a.client_->connections_opened(), 2u);
}

// A person whose card was cancelled, re-issued after the year and cancelled
// again: dpf.check-reapply names the newest cancellation, whatever order the
// registry lists the cards in.
TEST_F(ConnectorsTest, CheckReapplyNamesTheNewestCancellation) {
  std::string day = "2024-01-15";
  sim::SimulatorOptions so;
  so.now_ms = [&day] {
    std::tm tm{};
    tm.tm_year = std::stoi(day.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(day.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(day.substr(8, 2));
    tm.tm_hour = 4;  // 12:00 in UTC+8
    return static_cast<int64_t>(timegm(&tm)) * 1000;
  };
  simulator_ = std::make_unique<sim::Simulator>(so);  // no request is in flight yet
  AdapterCalls a(base_url_);
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  json::object vars{{"applicant", json::object{{"idNumber", p.id_number}, {"name", p.name}}},
                    {"disability", json::object{{"category", "听力"}, {"level", "三级"}}},
                    {"cancellation", json::object{{"reason", "holder-request"}}}};
  int key = 0;
  auto call = [&](const std::string& name) { return a.call(name, vars, "n-" + std::to_string(++key)); };
  Reply r = call("dpf.issue-certificate");
  ASSERT_EQ(r.outcome.kind, JobOutcome::Kind::kCompleted) << r.outcome.message;
  vars["certificateNumber"] = var(r, "certificateNumber");
  day = "2024-02-01";
  ASSERT_EQ(call("dpf.cancel-certificate").outcome.kind, JobOutcome::Kind::kCompleted);
  day = "2024-06-30";
  r = call("dpf.issue-certificate");  // the registry refuses within the year too
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kBpmnError);
  EXPECT_EQ(r.outcome.error_code, "reapply-too-soon");
  day = "2025-02-01";
  r = call("dpf.issue-certificate");
  ASSERT_EQ(r.outcome.kind, JobOutcome::Kind::kCompleted) << r.outcome.message;
  day = "2025-11-20";
  ASSERT_EQ(call("dpf.cancel-certificate").outcome.kind, JobOutcome::Kind::kCompleted);
  day = "2026-03-02";
  r = call("dpf.check-reapply");
  ASSERT_EQ(r.outcome.kind, JobOutcome::Kind::kCompleted) << r.outcome.message;
  EXPECT_TRUE(var(r, "activeCertificateNumber").is_null());
  ASSERT_TRUE(var(r, "lastCancellation").is_object()) << r.outcome.message;
  EXPECT_EQ(var(r, "lastCancellation").at("cancelledAt"), json::value("2025-11-20"));
  EXPECT_EQ(var(r, "lastCancellation").at("reason"), json::value("holder-request"));
  EXPECT_EQ(var(r, "reapplyFrom"), json::value("2026-11-20"));
}

// A registry answer that is not a list of cards stops the case with an
// incident: reading it as "holds nothing" would let a refused person through.
TEST_F(ConnectorsTest, CheckReapplyTakesNoMalformedAnswerForNothingHeld) {
  api::ServerOptions o;
  o.port = 0;
  o.threads = 2;
  api::Server odd(o, [](const api::Request&) {
    api::Response r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = R"({"items": {"status": "cancelled"}})";
    return r;
  });
  ASSERT_TRUE(odd.start().ok());
  AdapterCalls a("http://127.0.0.1:" + std::to_string(odd.port()));
  Reply r = a.call("dpf.check-reapply", json::object{{"applicant", json::object{{"idNumber", "220102198005010001"}}}}, "odd-1");
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.outcome.no_retry);
  EXPECT_NE(r.outcome.message.find("instead of a context"), std::string::npos) << r.outcome.message;
  odd.stop();
}

// A system that says when to come back (503 or 429 with Retry-After in
// seconds) is retried then, not on the task's backoff; a date or garbage in
// the header leaves the backoff.
TEST_F(ConnectorsTest, RetryAfterSetsWhenTheNextAttemptComes) {
  std::atomic<int> status{503};
  std::string retry_after = "120";
  std::mutex mu;
  api::ServerOptions o;
  o.port = 0;
  o.threads = 2;
  api::Server busy(o, [&](const api::Request&) {
    api::Response r;
    r.status = status.load();
    r.content_type = "application/problem+json";
    r.body = R"({"title":"busy"})";
    std::lock_guard lock(mu);
    if (!retry_after.empty()) r.headers.emplace_back("Retry-After", retry_after);
    return r;
  });
  ASSERT_TRUE(busy.start().ok());
  AdapterCalls a("http://127.0.0.1:" + std::to_string(busy.port()));
  json::object v{{"applicant", json::object{{"idNumber", "220102198005010001"}}}};
  Reply r = a.call("dpf.check-reapply", v, "busy-1");
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.unreachable);
  EXPECT_EQ(r.outcome.retry_after_ms, 120'000);
  status = 429;
  EXPECT_EQ(a.call("dpf.check-reapply", v, "busy-2").outcome.retry_after_ms, 120'000);
  {
    std::lock_guard lock(mu);
    retry_after = "Wed, 21 Oct 2026 07:28:00 GMT";
  }
  EXPECT_EQ(a.call("dpf.check-reapply", v, "busy-3").outcome.retry_after_ms, -1);
  status = 500;
  {
    std::lock_guard lock(mu);
    retry_after = "60";
  }
  EXPECT_EQ(a.call("dpf.check-reapply", v, "busy-4").outcome.retry_after_ms, -1) << "only 429 and 503 say when";
  busy.stop();
}

// The shipped cancellation model against the simulated registry and
// e-certificate platform: the card is cancelled, its e-certificate revoked and
// certificate-cancelled published, with no incident on the way; the registry
// then names the date from which a new application is taken.
TEST_F(ConnectorsTest, TheShippedCancellationRunsToItsEndAgainstTheDepartments) {
  auto calendar = calendar::BusinessCalendar::load_directory(std::string(BANSHI_WORKFLOWS_DIR) + "/calendars");
  ASSERT_TRUE(calendar.ok()) << calendar.error().message;
  working_days_ = std::make_shared<calendar::BusinessCalendar>(std::move(calendar).value());
  // The simulators' day, within the calendars shipped (the deadlines count working days).
  auto monday = model::parse_date_time("2026-03-02T09:00:00+08:00");
  ASSERT_TRUE(monday.ok());
  clock_ = std::make_shared<ManualClock>(*monday);
  open_engine();
  std::ifstream in(std::string(BANSHI_WORKFLOWS_DIR) + "/certificate-cancellation.bpmn", std::ios::binary);
  std::ostringstream xml;
  xml << in.rdbuf();
  auto deployed = engine_->deploy("certificate-cancellation.bpmn", xml.str(), "d");
  ASSERT_TRUE(deployed.ok()) << deployed.error().message;
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  auto issued = simulator_->handle(
      api::Request::make("POST", "/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":4,"level":3})"));
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string number = p.id_number + "43";
  StartRequest req;
  req.process_id = "certificate-cancellation";
  req.variables = json::object{{"applicant", json::object{{"idNumber", p.id_number}, {"name", p.name}, {"region", p.region_code}}},
                               {"certificateNumber", number},
                               {"cancellation", json::object{{"reason", "not-meeting-standard"}}}};
  auto id = engine_->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  std::vector<store::TaskRecord> review;
  ASSERT_TRUE(eventually([&] {
    store::TaskQuery q;
    q.process_id = "certificate-cancellation";
    auto t = engine_->store().tasks(q);
    review = t.ok() ? *t : std::vector<store::TaskRecord>{};
    return !review.empty();
  })) << history(*id);
  ASSERT_EQ(review[0].element_id, "review");
  ASSERT_TRUE(engine_->complete_task(review[0].id, json::object{{"confirmed", true}}, "tester").ok());
  ASSERT_TRUE(eventually([&] { return status(*id) == 2 || !incidents().empty(); })) << history(*id);
  ASSERT_TRUE(incidents().empty()) << incidents().front().message;
  EXPECT_EQ(status(*id), 2);
  EXPECT_NE(history(*id).find("publishCancelled"), std::string::npos);
  EXPECT_EQ(simulator_->applied("dpf.cancel-certificate"), 1u);
  EXPECT_EQ(simulator_->applied("data-sharing.push-e-certificate"), 1u);
  auto holder = simulator_->handle(api::Request::make("GET", "/dpf/holders/" + p.id_number + "/certificates"));
  EXPECT_EQ(json::parse(holder.body).at("items").at(0).at("reapplyFrom"), json::value("2027-03-02"));
}

TEST_F(ConnectorsTest, StatusHandlingAndTimeoutsWithoutTheEngine) {
  AdapterCalls a(base_url_);
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  json::object v{{"applicant", json::object{{"idNumber", p.id_number}, {"name", p.name}}}};
  ASSERT_EQ(simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"data-sharing","down":true})")).status, 200);
  Reply r = a.call("data-sharing.lookup-household", v, "a");
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.unreachable);
  EXPECT_FALSE(r.outcome.no_retry);
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"data-sharing","latencyMs":400})"));
  auto op = http::HttpConnector::create(a.client_, http::EndpointConfig{base_url_, {}}, data_sharing_operations().at(1));
  ASSERT_TRUE(op.ok());
  Call c;
  c.idempotency_key = "b";
  c.deadline = SteadyClock::now() + 100ms;
  c.variables = v;
  std::promise<Reply> done;
  auto t0 = SteadyClock::now();
  (*op)->call(c, [&](Reply rr) { done.set_value(std::move(rr)); });
  r = done.get_future().get();
  EXPECT_LT(SteadyClock::now() - t0, 350ms);
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.unreachable);
  EXPECT_NE(r.outcome.message.find("timed out"), std::string::npos) << r.outcome.message;
  // Nothing listens there: a connection failure is retryable and counts toward the breaker.
  auto nowhere = http::HttpConnector::create(a.client_, http::EndpointConfig{"http://127.0.0.1:1", {}}, data_sharing_operations().at(1));
  ASSERT_TRUE(nowhere.ok());
  c.deadline = SteadyClock::now() + 2s;
  std::promise<Reply> refused;
  (*nowhere)->call(c, [&](Reply rr) { refused.set_value(std::move(rr)); });
  r = refused.get_future().get();
  EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed);
  EXPECT_TRUE(r.unreachable);
}

// A 2xx that is not JSON (a proxy's page, an empty body) must not complete a
// job whose result is read from the answer: its variables would all be null.
TEST(HttpConnectorReplies, A2xxWithoutAJsonBodyIsAnIncidentWhenAResultIsRead) {
  boost::asio::io_context ioc;
  auto client = *http::HttpClient::create(ioc);
  http::OperationSpec s;
  s.name = "civil-affairs.x";
  s.department = "civil-affairs";
  s.method = "POST";
  s.path = "/x";
  s.result = "{paymentId: response.paymentId}";
  auto op = http::HttpConnector::create(client, http::EndpointConfig{"http://127.0.0.1:9", {}}, s);
  ASSERT_TRUE(op.ok()) << op.error().message;
  Call call;
  for (const std::string& body : {std::string("<html>busy</html>"), std::string()}) {
    Reply r = (*op)->map_response(call, http::HttpResponse{200, body, "text/html"});
    EXPECT_EQ(r.outcome.kind, JobOutcome::Kind::kFailed) << "'" << body << "' completed the job";
    EXPECT_TRUE(r.outcome.no_retry);
    EXPECT_NE(r.outcome.message.find("without a JSON body"), std::string::npos) << r.outcome.message;
    EXPECT_FALSE(r.unreachable);
  }
  Reply good = (*op)->map_response(call, http::HttpResponse{200, R"({"paymentId":"P-1"})", "application/json"});
  ASSERT_EQ(good.outcome.kind, JobOutcome::Kind::kCompleted);
  EXPECT_EQ(good.outcome.variables.at("paymentId"), "P-1");
  // Without a result mapping, an empty 2xx is fine.
  s.result.clear();
  auto plain = http::HttpConnector::create(client, http::EndpointConfig{"http://127.0.0.1:9", {}}, s);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->map_response(call, http::HttpResponse{204, "", ""}).outcome.kind, JobOutcome::Kind::kCompleted);
}

TEST(HttpConnectorConfig, BadSpecsAreRefusedWithTheirPlace) {
  boost::asio::io_context ioc;
  auto client = *http::HttpClient::create(ioc);
  http::OperationSpec s;
  s.name = "dpf.x";
  s.department = "dpf";
  s.path = "/dpf";
  s.body = "{a: }";
  auto r = http::HttpConnector::create(client, http::EndpointConfig{"http://127.0.0.1:9", {}}, s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("dpf.x: body 1:"), std::string::npos) << r.error().message;
  s.body.clear();
  EXPECT_FALSE(http::HttpConnector::create(client, http::EndpointConfig{"ftp://x", {}}, s).ok());
  EXPECT_FALSE(http::HttpConnector::create(client, http::EndpointConfig{"http://x:99999", {}}, s).ok());
  s.method = "BREW";
  EXPECT_FALSE(http::HttpConnector::create(client, http::EndpointConfig{"http://x", {}}, s).ok());
  http::ClientOptions bad;
  bad.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(http::HttpClient::create(ioc, bad).ok());
  EXPECT_EQ(http::encode_target("/a b/张"), "/a%20b/%E5%BC%A0");
  auto u = http::parse_url("https://dpf.example.gov.cn/api/");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->base_path, "/api");
}

// --- with the engine ----------------------------------------------------------------

TEST_F(ConnectorsTest, AnUnknownConnectorFailsAtDeploy) {
  open_engine();
  auto r = engine_->deploy("p.bpmn", one_task("dpf.issue-certifcate", ""), "designer");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "unknown-connector");
  EXPECT_NE(r.error().message.find("dpf.issue-certifcate"), std::string::npos) << r.error().message;
  EXPECT_TRUE(engine_->deploy("p.bpmn", one_task("dpf.issue-certificate", ""), "designer").ok());
  runtime_->allow_topic("hrss.manual-review");
  EXPECT_TRUE(engine_->deploy("q.bpmn", one_task("hrss.manual-review", ""), "designer").ok());
}

TEST_F(ConnectorsTest, ATimeoutAfterASuccessfulCallNeverAppliesTwice) {
  open_engine();
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("dpf.issue-certificate", R"(bs:retries="3" bs:retryBackoff="PT0.05S" bs:timeout="PT0.2S")"), "d").ok());
  // The registry applies the first request, then answers too late for the 200 ms deadline.
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"dpf","slowNext":1,"slowMs":600})"));
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  InstanceId id = start({{"applicant", json::object{{"idNumber", p.id_number}}},
                         {"disability", json::object{{"category", 4}, {"level", 2}}}});
  ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  EXPECT_GE(runtime_->counters().timed_out.load(), 1u);
  EXPECT_EQ(simulator_->applied("dpf.register-certificate"), 1u);
  EXPECT_NE(history(id).find(p.id_number + "42"), std::string::npos);
  EXPECT_EQ(history(id).find("refusedEnd"), std::string::npos);  // no already-registered error either
}

// An attempt whose timeout outlasts the job's lease is cut to end within
// it: otherwise the job is handed out again at the lease's end and a second
// attempt runs beside the first.
TEST_F(ConnectorsTest, AnAttemptEndsWithinItsLeaseSoNoSecondRunsBesideIt) {
  RuntimeOptions ro;
  ro.lock_ms = 1000;
  open_engine(ro);
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("dpf.issue-certificate", R"(bs:retries="3" bs:retryBackoff="PT0.3S" bs:timeout="PT5S")"), "d").ok());
  // The first call takes 3 s, three times the lease.
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"dpf","slowNext":1,"slowMs":3000})"));
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  InstanceId id = start({{"applicant", json::object{{"idNumber", p.id_number}}},
                         {"disability", json::object{{"category", 4}, {"level", 2}}}});
  size_t most = 0;
  auto deadline = std::chrono::steady_clock::now() + 3500ms;
  while (std::chrono::steady_clock::now() < deadline) {
    most = std::max(most, runtime_->in_flight("dpf"));
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(most, 1u) << "two attempts of one job ran at once";
  ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  EXPECT_GE(runtime_->counters().timed_out.load(), 1u) << "the first attempt ended at the lease, not after 5 s";
}

// A shutdown that cannot wait for a department's answer releases the job:
// another node takes it at once rather than when the lease (minutes) ends.
TEST_F(ConnectorsTest, AJobUnansweredAtShutdownIsReleasedForOthers) {
  RuntimeOptions ro;
  ro.lock_ms = 300'000;
  open_engine(ro);
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("dpf.issue-certificate", R"(bs:timeout="PT60S")"), "d").ok());
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"dpf","slowNext":1,"slowMs":3000})"));
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  start({{"applicant", json::object{{"idNumber", p.id_number}}},
         {"disability", json::object{{"category", 4}, {"level", 2}}}});
  ASSERT_TRUE(eventually([&] { return runtime_->in_flight("dpf") == 1; }, 5s));
  EXPECT_TRUE(engine_->fetch_and_lock({"dpf.issue-certificate"}, "another-node", 1, 60'000)->empty())
      << "the job is leased while its attempt runs";
  runtime_->stop(0ms);
  auto taken = engine_->fetch_and_lock({"dpf.issue-certificate"}, "another-node", 1, 60'000);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u) << "the abandoned job is still leased to the stopped runtime";
  EXPECT_FALSE(taken->front().idempotency_key.empty());
}

TEST_F(ConnectorsTest, ASlowDepartmentNeverBlocksTheOthers) {
  RuntimeOptions ro;
  ro.max_in_flight = 8;
  ro.max_in_flight_per_department = 3;
  ro.default_timeout = 20s;
  open_engine(ro);
  std::string slow = one_task("dpf.issue-certificate", R"(bs:timeout="PT20S")");
  slow.replace(slow.find(R"(id="p")"), 6, R"(id="slow")");
  ASSERT_TRUE(engine_->deploy("slow.bpmn", slow, "d").ok());
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("hrss.register-unemployment", ""), "d").ok());
  // Every DPF call takes 2.5 s (each holds one of the simulator's six threads).
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"dpf","latencyMs":2500})"));
  std::vector<InstanceId> backlog;
  for (int i = 0; i < 12; ++i) {
    sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
    StartRequest req;
    req.process_id = "slow";
    req.business_key = fmt::format("slow-{}", i);
    req.variables = {{"applicant", json::object{{"idNumber", p.id_number}}},
                     {"disability", json::object{{"category", 4}, {"level", 2}}}};
    auto id = engine_->start_instance(req);
    ASSERT_TRUE(id.ok());
    backlog.push_back(*id);
  }
  ASSERT_TRUE(eventually([&] { return runtime_->in_flight("dpf") == 3; }, 5s));
  EXPECT_EQ(runtime_->in_flight(), 3u) << "the backlog took more than the department's share";
  // Another department's job starts at once and ends long before the first DPF answer.
  auto t0 = std::chrono::steady_clock::now();
  sim::Person q = person([](const sim::Person& x) { return !x.deceased; });
  InstanceId other = start({{"applicant", json::object{{"idNumber", q.id_number}}}});
  ASSERT_TRUE(eventually([&] { return status(other) == 2; }, 10s)) << history(other);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_LE(runtime_->in_flight("dpf"), 3u);
  size_t done = 0;
  for (InstanceId id : backlog) done += status(id) == 2;
  EXPECT_EQ(done, 0u) << "the DPF calls were not slow after all";
  // The backlog still drains, three at a time.
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"dpf","latencyMs":0})"));
  ASSERT_TRUE(eventually([&] {
    size_t n = 0;
    for (InstanceId id : backlog) n += status(id) == 2;
    return n == backlog.size();
  }, 20s));
}

TEST_F(ConnectorsTest, OutageThenRetriesThenIncidentThenManualRetrySucceeds) {
  RuntimeOptions ro;
  ro.breaker.failure_threshold = 1000;  // this test is about retries, not the breaker
  open_engine(ro);
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("hrss.register-unemployment", R"(bs:retries="2" bs:retryBackoff="PT0.05S")"), "d").ok());
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"hrss","down":true})"));
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  InstanceId id = start({{"applicant", json::object{{"idNumber", p.id_number}}}});
  ASSERT_TRUE(eventually([&] { return incidents().size() == 1; }));
  EXPECT_EQ(runtime_->counters().failed.load(), 2u);
  store::IncidentRecord inc = incidents().at(0);
  EXPECT_EQ(inc.instance_id, id);
  EXPECT_NE(inc.message.find("503"), std::string::npos) << inc.message;
  EXPECT_EQ(status(id), 1);  // active, waiting for a person
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"hrss"})"));
  ASSERT_TRUE(engine_->resolve_incident(inc.id, 1).ok());
  ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  EXPECT_TRUE(incidents().empty());
  EXPECT_EQ(simulator_->applied("hrss.register-unemployment"), 1u);
}

TEST_F(ConnectorsTest, TheBreakerOpensForAnUnreachableDepartmentAndClosesWhenItAnswers) {
  RuntimeOptions ro;
  ro.breaker.failure_threshold = 2;
  ro.breaker.open_for_ms = 300;
  open_engine(ro);
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("social-insurance.pay-contribution", R"(bs:retries="50" bs:retryBackoff="PT0.02S")"), "d").ok());
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"social-insurance","down":true})"));
  std::vector<InstanceId> ids;
  std::vector<std::string> numbers;
  for (int seq = 0; ids.size() < 4 && seq < 1000; ++seq) {
    auto p = sim::person_of(sim::make_id_number("220104", "19750301", seq));
    if (!p || p->deceased) continue;
    ASSERT_EQ(simulator_->handle(api::Request::make("POST", "/dpf/certificates", R"({"idNumber":")" + p->id_number + R"(","category":4,"level":1})")).status, 201);
    ids.push_back(start({{"applicant", json::object{{"idNumber", p->id_number}}}, {"contributionYear", 2026}}));
  }
  ASSERT_TRUE(eventually([&] { return department("social-insurance").state != BreakerState::kClosed; }));
  DepartmentStatus d = department("social-insurance");
  EXPECT_NE(d.summary().find("social-insurance unreachable since 20"), std::string::npos) << d.summary();
  EXPECT_EQ(department("dpf").state, BreakerState::kClosed);  // other departments are not affected
  // While open, at most one probe per wait reaches the department; no job burns its retries.
  // Calls already on their way when it opened may still fail: count from a
  // moment when none is in flight.
  ASSERT_TRUE(eventually([&] {
    const RuntimeCounters& c = runtime_->counters();
    return c.started.load() == c.completed.load() + c.failed.load() + c.bpmn_errors.load();
  }));
  uint64_t failed_before = runtime_->counters().failed.load();
  std::this_thread::sleep_for(250ms);
  EXPECT_LE(runtime_->counters().failed.load() - failed_before, 2u);
  EXPECT_TRUE(incidents().empty());
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"social-insurance"})"));
  for (InstanceId id : ids) ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  d = department("social-insurance");
  EXPECT_EQ(d.state, BreakerState::kClosed);
  EXPECT_TRUE(d.summary().empty());
  EXPECT_GE(d.times_opened, 1);
  EXPECT_EQ(simulator_->applied("social-insurance.pay-contribution"), ids.size());
}

// A call that never left (its request could not be built) says nothing of
// the department: as the probe of an open breaker it must not close it.
TEST_F(ConnectorsTest, AJobWhoseRequestCannotBeBuiltDoesNotCloseAnOpenBreaker) {
  RuntimeOptions ro;
  ro.breaker.failure_threshold = 1;
  ro.breaker.open_for_ms = 200;
  open_engine(ro);
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("data-sharing.verify-identity", R"(bs:retries="5" bs:retryBackoff="PT1H")"), "d").ok());
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"data-sharing","down":true})"));
  sim::Person p = person([](const sim::Person& x) { return !x.deceased; });
  start({{"applicant", json::object{{"idNumber", p.id_number}}}});
  ASSERT_TRUE(eventually([&] { return department("data-sharing").state != BreakerState::kClosed; }));
  // The only job due next has no applicant, so no path: its request cannot be built, and it is the probe.
  InstanceId bad = start({});
  ASSERT_TRUE(eventually([&] { return incidents().size() == 1; }, 5s)) << history(bad);
  EXPECT_NE(incidents().at(0).message.find("path"), std::string::npos) << incidents().at(0).message;
  EXPECT_NE(department("data-sharing").state, BreakerState::kClosed)
      << "a request that was never sent closed the breaker of a department that is down";
}

TEST_F(ConnectorsTest, ABusinessRefusalIsABpmnErrorTheModelCatches) {
  open_engine();
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("civil-affairs.decide-subsidy", ""), "d").ok());
  sim::Person p = person([](const sim::Person& x) { return !x.deceased && !x.dibao; });
  ASSERT_EQ(simulator_->handle(api::Request::make("POST", "/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":4,"level":3})")).status, 201);
  InstanceId id = start({{"applicant", json::object{{"idNumber", p.id_number}}}, {"subsidy", "living"}});
  ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  EXPECT_NE(history(id).find("refusedEnd"), std::string::npos) << history(id);
  EXPECT_EQ(runtime_->counters().bpmn_errors.load(), 1u);
}

TEST_F(ConnectorsTest, AnExpiredExternalTaskLeaseIsDeliveredAgain) {
  open_engine();
  runtime_->allow_topic("hrss.manual-review");
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("hrss.manual-review", ""), "d").ok());
  InstanceId id = start({});
  std::vector<JobContext> first = fetch_some("hrss.manual-review", "worker-a", 150);
  ASSERT_EQ(first.size(), 1u);
  auto again = engine_->fetch_and_lock({"hrss.manual-review"}, "worker-b", 5, 150);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());  // leased to worker-a
  std::vector<JobContext> second = fetch_some("hrss.manual-review", "worker-b", 5000, 3s);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.at(0).job_id, first.at(0).job_id);
  EXPECT_EQ(second.at(0).idempotency_key, first.at(0).idempotency_key);
  ASSERT_TRUE(engine_->report_job(second.at(0).job_id, JobOutcome::completed({{"reviewed", true}})).ok());
  ASSERT_TRUE(eventually([&] { return status(id) == 2; }));
}

// A worker reports on a job only while it holds the job's lease. Another
// node that fetched the job after the lease ran out holds it now: the first
// worker's report is refused, even when this node's own view of the lease
// (which only its fetches change) still names the first worker, because the
// lease is checked again in the transaction that would apply the report.
TEST_F(ConnectorsTest, AReportIsAppliedOnlyWhileItsWorkerHoldsTheLease) {
  open_engine();
  runtime_->allow_topic("hrss.manual-review");
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("hrss.manual-review", ""), "d").ok());
  InstanceId id = start({});
  std::vector<JobContext> first = fetch_some("hrss.manual-review", "worker-a", 150);
  ASSERT_EQ(first.size(), 1u);
  // Another node takes the job once worker-a's lease has run out.
  std::vector<store::JobRecord> taken;
  ASSERT_TRUE(eventually([&] {
    const int64_t now = engine_->clock().now_ms();
    auto r = engine_->store().acquire_jobs({"hrss.manual-review"}, "node-b", now, now + 60'000, 5);
    if (r.ok() && !r->empty()) taken = *r;
    return !taken.empty();
  }, 3s));
  ASSERT_EQ(taken.at(0).id, first.at(0).job_id);
  const std::string worker_a = "worker-a";
  auto late = engine_->report_job(first.at(0).job_id, JobOutcome::completed({{"reviewed", true}}), &worker_a);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "rejected") << late.error().message;
  EXPECT_EQ(status(id), 1) << "the late report changed nothing";
  auto job = engine_->store().job(first.at(0).job_id);
  ASSERT_TRUE(job.ok() && *job);
  EXPECT_EQ((*job)->lease_owner, "node-b");
  // The holder's report is applied.
  const std::string node_b = "node-b";
  ASSERT_TRUE(engine_->report_job(first.at(0).job_id, JobOutcome::completed({{"reviewed", true}}), &node_b).ok());
  ASSERT_TRUE(eventually([&] { return status(id) == 2; }));
}

// --- plugins ------------------------------------------------------------------------

TEST_F(ConnectorsTest, APluginLoadedFromASharedLibraryRunsJobs) {
  auto plugin = load_plugin(BANSHI_EXAMPLE_PLUGIN, R"({"reject": "220402"})");
  ASSERT_TRUE(plugin.ok()) << plugin.error().message;
  EXPECT_EQ(plugin->name, "example-id-number");
  ASSERT_EQ(plugin->connectors.size(), 1u);
  EXPECT_EQ(plugin->connectors[0].name, "example.check-id-number");
  open_engine();
  runtime_->stop();
  // Connectors are added before start: a fresh runtime with the plugin's.
  runtime_ = std::make_unique<Runtime>(*engine_, RuntimeOptions{});
  for (const auto& c : plugin->connectors) ASSERT_TRUE(runtime_->add(c.name, c.department, c.connector).ok());
  runtime_->install_deploy_check();
  runtime_->start();
  ASSERT_TRUE(engine_->deploy("p.bpmn", one_task("example.check-id-number", ""), "d").ok());
  std::string good = sim::make_id_number("220102", "19800501", 12);
  std::string bad = good.substr(0, 17) + (good[17] == '1' ? '2' : '1');
  std::string rejected = sim::make_id_number("220402", "19800501", 12);
  InstanceId a = start({{"idNumber", good}});
  InstanceId b = start({{"idNumber", bad}});
  InstanceId c = start({{"idNumber", rejected}});
  for (InstanceId id : {a, b, c}) ASSERT_TRUE(eventually([&] { return status(id) == 2; })) << history(id);
  EXPECT_NE(history(a).find("\"regionCode\":\"220102\""), std::string::npos) << history(a);
  EXPECT_NE(history(a).find("\"birthDate\":\"1980-05-01\""), std::string::npos);
  EXPECT_NE(history(b).find("refusedEnd"), std::string::npos);
  EXPECT_NE(history(b).find("invalid-id-number"), std::string::npos) << history(b);
  EXPECT_NE(history(c).find("region-not-served"), std::string::npos) << history(c);
}

TEST(Plugins, BadPluginsAreRefusedWithTheReason) {
  auto missing = load_plugin("/nonexistent/plugin.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot load"), std::string::npos);
  auto refused = load_plugin(BANSHI_EXAMPLE_PLUGIN, R"({"reject": "22"})");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("6-digit"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace banshi::connectors
