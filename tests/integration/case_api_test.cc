// The case routes and the audit chain, as a pure function over an engine on
// SQLite: audit rows written with their change and hash-chained, the case
// search by applicant (and SQL injection through every filter), the masked
// and full applicant summary, instance modification, the diagram, deploy
// validation without storing, and evaluating a decision.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/api.h"
#include "api_fixture.h"
#include "api/mask.h"
#include "api/password.h"
#include "store/audit_chain.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::api {
namespace {

namespace json = boost::json;

const std::string kCase = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1"
             xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
             xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="c">
  <process id="case" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="accept"/>
    <userTask id="accept" name="Accept" bs:candidateGroups="dpf-county" bs:region="=applicant.region"/>
    <sequenceFlow id="f2" sourceRef="accept" targetRef="review"/>
    <userTask id="review" name="Review" bs:candidateGroups="dpf-county" bs:region="=applicant.region"/>
    <sequenceFlow id="f3" sourceRef="review" targetRef="e"/><endEvent id="e"/>
  </process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="pl" bpmnElement="case">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="10" y="10" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="a_di" bpmnElement="accept"><dc:Bounds x="100" y="0" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="r_di" bpmnElement="review"><dc:Bounds x="250" y="0" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="e_di" bpmnElement="e"><dc:Bounds x="400" y="10" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</definitions>)";

const std::string kNoDiagram = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="n">
  <process id="plain" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

const std::string kDecision = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="t">
  <decision id="subsidy" name="Subsidy">
    <decisionTable id="t" hitPolicy="FIRST">
      <input id="i1" label="Level"><inputExpression id="ie1" typeRef="number"><text>level</text></inputExpression></input>
      <output id="o1" name="amount" typeRef="number"/>
      <rule id="r1"><inputEntry id="e1"><text>&lt;= 2</text></inputEntry><outputEntry id="x1"><text>300</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="e2"><text>&gt; 2</text></inputEntry><outputEntry id="x2"><text>100</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>)";

class CaseApiTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    open_api();
    add_user("des", {"designer"});
    add_user("adm", {"admin"});
    add_user("nanguan", {"staff"}, "dpf", {"220102"});       // 南关区 DPF staff
    add_user("chaoyang", {"staff"}, "dpf", {"220104"});      // 朝阳区 DPF staff
    add_user("civil", {"staff"}, "civil-affairs", {"220102"});
    add_user("boss", {"supervisor"}, "dpf", {"220100"});     // 长春 city
    add_user("mon", {"monitor"}, "", {"220100"});
    as("des");
    ASSERT_EQ(call("POST", "/api/v1/definitions?resource=case.bpmn", kCase, "application/xml").status, 201);
  }

  int64_t start(const std::string& name, const std::string& id_number, const std::string& region,
                const std::string& key) {
    as("des");
    json::object applicant{{"name", name}, {"idNumber", id_number}, {"phone", "13812345678"}, {"region", region}};
    json::object body{{"processId", "case"}, {"businessKey", key}, {"variables", json::object{{"applicant", applicant}}}};
    Response r = call("POST", "/api/v1/instances", json::serialize(body));
    EXPECT_EQ(r.status, 201) << r.body;
    return doc(r)["id"].as_int64();
  }
  int64_t task_of(int64_t instance) {
    store::TaskQuery q;
    q.instance_id = instance;
    auto tasks = engine_->store().tasks(q);
    EXPECT_TRUE(tasks.ok());
    return tasks->empty() ? 0 : tasks->front().id;
  }
  std::vector<store::AuditRecord> chain() {
    auto rows = users_->audit_chain(0, 1000);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<store::AuditRecord>{};
  }
  std::vector<int64_t> ids(const Response& r) {
    std::vector<int64_t> out;
    json::object d = doc(r);
    for (const auto& i : d["items"].as_array()) out.push_back(i.as_object().at("id").as_int64());
    return out;
  }

};

// --- the audit chain ----------------------------------------------------------

