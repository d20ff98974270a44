// The front door end to end (docs/frontdoor.md): the API as a pure function
// in front of a real engine that runs the shipped workflows, whose service
// tasks and the front door's pre-fill and SMS go through the real HTTP
// connectors to the department simulators served on a loopback port.
//
// - intake at the window with the pre-fill, a bad ID number refused with
//   nothing filed, documents checked by their bytes, the receipt's promised
//   dates from the working-day calendar, a missing document asked for and
//   supplied online by the applicant;
// - an online application followed through to the offered subsidies, which
//   the applicant accepts, starting both subsidy processes;
// - sign-in by one-time code: wrong codes, the attempt cap, the rate limit,
//   and one applicant never seeing another's case.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "api/api.h"
#include "api/password.h"
#include "api/server.h"
#include "calendar/business_calendar.h"
#include "departments.h"
#include "frontdoor/frontdoor.h"
#include "model/iso8601.h"
#include "notification/gateway.h"
#include "sdk/runtime.h"
#include "simulators/people.h"
#include "simulators/simulator.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr char kPngBytes[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const std::string kPng(kPngBytes, sizeof kPngBytes - 1);
const std::string kPdf = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A synthetic resident of 南关区 with the wanted circumstances.
std::string person(bool dibao, int from_sequence = 1) {
  for (int seq = from_sequence; seq < 999; ++seq) {
    std::string id = connectors::sim::make_id_number("220102", "19800101", seq);
    auto p = connectors::sim::person_of(id);
    if (p && p->dibao == dibao && !p->tekun && !p->deceased) return id;
  }
  return {};
}

class FrontDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    connectors::sim::SimulatorOptions so;
    so.today = "2026-03-02";
    simulator_ = std::make_unique<connectors::sim::Simulator>(so);
    api::ServerOptions o;
    o.port = 0;
    o.threads = 4;
    // The SMS gateway can be made to fail its next few messages (sms_failures_), then recover.
    server_ = std::make_unique<api::Server>(o, [this](const api::Request& r) {
      if (r.method == "POST" && r.path == "/notification/sms" && sms_failures_.fetch_sub(1) > 0) {
        ++sms_refusals_;
        api::Response down;
        down.status = 503;
        down.content_type = "application/problem+json";
        down.body = R"({"type":"about:blank","title":"the SMS gateway is down","status":503})";
        return down;
      }
      return simulator_->handle(r);
    });
    ASSERT_TRUE(server_->start().ok());
    base_url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    dir_ = fs::temp_directory_path() / ("banshi-frontdoor-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);

    const fs::path workflows(BANSHI_WORKFLOWS_DIR);
    store::sqlite::SqliteOptions so2;
    so2.path = (dir_ / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(so2);
    ASSERT_TRUE(s.ok());
    auto start = model::parse_date_time("2026-03-02T09:00:00+08:00");
    ASSERT_TRUE(start.ok());
    clock_ = std::make_shared<ManualClock>(*start);
    EngineConfig config;
    config.default_retry_backoff_ms = 50;
    auto cal = calendar::BusinessCalendar::load_directory((workflows / "calendars").string());
    ASSERT_TRUE(cal.ok()) << cal.error().message;
    config.working_days = std::make_shared<calendar::BusinessCalendar>(std::move(cal).value());
    auto e = Engine::open(config, std::move(s).value(), clock_);
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();

    connectors::RuntimeOptions ro;
    ro.poll_interval = 10ms;
    runtime_ = std::make_unique<connectors::Runtime>(*engine_, ro);
    auto client = connectors::http::HttpClient::create(runtime_->io_context());
    ASSERT_TRUE(client.ok());
    client_ = *client;
    for (const auto& op : connectors::all_operations()) {
      auto c = connectors::http::HttpConnector::create(client_, connectors::http::EndpointConfig{base_url_, {}}, op);
      ASSERT_TRUE(c.ok()) << c.error().message;
      ASSERT_TRUE(runtime_->add(op.name, op.department, *c).ok());
    }
    engine_->start();
    runtime_->start();

    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(workflows)) {
      if (entry.path().extension() == ".dmn" || entry.path().extension() == ".bpmn") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      bool da = a.extension() == ".dmn", db = b.extension() == ".dmn";
      return da != db ? da : a < b;
    });
    for (const fs::path& f : files) {
      auto deployed = engine_->deploy(f.filename().string(), read_file(f), "test");
      ASSERT_TRUE(deployed.ok()) << f << ": " << deployed.error().message;
    }

    connectors::GatewayEndpoints endpoints{base_url_, base_url_, base_url_, {}, 5000ms};
    endpoints.sms_backoff = 20ms;  // three attempts, 20 then 40 ms apart
    auto gateway = connectors::ConnectorGateway::create(endpoints);
    ASSERT_TRUE(gateway.ok()) << gateway.error().message;
    gateway_ = std::move(gateway).value();
    api::ApiOptions options;
    options.clock = clock_;
    options.auth.password_iterations = 1000;
    options.gateway = gateway_.get();
    options.frontdoor.uploads_dir = dir_ / "uploads";
    options.frontdoor.max_upload_bytes = 64 * 1024;
    options.frontdoor.hash_key = "test-key";
    api_ = std::make_unique<api::Api>(*engine_, options);

    users_ = dynamic_cast<store::AuthStore*>(&engine_->store());
    ASSERT_NE(users_, nullptr);
    add_staff("window", "220102");
    add_staff("far-away", "220402");
  }

  void TearDown() override {
    api_.reset();
    gateway_.reset();
    if (runtime_) runtime_->stop();
    if (engine_) engine_->stop();
    client_.reset();
    runtime_.reset();
    engine_.reset();
    server_->stop();
    fs::remove_all(dir_);
  }

  void add_staff(const std::string& name, const std::string& region) {
    store::UserRecord u;
    u.name = name;
    u.password_hash = api::hash_password(name + "-password-1", 1000);
    u.roles = {"staff"};
    u.department = "dpf";
    u.regions = {region};
    ASSERT_TRUE(users_->add_user(u).ok());
    std::string token = api::random_token(), csrf = api::random_token();
    int64_t now = clock_->now_ms();
    ASSERT_TRUE(users_->add_session(store::SessionRecord{api::sha256_hex(token), name, csrf, "127.0.0.1", now, now}).ok());
    staff_[name] = {token, csrf};
  }

  // Calls as a member of staff ("window"), as an applicant ("applicant:<phone>") or without credentials ("").
  api::Response call(const std::string& as, const std::string& method, const std::string& target,
                     const std::string& body = {}, const std::string& content_type = "application/json") {
    api::Fields headers;
    if (!content_type.empty() && !body.empty()) headers.emplace_back("content-type", content_type);
    if (as.rfind("applicant:", 0) == 0) {
      auto& s = applicants_[as.substr(10)];
      headers.emplace_back("cookie", "banshi_applicant=" + s.first);
      headers.emplace_back("x-csrf-token", s.second);
    } else if (!as.empty()) {
      headers.emplace_back("cookie", "banshi_session=" + staff_[as].first);
      headers.emplace_back("x-csrf-token", staff_[as].second);
    }
    api::Request r = api::Request::make(method, target, body, headers);
    r.remote_address = "10.0.0.7";
    return api_->handle(r);
  }
  static json::object doc(const api::Response& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    return !ec && v.is_object() ? v.as_object() : json::object{};
  }
  json::array outbox(const std::string& phone) {
    api::Request r = api::Request::make("GET", "/notification/sms/outbox?to=" + phone);
    api::Response res = simulator_->handle(r);
    EXPECT_EQ(res.status, 200) << res.body;
    return doc(res)["items"].as_array();
  }
  // Asks for a code, reads it from the SMS gateway's outbox, signs in.
  void sign_in(const std::string& phone) {
    api::Response asked = call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})");
    ASSERT_EQ(asked.status, 202) << asked.body;
    std::string code = last_code(phone);
    ASSERT_EQ(code.size(), 6u);
    api::Response in = call("", "POST", "/api/v1/applicant/session",
                            R"({"phone":")" + phone + R"(","code":")" + code + R"("})");
    ASSERT_EQ(in.status, 200) << in.body;
    std::string cookie;
    for (const auto& [k, v] : in.headers) {
      if (k != "Set-Cookie") continue;
      cookie = v.substr(v.find('=') + 1, 64);
      EXPECT_NE(v.find("HttpOnly"), std::string::npos);
      EXPECT_NE(v.find("SameSite=Strict"), std::string::npos);
    }

    applicants_[phone] = {cookie, std::string(doc(in)["csrfToken"].as_string())};
  }
  std::string last_code(const std::string& phone) {
    json::array box = outbox(phone);
    for (auto it = box.rbegin(); it != box.rend(); ++it) {
      const json::object& m = it->as_object();
      if (m.at("purpose") != "otp") continue;
      std::string text(m.at("text").as_string());
      size_t at = text.find_first_of("0123456789");
      return at == std::string::npos ? std::string() : text.substr(at, 6);
    }
    return {};
  }

  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }
  bool active(InstanceId id, const std::string& element) {
    auto view = engine_->inspect_instance(id);
    if (!view.ok()) return false;
    return std::any_of(view->active.begin(), view->active.end(),
                       [&](const ActiveElement& a) { return a.element_id == element; });
  }
  std::optional<store::TaskRecord> task(const std::string& process, const std::string& element) {
    store::TaskQuery q;
    q.process_id = process;
    q.limit = 100;
    auto tasks = engine_->store().tasks(q);
    if (!tasks.ok()) return std::nullopt;
    for (const auto& t : *tasks) {
      if (t.element_id == element) return t;
    }
    return std::nullopt;
  }
  void complete(const std::string& process, const std::string& element, const char* vars) {
    ASSERT_TRUE(wait_for([&] { return task(process, element).has_value(); })) << process << "/" << element;
    auto t = task(process, element);
    auto done = engine_->complete_task(t->id, json::parse(vars).as_object(), "tester");
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  // Where every instance stands, for a failure's message.
  std::string where() {
    std::string out;
    store::InstanceQuery q;
    q.limit = 1000;
    auto all = engine_->store().instances(q);
    if (!all.ok()) return out;
    for (const auto& i : *all) {
      out += i.process_id + " #" + std::to_string(i.id) + " status " + std::to_string(i.status) + " at";
      auto view = engine_->inspect_instance(i.id);
      if (view.ok()) {
        for (const auto& a : view->active) out += " " + a.element_id + (a.incident ? "(incident)" : "");
      }
      auto inc = engine_->store().incidents(i.id);
      if (inc.ok()) {
        for (const auto& x : *inc) out += " [" + x.element_id + ": " + x.message + "]";
      }
      out += "\n";
    }
    return out;
  }
  size_t instance_count() {
    store::InstanceQuery q;
    q.limit = 1000;
    auto all = engine_->store().instances(q);
    return all.ok() ? all->size() : 0;
  }
  // The person's name as the household registration holds it (the simulated
  // one), or 张三 for an ID number it does not know.
  std::string intake_body(const std::string& id, const std::string& phone, const std::string& extra = {}) {
    auto known = connectors::sim::person_of(id);
    const std::string name = known ? known->name : "张三";
    return R"({"operation":"certificate-new-issue","services":["living-subsidy","nursing-subsidy"],)"
           R"("applicant":{"idNumber":")" + id + R"(","name":")" + name + R"(","phone":")" + phone + R"("})" + extra + "}";
  }

  std::unique_ptr<connectors::sim::Simulator> simulator_;
  std::atomic<int> sms_failures_{0};  // the SMS gateway answers 503 to this many more messages
  std::atomic<int> sms_refusals_{0};  // and has so far
  std::unique_ptr<api::Server> server_;
  std::string base_url_;
  fs::path dir_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<connectors::Runtime> runtime_;
  std::shared_ptr<connectors::http::HttpClient> client_;
  std::unique_ptr<connectors::ConnectorGateway> gateway_;
  std::unique_ptr<api::Api> api_;
  store::AuthStore* users_ = nullptr;
  std::map<std::string, std::pair<std::string, std::string>> staff_, applicants_;
};

