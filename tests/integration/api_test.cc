// The API as a pure function: every route's happy path and its errors,
// without sockets, on an engine over an in-memory SQLite store.
#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/api.h"
#include "api_fixture.h"
#include "api/password.h"
#include "api/problem.h"
#include "api/rate_limit.h"
#include "api/mask.h"
#include "store/audit_chain.h"
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

class ApiTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    open_api({}, /*controlled_clock=*/true);  // so the admin clock routes are there too
    // The default caller holds every working role, in every region.
    add_user("wang", {"staff", "supervisor", "designer", "monitor"}, "dpf", {"000000"});
    as("wang");
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
  // The same bytes again make no new version: 200, not 201.
  Response again = call("POST", "/api/v1/definitions", kModel, "text/xml", {{"x-banshi-resource", "m.bpmn"}});
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

// Numbers come back as they were sent, not in the E notation Boost.JSON
// writes (1.23456E3), in answers and in the history alike.
TEST_F(ApiTest, DecimalVariablesReadAsTheyWereWritten) {
  deploy_and_start();
  Response start = call("POST", "/api/v1/instances",
                        R"({"processId":"review","variables":{"amount":1234.56,"rate":0.1,"months":12}})");
  ASSERT_EQ(start.status, 201) << start.body;
  const std::string id = std::to_string(doc(start)["id"].as_int64());
  Response vars = call("GET", "/api/v1/instances/" + id + "/variables");
  ASSERT_EQ(vars.status, 200) << vars.body;
  EXPECT_NE(vars.body.find(R"("amount":1234.56)"), std::string::npos) << vars.body;
  EXPECT_NE(vars.body.find(R"("rate":0.1)"), std::string::npos) << vars.body;
  EXPECT_NE(vars.body.find(R"("months":12)"), std::string::npos) << vars.body;
  Response history = call("GET", "/api/v1/instances/" + id + "/history");
  ASSERT_EQ(history.status, 200);
  EXPECT_NE(history.body.find("1234.56"), std::string::npos) << history.body;
  EXPECT_EQ(history.body.find("E3"), std::string::npos) << history.body;
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
  expect_problem(call("POST", base + "/claim", R"({"user":5})"), 400, "bad-request", "user");
  // A supervisor claims for someone else only a user who may work on the task.
  add_user("zhou", {"staff"}, "dpf", {"000000"});
  add_user("qian", {"staff"}, "civil-affairs", {"000000"});
  as("wang");
  expect_problem(call("POST", base + "/claim", R"({"user":"nobody"})"), 400, "bad-request", "user");
  expect_problem(call("POST", base + "/claim", R"({"user":"qian"})"), 400, "bad-request", "user");
  EXPECT_EQ(call("POST", base + "/claim", R"({"user":"wang"})").status, 204);
  expect_problem(call("POST", base + "/claim", R"({"user":"zhou"})"), 409, "conflict");
  Response mine = call("GET", "/api/v1/tasks?assignee=wang");
  EXPECT_EQ(doc(mine)["items"].as_array().size(), 1u);
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks?unassigned=true"))["items"].as_array().size(), 0u);
  expect_problem(call("POST", base + "/unclaim", R"({"user":"li"})"), 409, "conflict");
  EXPECT_EQ(call("POST", base + "/unclaim").status, 204);
  expect_problem(call("POST", base + "/unclaim"), 409, "conflict");
  EXPECT_EQ(call("POST", base + "/claim", R"({"user":"wang"})").status, 204);
  expect_problem(call("POST", base + "/complete", R"({"variables":3})"), 400, "bad-request", "variables");
  expect_problem(call("POST", base + "/complete", R"({"user":"li"})"), 403, "forbidden");
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
  // Each message and signal that was taken is in the audit trail with what
  // it reached; the refused repeat of m-2 is not, and no correlation key is.
  store::AuditQuery published;
  published.action = "publish-message";
  auto messages = users_->audit(published);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 2u);
  std::vector<std::string> details{(*messages)[0].detail, (*messages)[1].detail};
  std::sort(details.begin(), details.end());
  EXPECT_EQ(details[0], "correlated 0, started 0, buffered");
  EXPECT_EQ(details[1], "correlated 1, started 0");
  for (const auto& row : *messages) {
    EXPECT_EQ(row.actor, "wang");
    EXPECT_EQ(row.target, "message go");
  }
  store::AuditQuery thrown;
  thrown.action = "throw-signal";
  auto signals = users_->audit(thrown);
  ASSERT_TRUE(signals.ok());
  ASSERT_EQ(signals->size(), 1u);
  EXPECT_EQ((*signals)[0].target, "signal s");
  EXPECT_EQ((*signals)[0].detail, "triggered 0");
  store::AuditQuery all;
  all.limit = 1000;
  auto rows = users_->audit(all);
  ASSERT_TRUE(rows.ok());
  for (const auto& row : *rows) {
    for (const char* key : {"K1", "K2"}) {
      EXPECT_EQ(row.detail.find(key), std::string::npos) << row.action;
      EXPECT_EQ(row.target.find(key), std::string::npos) << row.action;
    }
  }
  Response inc = call("GET", "/api/v1/incidents");
  EXPECT_EQ(inc.status, 200);
  EXPECT_TRUE(doc(inc)["items"].as_array().empty());
  expect_problem(call("GET", "/api/v1/incidents?instanceId=x"), 400, "bad-request", "instanceId");
  expect_problem(call("POST", "/api/v1/incidents/5/resolve", R"({"retries":3})"), 404, "not-found");
  expect_problem(call("POST", "/api/v1/incidents/5/resolve", R"({"retries":-3})"), 400, "bad-request", "retries");
}

// A business or correlation key with the shape of an ID number (the linked
// services run under the holder's) is shown masked in lists, tasks and
// history; relatedTo finds the instances that share it.
TEST_F(ApiTest, KeysThatAreIdNumbersAreShownMasked) {
  const std::string id = "22010219800101001X";
  const std::string masked = "220102********001X";
  call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml");
  Response waiting = call("POST", "/api/v1/instances",
                          R"({"processId":"wait","businessKey":")" + id + R"(","variables":{"key":")" + id + R"("}})");
  ASSERT_EQ(waiting.status, 201) << waiting.body;
  const std::string wait_id = std::to_string(doc(waiting)["id"].as_int64());
  Response review = call("POST", "/api/v1/instances", R"({"processId":"review","businessKey":")" + id + R"("})");
  ASSERT_EQ(review.status, 201) << review.body;
  Response other = call("POST", "/api/v1/instances", R"({"processId":"review","businessKey":"A-1"})");
  ASSERT_EQ(other.status, 201) << other.body;

  Response found = call("GET", "/api/v1/instances?businessKey=" + id);
  ASSERT_EQ(found.status, 200) << found.body;
  ASSERT_EQ(doc(found)["items"].as_array().size(), 2u);
  EXPECT_EQ(found.body.find(id), std::string::npos) << found.body;
  EXPECT_EQ(doc(found)["items"].as_array()[0].as_object().at("businessKey"), json::value(masked));
  Response related = call("GET", "/api/v1/instances?relatedTo=" + wait_id);
  ASSERT_EQ(related.status, 200) << related.body;
  EXPECT_EQ(doc(related)["items"].as_array().size(), 2u) << related.body;
  expect_problem(call("GET", "/api/v1/instances?relatedTo=" + wait_id + "&businessKey=A-1"), 400, "bad-request",
                 "relatedTo");
  EXPECT_EQ(doc(call("GET", "/api/v1/instances?relatedTo=999999"))["items"].as_array().size(), 0u);

  Response tasks = call("GET", "/api/v1/tasks?processId=review");
  ASSERT_EQ(tasks.status, 200);
  EXPECT_EQ(tasks.body.find(id), std::string::npos) << tasks.body;
  EXPECT_NE(tasks.body.find(masked), std::string::npos) << tasks.body;
  EXPECT_NE(tasks.body.find("\"A-1\""), std::string::npos) << "other keys are shown as they are";
  Response history = call("GET", "/api/v1/instances/" + wait_id + "/history");
  ASSERT_EQ(history.status, 200);
  // (The variable "key" is not one whose name says it holds personal data,
  // so its value is shown; the correlation key is masked by its shape.)
  EXPECT_EQ(history.body.find("\"t\":\"" + id), std::string::npos) << history.body;
  EXPECT_NE(history.body.find("\"t\":\"" + masked), std::string::npos) << "the subscription's correlation key, masked";
}