TEST_F(CaseApiTest, ChangesWriteTheirAuditRowsChainedAndOnlyWhenApplied) {
  int64_t id = start("张三明", "220102198001010013", "220102", "A-1");
  int64_t task = task_of(id);
  as("nanguan");
  ASSERT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(task) + "/claim", "{}").status, 204);
  ASSERT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(task) + "/complete", "{}").status, 204);
  // Refused by the engine: no row.
  EXPECT_EQ(call("POST", "/api/v1/tasks/" + std::to_string(task) + "/complete", "{}").status, 404);
  as("boss");
  ASSERT_EQ(call("POST", "/api/v1/instances/" + std::to_string(id) + "/cancel", R"({"reason":"withdrawn"})").status,
            204);
  EXPECT_EQ(call("POST", "/api/v1/instances/" + std::to_string(id) + "/cancel", R"({"reason":"again"})").status, 409);

  std::vector<store::AuditRecord> rows = chain();
  std::vector<std::string> actions;
  for (const auto& r : rows) actions.push_back(r.action + " " + r.target);
  const std::vector<std::string> expected{"deploy resource case.bpmn", "claim task " + std::to_string(task),
                                          "complete task " + std::to_string(task),
                                          "cancel instance " + std::to_string(id)};
  EXPECT_EQ(actions, expected);
  store::AuditChainVerifier v;
  for (const auto& r : rows) EXPECT_TRUE(v.add(r)) << v.problem();
  EXPECT_EQ(v.rows(), 4);
  EXPECT_EQ(rows.front().prev_hash, std::string(store::kAuditGenesisHash));
  EXPECT_EQ(rows[1].prev_hash, rows[0].hash);
  EXPECT_EQ(rows.back().detail, "withdrawn");
}

TEST_F(CaseApiTest, AnAuditRowIsNotWrittenWhenItsBatchFails) {
  size_t before = chain().size();
  store::WriteBatch batch;
  store::InstanceRecord ghost;
  ghost.id = 424242;
  ghost.process_id = "case";
  batch.instances.push_back(store::InstanceWrite{ghost, 7});  // a stale version: the batch conflicts
  store::AuditRecord row;
  row.actor = "nobody";
  row.action = "cancel";
  row.target = "instance 424242";
  batch.audit.push_back(row);
  auto written = engine_->store().write(batch);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, "conflict");
  EXPECT_EQ(chain().size(), before);
}

TEST(AuditChain, NamesTheFirstChangedOrRemovedRow) {
  std::vector<store::AuditRecord> rows;
  std::string prev(store::kAuditGenesisHash);
  for (int i = 1; i <= 5; ++i) {
    store::AuditRecord r;
    r.id = i;
    r.at = 1000 + i;
    r.actor = "wang";
    r.action = "claim";
    r.target = "task " + std::to_string(i);
    r.prev_hash = prev;
    r.hash = store::audit_row_hash(r, prev);
    prev = r.hash;
    rows.push_back(r);
  }
  {
    store::AuditChainVerifier v;
    for (const auto& r : rows) ASSERT_TRUE(v.add(r));
    EXPECT_EQ(v.head(), rows.back().hash);
  }
  {  // a changed field
    auto changed = rows;
    changed[2].actor = "li";
    store::AuditChainVerifier v;
    for (const auto& r : changed) v.add(r);
    EXPECT_EQ(v.first_bad_id(), 3);
    EXPECT_NE(v.problem().find("row 3 was changed"), std::string::npos) << v.problem();
  }
  {  // a changed row whose hash was recomputed: the next row no longer follows
    auto changed = rows;
    changed[1].detail = "x";
    changed[1].hash = store::audit_row_hash(changed[1], changed[1].prev_hash);
    store::AuditChainVerifier v;
    for (const auto& r : changed) v.add(r);
    EXPECT_EQ(v.first_bad_id(), 3);
  }
  {  // a removed row
    auto removed = rows;
    removed.erase(removed.begin() + 3);
    store::AuditChainVerifier v;
    for (const auto& r : removed) v.add(r);
    EXPECT_EQ(v.first_bad_id(), 4);
    EXPECT_NE(v.problem().find("row 4 was removed"), std::string::npos) << v.problem();
  }
  {  // the first row removed
    store::AuditChainVerifier v;
    for (size_t i = 1; i < rows.size(); ++i) v.add(rows[i]);
    EXPECT_EQ(v.first_bad_id(), 1);
  }
}

// --- masks ----------------------------------------------------------------------