TEST_F(FrontDoorTest, IntakeWithPrefillAndAMissingDocumentSuppliedOnline) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  const std::string phone = "13800138001";

  // Pre-fill: the household registration and 低保 status come from data sharing.
  api::Response pre = call("window", "GET", "/api/v1/intake/prefill?idNumber=" + id);
  ASSERT_EQ(pre.status, 200) << pre.body;
  json::object shared = doc(pre);
  EXPECT_EQ(shared["found"], json::value(true));
  EXPECT_EQ(shared["region"], json::value("220102"));
  EXPECT_EQ(shared["name"], json::value(connectors::sim::person_of(id)->name));
  EXPECT_EQ(shared["dibao"], json::value(false));
  EXPECT_TRUE(shared["certificate"].is_null());

  // The data-sharing platform refusing the caller (a lapsed credential) is
  // "cannot be reached now", never "no household registration".
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"data-sharing","refuse":true})"));
  api::Response not_answered = call("window", "GET", "/api/v1/intake/prefill?idNumber=" + id);
  EXPECT_EQ(not_answered.status, 503) << not_answered.body;
  simulator_->handle(api::Request::make("POST", "/_sim/faults", R"({"department":"data-sharing"})"));

  // 一次告知: the household book is not asked again; the photos are; the 低保 proof cannot be shared.
  api::Response req = call("window", "GET",
                           "/api/v1/intake/requirements?operation=certificate-new-issue&services=living-subsidy&idNumber=" + id);
  ASSERT_EQ(req.status, 200) << req.body;
  std::map<std::string, std::string> status;
  json::object needed = doc(req);
  for (const json::value& v : needed["items"].as_array()) {
    status[std::string(v.at("material").as_string())] = std::string(v.at("status").as_string());
    EXPECT_FALSE(v.at("reason").at("zh-CN").as_string().empty());
  }
  EXPECT_EQ(status["household-book"], "shared");
  EXPECT_EQ(status["photos"], "needed");
  EXPECT_EQ(status["dibao-proof"], "needed");
  EXPECT_EQ(status.count("guardian-proof"), 0u);

  // A wrong check digit is refused, with the field, and nothing is filed.
  size_t before = instance_count();
  std::string bad = id.substr(0, 17) + (id[17] == '1' ? "2" : "1");
  api::Response refused = call("window", "POST", "/api/v1/intake", intake_body(bad, phone));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(doc(refused)["field"], json::value("applicant.idNumber"));
  EXPECT_EQ(call("window", "POST", "/api/v1/intake", intake_body(id, "1234")).status, 400);
  EXPECT_EQ(instance_count(), before);
  // Staff of another county cannot file it.
  EXPECT_EQ(call("far-away", "POST", "/api/v1/intake", intake_body(id, phone)).status, 403);
  EXPECT_EQ(instance_count(), before);

  // Filed on the person's behalf (帮办代办): one business key starts the case.
  api::Response filed = call("window", "POST", "/api/v1/intake",
                             intake_body(id, phone, R"(,"onBehalf":true,"agent":{"name":"李四","relation":"子女"})"));
  ASSERT_EQ(filed.status, 201) << filed.body;
  json::object f = doc(filed);
  std::string key(f["businessKey"].as_string());
  EXPECT_EQ(key, "220102-20260302-000001");
  InstanceId instance = static_cast<InstanceId>(f["instanceId"].as_int64());
  auto inst = engine_->store().instance(instance);
  ASSERT_TRUE(inst.ok() && *inst);
  EXPECT_EQ((*inst)->business_key, key);
  // The receipt's promised dates: 2026-03-02 is a Monday; accept 1 WD, assess 10, notice 5, review 10.
  json::array steps = f["receipt"].at("steps").as_array();
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0].at("promisedDate"), json::value("2026-03-03"));
  EXPECT_EQ(steps[1].at("promisedDate"), json::value("2026-03-17"));
  EXPECT_EQ(steps[2].at("promisedDate"), json::value("2026-03-24"));
  EXPECT_EQ(steps[3].at("promisedDate"), json::value("2026-04-08"));  // 04-04..04-06 清明
  EXPECT_EQ(f["receipt"].at("casePromisedDate"), json::value("2026-04-14"));

  // Documents: the bytes decide the type, never the client's word.
  std::string docs = "/api/v1/cases/" + key + "/documents?material=photos";
  EXPECT_EQ(call("window", "POST", docs, "GIF89a....", "image/png").status, 415);
  EXPECT_EQ(call("window", "POST", docs, kPdf, "image/png").status, 415);
  EXPECT_EQ(call("window", "POST", docs, kPng, "text/plain").status, 415);
  EXPECT_EQ(call("window", "POST", docs, kPng + std::string(70 * 1024, 'x'), "image/png").status, 413);
  EXPECT_EQ(call("window", "POST", "/api/v1/cases/" + key + "/documents?material=id-card", kPng, "image/png").status, 400);
  EXPECT_EQ(call("far-away", "POST", docs, kPng, "image/png").status, 404);
  api::Response up = call("window", "POST", docs, kPng, "image/png");
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(doc(up)["mediaType"], json::value("image/png"));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "uploads")) {
    ++files;
    EXPECT_EQ(entry.path().extension(), ".png");
    EXPECT_EQ(read_file(entry.path()), kPng);
    EXPECT_EQ(fs::status(entry.path()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
        << "an applicant's document is the server's alone";
  }
  EXPECT_EQ(files, 1u);

  // The receipt shows the photos as brought and who filed it, masked.
  api::Response receipt = call("window", "GET", "/api/v1/cases/" + key + "/receipt");
  ASSERT_EQ(receipt.status, 200) << receipt.body;
  json::object rc = doc(receipt);
  EXPECT_EQ(rc["onBehalf"], json::value(true));
  EXPECT_EQ(rc["applicantIdNumber"], json::value(frontdoor::mask_id(id)));
  EXPECT_EQ(rc["agent"].at("name"), json::value("李**"));
  bool photos_uploaded = false;
  for (const json::value& v : rc["requirements"].as_array()) {
    if (v.at("material") == "photos") photos_uploaded = v.at("status") == "uploaded";
  }
  EXPECT_TRUE(photos_uploaded);
  EXPECT_EQ(receipt.body.find(id), std::string::npos);

  // The window asks for a missing document: the case waits at supplement.
  complete("certificate-new-issue", "accept", R"({"accepted": false, "supplementRequested": true, "missingMaterials": ["照片"]})");
  ASSERT_TRUE(wait_for([&] { return active(instance, "supplement"); }));

  // The applicant signs in with a code sent to the phone and sees the request.
  sign_in(phone);
  api::Response mine = call("applicant:" + phone, "GET", "/api/v1/applicant/cases");
  ASSERT_EQ(mine.status, 200) << mine.body;
  json::array cases = doc(mine)["items"].as_array();
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].at("businessKey"), json::value(key));
  const json::object& main = cases[0].at("processes").as_array()[0].as_object();
  EXPECT_EQ(main.at("supplementRequested"), json::value(true));
  EXPECT_EQ(main.at("missingMaterials").as_array()[0], json::value("照片"));
  EXPECT_EQ(mine.body.find(id), std::string::npos);

  // Another applicant sees nothing of it.
  sign_in("13900139002");
  EXPECT_EQ(doc(call("applicant:13900139002", "GET", "/api/v1/applicant/cases"))["items"].as_array().size(), 0u);
  EXPECT_EQ(call("applicant:13900139002", "GET", "/api/v1/applicant/cases/" + key).status, 404);
  EXPECT_EQ(call("applicant:13900139002", "POST", "/api/v1/applicant/cases/" + key + "/supplement", "{}").status, 404);
  // An applicant session opens no staff route, and staff do not pass applicant routes.
  EXPECT_EQ(call("applicant:" + phone, "GET", "/api/v1/cases/" + key + "/receipt").status, 401);
  EXPECT_EQ(call("window", "GET", "/api/v1/applicant/cases").status, 401);

  // The applicant uploads the photo and says so: the case goes back to the window.
  api::Response own = call("applicant:" + phone, "POST",
                           "/api/v1/applicant/cases/" + key + "/documents?material=photos", kPng, "image/png");
  ASSERT_EQ(own.status, 201) << own.body;
  api::Response supplied = call("applicant:" + phone, "POST", "/api/v1/applicant/cases/" + key + "/supplement", "{}");
  ASSERT_EQ(supplied.status, 200) << supplied.body;
  ASSERT_TRUE(wait_for([&] { return active(instance, "accept"); }));
  EXPECT_FALSE(active(instance, "supplement"));
  // A second supplement finds nothing waiting.
  EXPECT_EQ(call("applicant:" + phone, "POST", "/api/v1/applicant/cases/" + key + "/supplement", "{}").status, 409);

  // The notices reached the phone, each once, with no personal data.
  ASSERT_TRUE(wait_for([&] {
    json::array box = outbox(phone);
    return std::count_if(box.begin(), box.end(), [](const json::value& m) {
             return m.at("purpose") == "milestone:supplement";
           }) == 1;
  }));
  std::set<std::string> purposes;
  for (const json::value& m : outbox(phone)) {
    purposes.insert(std::string(m.at("purpose").as_string()));
    std::string text(m.at("text").as_string());
    EXPECT_EQ(text.find(id), std::string::npos);
    EXPECT_EQ(text.find(connectors::sim::person_of(id)->name), std::string::npos);
  }
  EXPECT_TRUE(purposes.count("milestone:received"));
  EXPECT_TRUE(purposes.count("otp"));
}

