// The history entry written as text is the JSON the Boost.JSON object writer
// gave before (same members, same order, same escapes), and always parses.
#include "exec/history_json.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "expr/json_text.h"
#include "model/load.h"

namespace banshi::exec {
namespace {

namespace json = boost::json;
using core::Record;
using core::RecordKind;

constexpr const char* kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="to_review" sourceRef="start" targetRef="review"/>
    <userTask id="review" name="审核" bs:candidateGroups="clerks"/>
    <sequenceFlow id="to_end" sourceRef="review" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>)";

// What the entry was before it was written as text: one object per record.
std::string with_objects(const core::ExecutableProcess& p, const std::vector<Record>& records) {
  json::array out;
  for (const Record& r : records) {
    json::object o;
    o["k"] = static_cast<int>(r.kind);
    if (r.key != 0) o["key"] = r.key;
    if (r.element != model::kNoIndex) {
      o["el"] = r.kind == RecordKind::kSequenceFlowTaken ? p.flow(r.element).id : p.node(r.element).id;
    }
    if (r.scope != 0) o["scope"] = r.scope;
    if (r.due_at != 0) o["due"] = r.due_at;
    if (!r.name.empty()) o["n"] = r.name;
    if (!r.text.empty()) o["t"] = r.text;
    if (!r.payload.is_null()) o["p"] = r.payload;
    out.push_back(std::move(o));
  }
  return expr::json_text(out);
}

class HistoryJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = model::load_bpmn(kModel);
    std::string why;
    for (const auto& d : loaded.diagnostics) why += model::format_diagnostic(d, "model.bpmn") + "\n";
    ASSERT_TRUE(loaded.ok()) << why;
    defs_ = loaded.definitions;
    process_ = std::make_unique<core::ExecutableProcess>(defs_, defs_->processes.front());
  }
  model::Index node(const std::string& id) const {
    for (size_t i = 0; i < defs_->processes.front().nodes.size(); ++i) {
      if (defs_->processes.front().nodes[i].id == id) return static_cast<model::Index>(i);
    }
    return model::kNoIndex;
  }
  model::Index flow(const std::string& id) const {
    for (size_t i = 0; i < defs_->processes.front().flows.size(); ++i) {
      if (defs_->processes.front().flows[i].id == id) return static_cast<model::Index>(i);
    }
    return model::kNoIndex;
  }

  std::shared_ptr<const model::Definitions> defs_;
  std::unique_ptr<core::ExecutableProcess> process_;
};

TEST_F(HistoryJsonTest, WritesWhatTheObjectWriterWrote) {
  std::vector<Record> records;
  records.emplace_back(RecordKind::kElementActivating, 1, node("start"));
  records.emplace_back(RecordKind::kSequenceFlowTaken, 2, flow("to_review"), 1);
  Record variable(RecordKind::kVariableCreated, 1, model::kNoIndex, 0);
  variable.name = "申请人 \"王\"\n\t\\ \x01 /";
  variable.payload = json::parse(R"({"level":"一级","n":[1,2.5,-3,true,null],"s":"a\"b"})");
  records.push_back(variable);
  Record job(RecordKind::kJobCreated, 7, node("review"), 3);
  job.name = "civil-affairs";
  job.due_at = 1764460800123;
  job.payload = json::object{{"retries", 3}};
  records.push_back(job);
  Record incident(RecordKind::kIncidentCreated, UINT64_MAX, node("review"));
  incident.name = "expression-failed";
  incident.text = "=a + 1: \u2028 line 1:3 \x7f";
  records.push_back(incident);
  records.emplace_back(RecordKind::kElementCompleted, 0, node("end"));

  const std::string text = history_json(*process_, records);
  EXPECT_EQ(text, with_objects(*process_, records));
  EXPECT_NE(text.find("[1,2.5,-3,true,null]"), std::string::npos) << text;  // not 2.5E0
  EXPECT_EQ(json::parse(text).as_array().size(), records.size());
}

TEST_F(HistoryJsonTest, AnEmptyStepIsAnEmptyArray) {
  EXPECT_EQ(history_json(*process_, {}), "[]");
}

TEST_F(HistoryJsonTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  Record r(RecordKind::kIncidentCreated, 5, node("review"));
  r.text = std::string("bad \xff\xc3 end \xe4\xb8", 13);
  const std::string text = history_json(*process_, {r});
  json::error_code ec;
  json::value v = json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  EXPECT_EQ(v.as_array()[0].as_object().at("t").as_string(), "bad \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace banshi::exec