TEST(Mask, IdNumbersPhonesAndNames) {
  EXPECT_EQ(mask_id_number("220102198001011234"), "220102********1234");
  EXPECT_EQ(mask_phone("13812345678"), "138****5678");
  EXPECT_EQ(mask_name("张三明"), "张*明");
  EXPECT_EQ(mask_name("欧阳小华"), "欧**华");
  EXPECT_EQ(mask_name("李四"), "李*");
  EXPECT_EQ(mask_name("王"), "*");
  EXPECT_EQ(mask_name(""), "");
  EXPECT_EQ(mask_id_number("12345"), "***45");
  EXPECT_TRUE(valid_id_number("22010219800101123X"));
  EXPECT_TRUE(valid_id_number("220102800101123"));
  EXPECT_FALSE(valid_id_number("22010219800101123Y"));
  EXPECT_FALSE(valid_id_number("' OR 1=1 --"));
}

TEST(Mask, PersonalValuesAnywhereInJsonByTheirKeys) {
  json::value v = json::parse(R"({
    "applicant": {"name": "张三明", "idNumber": "220102198001011234", "phone": "13812345678",
                  "address": "长春市南关区人民大街100号", "region": "220102", "level": 2},
    "guardians": [{"姓名": "李四", "mobile": 13900001111}],
    "bankAccount": "6222020200112233", "TEL": "0431-8888", "processName": "x", "approved": true,
    "memo": "张三明 220102198001011234", "amount": 300
  })");
  mask_personal(v);
  json::object& o = v.as_object();
  json::object& a = o["applicant"].as_object();
  EXPECT_EQ(a["name"], json::value("张*明"));
  EXPECT_EQ(a["idNumber"], json::value("220102********1234"));
  EXPECT_EQ(a["phone"], json::value("138****5678"));
  EXPECT_EQ(a["address"], json::value("********100号"));
  EXPECT_EQ(a["region"], json::value("220102"));  // not personal
  EXPECT_EQ(a["level"], json::value(2));
  json::object& g = o["guardians"].as_array()[0].as_object();
  EXPECT_EQ(g["姓名"], json::value("李*"));
  EXPECT_EQ(g["mobile"], json::value("139****1111"));  // a number is masked as its digits
  EXPECT_EQ(o["bankAccount"], json::value("********2233"));
  EXPECT_EQ(o["TEL"], json::value("043**8888"));
  EXPECT_EQ(o["processName"], json::value("*"));  // any "name" is masked, as the console does
  EXPECT_EQ(o["approved"], json::value(true));
  EXPECT_EQ(o["amount"], json::value(300));
  // Free text under a key that names nothing personal is left alone: keys, not contents, decide.
  EXPECT_EQ(o["memo"], json::value("张三明 220102198001011234"));
  // A business or correlation key is masked when it has an ID number's shape.
  json::value keys = json::parse(R"({"rating": {"businessKey": "220102198001011234"}, "correlationKey": "A-7"})");
  mask_personal(keys);
  EXPECT_EQ(keys.at("rating").at("businessKey"), json::value("220102********1234"));
  EXPECT_EQ(keys.at("correlationKey"), json::value("A-7"));
  // A bare value takes the key it is given.
  json::value bare("220102198001011234");
  mask_personal(bare, "idCard");
  EXPECT_EQ(bare, json::value("220102********1234"));
}

// --- the case search --------------------------------------------------------------

TEST_F(CaseApiTest, SearchByApplicantRegionStatusDatesWithPaging) {
  int64_t a = start("张三明", "220102198001010013", "220102", "A-1");
  clock_->advance(1000);
  int64_t b = start("李四", "220104199002020024", "220104", "A-2");
  clock_->advance(1000);
  int64_t c = start("张三", "220102197503030035", "220102", "A-3");
  as("des");
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?applicantIdNumber=220104199002020024")), std::vector<int64_t>{b});
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?applicantName=%E5%BC%A0%E4%B8%89")), std::vector<int64_t>{c});
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?applicantName=%E5%BC%A0%E4%B8%89&namePrefix=true")),
            (std::vector<int64_t>{c, a}));
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220102")), (std::vector<int64_t>{c, a}));
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220100")), (std::vector<int64_t>{c, b, a}));
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220102&limit=1")), std::vector<int64_t>{c});
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220102&limit=1&offset=1")), std::vector<int64_t>{a});
  int64_t t0 = 1'770'000'000'000;
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?startedAfter=" + std::to_string(t0 + 500) +
                                "&startedBefore=" + std::to_string(t0 + 1500))),
            std::vector<int64_t>{b});
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?status=completed")), std::vector<int64_t>{});
  // Lists show the applicant masked.
  json::object first = doc(call("GET", "/api/v1/instances?applicantIdNumber=220102198001010013"))["items"]
                           .as_array()[0]
                           .as_object();
  EXPECT_EQ(first["applicantName"], json::value("张*明"));
  EXPECT_EQ(first["applicantIdNumber"], json::value("220102********0013"));
  EXPECT_EQ(first["region"], json::value("220102"));
  // Staff find the cases of their region only, whatever they ask for.
  as("nanguan");
  EXPECT_EQ(ids(call("GET", "/api/v1/instances")), (std::vector<int64_t>{c, a}));
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220104")), std::vector<int64_t>{});
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?applicantIdNumber=220104199002020024")), std::vector<int64_t>{});
  as("boss");
  EXPECT_EQ(ids(call("GET", "/api/v1/instances?region=220000")), (std::vector<int64_t>{c, b, a}));
}