TEST_F(FrontDoorTest, OnlineApplicationToAnOfferedSubsidyAccepted) {
  const std::string id = person(true);
  ASSERT_FALSE(id.empty());
  const std::string phone = "13700137003";
  sign_in(phone);
  const std::string me = "applicant:" + phone;

  // The same form online; the phone must be the one signed in with, and the
  // name the one registered for the ID number (nothing about the person is
  // told otherwise, and nothing filed).
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, "13700137004")).status, 403);
  {
    std::string wrong_name = intake_body(id, phone);
    const std::string real = connectors::sim::person_of(id)->name;
    wrong_name.replace(wrong_name.find(real), real.size(), "李四");
    const size_t cases_before = instance_count();
    api::Response refused = call(me, "POST", "/api/v1/applicant/applications", wrong_name);
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(doc(refused)["field"], json::value("applicant.idNumber"));
    EXPECT_EQ(refused.body.find(real), std::string::npos);
    // A number nobody holds and a dead person's get the very same answer, so
    // trying names and numbers online tells nothing about anyone.
    // (The simulated registration holds everyone born in its province.)
    const std::string unknown = connectors::sim::make_id_number("110101", "19800101", 1);
    ASSERT_FALSE(connectors::sim::person_of(unknown));
    std::string dead;
    for (int seq = 1; seq < 999 && dead.empty(); ++seq) {
      std::string candidate = connectors::sim::make_id_number("220102", "19800101", seq);
      auto p = connectors::sim::person_of(candidate);
      if (p && p->deceased) dead = candidate;
    }
    ASSERT_FALSE(dead.empty());
    for (const std::string& other : {unknown, dead}) {
      api::Response same = call(me, "POST", "/api/v1/applicant/applications", intake_body(other, phone));
      EXPECT_EQ(same.status, 400) << same.body;
      EXPECT_EQ(same.body, refused.body);
    }
    EXPECT_EQ(instance_count(), cases_before);
  }
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone, R"(,"onBehalf":true)")).status, 400);
  api::Response filed = call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone));
  ASSERT_EQ(filed.status, 201) << filed.body;
  EXPECT_FALSE(doc(filed).contains("shared")) << "the shared record goes to window staff only";
  std::string key(doc(filed)["businessKey"].as_string());
  InstanceId instance = static_cast<InstanceId>(doc(filed)["instanceId"].as_int64());
  // Someone else who knows the person's name and ID number files a case of
  // their own for them (then drops it): it must never reach the services of
  // the card the first case issues.
  const std::string other_phone = "13700137008";
  sign_in(other_phone);
  const std::string other = "applicant:" + other_phone;
  api::Response second = call(other, "POST", "/api/v1/applicant/applications", intake_body(id, other_phone));
  ASSERT_EQ(second.status, 201) << second.body;
  const std::string other_key(doc(second)["businessKey"].as_string());
  ASSERT_TRUE(engine_->cancel_instance(doc(second)["instanceId"].as_int64(), "filed twice").ok());
  // A running case cannot be rated yet.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/rating", R"({"level":"satisfied"})").status, 409);
  EXPECT_EQ(doc(call(me, "GET", "/api/v1/applicant/cases/" + key))["ratable"], json::value(false));
  // Nothing is on offer yet.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":true,"nursing":true})").status, 409);

  complete("certificate-new-issue", "accept", R"({"accepted": true})");
  complete("certificate-new-issue", "assess", R"({"meetsStandard": true, "disability": {"category": "肢体", "level": "一级"}})");
  ASSERT_TRUE(wait_for([&] { return active(instance, "notice"); }));
  // Public notice: 5 working days.
  for (int d = 0; d < 8 && !task("certificate-new-issue", "review"); ++d) {
    clock_->advance(kDay);
    wait_for([&] { return task("certificate-new-issue", "review").has_value(); }, 500ms);
  }
  complete("certificate-new-issue", "review", R"({"approved": true})");
  // Days have passed: the applicant's session has ended; they sign in again.
  EXPECT_EQ(call(me, "GET", "/api/v1/applicant/cases").status, 401);
  sign_in(phone);

  // The card is issued and the linked services offer both subsidies.
  ASSERT_TRUE(wait_for([&] {
    auto v = doc(call(me, "GET", "/api/v1/applicant/cases/" + key));
    if (!v["processes"].is_array()) return false;
    for (const json::value& p : v["processes"].as_array()) {
      if (p.at("processId") == "linked-services" && p.at("subsidyOffered") == json::value(true)) return true;
    }
    return false;
  }, 30s)) << where();
  json::object view = doc(call(me, "GET", "/api/v1/applicant/cases/" + key));
  json::object offer;
  for (const json::value& p : view["processes"].as_array()) {
    if (p.at("processId") == "linked-services") offer = p.at("offer").as_object();
  }
  EXPECT_EQ(offer["living"], json::value(true));
  EXPECT_EQ(offer["nursing"], json::value(true));
  // The other case shows none of it and cannot answer the offer.
  sign_in(other_phone);
  json::object theirs = doc(call(other, "GET", "/api/v1/applicant/cases/" + other_key));
  ASSERT_TRUE(theirs["processes"].is_array()) << json::serialize(theirs);
  for (const json::value& p : theirs["processes"].as_array()) {
    EXPECT_EQ(p.at("processId"), json::value("certificate-new-issue")) << json::serialize(p);
  }
  EXPECT_EQ(call(other, "POST", "/api/v1/applicant/cases/" + other_key + "/subsidies",
                 R"({"living":false,"nursing":false})").status,
            409);

  // Half an answer is refused; then the applicant accepts both.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":true})").status, 400);
  // A null is no answer, not a "no": nothing is declined.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":null,"nursing":null})")
                .status,
            400);
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":true,"nursing":"no"})")
                .status,
            400);
  api::Response accepted = call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":true,"nursing":true})");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  ASSERT_TRUE(wait_for([&] {
    store::InstanceQuery q;
    q.business_key = id;
    auto list = engine_->store().instances(q);
    if (!list.ok()) return false;
    std::set<std::string> started;
    for (const auto& i : *list) started.insert(i.process_id);
    return started.count("living-subsidy") && started.count("nursing-subsidy");
  }));
  // The offer is closed now.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + key + "/subsidies", R"({"living":false,"nursing":false})").status, 409);

  // The milestones reached the phone.
  ASSERT_TRUE(wait_for([&] {
    std::set<std::string> purposes;
    for (const json::value& m : outbox(phone)) purposes.insert(std::string(m.at("purpose").as_string()));
    return purposes.count("milestone:accepted") && purposes.count("milestone:assessment-booked") &&
           purposes.count("milestone:public-notice") && purposes.count("milestone:certificate-issued") &&
           purposes.count("milestone:subsidy-offered");
  }));

  // 好差评 from the applicant's own session, once the certificate's process has ended.
  ASSERT_TRUE(wait_for([&] { return (*engine_->store().instance(instance))->status != 1; })) << where();
  const std::string rating = "/api/v1/applicant/cases/" + key + "/rating";
  EXPECT_EQ(doc(call(me, "GET", "/api/v1/applicant/cases/" + key))["ratable"], json::value(true));
  // Another applicant cannot rate it, nor can anyone rate a case that does not exist.
  sign_in("13700137009");
  EXPECT_EQ(call("applicant:13700137009", "POST", rating, R"({"level":"very_satisfied"})").status, 404);
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/220102-20260302-999999/rating", R"({"level":"satisfied"})").status,
            404);
  // Bad input changes nothing: an unknown level, a bad rating without a comment, an unknown field.
  EXPECT_EQ(doc(call(me, "POST", rating, R"({"level":"great"})"))["field"], json::value("level"));
  EXPECT_EQ(doc(call(me, "POST", rating, R"({"level":"very_dissatisfied","comment":"  "})"))["field"],
            json::value("comment"));
  EXPECT_EQ(call(me, "POST", rating, R"({"level":"satisfied","stars":5})").status, 400);
  EXPECT_FALSE(*engine_->store().rating(instance));
  // A bad rating opens the supervisors' follow-up, recorded as the applicant's own.
  api::Response rated = call(me, "POST", rating, R"({"level":"very_dissatisfied","comment":"补贴到账太慢"})");
  ASSERT_EQ(rated.status, 201) << rated.body;
  EXPECT_EQ(doc(rated)["onBehalf"], json::value(false));
  EXPECT_EQ(doc(rated)["ratedBy"].as_string().starts_with("applicant:"), true);
  auto stored = engine_->store().rating(instance);
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_FALSE((*stored)->on_behalf);
  ASSERT_NE((*stored)->follow_up_id, 0);
  auto follow_up = engine_->store().instance((*stored)->follow_up_id);
  ASSERT_TRUE(follow_up.ok() && *follow_up);
  EXPECT_EQ((*follow_up)->process_id, "rating-follow-up");
  // Once only; the case view shows it.
  EXPECT_EQ(call(me, "POST", rating, R"({"level":"satisfied"})").status, 409);
  json::object after = doc(call(me, "GET", "/api/v1/applicant/cases/" + key));
  EXPECT_EQ(after["ratable"], json::value(false));
  EXPECT_EQ(after["rating"].at("level"), json::value("very_dissatisfied"));
}