// Staff and supervisors move on the waiting cases of their regions only; a
// designer reaches every case. A staff message starts nothing and is not kept.
TEST_F(ApiTest, MessagesFromStaffReachTheirRegionsOnly) {
  call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml");
  auto start = [&](const std::string& region) {
    Response r = call("POST", "/api/v1/instances",
                      R"({"processId":"wait","variables":{"key":"K","applicant":{"region":")" + region + R"("}}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return doc(r)["id"].as_int64();
  };
  int64_t here = start("220102");
  int64_t there = start("230102");
  int64_t nowhere = start("");
  auto status = [&](int64_t id) {
    auto i = engine_->store().instance(static_cast<InstanceId>(id));
    return i.ok() && *i ? json::value((*i)->status == 1 ? "active" : "completed") : json::value("missing");
  };
  add_user("staff9", {"staff"}, "dpf", {"220100"});
  add_user("super9", {"supervisor"}, "dpf", {"230000"});
  add_user("des9", {"designer"});

  as("staff9");
  expect_problem(call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K","timeToLiveMs":1000})"), 400,
                 "bad-request", "timeToLiveMs");
  Response mine = call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K"})");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(doc(mine)["correlated"], json::value(1));
  EXPECT_EQ(doc(mine)["buffered"], json::value(false));
  EXPECT_EQ(status(here), json::value("completed"));
  EXPECT_EQ(status(there), json::value("active"));
  // Nothing more of theirs waits: the other region's case is not reached.
  EXPECT_EQ(doc(call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K"})"))["correlated"],
            json::value(0));
  EXPECT_EQ(status(there), json::value("active"));

  as("super9");
  EXPECT_EQ(doc(call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K"})"))["correlated"],
            json::value(1));
  EXPECT_EQ(status(there), json::value("completed"));
  EXPECT_EQ(status(nowhere), json::value("active")) << "a case without a region is in no one's regions";

  as("des9");
  Response any = call("POST", "/api/v1/messages", R"({"name":"go","correlationKey":"K"})");
  EXPECT_EQ(doc(any)["correlated"], json::value(1)) << any.body;
  EXPECT_EQ(status(nowhere), json::value("completed"));
}

// Staff and supervisors open cases of their regions only (the applicant's
// region, else a top-level one); a designer opens any. Refused starts
// create nothing.
TEST_F(ApiTest, StaffStartCasesOfTheirRegionsOnly) {
  call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml");
  add_user("staff8", {"staff"}, "dpf", {"220100"});
  add_user("des8", {"designer"});
  auto start = [&](const std::string& variables) {
    return call("POST", "/api/v1/instances", R"({"processId":"wait","variables":)" + variables + "}");
  };
  auto count = [&] { return engine_->store().instances(store::InstanceQuery{})->size(); };
  as("staff8");
  const size_t before = count();
  EXPECT_EQ(start(R"({"key":"K","applicant":{"region":"220102"}})").status, 201);
  EXPECT_EQ(start(R"({"key":"K","region":"220103"})").status, 201);
  expect_problem(start(R"({"key":"K","applicant":{"region":"230102"}})"), 403, "forbidden", "variables");
  expect_problem(start(R"({"key":"K","region":"220200"})"), 403, "forbidden", "variables");
  expect_problem(start(R"({"key":"K","applicant":{"region":"230102"},"region":"220102"})"), 403, "forbidden",
                 "variables");
  EXPECT_EQ(count(), before + 2);
  as("des8");
  EXPECT_EQ(start(R"({"key":"K","applicant":{"region":"230102"}})").status, 201);
}

// A supervisor's signal reaches the waiting cases of their regions and
// starts no process; a designer's reaches every case and starts processes.
TEST_F(ApiTest, SignalsFromSupervisorsReachTheirRegionsOnly) {
  const std::string model = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <signal id="sg" name="policy-changed"/>
  <process id="hold" isExecutable="true">
    <startEvent id="hs"/><sequenceFlow id="h1" sourceRef="hs" targetRef="hw"/>
    <intermediateCatchEvent id="hw"><signalEventDefinition signalRef="sg"/></intermediateCatchEvent>
    <sequenceFlow id="h2" sourceRef="hw" targetRef="he"/><endEvent id="he"/>
  </process>
  <process id="react" isExecutable="true">
    <startEvent id="rs"><signalEventDefinition signalRef="sg"/></startEvent>
    <sequenceFlow id="r1" sourceRef="rs" targetRef="re"/><endEvent id="re"/>
  </process>
</definitions>)";
  ASSERT_EQ(call("POST", "/api/v1/definitions?resource=s.bpmn", model, "application/xml").status, 201);
  auto start = [&](const std::string& region) {
    Response r = call("POST", "/api/v1/instances",
                      R"({"processId":"hold","variables":{"applicant":{"region":")" + region + R"("}}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return static_cast<InstanceId>(doc(r)["id"].as_int64());
  };
  const InstanceId here = start("220102");
  const InstanceId there = start("230102");
  auto status = [&](InstanceId id) { return (*engine_->store().instance(id))->status; };
  auto reacted = [&] {
    store::InstanceQuery q;
    q.process_id = "react";
    return engine_->store().instances(q)->size();
  };
  add_user("super7", {"supervisor"}, "dpf", {"220100"});
  add_user("des7", {"designer"});
  as("super7");
  Response mine = call("POST", "/api/v1/signals", R"({"name":"policy-changed"})");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(doc(mine)["triggered"], json::value(1));
  EXPECT_EQ(status(here), 2);
  EXPECT_EQ(status(there), 1) << "a case of another region";
  EXPECT_EQ(reacted(), 0u) << "a supervisor's signal starts no process";
  as("des7");
  // The case the signal moved on waits no more: its subscription is gone.
  auto waiting = engine_->store().signal_subscriptions("policy-changed");
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ(waiting->front().instance_id, there);
  Response any = call("POST", "/api/v1/signals", R"({"name":"policy-changed"})");
  ASSERT_EQ(any.status, 200) << any.body;
  EXPECT_EQ(doc(any)["triggered"], json::value(2));
  EXPECT_EQ(status(there), 2);
  EXPECT_EQ(reacted(), 1u);
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

// --- authentication and authorisation -------------------------------------------

TEST(Password, HashesVerifyAndDiffer) {
  std::string a = hash_password("correct horse battery", 1000);
  std::string b = hash_password("correct horse battery", 1000);
  EXPECT_NE(a, b);  // a new salt every time
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u) << a;
  EXPECT_TRUE(verify_password("correct horse battery", a));
  EXPECT_TRUE(verify_password("correct horse battery", b));
  EXPECT_FALSE(verify_password("correct horse batterz", a));
  EXPECT_FALSE(verify_password("", a));
  EXPECT_FALSE(verify_password("x", "pbkdf2-sha256$1000$zz$00"));
  EXPECT_FALSE(verify_password("x", "plain"));
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_EQ(random_token().size(), 64u);
  EXPECT_NE(random_token(), random_token());
  EXPECT_EQ(generate_password().size(), 20u);
  EXPECT_TRUE(equal_constant_time("abc", "abc"));
  EXPECT_FALSE(equal_constant_time("abc", "abd"));
  EXPECT_FALSE(equal_constant_time("abc", "abcd"));
}

const std::string kRegional = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="r">
  <process id="regional" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="Check" bs:candidateGroups="=groups" bs:region="=region"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

class AuthTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    add_user("staff1", {"staff"}, "dpf", {"220100"});
    add_user("super1", {"supervisor"}, "dpf", {"220000"});
    add_user("mon1", {"monitor"});
    add_user("des1", {"designer"});
    add_user("adm1", {"admin"});
    as("des1");
    EXPECT_EQ(call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml").status, 201);
    EXPECT_EQ(call("POST", "/api/v1/definitions?resource=r.bpmn", kRegional, "application/xml").status, 201);
  }
  int64_t start_regional(const std::string& groups, const std::string& region) {
    as("des1");
    Response r = call("POST", "/api/v1/instances",
                      R"({"processId":"regional","variables":{"groups":")" + groups + R"(","region":")" + region +
                          R"("}})");
    EXPECT_EQ(r.status, 201) << r.body;
    int64_t instance = doc(r)["id"].as_int64();
    auto tasks = engine_->store().tasks(store::TaskQuery{});
    EXPECT_TRUE(tasks.ok());
    for (const auto& t : *tasks) {
      if (t.instance_id == instance) return t.id;
    }
    ADD_FAILURE() << "no task";
    return 0;
  }
  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }
  Response login(const std::string& name, const std::string& password) {
    as("");
    return call("POST", "/api/v1/auth/login", R"({"username":")" + name + R"(","password":")" + password + R"("})");
  }
};

