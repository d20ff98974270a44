// The API as a pure function: every route's happy path and its errors,
// without sockets, on an engine over an in-memory SQLite store.
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/api.h"
#include "api/problem.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::api {
namespace {

namespace json = boost::json;

const std::string kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <message id="m" name="go" bs:correlationKey="=key"/>
  <process id="review" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="Check" bs:candidateGroups="dpf-county"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="wait" isExecutable="true">
    <startEvent id="ws"/><sequenceFlow id="w1" sourceRef="ws" targetRef="w"/>
    <receiveTask id="w" messageRef="m"/><sequenceFlow id="w2" sourceRef="w" targetRef="we"/><endEvent id="we"/>
  </process>
</definitions>)";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::sqlite::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok());
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), std::make_shared<ManualClock>(1'770'000'000'000));
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();
    api_ = std::make_unique<Api>(*engine_, ApiOptions{});
  }

  Response call(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& content_type = "application/json") {
    Fields headers;
    if (!content_type.empty()) headers.emplace_back("content-type", content_type);
    Response r = api_->handle(Request::make(method, target, body, headers));
    engine_->run_until_idle();
    return r;
  }
  static json::object doc(const Response& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) return {};
    return v.as_object();
  }
  // Checks the RFC 9457 shape and returns the document.
  static json::object expect_problem(const Response& r, int status, const std::string& slug,
                                     const std::string& field = {}) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    json::object d = doc(r);
    EXPECT_EQ(d["type"], json::value("https://banshi.dev/problems/" + slug)) << r.body;
    EXPECT_TRUE(d["title"].is_string());
    EXPECT_EQ(d["status"], json::value(status));
    EXPECT_TRUE(d["detail"].is_string());
    if (!field.empty()) {
      EXPECT_EQ(d["field"], json::value(field)) << r.body;
    }
    return d;
  }
  int64_t deploy_and_start() {
    EXPECT_EQ(call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml").status, 201);
    Response r = call("POST", "/api/v1/instances", R"({"processId":"review","businessKey":"A-1"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return doc(r)["id"].as_int64();
  }
  int64_t first_task() {
    Response r = call("GET", "/api/v1/tasks?candidateGroup=dpf-county");
    auto items = doc(r)["items"].as_array();
    return items.empty() ? 0 : items[0].as_object().at("id").as_int64();
  }

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, HealthReadyAndMetrics) {
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  Response ready = call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(doc(ready)["status"], json::value("ready"));
  call("GET", "/api/v1/tasks/7");
  Response m = call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("banshi_commands_applied_total"), std::string::npos);
  EXPECT_NE(m.body.find("banshi_commit_latency_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(m.body.find("route=\"/api/v1/tasks/{id}\",method=\"GET\",status=\"404\"} 1"), std::string::npos)
      << m.body;
}

TEST_F(ApiTest, DeployListAndFetchDefinitions) {
  Response r = call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(doc(r)["processes"].as_array().size(), 2u);
  EXPECT_EQ(call("POST", "/api/v1/definitions", kModel, "text/xml; charset=utf-8").status, 400);  // no resource
  Fields h{{"content-type", "text/xml"}, {"x-banshi-resource", "m.bpmn"}};
  // The same bytes again make no new version: 200, not 201.
  Response again = api_->handle(Request::make("POST", "/api/v1/definitions", kModel, h));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(doc(again)["processes"].as_array()[0].as_object()["version"], json::value(1));
  expect_problem(call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/json"), 415,
                 "unsupported-media-type");
  auto bad = expect_problem(call("POST", "/api/v1/definitions?resource=x.bpmn", "<definitions/>", "application/xml"),
                            400, "invalid-model");
  EXPECT_TRUE(bad["diagnostics"].is_array());
  Response list = call("GET", "/api/v1/definitions?processId=review");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(doc(list)["items"].as_array().size(), 1u);
  // Without a process id every process is listed (both of this file's).
  Response all = call("GET", "/api/v1/definitions");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(doc(all)["items"].as_array().size(), 2u);
  Response xml = call("GET", "/api/v1/definitions/review/1/xml");
  EXPECT_EQ(xml.status, 200);
  EXPECT_EQ(xml.body, kModel);
  expect_problem(call("GET", "/api/v1/definitions/review/9/xml"), 404, "not-found");
  expect_problem(call("GET", "/api/v1/definitions/review/x/xml"), 400, "bad-request", "version");
}