// Documents sent as a browser's multipart/form-data form pass the same checks
// as a raw body; malformed forms are refused with nothing stored.
TEST_F(FrontDoorTest, MultipartUploadsAreCheckedLikeRawOnes) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  api::Response filed = call("window", "POST", "/api/v1/intake", intake_body(id, "13800138021"));
  ASSERT_EQ(filed.status, 201) << filed.body;
  const std::string key(doc(filed)["businessKey"].as_string());
  const std::string target = "/api/v1/cases/" + key + "/documents";
  const std::string boundary = "----banshiFormBoundaryA1b2C3";
  const std::string type = "multipart/form-data; boundary=" + boundary;
  auto part = [&](const std::string& name, const std::string& filename, const std::string& media,
                  const std::string& bytes) {
    std::string p = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) p += "; filename=\"" + filename + "\"";
    p += "\r\n";
    if (!media.empty()) p += "Content-Type: " + media + "\r\n";
    return p + "\r\n" + bytes + "\r\n";
  };
  const std::string end = "--" + boundary + "--\r\n";
  auto* kept = dynamic_cast<store::FrontDoorStore*>(&engine_->store());
  ASSERT_NE(kept, nullptr);
  auto documents = [&] { return kept->documents(key)->size(); };
  auto refused = [&](const std::string& body, int status, const std::string& field, const std::string& content_type) {
    api::Response r = call("window", "POST", target, body, content_type);
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(doc(r)["field"], json::value(field)) << r.body;
  };

  // Bad boundaries: none, too long, not matching the body, a preamble, no closing delimiter.
  const std::string good = part("material", "", "", "photos") + part("file", "photo.png", "image/png", kPng) + end;
  refused(good, 400, "Content-Type", "multipart/form-data");
  refused(good, 400, "Content-Type", "multipart/form-data; boundary=" + std::string(71, 'b'));
  refused(good, 400, "body", "multipart/form-data; boundary=another");
  refused("preamble\r\n" + good, 400, "body", type);
  refused(good.substr(0, good.size() - end.size()), 400, "body", type);
  // Missing parts: no file, a file part without a file name, no material.
  refused(part("material", "", "", "photos") + end, 400, "file", type);
  refused(part("material", "", "", "photos") + part("file", "", "image/png", kPng) + end, 400, "file", type);
  refused(part("file", "photo.png", "image/png", kPng) + end, 400, "material", type);
  // Parts that do not belong, or repeat, or disagree with the query.
  refused(part("extra", "", "", "x") + part("file", "photo.png", "image/png", kPng) + end, 400, "extra", type);
  refused(good.substr(0, good.size() - end.size()) + part("extra", "", "", "x") + end, 400, "body", type);  // 3 parts
  refused(part("file", "a.png", "image/png", kPng) + part("file", "b.png", "image/png", kPng) + end, 400, "body", type);
  {
    api::Response r = call("window", "POST", target + "?material=disability-assessment", good, type);
    EXPECT_EQ(r.status, 400) << r.body;
  }
  // The same checks on the document: its bytes decide the type, the size is capped (64 KiB here).
  refused(part("material", "", "", "photos") + part("file", "photo.png", "image/png", "GIF89a....") + end, 415, "file", type);
  refused(part("material", "", "", "photos") + part("file", "photo.png", "text/plain", kPng) + end, 415, "file", type);
  refused(part("material", "", "", "photos") + part("file", "big.png", "image/png", kPng + std::string(70 * 1024, 'x')) + end,
          413, "file", type);
  refused(part("material", "", "", "id-card") + part("file", "photo.png", "image/png", kPng) + end, 400, "material", type);
  EXPECT_EQ(documents(), 0u);

  // A file name that climbs out of the folder is never used: the stored name is random, in the uploads folder.
  const std::string traversal = part("material", "", "", "photos") +
                                part("file", "../../../escaped.png", "image/png", kPng) + end;
  api::Response up = call("window", "POST", target, traversal, type);
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(doc(up)["mediaType"], json::value("image/png"));
  EXPECT_EQ(doc(up)["size"], json::value(static_cast<int64_t>(kPng.size())));
  EXPECT_EQ(documents(), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "escaped.png"));
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escaped.png"));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "uploads")) {
    ++files;
    EXPECT_EQ(entry.path().stem().string().size(), 64u);
    EXPECT_EQ(entry.path().extension(), ".png");
    EXPECT_EQ(read_file(entry.path()), kPng);  // the part's bytes, without the form around them
  }
  EXPECT_EQ(files, 1u);
  // The material may come in the query instead, and a PDF works the same way.
  api::Response pdf = call("window", "POST", target + "?material=photos",
                           part("file", "scan.pdf", "application/pdf", kPdf) + end, type);
  EXPECT_EQ(pdf.status, 201) << pdf.body;
  EXPECT_EQ(documents(), 2u);
  // The applicant's own route reads forms too.
  sign_in("13800138021");
  api::Response own = call("applicant:13800138021", "POST", "/api/v1/applicant/cases/" + key + "/documents", good, type);
  EXPECT_EQ(own.status, 201) << own.body;
  EXPECT_EQ(documents(), 3u);
}