// Every route against every role: allowed (any answer but 401/403) or refused
// with 403; without a credential, 401 — except the open routes.
TEST_F(AuthTest, AuthorisationMatrix) {
  int64_t task = start_regional("dpf-county", "220102");
  std::string t = std::to_string(task);
  struct Case {
    std::string target;
    std::string body;
    std::string content_type;
    std::set<std::string> allowed;  // "*": every user; "open": also without a credential
  };
  const std::set<std::string> kAll{"*"};
  std::map<std::string, Case> cases{
      {"GET /healthz", {"/healthz", "", "", {"open"}}},
      {"GET /readyz", {"/readyz", "", "", {"open"}}},
      {"GET /metrics", {"/metrics", "", "", {"monitor", "admin"}}},
      {"GET /api/v1/openapi.yaml", {"/api/v1/openapi.yaml", "", "", {"open"}}},
      {"POST /api/v1/definitions",
       {"/api/v1/definitions?resource=m.bpmn", kModel, "application/xml", {"designer"}}},
      {"GET /api/v1/definitions", {"/api/v1/definitions", "", "", kAll}},
      {"GET /api/v1/definitions/{processId}/{version}/xml", {"/api/v1/definitions/review/1/xml", "", "", kAll}},
      {"POST /api/v1/instances",
       {"/api/v1/instances", R"({"processId":"review"})", "application/json", {"staff", "supervisor", "designer"}}},
      {"GET /api/v1/instances",
       {"/api/v1/instances", "", "", {"staff", "supervisor", "monitor", "designer", "admin"}}},
      {"GET /api/v1/instances/{id}", {"/api/v1/instances/1", "", "", {"supervisor", "monitor", "designer"}}},
      {"POST /api/v1/instances/{id}/cancel",
       {"/api/v1/instances/999/cancel", "{}", "application/json", {"supervisor", "designer"}}},
      {"GET /api/v1/instances/{id}/history",
       {"/api/v1/instances/1/history", "", "", {"supervisor", "monitor", "designer"}}},
      {"GET /api/v1/tasks", {"/api/v1/tasks", "", "", {"staff", "supervisor", "monitor"}}},
      {"GET /api/v1/tasks/{id}", {"/api/v1/tasks/" + t, "", "", {"staff", "supervisor", "monitor"}}},
      {"POST /api/v1/tasks/{id}/claim", {"/api/v1/tasks/" + t + "/claim", "{}", "application/json", {"staff", "supervisor"}}},
      {"POST /api/v1/tasks/{id}/unclaim",
       {"/api/v1/tasks/" + t + "/unclaim", "{}", "application/json", {"staff", "supervisor"}}},
      {"POST /api/v1/tasks/{id}/complete",
       {"/api/v1/tasks/999/complete", "{}", "application/json", {"staff", "supervisor"}}},
      {"POST /api/v1/messages",
       {"/api/v1/messages", R"({"name":"nobody"})", "application/json", {"staff", "supervisor", "designer"}}},
      {"POST /api/v1/signals", {"/api/v1/signals", R"({"name":"nobody"})", "application/json", {"supervisor", "designer"}}},
      {"GET /api/v1/incidents", {"/api/v1/incidents", "", "", {"supervisor", "monitor", "designer"}}},
      {"POST /api/v1/incidents/{id}/resolve",
       {"/api/v1/incidents/999/resolve", "{}", "application/json", {"designer"}}},
      {"POST /api/v1/auth/login", {"/api/v1/auth/login", "", "application/json", {"open"}}},
      {"POST /api/v1/auth/logout", {"/api/v1/auth/logout", "", "", kAll}},
      {"GET /api/v1/me", {"/api/v1/me", "", "", kAll}},
      {"POST /api/v1/me/password", {"/api/v1/me/password", "{}", "application/json", kAll}},
      {"GET /api/v1/users", {"/api/v1/users", "", "", {"admin"}}},
      {"POST /api/v1/users", {"/api/v1/users", R"({"name":"x y"})", "application/json", {"admin"}}},
      {"PATCH /api/v1/users/{name}", {"/api/v1/users/nobody", "{}", "application/json", {"admin"}}},
      {"POST /api/v1/tokens", {"/api/v1/tokens", "{}", "application/json", {"admin"}}},
      {"GET /api/v1/audit", {"/api/v1/audit", "", "", {"admin", "monitor"}}},
      {"GET /api/v1/instances/{id}/variables",
       {"/api/v1/instances/1/variables", "", "", {"supervisor", "designer"}}},
      {"GET /api/v1/instances/{id}/active-elements",
       {"/api/v1/instances/1/active-elements", "", "", {"supervisor", "monitor", "designer"}}},
      {"POST /api/v1/tasks/{id}/assign",
       {"/api/v1/tasks/999/assign", R"({"assignee":"staff1"})", "application/json", {"supervisor"}}},
      {"POST /api/v1/tasks/{id}/delegate",
       {"/api/v1/tasks/999/delegate", R"({"assignee":"staff1"})", "application/json", {"staff", "supervisor"}}},
      {"GET /api/v1/events", {"/api/v1/events", "", "", kAll}},
      // The case routes (case_routes.cc).
      {"GET /api/v1/instances/{id}/applicant",
       {"/api/v1/instances/999/applicant", "", "", {"staff", "supervisor", "monitor", "admin"}}},
      {"POST /api/v1/instances/{id}/modify",
       {"/api/v1/instances/999/modify", R"({"reason":"r","instructions":[{"type":"cancel","activityId":"check"}]})",
        "application/json", {"supervisor", "designer"}}},
      {"GET /api/v1/definitions/{processId}/diagram", {"/api/v1/definitions/review/diagram", "", "", kAll}},
      {"POST /api/v1/definitions/validate", {"/api/v1/definitions/validate", kModel, "application/xml", {"designer"}}},
      {"POST /api/v1/decisions/{id}/evaluate",
       {"/api/v1/decisions/nothing/evaluate", "{}", "application/json", {"designer", "admin", "staff"}}},
      // The SLA monitor's figures (monitor_routes.cc).
      {"GET /api/v1/monitor/summary",
       {"/api/v1/monitor/summary?groupBy=region", "", "", {"monitor", "supervisor", "admin"}}},
      {"GET /api/v1/monitor/overdue", {"/api/v1/monitor/overdue", "", "", {"monitor", "supervisor", "admin"}}},
      {"GET /api/v1/monitor/steps", {"/api/v1/monitor/steps", "", "", {"monitor", "supervisor", "admin"}}},
      {"GET /api/v1/monitor/calendar", {"/api/v1/monitor/calendar", "", "", {"monitor", "supervisor", "admin"}}},
      // Ratings, reports and data comparison runs (report_routes.cc).
      {"POST /api/v1/instances/{id}/rating",
       {"/api/v1/instances/999/rating", R"({"level":"satisfied"})", "application/json", {"staff", "supervisor"}}},
      {"GET /api/v1/instances/{id}/rating",
       {"/api/v1/instances/999/rating", "", "", {"staff", "supervisor", "monitor"}}},
      {"GET /api/v1/reports", {"/api/v1/reports", "", "", {"monitor", "supervisor", "admin"}}},
      {"GET /api/v1/reports/{report}", {"/api/v1/reports/cases", "", "", {"monitor", "supervisor", "admin"}}},
      {"GET /api/v1/comparison-runs", {"/api/v1/comparison-runs", "", "", {"monitor", "supervisor", "admin"}}},
      // Department systems' health (connector_routes.cc) and designers' scenario tests (scenario_routes.cc).
      {"GET /api/v1/connectors/health", {"/api/v1/connectors/health", "", "", {"monitor", "supervisor", "admin"}}},
      {"POST /api/v1/definitions/test",
       {"/api/v1/definitions/test", R"({"resource":"m.bpmn","xml":"<x/>","scenario":""})", "application/json",
        {"designer"}}},
      // The one-window intake (frontdoor_routes.cc): window staff and supervisors.
      {"GET /api/v1/intake/catalog", {"/api/v1/intake/catalog", "", "", {"staff", "supervisor"}}},
      {"GET /api/v1/intake/prefill", {"/api/v1/intake/prefill?idNumber=1", "", "", {"staff", "supervisor"}}},
      {"GET /api/v1/intake/requirements",
       {"/api/v1/intake/requirements?operation=nothing", "", "", {"staff", "supervisor"}}},
      {"POST /api/v1/intake", {"/api/v1/intake", "{}", "application/json", {"staff", "supervisor"}}},
      {"POST /api/v1/cases/{key}/documents",
       {"/api/v1/cases/NO-SUCH-CASE/documents?type=photo", "x", "application/pdf", {"staff", "supervisor"}}},
      {"GET /api/v1/cases/{key}/documents", {"/api/v1/cases/NO-SUCH-CASE/documents", "", "", {"staff", "supervisor"}}},
      {"GET /api/v1/cases/{key}/receipt", {"/api/v1/cases/NO-SUCH-CASE/receipt", "", "", {"staff", "supervisor"}}},
      // The applicant's channel (applicant_routes.cc): a one-time-code session, never a staff login.
      {"POST /api/v1/applicant/codes", {"/api/v1/applicant/codes", "{}", "application/json", {"open"}}},
      {"POST /api/v1/applicant/session", {"/api/v1/applicant/session", "{}", "application/json", {"open"}}},
      {"GET /api/v1/applicant/me", {"/api/v1/applicant/me", "", "", {"applicant"}}},
      {"POST /api/v1/applicant/logout", {"/api/v1/applicant/logout", "", "", {"applicant"}}},
      {"GET /api/v1/applicant/cases", {"/api/v1/applicant/cases", "", "", {"applicant"}}},
      {"GET /api/v1/applicant/cases/{key}", {"/api/v1/applicant/cases/K-1", "", "", {"applicant"}}},
      {"POST /api/v1/applicant/applications", {"/api/v1/applicant/applications", "{}", "application/json", {"applicant"}}},
      {"POST /api/v1/applicant/cases/{key}/documents",
       {"/api/v1/applicant/cases/K-1/documents?type=photo", "x", "application/pdf", {"applicant"}}},
      {"POST /api/v1/applicant/cases/{key}/supplement",
       {"/api/v1/applicant/cases/K-1/supplement", "{}", "application/json", {"applicant"}}},
      {"POST /api/v1/applicant/cases/{key}/subsidies",
       {"/api/v1/applicant/cases/K-1/subsidies", "{}", "application/json", {"applicant"}}},
      {"POST /api/v1/applicant/cases/{key}/rating",
       {"/api/v1/applicant/cases/K-1/rating", R"({"level":"satisfied"})", "application/json", {"applicant"}}},
      // The controlled clock (clock_routes.cc): admins only.
      {"GET /api/v1/admin/clock", {"/api/v1/admin/clock", "", "", {"admin"}}},
      {"POST /api/v1/admin/clock", {"/api/v1/admin/clock", R"({"advance":"PT1S"})", "application/json", {"admin"}}},
      // External tasks are served with API tokens only (ExternalTasks* tests): every user is refused.
      {"POST /api/v1/external-tasks/fetch-and-lock",
       {"/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w","topics":["t"]})", "application/json", {"token"}}},
      {"POST /api/v1/external-tasks/{id}/complete",
       {"/api/v1/external-tasks/1/complete", R"({"workerId":"w"})", "application/json", {"token"}}},
      {"POST /api/v1/external-tasks/{id}/failure",
       {"/api/v1/external-tasks/1/failure", R"({"workerId":"w"})", "application/json", {"token"}}},
      {"POST /api/v1/external-tasks/{id}/bpmn-error",
       {"/api/v1/external-tasks/1/bpmn-error", R"({"workerId":"w","errorCode":"E"})", "application/json", {"token"}}},
      {"POST /api/v1/external-tasks/{id}/extend-lock",
       {"/api/v1/external-tasks/1/extend-lock", R"({"workerId":"w","newDurationMs":5000})", "application/json", {"token"}}},
  };
  std::vector<RouteInfo> routes = api_->router().routes();
  for (const RouteInfo& r : routes) {
    ASSERT_TRUE(cases.count(r.method + " " + r.path_template)) << r.method << " " << r.path_template
                                                               << " has no row in the authorisation matrix";
  }
  // Logout ends the session: run it last.
  std::stable_partition(routes.begin(), routes.end(), [](const RouteInfo& r) { return r.path_template != "/api/v1/auth/logout"; });
  const std::map<std::string, std::string> users{{"staff", "staff1"}, {"supervisor", "super1"}, {"monitor", "mon1"},
                                                 {"designer", "des1"}, {"admin", "adm1"}, {"", ""}};
  for (const auto& [role, user] : users) {
    for (const RouteInfo& r : routes) {
      const Case& c = cases.at(r.method + " " + r.path_template);
      std::string body = c.body;
      if (r.path_template == "/api/v1/auth/login") {
        std::string who = user.empty() ? "adm1" : user;
        body = R"({"username":")" + who + R"(","password":")" + who + R"(-password-1"})";
      }
      as(user);
      Response got = call(r.method, c.target, body, c.content_type);
      std::string label = (role.empty() ? std::string("anonymous") : role) + " " + r.method + " " + c.target;
      bool open = c.allowed.count("open") > 0;
      if (c.allowed.count("applicant")) {
        // Only an applicant's session opens these; a staff login is not one.
        expect_problem(got, 401, "unauthorized");
        continue;
      }
      if (role.empty()) {
        if (open) EXPECT_NE(got.status, 401) << label << ": " << got.body;
        else expect_problem(got, 401, "unauthorized");
        continue;
      }
      bool allowed = open || c.allowed.count("*") || c.allowed.count(role);
      if (allowed) {
        EXPECT_NE(got.status, 401) << label << ": " << got.body;
        EXPECT_NE(got.status, 403) << label << ": " << got.body;
      } else {
        EXPECT_EQ(got.status, 403) << label << ": " << got.body;
        EXPECT_EQ(doc(got)["type"], json::value("https://banshi.dev/problems/forbidden")) << label;
      }
    }
  }
  // /metrics is open to loopback clients.
  as("");
  Request local = Request::make("GET", "/metrics");
  local.remote_address = "127.0.0.1";
  EXPECT_EQ(api_->handle(local).status, 200);
}