TEST_F(ApiTest, InstancesStartGetListCancelHistory) {
  int64_t id = deploy_and_start();
  Response got = call("GET", "/api/v1/instances/" + std::to_string(id));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(doc(got)["status"], json::value("active"));
  EXPECT_FALSE(doc(got).contains("state"));
  Response list = call("GET", "/api/v1/instances?processId=review&businessKey=A-1&status=active&limit=10");
  EXPECT_EQ(doc(list)["items"].as_array().size(), 1u);
  expect_problem(call("GET", "/api/v1/instances?status=sleeping"), 400, "bad-request", "status");
  expect_problem(call("GET", "/api/v1/instances?offset=-1"), 400, "bad-request", "offset");
  expect_problem(call("GET", "/api/v1/instances?colour=red"), 400, "bad-request", "colour");
  EXPECT_EQ(call("GET", "/api/v1/instances/" + std::to_string(id) + "/history").status, 200);
  expect_problem(call("GET", "/api/v1/instances/424242/history"), 404, "not-found");
  EXPECT_EQ(call("POST", "/api/v1/instances/" + std::to_string(id) + "/cancel", R"({"reason":"withdrawn"})").status,
            204);
  EXPECT_EQ(doc(call("GET", "/api/v1/instances/" + std::to_string(id)))["status"], json::value("terminated"));
  expect_problem(call("POST", "/api/v1/instances/" + std::to_string(id) + "/cancel", "{}"), 409, "conflict");
  expect_problem(call("POST", "/api/v1/instances/424242/cancel", "{}"), 404, "not-found");
  expect_problem(call("POST", "/api/v1/instances/1/cancel", R"({"reason":5})"), 400, "bad-request", "reason");
}

TEST_F(ApiTest, StartInstanceRefusesBadBodies) {
  deploy_and_start();
  expect_problem(call("POST", "/api/v1/instances", "{"), 400, "bad-request", "body");
  expect_problem(call("POST", "/api/v1/instances", "\"x\""), 400, "bad-request", "body");
  expect_problem(call("POST", "/api/v1/instances", "{}"), 400, "bad-request", "processId");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":1})"), 400, "bad-request", "processId");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":"review","version":-1})"), 400, "bad-request",
                 "version");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":"review","version":1.5})"), 400, "bad-request",
                 "version");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":"review","variables":"x"})"), 400,
                 "bad-request", "variables");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":"review"})", "text/plain"), 415,
                 "unsupported-media-type");
  expect_problem(call("POST", "/api/v1/instances", R"({"processId":"nope"})"), 404, "not-found");
  std::string deep(10000, '[');
  expect_problem(call("POST", "/api/v1/instances", deep), 400, "bad-request", "body");
  Response list = call("GET", "/api/v1/instances?processId=review");
  EXPECT_EQ(doc(list)["items"].as_array().size(), 1u);  // only the first, good one
}