// A failed SMS is sent again with backoff: a gateway that fails twice and
// recovers still delivers the code once; one that keeps failing gets the
// applicant a plain answer, and no code is stored.
TEST_F(FrontDoorTest, SmsIsRetriedAndAFinalFailureIsToldPlainly) {
  const std::string phone = "13600136011";
  sms_failures_ = 2;
  api::Response asked = call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})");
  ASSERT_EQ(asked.status, 202) << asked.body;
  EXPECT_EQ(sms_refusals_.load(), 2);
  json::array box = outbox(phone);
  ASSERT_EQ(box.size(), 1u);  // sent once, on the third attempt
  const std::string code = last_code(phone);
  ASSERT_EQ(code.size(), 6u);
  EXPECT_EQ(call("", "POST", "/api/v1/applicant/session", R"({"phone":")" + phone + R"(","code":")" + code + R"("})").status,
            200);

  // Down for good: three attempts, then a plain 503, and nothing to sign in with.
  const std::string other = "13600136012";
  sms_failures_ = 3;
  api::Response failed = call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + other + R"("})");
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_EQ(failed.content_type, "application/problem+json");
  EXPECT_NE(doc(failed)["detail"].as_string().find("no code was sent"), std::string::npos) << failed.body;
  EXPECT_EQ(sms_refusals_.load(), 5);
  EXPECT_TRUE(outbox(other).empty());
  EXPECT_EQ(call("", "POST", "/api/v1/applicant/session", R"({"phone":")" + other + R"(","code":"123456"})").status, 401);
  // The gateway is back: the applicant asks again at once (a failed send does not count against the limit).
  sms_failures_ = 0;
  EXPECT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + other + R"("})").status, 202);
  EXPECT_EQ(outbox(other).size(), 1u);
}