TEST_F(AuthTest, LoginMeCsrfAndLogout) {
  Response bad = login("staff1", "wrong");
  expect_problem(bad, 401, "unauthorized");
  EXPECT_TRUE(header(bad, "Set-Cookie").empty());
  Response ghost = login("ghost", "wrong");
  EXPECT_EQ(doc(ghost)["detail"], doc(bad)["detail"]);  // does not tell whether the user exists

  Response ok = login("staff1", "staff1-password-1");
  ASSERT_EQ(ok.status, 200) << ok.body;
  std::string cookie = header(ok, "Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);  // TLS off by default
  EXPECT_EQ(ok.body.find("password"), std::string::npos);
  std::string value = cookie.substr(0, cookie.find(';'));
  std::string csrf = std::string(doc(ok)["csrfToken"].as_string());
  Fields with_cookie{{"cookie", value}};
  Response me = call("GET", "/api/v1/me", "", "", with_cookie);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(doc(me)["name"], json::value("staff1"));
  EXPECT_EQ(doc(me)["department"], json::value("dpf"));
  EXPECT_EQ(doc(me)["csrfToken"], json::value(csrf));

  // A state-changing call with the cookie needs the CSRF header.
  int64_t task = start_regional("dpf-county", "220102");
  std::string claim = "/api/v1/tasks/" + std::to_string(task) + "/claim";
  as("");
  expect_problem(call("POST", claim, "{}", "application/json", with_cookie), 403, "forbidden");
  Fields wrong_csrf{{"cookie", value}, {"x-csrf-token", std::string(64, 'a')}};
  expect_problem(call("POST", claim, "{}", "application/json", wrong_csrf), 403, "forbidden");
  Fields good{{"cookie", value}, {"x-csrf-token", csrf}};
  EXPECT_EQ(call("POST", claim, "{}", "application/json", good).status, 204);

  Response out = call("POST", "/api/v1/auth/logout", "", "", good);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(header(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  expect_problem(call("GET", "/api/v1/me", "", "", with_cookie), 401, "unauthorized");

  // The audit trail has the logins, the failure and the claim; never a password.
  as("adm1");
  Response audit = call("GET", "/api/v1/audit?limit=100");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("\"action\":\"login-failed\""), std::string::npos);
  EXPECT_NE(audit.body.find("\"action\":\"login\""), std::string::npos);
  EXPECT_NE(audit.body.find("\"action\":\"claim\""), std::string::npos);
  EXPECT_NE(audit.body.find("\"action\":\"logout\""), std::string::npos);
  EXPECT_NE(audit.body.find("\"action\":\"deploy\""), std::string::npos);
  EXPECT_EQ(audit.body.find("password-1"), std::string::npos);
  EXPECT_EQ(audit.body.find("wrong"), std::string::npos);
}

TEST_F(AuthTest, LockoutAfterRepeatedFailures) {
  for (int i = 0; i < 5; ++i) expect_problem(login("staff1", "wrong"), 401, "unauthorized");
  Response locked = login("staff1", "staff1-password-1");
  expect_problem(locked, 401, "unauthorized");
  EXPECT_EQ(doc(locked)["detail"], doc(login("ghost", "x"))["detail"]);
  clock_->advance(14 * 60 * 1000);
  expect_problem(login("staff1", "staff1-password-1"), 401, "unauthorized");
  clock_->advance(2 * 60 * 1000);
  EXPECT_EQ(login("staff1", "staff1-password-1").status, 200);
  // Unknown names lock the same way.
  for (int i = 0; i < 6; ++i) expect_problem(login("ghost", "x"), 401, "unauthorized");
}

// Guesses sent at the same moment: each one under way counts as a failure
// for those after it, so no more are tried than the lockout allows. (One
// that has just been stored can be counted twice for a moment, so fewer may
// be tried; never more.)
TEST_F(AuthTest, GuessesSentAtOnceAreTriedNoMoreThanTheLockoutAllows) {
  constexpr int kGuesses = 12;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kGuesses; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kGuesses) std::this_thread::yield();
      Request r = Request::make("POST", "/api/v1/auth/login",
                                R"({"username":"staff1","password":"wrong-)" + std::to_string(i) + R"("})",
                                {{"content-type", "application/json"}});
      EXPECT_EQ(api_->handle(r).status, 401);
    });
  }
  for (auto& t : threads) t.join();
  auto failures = users_->login_failures("staff1", 0);
  ASSERT_TRUE(failures.ok());
  EXPECT_GE(failures->size(), 1u);
  EXPECT_LE(failures->size(), 5u) << "the guesses after the fifth find the name locked";
  // The tries left up to the lockout are tried one by one, then it holds.
  for (size_t i = failures->size(); i < 5; ++i) expect_problem(login("staff1", "wrong"), 401, "unauthorized");
  expect_problem(login("staff1", "staff1-password-1"), 401, "unauthorized");
}

// The full applicant view is for those who work on the case: a user who is
// also a monitor sees every task of its regions, but works on none of them.
TEST_F(AuthTest, SeeingATaskAsAMonitorGivesNoFullApplicantView) {
  add_user("both", {"staff", "monitor"}, "dpf");
  int64_t task = start_regional("civil-county", "220102");
  auto t = engine_->store().task(task);
  ASSERT_TRUE(t.ok() && *t);
  as("both");
  expect_problem(call("GET", "/api/v1/instances/" + std::to_string((*t)->instance_id) + "/applicant?full=true"), 403,
                 "forbidden", "full");
}

TEST_F(AuthTest, SessionsExpireWhenIdleAndAtTheirAbsoluteLimit) {
  as("staff1");
  EXPECT_EQ(call("GET", "/api/v1/me").status, 200);
  clock_->advance(31 * 60 * 1000);
  expect_problem(call("GET", "/api/v1/me"), 401, "unauthorized");

  add_user("busy", {"monitor"});
  as("busy");
  for (int i = 0; i < 36; ++i) {  // active every 20 minutes for 12 hours
    ASSERT_EQ(call("GET", "/api/v1/me").status, 200) << i;
    clock_->advance(20 * 60 * 1000);
  }
  expect_problem(call("GET", "/api/v1/me"), 401, "unauthorized");
}