TEST_F(ApiTest, TasksClaimUnclaimComplete) {
  int64_t instance = deploy_and_start();
  int64_t task = first_task();
  ASSERT_GT(task, 0);
  std::string base = "/api/v1/tasks/" + std::to_string(task);
  EXPECT_EQ(call("GET", base).status, 200);
  expect_problem(call("POST", base + "/claim", "{}"), 400, "bad-request", "user");
  expect_problem(call("POST", base + "/claim", R"({"user":""})"), 400, "bad-request", "user");
  EXPECT_EQ(call("POST", base + "/claim", R"({"user":"wang"})").status, 204);
  expect_problem(call("POST", base + "/claim", R"({"user":"li"})"), 409, "conflict");
  Response mine = call("GET", "/api/v1/tasks?assignee=wang");
  EXPECT_EQ(doc(mine)["items"].as_array().size(), 1u);
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks?unassigned=true"))["items"].as_array().size(), 0u);
  expect_problem(call("POST", base + "/unclaim", R"({"user":"li"})"), 409, "conflict");
  EXPECT_EQ(call("POST", base + "/unclaim").status, 204);
  expect_problem(call("POST", base + "/unclaim"), 409, "conflict");
  EXPECT_EQ(call("POST", base + "/claim", R"({"user":"wang"})").status, 204);
  expect_problem(call("POST", base + "/complete", R"({"variables":3})"), 400, "bad-request", "variables");
  expect_problem(call("POST", base + "/complete", R"({"user":"li"})"), 409, "conflict");
  EXPECT_EQ(call("POST", base + "/complete", R"({"user":"wang","variables":{"ok":true}})").status, 204);
  expect_problem(call("GET", base), 404, "not-found");
  expect_problem(call("POST", base + "/complete", "{}"), 404, "not-found");
  EXPECT_EQ(doc(call("GET", "/api/v1/instances/" + std::to_string(instance)))["status"], json::value("completed"));
}

TEST_F(ApiTest, TaskQueryParameters) {
  deploy_and_start();
  EXPECT_EQ(call("GET", "/api/v1/tasks?candidateGroup=a&candidateGroup=dpf-county&region=32&sort=-due&offset=0&"
                        "limit=1000&dueBefore=2030-01-01T00:00:00Z&processId=review")
                .status,
            200);
  expect_problem(call("GET", "/api/v1/tasks?limit=1001"), 400, "bad-request", "limit");
  expect_problem(call("GET", "/api/v1/tasks?limit=0"), 400, "bad-request", "limit");
  expect_problem(call("GET", "/api/v1/tasks?unassigned=maybe"), 400, "bad-request", "unassigned");
  expect_problem(call("GET", "/api/v1/tasks?dueBefore=soon"), 400, "bad-request", "dueBefore");
  expect_problem(call("GET", "/api/v1/tasks?sort=name"), 400, "bad-request", "sort");
  expect_problem(call("GET", "/api/v1/tasks/0"), 400, "bad-request", "id");
  expect_problem(call("GET", "/api/v1/tasks/99999999999999999999"), 400, "bad-request", "id");
}

TEST_F(ApiTest, MessagesSignalsIncidents) {
  call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml");
  Response start = call("POST", "/api/v1/instances", R"({"processId":"wait","variables":{"key":"K1"}})");
  ASSERT_EQ(start.status, 201);
  Response pub = call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K1","messageId":"m-1"})");
  ASSERT_EQ(pub.status, 200) << pub.body;
  EXPECT_EQ(doc(pub)["correlated"], json::value(1));
  Response buffered = call("POST", "/api/v1/messages",
                           R"({"name":"go","correlationKey":"K2","timeToLiveMs":60000,"messageId":"m-2"})");
  EXPECT_EQ(doc(buffered)["buffered"], json::value(true));
  expect_problem(call("POST", "/api/v1/messages",
                      R"({"name":"go","correlationKey":"K2","timeToLiveMs":60000,"messageId":"m-2"})"),
                 409, "conflict");
  expect_problem(call("POST", "/api/v1/messages", R"({"correlationKey":"K1"})"), 400, "bad-request", "name");
  expect_problem(call("POST", "/api/v1/messages", R"({"name":"go","timeToLiveMs":"1"})"), 400, "bad-request",
                 "timeToLiveMs");
  Response sig = call("POST", "/api/v1/signals", R"({"name":"s","variables":{}})");
  EXPECT_EQ(sig.status, 200);
  expect_problem(call("POST", "/api/v1/signals", R"({"name":""})"), 400, "bad-request", "name");
  Response inc = call("GET", "/api/v1/incidents");
  EXPECT_EQ(inc.status, 200);
  EXPECT_TRUE(doc(inc)["items"].as_array().empty());
  expect_problem(call("GET", "/api/v1/incidents?instanceId=x"), 400, "bad-request", "instanceId");
  expect_problem(call("POST", "/api/v1/incidents/5/resolve", R"({"retries":3})"), 404, "not-found");
  expect_problem(call("POST", "/api/v1/incidents/5/resolve", R"({"retries":-3})"), 400, "bad-request", "retries");
}

