// The task list's text writer against the object the single-task route
// builds: the same JSON for every shape of task, and a damaged payload shown
// as a string rather than breaking the response.
#include <random>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/task_json.h"

namespace banshi::api {
namespace {

namespace json = boost::json;

store::TaskRecord sample() {
  store::TaskRecord t;
  t.id = 42;
  t.instance_id = 7;
  t.process_id = "certificate-new-issue";
  t.element_id = "review";
  t.name = "审核 \"申请\" \\ 材料\n第二行\t\x01";
  t.business_key = "B-1";
  t.candidate_groups = {"dpf-county", "dpf-city"};
  t.candidate_users = {"li"};
  t.region = "220102";
  t.form_key = "forms/review.json";
  t.priority = 50;
  t.created_at = 1795999852878;
  t.sla_state = 1;
  t.payload = R"({"name":"审核","n":[1,2.5,true,null],"o":{}})";
  return t;
}

json::value written(const store::TaskRecord& t) {
  std::string out;
  append_task_json(out, t);
  json::error_code ec;
  json::value v = json::parse(out, ec);
  EXPECT_FALSE(ec) << out;
  return v;
}

TEST(TaskJson, TheTextWriterMatchesTheObject) {
  store::TaskRecord t = sample();
  EXPECT_EQ(written(t), json::value(task_json(t)));
  t.assignee = "wang";
  t.due_at = 1796000000000;
  t.follow_up_at = 1795990000000;
  t.sla_state = 200;  // an unknown code is "unknown" in both
  t.candidate_groups.clear();
  t.candidate_users.clear();
  EXPECT_EQ(written(t), json::value(task_json(t)));
  EXPECT_EQ(written(t).as_object().at("slaState"), json::value("unknown"));
  t.payload.clear();
  EXPECT_EQ(written(t).as_object().at("payload"), json::value(nullptr));
  EXPECT_EQ(written(t), json::value(task_json(t)));
}

TEST(TaskJson, ADamagedPayloadIsShownAsAString) {
  store::TaskRecord t = sample();
  for (std::string bad : {std::string(R"({"a":)"), std::string("{} {}"), std::string("nul"),
                          std::string(R"({"a":1}x)")}) {
    t.payload = bad;
    EXPECT_EQ(written(t).as_object().at("payload"), json::value(bad)) << bad;
    EXPECT_EQ(written(t), json::value(task_json(t))) << bad;
  }
  // Bytes that are not UTF-8, in the payload or a name: the response still
  // parses, with U+FFFD in their place.
  t.payload = "\"a\xff" "b\"";
  EXPECT_EQ(written(t).as_object().at("payload"), json::value(std::string("\"a\xef\xbf\xbd") + "b\""));
  t.name = "x\xc3\x28\xed\xa0\x80\xf0\x82\x82\xac\xe4\xb8";  // bad lead, surrogate, overlong, cut short
  const std::string r = "\xef\xbf\xbd";
  std::string want = "x" + r + "(";
  for (int i = 0; i < 9; ++i) want += r;
  EXPECT_EQ(written(t).as_object().at("name"), json::value(want));
}

TEST(TaskJson, StringsSurviveEveryByteBelowAndAroundTheEscapes) {
  std::mt19937 random(3);
  for (int round = 0; round < 500; ++round) {
    std::string s;
    for (int i = static_cast<int>(random() % 20); i > 0; --i) s += static_cast<char>(random() % 0x80);
    std::string out;
    append_json_string(out, s);
    json::error_code ec;
    json::value v = json::parse(out, ec);
    ASSERT_FALSE(ec) << out;
    EXPECT_EQ(v, json::value(s));
  }
}

TEST(TaskJson, WellFormedTextIsRecognised) {
  EXPECT_TRUE(is_json_text(R"({"a":[1,2,{"b":null}]})"));
  EXPECT_TRUE(is_json_text(" 3 "));
  EXPECT_TRUE(is_json_text(R"("中文")"));
  EXPECT_FALSE(is_json_text(""));
  EXPECT_FALSE(is_json_text("{"));
  EXPECT_FALSE(is_json_text("[1,]"));
  EXPECT_FALSE(is_json_text("1 2"));
  EXPECT_FALSE(is_json_text("\"\xc3\x28\""));  // invalid UTF-8
}

}  // namespace
}  // namespace banshi::api