TEST_F(AuthTest, StaffSeeTheirDepartmentAndRegionOnly) {
  int64_t mine = start_regional("dpf-county", "220102");     // dpf, under 2201
  int64_t other_dept = start_regional("civil-county", "220102");
  int64_t other_region = start_regional("dpf-county", "220202");
  int64_t exact_group = start_regional("dpf", "220103");
  as("staff1");
  Response list = call("GET", "/api/v1/tasks?limit=1000");
  ASSERT_EQ(list.status, 200) << list.body;
  std::set<int64_t> seen;
  json::object listed = doc(list);
  for (const auto& item : listed["items"].as_array()) seen.insert(item.as_object().at("id").as_int64());
  EXPECT_EQ(seen, (std::set<int64_t>{mine, exact_group}));
  expect_problem(call("GET", "/api/v1/tasks/" + std::to_string(other_dept)), 403, "forbidden");
  expect_problem(call("POST", "/api/v1/tasks/" + std::to_string(other_region) + "/claim", "{}"), 403, "forbidden");
  expect_problem(call("POST", "/api/v1/tasks/" + std::to_string(mine) + "/claim", R"({"user":"li"})"), 403,
                 "forbidden");
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(mine) + "/claim", "{}").status, 204);
  // Offset and limit count visible tasks.
  Response second = call("GET", "/api/v1/tasks?offset=1&limit=1");
  ASSERT_EQ(doc(second)["items"].as_array().size(), 1u);
  // The province supervisor sees both regions of dpf; the monitor sees all.
  as("super1");
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks"))["items"].as_array().size(), 3u);
  as("mon1");
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks"))["items"].as_array().size(), 4u);
  expect_problem(call("POST", "/api/v1/tasks/" + std::to_string(mine) + "/complete", "{}"), 403, "forbidden");
  as("staff1");
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(mine) + "/complete", "{}").status, 204);
}

// Incidents are listed like cases: a supervisor with regions finds only the
// incidents of cases in them, a page at a time with the count of all.
TEST_F(AuthTest, IncidentsAreListedWithinTheCallersRegions) {
  const std::string stuck = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="st">
  <process id="stuck" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
    <exclusiveGateway id="g"/>
    <sequenceFlow id="f2" sourceRef="g" targetRef="e"><conditionExpression>=region = "none"</conditionExpression></sequenceFlow>
    <endEvent id="e"/>
  </process>
</definitions>)";
  add_user("super2", {"supervisor"}, "dpf", {"220100"});
  as("des1");
  ASSERT_EQ(call("POST", "/api/v1/definitions?resource=stuck.bpmn", stuck, "application/xml").status, 201);
  std::map<std::string, int64_t> instance;
  for (const char* region : {"220102", "220202", "220103"}) {
    Response r = call("POST", "/api/v1/instances",
                      std::string(R"({"processId":"stuck","variables":{"region":")") + region + R"("}})");
    ASSERT_EQ(r.status, 201) << r.body;
    instance[region] = doc(r)["id"].as_int64();
  }
  auto listed = [&](const std::string& query) {
    Response r = call("GET", "/api/v1/incidents" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    json::object d = doc(r);
    std::vector<int64_t> ids;
    for (const auto& item : d["items"].as_array()) ids.push_back(item.as_object().at("instanceId").as_int64());
    return std::make_pair(ids, d["total"].as_int64());
  };
  auto all = listed("");
  EXPECT_EQ(all.first, (std::vector<int64_t>{instance["220102"], instance["220202"], instance["220103"]}));
  EXPECT_EQ(all.second, 3);
  auto page = listed("?offset=1&limit=1");
  EXPECT_EQ(page.first, (std::vector<int64_t>{instance["220202"]}));
  EXPECT_EQ(page.second, 3);
  as("super2");
  auto own = listed("");
  EXPECT_EQ(own.first, (std::vector<int64_t>{instance["220102"], instance["220103"]}));
  EXPECT_EQ(own.second, 2);
  EXPECT_TRUE(listed("?instanceId=" + std::to_string(instance["220202"])).first.empty())
      << "naming another region's case does not show its incidents";
  as("mon1");
  EXPECT_EQ(listed("").second, 3) << "a monitor without regions watches the whole country";
  expect_problem(call("GET", "/api/v1/incidents?limit=0"), 400, "bad-request", "limit");
  expect_problem(call("GET", "/api/v1/incidents?limit=1001"), 400, "bad-request", "limit");
}

TEST_F(AuthTest, AdminsManageUsersAndTokens) {
  as("adm1");
  Response made = call("POST", "/api/v1/users",
                       R"({"name":"zhao","roles":["staff"],"department":"dpf","regions":["220102"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string password = std::string(doc(made)["password"].as_string());
  EXPECT_EQ(password.size(), 20u);
  expect_problem(call("POST", "/api/v1/users", R"({"name":"zhao","roles":["staff"]})"), 409, "conflict");
  expect_problem(call("POST", "/api/v1/users", R"({"name":"qian","roles":["king"]})"), 400, "bad-request", "roles");
  expect_problem(call("POST", "/api/v1/users", R"({"name":"qian","regions":["22"]})"), 400, "bad-request", "regions");
  Response list = call("GET", "/api/v1/users");
  EXPECT_NE(list.body.find("\"zhao\""), std::string::npos);
  EXPECT_EQ(list.body.find("pbkdf2"), std::string::npos);
  ASSERT_EQ(login("zhao", password).status, 200);
  as("adm1");
  Response disabled = call("PATCH", "/api/v1/users/zhao", R"({"disabled":true})");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  expect_problem(login("zhao", password), 401, "unauthorized");

  as("adm1");
  Response token = call("POST", "/api/v1/tokens", R"({"name":"civil-affairs","topics":["civil-affairs.verify"]})");
  ASSERT_EQ(token.status, 201) << token.body;
  std::string secret = std::string(doc(token)["token"].as_string());
  as("");
  Fields bearer{{"authorization", "Bearer " + secret}};
  Response me = call("GET", "/api/v1/me", "", "", bearer);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(doc(me)["kind"], json::value("token"));
  EXPECT_EQ(doc(me)["topics"].as_array().size(), 1u);
  expect_problem(call("GET", "/api/v1/tasks", "", "", bearer), 403, "forbidden");
  // Nor the models: a token reads nothing but /me.
  expect_problem(call("GET", "/api/v1/definitions", "", "", bearer), 403, "forbidden");
  expect_problem(call("GET", "/api/v1/definitions/review/1/xml", "", "", bearer), 403, "forbidden");
  expect_problem(call("GET", "/api/v1/definitions/review/diagram", "", "", bearer), 403, "forbidden");
  Principal scoped;
  scoped.kind = Principal::Kind::kToken;
  scoped.topics = {"civil-affairs.verify"};
  EXPECT_TRUE(may_serve_topic(scoped, "civil-affairs.verify"));
  EXPECT_FALSE(may_serve_topic(scoped, "health.verify"));
  expect_problem(call("GET", "/api/v1/me", "", "", {{"authorization", "Bearer " + std::string(64, '0')}}), 401,
                 "unauthorized");
}

TEST_F(AuthTest, ChangingOnesPasswordNeedsTheOldOne) {
  as("staff1");
  expect_problem(call("POST", "/api/v1/me/password", R"({"oldPassword":"nope","newPassword":"a-new-long-secret"})"),
                 403, "forbidden");
  expect_problem(call("POST", "/api/v1/me/password",
                      R"({"oldPassword":"staff1-password-1","newPassword":"short"})"),
                 400, "bad-request", "newPassword");
  EXPECT_EQ(call("POST", "/api/v1/me/password",
                 R"({"oldPassword":"staff1-password-1","newPassword":"a-new-long-secret"})")
                .status,
            204);
  expect_problem(call("GET", "/api/v1/me"), 401, "unauthorized");  // sessions ended
  expect_problem(login("staff1", "staff1-password-1"), 401, "unauthorized");
  EXPECT_EQ(login("staff1", "a-new-long-secret").status, 200);
}

const std::string kScoring = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="x">
  <process id="scoring" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="score"/>
    <serviceTask id="score" bs:topic="credit-score" bs:retries="2"/>
    <sequenceFlow id="f2" sourceRef="score" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

class ExternalTaskTest : public AuthTest {
 protected:
  void SetUp() override {
    AuthTest::SetUp();
    as("des1");
    ASSERT_EQ(call("POST", "/api/v1/definitions?resource=s.bpmn", kScoring, "application/xml").status, 201);
    token_ = add_token("bureau", {"credit-score"});
    other_ = add_token("tax", {"tax-check"});
  }
  std::string add_token(const std::string& name, std::vector<std::string> topics) {
    std::string secret = random_token();
    store::ApiTokenRecord t;
    t.name = name;
    t.token_hash = sha256_hex(secret);
    t.topics = std::move(topics);
    t.created_by = "adm1";
    EXPECT_TRUE(users_->add_api_token(t).ok());
    return secret;
  }
  Response with_token(const std::string& token, const std::string& target, const std::string& body) {
    as("");
    return call("POST", target, body, "application/json", {{"authorization", "Bearer " + token}});
  }
  int64_t start_scoring() {
    as("des1");
    Response r = call("POST", "/api/v1/instances", R"({"processId":"scoring","variables":{"income":5000}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return doc(r)["id"].as_int64();
  }
  std::string instance_status(int64_t id) {
    auto i = engine_->store().instance(id);
    return i.ok() && *i ? std::to_string((*i)->status) : "none";
  }
  std::string token_;
  std::string other_;
};

TEST_F(ExternalTaskTest, FetchLockCompleteWithinTheTokensTopics) {
  int64_t instance = start_scoring();
  // Another token's topics, a user session and a bad body are refused.
  expect_problem(with_token(other_, "/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w","topics":["credit-score"]})"),
                 403, "forbidden");
  expect_problem(with_token(token_, "/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w","topics":[]})"), 400,
                 "bad-request", "topics");
  expect_problem(with_token(token_, "/api/v1/external-tasks/fetch-and-lock", R"({"topics":["credit-score"]})"), 400,
                 "bad-request", "workerId");
  expect_problem(with_token(token_, "/api/v1/external-tasks/fetch-and-lock",
                            R"({"workerId":"w","topics":["credit-score"],"lockMs":10})"),
                 400, "bad-request", "lockMs");

  Response fetched = with_token(token_, "/api/v1/external-tasks/fetch-and-lock",
                                R"({"workerId":"w1","topics":["credit-score"],"lockMs":2000})");
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  json::array items = doc(fetched)["items"].as_array();
  ASSERT_EQ(items.size(), 1u) << fetched.body;
  json::object job = items[0].as_object();
  EXPECT_EQ(job["instanceId"], json::value(instance));
  EXPECT_EQ(job["topic"], json::value("credit-score"));
  EXPECT_EQ(job["elementId"], json::value("score"));
  EXPECT_EQ(job["variables"].as_object()["income"], json::value(5000));
  std::string id = std::to_string(job["id"].as_int64());

  // Locked: nobody else gets it; the other token may not report it.
  Response again = with_token(token_, "/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w2","topics":["credit-score"]})");
  EXPECT_TRUE(doc(again)["items"].as_array().empty()) << again.body;
  expect_problem(with_token(other_, "/api/v1/external-tasks/" + id + "/complete", R"({"workerId":"w1"})"), 403,
                 "forbidden");
  expect_problem(with_token(token_, "/api/v1/external-tasks/" + id + "/complete", R"({"workerId":"w2"})"), 409,
                 "conflict");
  // The lease runs out: the job goes to the next worker, and the first one's report is refused.
  clock_->advance(2001);
  Response redelivered = with_token(token_, "/api/v1/external-tasks/fetch-and-lock",
                                    R"({"workerId":"w2","topics":["credit-score"],"lockMs":60000})");
  ASSERT_EQ(doc(redelivered)["items"].as_array().size(), 1u) << redelivered.body;
  EXPECT_EQ(doc(redelivered)["items"].as_array()[0].as_object().at("id").as_int64(), job["id"].as_int64());
  expect_problem(with_token(token_, "/api/v1/external-tasks/" + id + "/complete", R"({"workerId":"w1"})"), 409,
                 "conflict");
  EXPECT_EQ(with_token(token_, "/api/v1/external-tasks/" + id + "/extend-lock",
                       R"({"workerId":"w2","newDurationMs":120000})").status,
            204);
  clock_->advance(90'000);  // within the extended lease
  Response none = with_token(token_, "/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w3","topics":["credit-score"]})");
  EXPECT_TRUE(doc(none)["items"].as_array().empty()) << none.body;
  EXPECT_EQ(instance_status(instance), "1");
  Response done = with_token(token_, "/api/v1/external-tasks/" + id + "/complete",
                             R"({"workerId":"w2","variables":{"score":720}})");
  EXPECT_EQ(done.status, 204) << done.body;
  engine_->run_until_idle();
  EXPECT_EQ(instance_status(instance), "2");
  expect_problem(with_token(token_, "/api/v1/external-tasks/" + id + "/complete", R"({"workerId":"w2"})"), 404,
                 "not-found");
}