TEST_F(ApiTest, UnknownRoutesAndMethods) {
  expect_problem(call("GET", "/api/v1/nothing"), 404, "not-found");
  Response r = call("PUT", "/api/v1/tasks/1/claim", "{}");
  expect_problem(r, 405, "method-not-allowed");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "POST");
  EXPECT_EQ(call("DELETE", "/api/v1/instances").headers[0].second, "POST, GET");
  expect_problem(call("GET", "/"), 404, "not-found");  // no console folder
}

TEST_F(ApiTest, ProblemTypesAreStable) {
  std::set<std::string> slugs;
  for (ProblemKind k : all_problem_kinds()) {
    Response r = problem(k, "x");
    EXPECT_EQ(r.status, problem_status(k));
    slugs.insert(std::string(problem_slug(k)));
  }
  EXPECT_EQ(slugs.size(), all_problem_kinds().size());
  Response internal = problem_from_error(Error{"store", "disk I/O error at /secret/path"});
  expect_problem(internal, 500, "internal");
  EXPECT_EQ(internal.body.find("/secret/path"), std::string::npos);
}

TEST(Percent, DecodesAndRefusesMalformedEscapes) {
  std::string out;
  EXPECT_TRUE(percent_decode("a%2Fb+c", out, true));
  EXPECT_EQ(out, "a/b c");
  EXPECT_FALSE(percent_decode("a%2", out, false));
  EXPECT_FALSE(percent_decode("a%zz", out, false));
  Request r = Request::make("GET", "/x?a=1&b=%E5%8A%9E&a=2&flag");
  EXPECT_EQ(r.path, "/x");
  EXPECT_EQ(r.params("a").size(), 2u);
  EXPECT_EQ(*r.param("b"), "办");
  EXPECT_TRUE(r.param("flag").has_value());
}

// Every route of the router is in docs/api/openapi.yaml and the other way round.
TEST(OpenApi, SpecMatchesTheRouteTable) {
  store::sqlite::SqliteOptions o;
  o.path = ":memory:";
  auto s = store::sqlite::SqliteStore::open(o);
  auto e = Engine::open(EngineConfig{}, std::move(s).value(), std::make_shared<ManualClock>(0));
  ASSERT_TRUE(e.ok());
  Api api(**e, ApiOptions{});
  std::set<std::string> routed;
  for (const RouteInfo& r : api.router().routes()) {
    std::string m = r.method;
    for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    routed.insert(m + " " + r.path_template);
  }
  std::set<std::string> specified;
  std::istringstream in{std::string(Api::openapi_yaml())};
  std::string line, path;
  bool in_paths = false;
  static constexpr const char* kMethods[] = {"get", "put", "post", "delete", "patch", "head", "options"};
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = line.rfind("paths:", 0) == 0;
    if (!in_paths || line.empty() || line.back() != ':') continue;
    if (line.rfind("  /", 0) == 0) {
      path = line.substr(2, line.size() - 3);
    } else if (line.rfind("    ", 0) == 0 && line[4] != ' ' && !path.empty()) {
      std::string word = line.substr(4, line.size() - 5);
      for (const char* m : kMethods) {
        if (word == m) specified.insert(word + " " + path);
      }
    }
  }
  for (const std::string& r : routed) EXPECT_TRUE(specified.count(r)) << r << " is routed but not in openapi.yaml";
  for (const std::string& r : specified) EXPECT_TRUE(routed.count(r)) << r << " is in openapi.yaml but not routed";
  EXPECT_EQ(Api::openapi_yaml().substr(0, 14), "openapi: 3.1.0");
}

}  // namespace
}  // namespace banshi::api