TEST_F(FrontDoorTest, OneTimeCodesAreCappedLimitedAndSingleUse) {
  const std::string phone = "13600136005";
  EXPECT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":"12345"})").status, 400);
  ASSERT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})").status, 202);
  // Asking again at once is refused with Retry-After.
  api::Response again = call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})");
  EXPECT_EQ(again.status, 429);
  std::string code = last_code(phone);
  ASSERT_EQ(code.size(), 6u);
  std::string wrong = code == "000000" ? "000001" : "000000";
  auto sign = [&](const std::string& c) {
    return call("", "POST", "/api/v1/applicant/session", R"({"phone":")" + phone + R"(","code":")" + c + R"("})").status;
  };
  for (int i = 0; i < 4; ++i) EXPECT_EQ(sign(wrong), 401);
  EXPECT_EQ(sign(code), 200);  // the fifth attempt is the right one
  EXPECT_EQ(sign(code), 401);  // spent

  clock_->advance(61'000);
  ASSERT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})").status, 202);
  code = last_code(phone);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(sign(wrong), 401);
  EXPECT_EQ(sign(code), 401);  // the attempts are used up

  clock_->advance(61'000);
  ASSERT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})").status, 202);
  code = last_code(phone);
  clock_->advance(6 * 60'000);
  EXPECT_EQ(sign(code), 401);  // expired

  // The codes are stored hashed: the database holds no code in the clear.
  std::string db = read_file(dir_ / "banshi.db") + read_file(dir_ / "banshi.db-wal");
  EXPECT_EQ(db.find(phone), std::string::npos);
}

// Codes for one phone are capped per day as well as per hour: ten a day, so
// at five tries a code a stranger gets 50 guesses a day at a phone's cases.
TEST_F(FrontDoorTest, OneTimeCodesAreCappedPerDay) {
  const std::string phone = "13600136006";
  const std::string body = R"({"phone":")" + phone + R"("})";
  for (int i = 0; i < 10; ++i) {
    api::Response sent = call("", "POST", "/api/v1/applicant/codes", body);
    ASSERT_EQ(sent.status, 202) << i << ": " << sent.body;
    clock_->advance(13 * 60'000);  // five an hour at most: the hourly cap never applies
  }
  api::Response refused = call("", "POST", "/api/v1/applicant/codes", body);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find("within a day"), std::string::npos) << refused.body;
  // The first code of the day stops counting 24 hours after it was sent,
  // 130 minutes ago (a millisecond later, so a second more in whole seconds).
  int64_t retry_after = -1;
  for (const auto& [name, value] : refused.headers) {
    if (name == "Retry-After") retry_after = std::stoll(value);
  }
  EXPECT_EQ(retry_after, (24 * 60 - 130) * 60 + 1);
  clock_->advance(retry_after * 1000);
  api::Response again = call("", "POST", "/api/v1/applicant/codes", body);
  EXPECT_EQ(again.status, 202) << again.body;
}

// Filing online costs a signed-in phone nothing: it may have a few cases
// running at once, and files another once one has ended.
TEST_F(FrontDoorTest, APhoneFilesAFewCasesOnlineAtOnce) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  const std::string phone = "13700137011";
  sign_in(phone);
  const std::string me = "applicant:" + phone;
  std::vector<InstanceId> filed;
  std::vector<std::string> keys;
  for (int n = 0; n < 3; ++n) {
    api::Response r = call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone));
    ASSERT_EQ(r.status, 201) << r.body;
    filed.push_back(doc(r)["instanceId"].as_int64());
    keys.emplace_back(doc(r)["businessKey"].as_string());
  }
  const size_t before = instance_count();
  api::Response fourth = call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone));
  EXPECT_EQ(fourth.status, 409) << fourth.body;
  EXPECT_EQ(instance_count(), before) << "nothing was filed";
  ASSERT_TRUE(engine_->cancel_instance(filed.front(), "withdrawn").ok());
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone)).status, 201);
  // The withdrawn case takes no more uploads; a running one does.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + keys.front() + "/documents?material=photos", kPng,
                 "image/png")
                .status,
            409);
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/cases/" + keys.back() + "/documents?material=photos", kPng,
                 "image/png")
                .status,
            201);
}

// Each online answer tells whether a name is an ID number's holder: one
// phone may check a few different people a day, and a refusal beyond that
// asks the shared data nothing. The same person again is not another check.
TEST_F(FrontDoorTest, APhoneChecksOnlyAFewPeopleADay) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  const std::string real = connectors::sim::person_of(id)->name;
  const std::string phone = "13700137014";
  sign_in(phone);
  const std::string me = "applicant:" + phone;
  auto named = [&](const std::string& who, const std::string& as_phone) {
    std::string body = intake_body(id, as_phone);
    body.replace(body.find(real), real.size(), who);
    return body;
  };
  for (int n = 0; n < 10; ++n) {
    api::Response r = call(me, "POST", "/api/v1/applicant/applications", named("测试" + std::to_string(n), phone));
    ASSERT_EQ(r.status, 400) << n << ": " << r.body;  // not this number's holder
  }
  const size_t before = instance_count();
  api::Response over = call(me, "POST", "/api/v1/applicant/applications", named("测试十", phone));
  EXPECT_EQ(over.status, 429) << over.body;
  EXPECT_NE(over.body.find("different people today"), std::string::npos) << over.body;
  bool retry_after = false;
  for (const auto& [k, v] : over.headers) retry_after = retry_after || (k == "Retry-After" && std::stoll(v) > 0);
  EXPECT_TRUE(retry_after);
  // Even the right name is not checked any more today.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone)).status, 429);
  EXPECT_EQ(instance_count(), before);
  // A person this phone checked already today may be asked again.
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", named("测试3", phone)).status, 400);
  // Another phone has its own count.
  const std::string other = "13700137015";
  sign_in(other);
  EXPECT_EQ(call("applicant:" + other, "POST", "/api/v1/applicant/applications", named("测试十", other)).status, 400);
  // The next day the phone may check again.
  clock_->advance(24 * 3600 * 1000);
  sign_in(phone);
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone)).status, 201);
}