TEST_F(ExternalTaskTest, FailureWithoutRetriesRaisesAnIncident) {
  int64_t instance = start_scoring();
  Response fetched = with_token(token_, "/api/v1/external-tasks/fetch-and-lock", R"({"workerId":"w","topics":["credit-score"]})");
  std::string id = std::to_string(doc(fetched)["items"].as_array()[0].as_object().at("id").as_int64());
  expect_problem(with_token(token_, "/api/v1/external-tasks/" + id + "/bpmn-error", R"({"workerId":"w"})"), 400,
                 "bad-request", "errorCode");
  expect_problem(with_token(token_, "/api/v1/external-tasks/" + id + "/failure", R"({"workerId":"w","retries":"0"})"),
                 400, "bad-request", "retries");
  EXPECT_EQ(with_token(token_, "/api/v1/external-tasks/" + id + "/failure",
                       R"({"workerId":"w","errorMessage":"bureau down","retries":0})").status,
            204);
  engine_->run_until_idle();
  auto incidents = engine_->store().incidents(instance);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_NE((*incidents)[0].message.find("bureau down"), std::string::npos) << (*incidents)[0].message;
}

TEST_F(AuthTest, TaskPagesCountOnlyVisibleTasks) {
  // Interleave tasks staff1 may see (dpf, 2201xx) with tasks it may not.
  std::set<int64_t> visible;
  for (int i = 0; i < 6; ++i) {
    visible.insert(start_regional("dpf-county", "220102"));
    start_regional("tax", "220102");
    start_regional("dpf-county", "230102");
  }
  as("staff1");
  std::set<int64_t> seen;
  for (int offset = 0; offset < 8; offset += 2) {
    Response r = call("GET", "/api/v1/tasks?limit=2&offset=" + std::to_string(offset));
    ASSERT_EQ(r.status, 200) << r.body;
    auto items = doc(r)["items"].as_array();
    EXPECT_EQ(items.size(), offset < 6 ? 2u : 0u) << "offset " << offset << ": " << r.body;
    for (const auto& t : items) seen.insert(t.as_object().at("id").as_int64());
  }
  EXPECT_EQ(seen, visible);
  // A monitor of province 23 sees the third kind only.
  add_user("mon23", {"monitor"}, "", {"230000"});
  as("mon23");
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks?limit=100"))["items"].as_array().size(), 6u);
  // myGroups: offered to the caller's department (not by name).
  as("super1");
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks?myGroups=true&limit=100"))["items"].as_array().size(), 6u);
  expect_problem(call("GET", "/api/v1/tasks?slaState=late"), 400, "bad-request", "slaState");
  EXPECT_EQ(doc(call("GET", "/api/v1/tasks?slaState=on_time&limit=100"))["items"].as_array().size(), 6u);
  EXPECT_TRUE(doc(call("GET", "/api/v1/tasks?slaState=breached"))["items"].as_array().empty());
}

TEST_F(AuthTest, SupervisorsAssignAndAssigneesDelegate) {
  int64_t task = start_regional("dpf-county", "220102");
  std::string t = std::to_string(task);
  add_user("staff2", {"staff"}, "dpf", {"220102"});
  add_user("taxer", {"staff"}, "tax", {"220102"});
  as("super1");
  expect_problem(call("POST", "/api/v1/tasks/" + t + "/assign", R"({"assignee":"taxer"})"), 400, "bad-request", "assignee");
  expect_problem(call("POST", "/api/v1/tasks/" + t + "/assign", R"({"assignee":"ghost"})"), 400, "bad-request", "assignee");
  expect_problem(call("POST", "/api/v1/tasks/" + t + "/assign", R"({})"), 400, "bad-request", "assignee");
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + t + "/assign", R"({"assignee":"staff1"})").status, 204);
  as("staff2");
  expect_problem(call("POST", "/api/v1/tasks/" + t + "/delegate", R"({"assignee":"staff2"})"), 403, "forbidden");
  as("staff1");
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + t + "/delegate", R"({"assignee":"staff2"})").status, 204);
  auto stored = engine_->store().task(task);
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_EQ((*stored)->assignee, "staff2");
  as("adm1");
  Response audit = call("GET", "/api/v1/audit?action=delegate");
  EXPECT_NE(audit.body.find("\"detail\":\"to staff2\""), std::string::npos) << audit.body;
}

TEST_F(ApiTest, InstanceVariablesAndActiveElements) {
  EXPECT_EQ(call("POST", "/api/v1/definitions?resource=m.bpmn", kModel, "application/xml").status, 201);
  Response r = call("POST", "/api/v1/instances", R"({"processId":"review","variables":{"applicant":"Li Na"}})");
  std::string id = std::to_string(doc(r)["id"].as_int64());
  Response vars = call("GET", "/api/v1/instances/" + id + "/variables");
  ASSERT_EQ(vars.status, 200) << vars.body;
  EXPECT_EQ(doc(vars)["variables"].as_object()["applicant"], json::value("Li Na"));
  Response active = call("GET", "/api/v1/instances/" + id + "/active-elements");
  ASSERT_EQ(active.status, 200) << active.body;
  json::array items = doc(active)["items"].as_array();
  ASSERT_EQ(items.size(), 1u) << active.body;
  EXPECT_EQ(items[0].as_object().at("elementId"), json::value("check"));
  EXPECT_EQ(items[0].as_object().at("count"), json::value(1));
  expect_problem(call("GET", "/api/v1/instances/424242/variables"), 404, "not-found");
  expect_problem(call("GET", "/api/v1/instances/x/active-elements"), 400, "bad-request", "id");
  store::AuditQuery q;
  q.action = "view-variables";
  auto rows = users_->audit(q);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);  // the refused call for a missing instance wrote nothing
  EXPECT_EQ((*rows)[0].target, "instance " + id);
  EXPECT_EQ((*rows)[0].actor, "wang");
}