TEST_F(CaseApiTest, SqlInjectionThroughEveryFilterChangesAndLeaksNothing) {
  int64_t a = start("张三明", "220102198001010013", "220102", "A-1");
  start("李四", "220104199002020024", "220104", "A-2");
  const std::vector<std::string> attacks{
      "' OR '1'='1",       "1' OR 1=1 --",  "x'; DROP TABLE instances; --", "%",  "_",
      "\" OR \"\"=\"",     "1) OR (1=1",     "220102' UNION SELECT id, state FROM instances --",
      "'; UPDATE audit SET actor='x'; --", "*", "0x27", "\\'",
  };
  const std::vector<std::string> filters{"processId", "businessKey", "status", "startedAfter", "startedBefore",
                                         "applicantIdNumber", "applicantName", "namePrefix", "region", "offset",
                                         "limit"};
  auto encode = [](const std::string& v) {
    std::string out;
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : v) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  };
  size_t audit_before = chain().size();
  as("nanguan");  // a caller limited to 220102: nothing of 220104 may leak
  int tried = 0;
  for (const std::string& f : filters) {
    for (const std::string& attack : attacks) {
      Response r = call("GET", "/api/v1/instances?" + f + "=" + encode(attack));
      ++tried;
      ASSERT_TRUE(r.status == 200 || r.status == 400) << f << "=" << attack << ": " << r.status << " " << r.body;
      if (r.status == 200) {
        for (int64_t id : ids(r)) EXPECT_EQ(id, a) << f << "=" << attack << " leaked instance " << id;
        // Only the name filter may match anything here, and these are no one's names.
        if (f == "applicantName" || f == "businessKey" || f == "processId" || f == "applicantIdNumber") {
          EXPECT_TRUE(ids(r).empty()) << f << "=" << attack << ": " << r.body;
        }
      }
      EXPECT_EQ(r.body.find("state"), std::string::npos) << f << "=" << attack;
    }
  }
  EXPECT_EQ(tried, static_cast<int>(filters.size() * attacks.size()));
  // Nothing changed: both instances, their tasks and the audit trail as they were.
  auto all = engine_->store().instances(store::InstanceQuery{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(chain().size(), audit_before);
  store::AuditChainVerifier v;
  for (const auto& row : chain()) EXPECT_TRUE(v.add(row)) << v.problem();
}

// --- the applicant summary ------------------------------------------------------------

TEST_F(CaseApiTest, ApplicantSummaryMaskedAndFullWithAudit) {
  int64_t id = start("张三明", "220102198001011234", "220102", "A-1");
  std::string path = "/api/v1/instances/" + std::to_string(id) + "/applicant";
  as("nanguan");
  Response masked = call("GET", path);
  ASSERT_EQ(masked.status, 200) << masked.body;
  json::object m = doc(masked);
  EXPECT_EQ(m["name"], json::value("张*明"));
  EXPECT_EQ(m["idNumber"], json::value("220102********1234"));
  EXPECT_EQ(m["phone"], json::value("138****5678"));
  EXPECT_EQ(m["masked"], json::value(true));
  EXPECT_EQ(m["mayShowFull"], json::value(true));
  size_t rows = chain().size();
  EXPECT_EQ(rows, 1u);  // the deployment; a masked view is not audited

  Response full = call("GET", path + "?full=true");
  ASSERT_EQ(full.status, 200) << full.body;
  json::object f = doc(full);
  EXPECT_EQ(f["name"], json::value("张三明"));
  EXPECT_EQ(f["idNumber"], json::value("220102198001011234"));
  EXPECT_EQ(f["phone"], json::value("13812345678"));
  std::vector<store::AuditRecord> after = chain();
  ASSERT_EQ(after.size(), rows + 1);
  EXPECT_EQ(after.back().actor, "nanguan");
  EXPECT_EQ(after.back().action, "view-applicant");
  EXPECT_EQ(after.back().target, "instance " + std::to_string(id));
  // The personal data itself is never in the audit trail.
  EXPECT_EQ(after.back().detail.find("220102198001011234"), std::string::npos);

  // Another district's staff: nothing; another department of the region: masked only.
  as("chaoyang");
  EXPECT_EQ(call("GET", path).status, 403);
  EXPECT_EQ(call("GET", path + "?full=true").status, 403);
  as("civil");
  EXPECT_EQ(call("GET", path).status, 200);
  EXPECT_EQ(doc(call("GET", path))["mayShowFull"], json::value(false));
  EXPECT_EQ(call("GET", path + "?full=true").status, 403);
  // A monitor of the city: masked only. The city's supervisor and an admin: in full.
  as("mon");
  EXPECT_EQ(call("GET", path).status, 200);
  EXPECT_EQ(call("GET", path + "?full=true").status, 403);
  as("boss");
  EXPECT_EQ(call("GET", path + "?full=true").status, 200);
  as("adm");
  EXPECT_EQ(call("GET", path + "?full=true").status, 200);
  EXPECT_EQ(chain().size(), rows + 3);
  as("nanguan");
  EXPECT_EQ(call("GET", path + "?full=maybe").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/instances/99999/applicant").status, 404);
}

// The history carries every value the variables took: masked for everyone,
// and, like every route of a case as a whole, for the case's region only.
TEST_F(CaseApiTest, HistoryIsMaskedAndCaseRoutesKeepToTheCallersRegions) {
  add_user("far", {"supervisor"}, "dpf", {"220200"});  // 吉林 city
  add_user("farmon", {"monitor"}, "", {"230100"});
  int64_t id = start("张三明", "220102198001011234", "220102", "H-1");
  const std::string base = "/api/v1/instances/" + std::to_string(id);
  for (const char* who : {"boss", "mon", "des"}) {
    as(who);
    Response h = call("GET", base + "/history");
    ASSERT_EQ(h.status, 200) << who << ": " << h.body;
    EXPECT_EQ(h.body.find("220102198001011234"), std::string::npos) << who;
    EXPECT_EQ(h.body.find("张三明"), std::string::npos) << who;
    EXPECT_EQ(h.body.find("13812345678"), std::string::npos) << who;
    EXPECT_NE(h.body.find("220102********1234"), std::string::npos) << who;
    EXPECT_NE(h.body.find("138****5678"), std::string::npos) << who;
    EXPECT_NE(h.body.find("\"accept\""), std::string::npos) << who << ": the path taken is still there";
    EXPECT_EQ(call("GET", base).status, 200) << who;
    EXPECT_EQ(call("GET", base + "/active-elements").status, 200) << who;
  }
  // In full only through the audited route, for the city's supervisor.
  as("boss");
  Response full = call("GET", base + "/variables");
  ASSERT_EQ(full.status, 200) << full.body;
  EXPECT_NE(full.body.find("220102198001011234"), std::string::npos);

  // Another city's supervisor and another province's monitor: none of it.
  for (const char* who : {"far", "farmon"}) {
    as(who);
    for (const std::string& path : {base, base + "/history", base + "/active-elements", base + "/variables"}) {
      Response r = call("GET", path);
      EXPECT_EQ(r.status, 403) << who << " GET " << path << ": " << r.body;
      EXPECT_EQ(r.body.find("220102198001011234"), std::string::npos);
    }
  }
  as("far");
  EXPECT_EQ(call("POST", base + "/cancel", R"({"reason":"not mine"})").status, 403);
  EXPECT_EQ(call("POST", base + "/modify", R"({"reason":"r","instructions":[{"type":"cancel","activityId":"accept"}]})")
                .status,
            403);
  auto still = engine_->store().instance(id);
  ASSERT_TRUE(still.ok() && *still);
  EXPECT_EQ((*still)->status, 1) << "a supervisor of another city changed the case";
  EXPECT_EQ(call("GET", "/api/v1/instances/99999/history").status, 404);
}

// The history comes a page at a time, in seq order; `next` leads to the
// following page and is gone on the last one.
TEST_F(CaseApiTest, HistoryComesAPageAtATime) {
  int64_t id = start("张三明", "220102198001011234", "220102", "H-2");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(engine_->set_variables(id, json::object{{"note", i}}).ok());
  as("boss");
  const std::string base = "/api/v1/instances/" + std::to_string(id) + "/history";
  Response whole = call("GET", base);
  ASSERT_EQ(whole.status, 200) << whole.body;
  json::object all = doc(whole);
  const size_t n = all["items"].as_array().size();
  ASSERT_GE(n, 5u) << "the start and four changes";
  EXPECT_FALSE(all.contains("next")) << "one page holds it all";
  std::vector<int64_t> seqs;
  std::string after = "0";
  for (size_t page = 0; page <= n; ++page) {
    Response r = call("GET", base + "?limit=2&after=" + after);
    ASSERT_EQ(r.status, 200) << r.body;
    json::object d = doc(r);
    EXPECT_LE(d["items"].as_array().size(), 2u);
    for (const auto& item : d["items"].as_array()) seqs.push_back(item.as_object().at("seq").as_int64());
    if (!d.contains("next")) break;
    after = std::to_string(d["next"].as_int64());
  }
  ASSERT_EQ(seqs.size(), n) << "every entry once";
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(seqs[i], all["items"].as_array()[i].as_object().at("seq").as_int64());
  EXPECT_EQ(call("GET", base + "?limit=0").status, 400);
  EXPECT_EQ(call("GET", base + "?limit=1001").status, 400);
  EXPECT_EQ(call("GET", base + "?after=-1").status, 400);
  EXPECT_EQ(call("GET", base + "?page=2").status, 400);
}

// --- instance modification --------------------------------------------------------------

TEST_F(CaseApiTest, ModifyMovesTokensAllOrNothingAndIsAudited) {
  int64_t id = start("张三明", "220102198001010013", "220102", "A-1");
  std::string path = "/api/v1/instances/" + std::to_string(id);
  auto active = [&] {
    as("des");
    std::set<std::string> out;
    json::object d = doc(call("GET", path + "/active-elements"));
    for (const auto& a : d["items"].as_array()) {
      out.insert(std::string(a.as_object().at("elementId").as_string()));
    }
    return out;
  };
  EXPECT_EQ(active(), std::set<std::string>{"accept"});
  as("boss");
  // One instruction the engine refuses: none is applied.
  Response refused = call("POST", path + "/modify",
                          R"({"reason":"skip acceptance","instructions":[{"type":"cancel","activityId":"accept"},)"
                          R"({"type":"startBeforeActivity","activityId":"nowhere"}]})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(active(), std::set<std::string>{"accept"});
  size_t rows = chain().size();
  as("boss");
  Response done = call("POST", path + "/modify",
                       R"({"reason":"accepted at the window","instructions":[{"type":"cancel","activityId":"accept"},)"
                       R"({"type":"startBeforeActivity","activityId":"review"},)"
                       R"({"type":"setVariables","variables":{"acceptedAtWindow":true}}]})");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(active(), std::set<std::string>{"review"});
  auto view = engine_->inspect_instance(id);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->variables["acceptedAtWindow"], json::value(true));
  std::vector<store::AuditRecord> after = chain();
  ASSERT_EQ(after.size(), rows + 1);
  EXPECT_EQ(after.back().action, "modify");
  EXPECT_EQ(after.back().actor, "boss");
  EXPECT_NE(after.back().detail.find("accepted at the window"), std::string::npos);
  EXPECT_NE(after.back().detail.find("acceptedAtWindow"), std::string::npos);
  // Bad input changes nothing.
  as("boss");
  EXPECT_EQ(call("POST", path + "/modify", R"({"instructions":[{"type":"cancel","activityId":"review"}]})").status,
            400);  // no reason
  EXPECT_EQ(call("POST", path + "/modify", R"({"reason":"r","instructions":[]})").status, 400);
  EXPECT_EQ(call("POST", path + "/modify", R"({"reason":"r","instructions":[{"type":"jump"}]})").status, 400);
  EXPECT_EQ(call("POST", path + "/modify", R"({"reason":"r","instructions":[{"type":"cancel","activityId":"a'--"}]})")
                .status,
            400);
  EXPECT_EQ(call("POST", path + "/modify", R"({"reason":"r","instructions":[{"type":"cancel","activityId":"accept"}]})")
                .status,
            409);  // nothing active there now
  EXPECT_EQ(active(), std::set<std::string>{"review"});
  EXPECT_EQ(chain().size(), rows + 1);
  as("nanguan");
  EXPECT_EQ(call("POST", path + "/modify", R"({"reason":"r","instructions":[{"type":"cancel","activityId":"review"}]})")
                .status,
            403);
}

// --- diagram, validation, decisions -------------------------------------------------------

TEST_F(CaseApiTest, DiagramValidateOnlyAndDecisionEvaluation) {
  as("nanguan");
  Response diagram = call("GET", "/api/v1/definitions/case/diagram");
  ASSERT_EQ(diagram.status, 200) << diagram.body;
  EXPECT_EQ(diagram.content_type, "application/xml");
  EXPECT_NE(diagram.body.find("BPMNDiagram"), std::string::npos);
  EXPECT_EQ(call("GET", "/api/v1/definitions/case/diagram?version=1").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/definitions/case/diagram?version=9").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/definitions/case/diagram?version=x").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/definitions/nothing/diagram").status, 404);

  as("des");
  ASSERT_EQ(call("POST", "/api/v1/definitions?resource=plain.bpmn", kNoDiagram, "application/xml").status, 201);
  EXPECT_EQ(call("GET", "/api/v1/definitions/plain/diagram").status, 404);

  // validateOnly: the report, nothing stored, no audit row.
  size_t rows = chain().size();
  std::string broken = kCase;
  broken.replace(broken.find("targetRef=\"review\""), 18, "targetRef=\"nowhere\"");
  broken.replace(broken.find("id=\"case\""), 9, "id=\"case2\"");
  Response report = call("POST", "/api/v1/definitions?resource=b.bpmn&validateOnly=true", broken, "application/xml");
  ASSERT_EQ(report.status, 200) << report.body;
  json::object r = doc(report);
  EXPECT_EQ(r["valid"], json::value(false));
  ASSERT_FALSE(r["diagnostics"].as_array().empty());
  EXPECT_EQ(std::string(r["diagnostics"].as_array()[0].as_string()).rfind("b.bpmn:", 0), 0u);
  EXPECT_GT(r["items"].as_array()[0].as_object().at("line").as_int64(), 0);
  Response good = call("POST", "/api/v1/definitions/validate", kNoDiagram, "application/xml");
  EXPECT_EQ(doc(good)["valid"], json::value(true)) << good.body;
  EXPECT_EQ(call("GET", "/api/v1/definitions?processId=case2").body.find("case2"), std::string::npos);
  EXPECT_EQ(chain().size(), rows);

  // Decisions: designers, admins and staff evaluate; the result and the rules that matched.
  ASSERT_EQ(call("POST", "/api/v1/definitions?resource=subsidy.dmn", kDecision, "application/xml").status / 100, 2);
  as("nanguan");
  Response eval = call("POST", "/api/v1/decisions/subsidy/evaluate", R"({"variables":{"level":1}})");
  ASSERT_EQ(eval.status, 200) << eval.body;
  json::object e = doc(eval);
  EXPECT_EQ(e["decisionId"], json::value("subsidy"));
  EXPECT_EQ(e["version"], json::value(1));
  EXPECT_EQ(json::serialize(e["result"]), "300");
  ASSERT_EQ(e["matchedRules"].as_array().size(), 1u);
  EXPECT_NE(std::string(e["matchedRules"].as_array()[0].as_string()).find("1"), std::string::npos);
  Response other = call("POST", "/api/v1/decisions/subsidy/evaluate", R"({"variables":{"level":4},"version":1})");
  EXPECT_EQ(json::serialize(doc(other)["result"]), "100");
  EXPECT_EQ(call("POST", "/api/v1/decisions/none/evaluate", "{}").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/decisions/subsidy/evaluate", R"({"variables":3})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/decisions/a:b/evaluate", "{}").status, 400);
  as("mon");
  EXPECT_EQ(call("POST", "/api/v1/decisions/subsidy/evaluate", "{}").status, 403);
}

}  // namespace
}  // namespace banshi::api