// Applications sent at the same moment from one phone: the limit of three
// open cases holds however they interleave. (The count before the filing
// and the filing itself once ran unguarded, so all of them could pass.)
TEST_F(FrontDoorTest, ApplicationsSentAtOnceKeepTheOpenCaseLimit) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  const std::string phone = "13700137013";
  sign_in(phone);
  const std::string me = "applicant:" + phone;
  auto operations = [&] {
    store::InstanceQuery q;
    q.process_id = "certificate-new-issue";
    q.applicant_id = id;
    q.limit = 100;
    auto found = engine_->store().instances(q);
    return found.ok() ? found->size() : 0;
  };
  ASSERT_EQ(operations(), 0u);
  constexpr int kSent = 8;
  std::vector<int> status(kSent);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSent; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kSent) std::this_thread::yield();
      status[i] = call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone)).status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(status.begin(), status.end(), 201), 3);
  EXPECT_EQ(std::count(status.begin(), status.end(), 409), kSent - 3);
  EXPECT_EQ(operations(), 3u) << "a refused application starts nothing";
  auto mine = call(me, "GET", "/api/v1/applicant/cases");
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(doc(mine)["items"].as_array().size(), 3u);
}

// A filing whose intake row cannot be stored is refused, and the instance it
// started is cancelled rather than left running where neither the applicant
// nor the window can see it.
TEST_F(FrontDoorTest, AFilingWhoseIntakeCannotBeStoredLeavesNoCaseRunning) {
  const std::string id = person(false);
  ASSERT_FALSE(id.empty());
  const std::string phone = "13700137012";
  sign_in(phone);
  const std::string me = "applicant:" + phone;
  // A fault beside the server's own connections: intake rows are refused.
  auto run_sql = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "banshi.db").string().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  };
  // (The trigger reads a table that does not exist: the insert fails as a
  // store fault, not as a refused duplicate.)
  run_sql("CREATE TRIGGER refuse_intakes BEFORE INSERT ON intakes BEGIN SELECT * FROM injected_fault; END;");
  const size_t before = instance_count();
  api::Response refused = call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone));
  EXPECT_GE(refused.status, 500) << refused.body;
  store::InstanceQuery q;
  q.limit = 1000;
  auto all = engine_->store().instances(q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), before + 1) << "the filing started its instance";
  for (const auto& i : *all) EXPECT_NE(i.status, 1) << "instance " << i.id << " runs without its intake\n" << where();

  run_sql("DROP TRIGGER refuse_intakes;");
  EXPECT_EQ(call(me, "POST", "/api/v1/applicant/applications", intake_body(id, phone)).status, 201);
}

// Requests racing with one code (an intercepted code tried beside its
// owner, or many guesses at once): the code signs in once, and no more
// attempts count than the cap allows.
TEST_F(FrontDoorTest, ACodeSignsInOnceWhenRequestsRace) {
  const std::string phone = "13600136006";
  ASSERT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})").status, 202);
  const std::string code = last_code(phone);
  ASSERT_EQ(code.size(), 6u);
  auto race = [&](const std::vector<std::string>& codes) {
    std::vector<int> status(codes.size());
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < codes.size(); ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < static_cast<int>(codes.size())) std::this_thread::yield();
        status[i] = call("", "POST", "/api/v1/applicant/session",
                         R"({"phone":")" + phone + R"(","code":")" + codes[i] + R"("})").status;
      });
    }
    for (auto& t : threads) t.join();
    return status;
  };
  auto right = race(std::vector<std::string>(8, code));
  EXPECT_EQ(std::count(right.begin(), right.end(), 200), 1) << "one code, one session";
  EXPECT_EQ(std::count(right.begin(), right.end(), 401), 7);

  clock_->advance(61'000);
  ASSERT_EQ(call("", "POST", "/api/v1/applicant/codes", R"({"phone":")" + phone + R"("})").status, 202);
  const std::string next = last_code(phone);
  const std::string wrong = next == "000000" ? "000001" : "000000";
  // Twelve wrong guesses at once and the right code last: the cap of five
  // holds however the guesses interleave, so the right code comes too late.
  auto guesses = race(std::vector<std::string>(12, wrong));
  EXPECT_EQ(std::count(guesses.begin(), guesses.end(), 401), 12);
  EXPECT_EQ(call("", "POST", "/api/v1/applicant/session",
                 R"({"phone":")" + phone + R"(","code":")" + next + R"("})").status,
            401);
}

// A 404 that names nothing (a proxy's, a wrong base path's) says nothing of
// the person: the pre-fill is unavailable, not "no household registration".
TEST(ConnectorGatewayLookup, ABare404IsUnavailableNotUnregistered) {
  api::ServerOptions o;
  o.port = 0;
  o.threads = 2;
  std::atomic<bool> named{false};
  api::Server lost(o, [&](const api::Request&) {
    api::Response r;
    r.status = 404;
    if (named) {
      r.content_type = "application/problem+json";
      r.body = R"({"type":"about:blank","title":"no such person","status":404,"code":"person-not-found"})";
    }
    return r;
  });
  ASSERT_TRUE(lost.start().ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(lost.port());
  auto gateway = connectors::ConnectorGateway::create(connectors::GatewayEndpoints{base, base, base, {}, 2000ms});
  ASSERT_TRUE(gateway.ok()) << gateway.error().message;
  auto bare = (*gateway)->lookup("220102198001010012");
  ASSERT_FALSE(bare.ok()) << "a bare 404 read as no registration";
  EXPECT_EQ(bare.error().code, "unavailable");
  named = true;
  auto unknown = (*gateway)->lookup("220102198001010012");
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  EXPECT_FALSE(unknown->found) << "the department said whom it does not know";
  lost.stop();
}

}  // namespace
}  // namespace banshi