TEST_F(ApiTest, EnginePublishesEventsAfterCommitInOrder) {
  std::vector<EngineEvent> seen;
  std::mutex mu;
  uint64_t sub = engine_->subscribe([&](const EngineEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(e);
  });
  int64_t instance = deploy_and_start();
  int64_t task = first_task();
  ASSERT_NE(task, 0);
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(task) + "/claim", "{}").status, 204);
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(task) + "/complete", "{}").status, 204);
  engine_->unsubscribe(sub);
  std::vector<std::string> types;
  for (const EngineEvent& e : seen) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"instance.started", "task.created", "task.claimed", "task.completed",
                                             "instance.ended"}));
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[1].task_id, task);
  EXPECT_EQ(seen[1].instance_id, instance);
  EXPECT_EQ(seen[1].element_id, "check");
  EXPECT_EQ(seen[1].candidate_groups, std::vector<std::string>{"dpf-county"});
  EXPECT_EQ(seen[2].assignee, "wang");
  EXPECT_EQ(seen[3].task_id, task);
  EXPECT_EQ(seen[3].assignee, "wang") << "the completed task as it was stored";
  EXPECT_EQ(seen[3].candidate_groups, std::vector<std::string>{"dpf-county"});
  json::object frame = json::parse(EventHub::to_json(seen[1])).as_object();
  EXPECT_EQ(frame["type"], json::value("task.created"));
  EXPECT_EQ(frame["department"], json::value("dpf"));
  EXPECT_EQ(frame["taskId"], json::value(task));
  EXPECT_EQ(frame["at"].as_string().size(), 24u) << frame["at"];  // 2026-02-02T02:40:00.000Z
  // After unsubscribing, nothing more arrives.
  EXPECT_EQ(call("POST", "/api/v1/instances", R"({"processId":"review"})").status, 201);
  EXPECT_EQ(seen.size(), 5u);
}

// The data comparison's connectors, which the Api registers, stay with the
// engine: a job that runs after the Api is gone (a timer-started run during
// a shutdown) must not reach into it.
TEST_F(ApiTest, TheApisConnectorsOutliveIt) {
  const std::string model = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="x">
  <process id="subjects" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="list"/>
    <serviceTask id="list" bs:connector="reports.list-comparison-subjects" bs:retries="1"/>
    <sequenceFlow id="f2" sourceRef="list" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";
  ASSERT_EQ(call("POST", "/api/v1/definitions?resource=subjects.bpmn", model, "application/xml").status, 201);
  api_.reset();
  StartRequest req;
  req.process_id = "subjects";
  auto id = engine_->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  for (int i = 0; i < 20; ++i) engine_->run_until_idle();
  auto instance = engine_->store().instance(*id);
  ASSERT_TRUE(instance.ok() && instance->has_value());
  EXPECT_EQ((*instance)->status, 2) << "the job ran and the instance ended";
}

TEST(EventHub, EachRoleSeesWhatItMay) {
  EngineEvent task;
  task.type = "task.created";
  task.candidate_groups = {"dpf-county"};
  task.region = "220102";
  task.task_id = 7;
  EngineEvent escalated = task;
  escalated.type = "sla.escalated";
  EngineEvent ended;
  ended.type = "instance.ended";
  auto user = [](std::vector<std::string> roles, std::string department, std::vector<std::string> regions) {
    Principal p;
    p.name = "u";
    p.roles = std::move(roles);
    p.department = std::move(department);
    p.regions = std::move(regions);
    return p;
  };
  Principal staff = user({"staff"}, "dpf", {"220100"});
  Principal staff_elsewhere = user({"staff"}, "dpf", {"230000"});
  Principal other_department = user({"staff"}, "tax", {"220000"});
  Principal supervisor = user({"supervisor"}, "dpf", {"220000"});
  Principal monitor22 = user({"monitor"}, "", {"220000"});
  Principal monitor_all = user({"monitor"}, "", {});
  Principal designer = user({"designer"}, "", {});
  EXPECT_TRUE(EventHub::may_see(staff, task));
  EXPECT_FALSE(EventHub::may_see(staff_elsewhere, task));
  EXPECT_FALSE(EventHub::may_see(other_department, task));
  EXPECT_FALSE(EventHub::may_see(staff, escalated));
  EXPECT_TRUE(EventHub::may_see(supervisor, escalated));
  EXPECT_TRUE(EventHub::may_see(monitor22, task));
  EXPECT_FALSE(EventHub::may_see(staff, ended));
  EXPECT_TRUE(EventHub::may_see(supervisor, ended));
  EXPECT_FALSE(EventHub::may_see(monitor22, ended));
  EXPECT_TRUE(EventHub::may_see(monitor_all, ended));
  EXPECT_TRUE(EventHub::may_see(designer, escalated));
  Principal token;
  token.kind = Principal::Kind::kToken;
  token.roles = {"admin"};
  EXPECT_FALSE(EventHub::may_see(token, task));
}

// A task.created event for the DPF's county group in 南关区.
void publish_dpf_task(Engine& engine) {
  EngineEvent e;
  e.type = "task.created";
  e.candidate_groups = {"dpf-county"};
  e.region = "220102";
  engine.publish_event(e);
}

// A WebSocket client that keeps what it is sent.
struct RecordingClient : WsClient {
  std::vector<std::string> frames;
  bool closed = false;
  bool send(std::string text) override {
    frames.push_back(std::move(text));
    return true;
  }
  void close() override { closed = true; }
  void close_after_sent() override { closed = true; }
  std::vector<uint64_t> positions() const {
    std::vector<uint64_t> out;
    for (const std::string& f : frames) {
      json::object o = json::parse(f).as_object();
      if (const json::value* p = o.if_contains("position")) out.push_back(p->to_number<uint64_t>());
    }
    return out;
  }
};

// An open event stream has the rights of its session as it is now: a
// changed department is followed, and the stream is closed once the session
// ends, at once on logout.
TEST_F(ApiTest, LiveEventsFollowTheSessionAndEndWithIt) {
  ApiOptions options;
  options.ws_recheck_ms = 0;  // look again before every event
  api_.reset();                // it holds the engine that open_api replaces
  open_api(options, /*controlled_clock=*/true);
  add_user("zhao", {"staff"}, "dpf", {"220102"});
  add_user("sun", {"staff"}, "dpf", {"220102"});
  auto connect = [&](const std::string& user) {
    Request r = Request::make("GET", "/api/v1/events", "", {{"cookie", "banshi_session=" + sessions_[user].first}});
    Upgrade up = api_->upgrade(r);
    EXPECT_FALSE(up.refuse.has_value());
    auto client = std::make_shared<RecordingClient>();
    if (up.on_open) up.on_open(client);
    return client;
  };
  auto publish = [&] { publish_dpf_task(*engine_); };
  auto zhao = connect("zhao");
  auto sun = connect("sun");
  publish();
  EXPECT_EQ(zhao->positions().size(), 1u);
  EXPECT_EQ(sun->positions().size(), 1u);

  // Moved to another department: dpf's tasks no longer reach them.
  auto user = users_->user("zhao");
  ASSERT_TRUE(user.ok() && *user);
  store::UserRecord moved = **user;
  moved.department = "tax";
  ASSERT_TRUE(users_->update_user(moved).ok());
  publish();
  EXPECT_EQ(zhao->positions().size(), 1u) << "a department left still sends its tasks";
  EXPECT_FALSE(zhao->closed);

  // The session ends elsewhere (expired, or every session of the user ended): the stream closes.
  ASSERT_TRUE(users_->delete_sessions_of("zhao").ok());
  publish();
  EXPECT_TRUE(zhao->closed);
  ASSERT_FALSE(zhao->frames.empty());
  EXPECT_NE(zhao->frames.back().find(R"("type":"error")"), std::string::npos);
  const size_t frames = zhao->frames.size();
  publish();
  EXPECT_EQ(zhao->frames.size(), frames) << "a closed stream got another event";

  // Logging out closes the stream at once.
  as("sun");
  EXPECT_EQ(call("POST", "/api/v1/auth/logout").status, 204);
  EXPECT_TRUE(sun->closed);
  EXPECT_NE(sun->frames.back().find(R"("type":"error")"), std::string::npos);
}

TEST_F(ApiTest, EventsResumeAfterAPositionWithTheSameFiltering) {
  EventHub hub(*engine_);
  Principal admin;
  admin.name = "root";
  admin.roles = {"admin"};
  Principal staff;
  staff.name = "li";
  staff.roles = {"staff"};
  staff.department = "dpf";
  staff.regions = {"220100"};
  auto live = std::make_shared<RecordingClient>();
  hub.add(live, admin);
  auto publish = [&](const std::string& type, const std::string& group) {
    EngineEvent e;
    e.type = type;
    e.candidate_groups = {group};
    e.region = "220102";
    engine_->publish_event(e);
  };
  publish("task.created", "dpf-county");
  publish("task.created", "tax-county");
  publish("task.claimed", "dpf-county");
  std::vector<uint64_t> seen = live->positions();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], seen[0] + 1);
  EXPECT_EQ(seen[2], seen[0] + 2);

  // After the first: the two kept ones at once, then the live ones, each once.
  auto resumed = std::make_shared<RecordingClient>();
  EXPECT_FALSE(hub.replay_refusal(seen[0]).has_value());
  hub.add(resumed, admin, seen[0]);
  EXPECT_EQ(resumed->positions(), (std::vector<uint64_t>{seen[0] + 1, seen[0] + 2}));
  publish("task.completed", "dpf-county");
  EXPECT_EQ(resumed->positions(), (std::vector<uint64_t>{seen[0] + 1, seen[0] + 2, seen[0] + 3}));
  EXPECT_EQ(live->positions().back(), seen[0] + 3);

  // The same filtering as live events: a dpf clerk does not get the tax task.
  auto clerk = std::make_shared<RecordingClient>();
  hub.add(clerk, staff, seen[0] - 1);
  EXPECT_EQ(clerk->positions(), (std::vector<uint64_t>{seen[0], seen[0] + 2, seen[0] + 3}));

  // Not reached yet: refused, not gone. Before the first event: everything is kept.
  auto ahead = hub.replay_refusal(seen[0] + 4);
  ASSERT_TRUE(ahead.has_value());
  EXPECT_FALSE(ahead->gone);
  EXPECT_FALSE(hub.replay_refusal(seen[0] - 1).has_value());
  auto before = hub.replay_refusal(seen[0] - 2);
  ASSERT_TRUE(before.has_value());
  EXPECT_TRUE(before->gone);

  // Once more events came than are kept, the early positions are gone; a
  // client that still asks for them gets an error frame and is closed.
  for (size_t i = 0; i < hub.kept_limit(); ++i) publish("task.created", "dpf-county");
  auto gone = hub.replay_refusal(seen[0]);
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(gone->gone);
  auto late = std::make_shared<RecordingClient>();
  hub.add(late, admin, seen[0]);
  ASSERT_EQ(late->frames.size(), 1u);
  EXPECT_NE(late->frames[0].find(R"("type":"error")"), std::string::npos) << late->frames[0];
  EXPECT_TRUE(late->closed);
  EXPECT_EQ(hub.clients(), 3u);  // live, resumed and clerk
  uint64_t last = live->positions().back();
  EXPECT_FALSE(hub.replay_refusal(last - hub.kept_limit()).has_value());
  auto tail = std::make_shared<RecordingClient>();
  hub.add(tail, admin, last - hub.kept_limit());
  EXPECT_EQ(tail->frames.size(), hub.kept_limit());
}

TEST_F(ApiTest, TheReplayWindowIsConfigured) {
  auto publish = [&] { publish_dpf_task(*engine_); };
  Principal admin;
  admin.name = "root";
  admin.roles = {"admin"};
  EXPECT_EQ(EventHub(*engine_).kept_limit(), EventHub::kDefaultKeptEvents);
  {
    EventHub hub(*engine_, 4);
    auto live = std::make_shared<RecordingClient>();
    hub.add(live, admin);
    for (int i = 0; i < 6; ++i) publish();
    std::vector<uint64_t> seen = live->positions();
    ASSERT_EQ(seen.size(), 6u);
    // The last four are kept: a resume after the second is served, one after the first is not.
    EXPECT_FALSE(hub.replay_refusal(seen[1]).has_value());
    auto gone = hub.replay_refusal(seen[0]);
    ASSERT_TRUE(gone.has_value());
    EXPECT_TRUE(gone->gone);
    auto tail = std::make_shared<RecordingClient>();
    hub.add(tail, admin, seen[1]);
    EXPECT_EQ(tail->positions(), (std::vector<uint64_t>{seen[2], seen[3], seen[4], seen[5]}));
  }
  {
    // Nothing kept: live events still flow; only a resume from the newest position is served.
    EventHub hub(*engine_, 0);
    auto live = std::make_shared<RecordingClient>();
    hub.add(live, admin);
    publish();
    publish();
    std::vector<uint64_t> seen = live->positions();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_FALSE(hub.replay_refusal(seen[1]).has_value());
    ASSERT_TRUE(hub.replay_refusal(seen[0]).has_value());
    auto resumed = std::make_shared<RecordingClient>();
    hub.add(resumed, admin, seen[1]);
    publish();
    EXPECT_EQ(resumed->positions(), (std::vector<uint64_t>{seen[1] + 1}));
  }
}

TEST(RateLimiter, RefusesOverTheRateAndRefills) {
  RateLimiter limiter(2.0, 3.0);  // 2 a second, 3 at once
  int64_t retry = 0;
  EXPECT_TRUE(limiter.allow("a", 0));
  EXPECT_TRUE(limiter.allow("a", 0));
  EXPECT_TRUE(limiter.allow("a", 0));
  EXPECT_FALSE(limiter.allow("a", 0, &retry));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 501);
  EXPECT_TRUE(limiter.allow("b", 0));  // another client has its own bucket
  EXPECT_TRUE(limiter.allow("a", 500));  // one token back after half a second
  EXPECT_FALSE(limiter.allow("a", 500));
  EXPECT_TRUE(RateLimiter(0, 1).allow("a", 0));  // 0: no limit
  RateLimiter small(1.0, 1.0, 2);
  EXPECT_TRUE(small.allow("x", 0));
  EXPECT_TRUE(small.allow("y", 0));
  EXPECT_TRUE(small.allow("z", 10'000));  // x and y refilled: forgotten
  EXPECT_EQ(small.clients(), 1u);
}

// An SMS gateway that holds its first message until the test lets it go.
struct HeldSms final : frontdoor::Gateway {
  std::promise<void> entered;
  std::shared_future<void> release;
  std::atomic<int> sends{0};
  Result<frontdoor::SharedRecord> lookup(const std::string&) override { return Error{"unavailable", "not here"}; }
  Result<void> send(const frontdoor::OutgoingMessage&) override {
    if (sends++ == 0) {
      entered.set_value();
      release.wait();
    }
    return {};
  }
};

// Two requests for a sign-in code to one phone at once: the limits are
// checked before the send and the code stored after it, so both used to
// pass and two codes went out. The second is refused while the first sends.
TEST_F(ApiTest, ASecondCodeForAPhoneWhileOneIsBeingSentIsRefused) {
  HeldSms sms;
  std::promise<void> go;
  sms.release = go.get_future().share();
  ApiOptions options;
  options.gateway = &sms;
  api_.reset();  // it holds the engine that open_api replaces
  open_api(options, /*controlled_clock=*/true);
  auto ask = [&] {
    Request r = Request::make("POST", "/api/v1/applicant/codes", R"({"phone":"13812345678"})",
                              {{"content-type", "application/json"}});
    r.remote_address = "10.0.0.9";
    return api_->handle(r);
  };
  Response first;
  std::thread sending([&] { first = ask(); });
  sms.entered.get_future().wait();
  Response second = ask();
  go.set_value();
  sending.join();
  EXPECT_EQ(first.status, 202) << first.body;
  expect_problem(second, 429, "too-many-requests");
  EXPECT_EQ(sms.sends.load(), 1);
  // Once sent, the usual interval applies.
  expect_problem(ask(), 429, "too-many-requests");
  EXPECT_EQ(sms.sends.load(), 1);
}

TEST_F(ApiTest, TooManyRequestsIsAProblemWithRetryAfter) {
  ApiOptions options;
  options.clock = clock_;
  options.rate_limit_per_second = 0.001;
  options.rate_limit_burst = 2;
  Api limited(*engine_, options);
  auto get = [&](const std::string& target, const std::string& address) {
    Request r = Request::make("GET", target);
    r.remote_address = address;
    return limited.handle(r);
  };
  EXPECT_EQ(get("/api/v1/openapi.yaml", "10.0.0.1").status, 200);
  EXPECT_EQ(get("/api/v1/openapi.yaml", "10.0.0.1").status, 200);
  Response r = get("/api/v1/openapi.yaml", "10.0.0.1");
  expect_problem(r, 429, "too-many-requests");
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after = retry_after || (k == "Retry-After" && std::stoi(v) > 0);
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(get("/api/v1/openapi.yaml", "10.0.0.2").status, 200);  // per client
  EXPECT_EQ(get("/healthz", "10.0.0.1").status, 200);              // exempt

  // Each credential has its bucket, but an address cannot escape the limit
  // by sending a new made-up one each time: it may make 16 clients' worth.
  auto with_credential = [&](const std::string& credential) {
    Request bearer = Request::make("GET", "/api/v1/openapi.yaml");
    bearer.remote_address = "10.0.0.3";
    bearer.headers.emplace_back("authorization", "Bearer " + credential);
    return limited.handle(bearer).status;
  };
  int allowed = 0;
  for (int i = 0; i < 200; ++i) allowed += with_credential("made-up-" + std::to_string(i) + std::string(1000, 'x')) != 429;
  EXPECT_EQ(allowed, 32) << "two at once for each of 16 clients";
  EXPECT_EQ(with_credential("made-up-0" + std::string(1000, 'x')), 429);
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
  ApiOptions every_route;
  every_route.controlled_clock = std::make_shared<ManualClock>(0);  // the clock routes exist only then
  Api api(**e, every_route);
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
