// The "one thing" chain through the real engine (not the scenario runner): a
// certificate issued by certificate-new-issue starts linked-services by its
// message start event, the decisions offer the subsidies and start the
// pension contribution, the holder's online consent starts both subsidies, and
// a death record cancels the card, whose certificate-cancelled message stops
// every service that runs. Department systems are in-process connectors that
// answer with fixed data.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "banshi/clock.h"
#include "banshi/engine.h"
#include "calendar/business_calendar.h"
#include "model/iso8601.h"
#include "model/load.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kHolderId = "220102198506150028";
constexpr int64_t kDay = 24LL * 3600 * 1000;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class OneThingEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path dir(BANSHI_WORKFLOWS_DIR);
    store::sqlite::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok());
    auto start = model::parse_date_time(start_time());
    ASSERT_TRUE(start.ok());
    clock_ = std::make_shared<ManualClock>(*start);
    EngineConfig config;
    auto cal = calendar::BusinessCalendar::load_directory((dir / "calendars").string());
    ASSERT_TRUE(cal.ok()) << cal.error().message;
    config.working_days = std::make_shared<calendar::BusinessCalendar>(std::move(cal).value());
    auto e = Engine::open(config, std::move(s).value(), clock_);
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();

    // Decisions first, then every model, as a deployment of the folder would.
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".dmn" || entry.path().extension() == ".bpmn") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      bool da = a.extension() == ".dmn", db = b.extension() == ".dmn";
      return da != db ? da : a < b;
    });
    std::set<std::string> types;
    for (const fs::path& f : files) {
      std::string xml = read_file(f);
      auto deployed = engine_->deploy(f.filename().string(), xml, "test");
      ASSERT_TRUE(deployed.ok()) << f << ": " << deployed.error().message;
      if (f.extension() != ".bpmn") continue;
      auto model = model::load_bpmn(xml);
      ASSERT_TRUE(model.ok());
      for (const model::Process& p : model.definitions->processes) {
        for (const model::FlowNode& n : p.nodes) {
          if (n.job) types.insert(n.job->type);
        }
      }
    }
    for (const std::string& type : types) {
      engine_->register_connector(type, [this, type](const JobContext& job) {
        calls_.push_back(type);
        return JobOutcome::completed(answer(type, job));
      });
    }
  }

  // When the story begins: a Monday.
  virtual const char* start_time() const { return "2026-03-02T09:00:00+08:00"; }

  // Today in China Standard Time on the test's clock, as the registry dates things.
  std::string today() const {
    std::time_t t = static_cast<std::time_t>(clock_->now_ms() / 1000) + 8 * 3600;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
  }

  // What each department system answers for the holder; the DPF registry
  // remembers the card it issued and the day it was cancelled.
  json::object answer(const std::string& type, const JobContext& job) {
    json::object out;
    if (type == "data-sharing.verify-identity") out["identityVerified"] = true;
    if (type == "dpf.issue-certificate") {
      out["certificateNumber"] = std::string(kHolderId) + "11";
      active_card_ = true;
    }
    if (type == "dpf.check-reapply") {
      out["activeCertificateNumber"] = active_card_ ? json::value(std::string(kHolderId) + "11") : json::value();
      out["lastCancellation"] = nullptr;
      out["reapplyFrom"] = nullptr;
      if (!cancelled_on_.empty()) {
        std::string from = std::to_string(std::stoi(cancelled_on_.substr(0, 4)) + 1) + cancelled_on_.substr(4);
        out["lastCancellation"] = json::object{{"certificateNumber", std::string(kHolderId) + "11"},
                                               {"cancelledAt", cancelled_on_},
                                               {"reapplyFrom", from},
                                               {"reason", "not-meeting-standard"}};
        out["reapplyFrom"] = from;
      }
    }
    if (type == "data-sharing.check-assistance") {
      out["dibao"] = true;
      out["tekun"] = false;
    }
    if (type == "data-sharing.lookup-household") out["householdRegion"] = "220102";
    if (type == "civil-affairs.decide-subsidy") {
      out["subsidyGranted"] = true;
      out["subsidyMonthlyAmount"] = 100;
    }
    if (type == "data-sharing.check-death") out["deceased"] = deceased_;
    // The daily data comparison, when scheduled, finds no one to compare here
    // (its own runs are tested in tests/integration/reports_test.cc).
    if (type == "reports.list-comparison-subjects") out["subjects"] = json::array();
    if (type == "dpf.cancel-certificate") {
      out["certificateStatus"] = "cancelled";
      active_card_ = false;
      cancelled_on_ = today();
    }
    (void)job;
    return out;
  }

  std::vector<store::TaskRecord> open_tasks(const std::string& process, const std::string& element) {
    store::TaskQuery q;
    q.process_id = process;
    q.limit = 100;
    auto tasks = engine_->store().tasks(q);
    EXPECT_TRUE(tasks.ok());
    std::vector<store::TaskRecord> out;
    if (!tasks.ok()) return out;
    for (const store::TaskRecord& t : *tasks) {
      if (t.element_id == element) out.push_back(t);
    }
    return out;
  }

  void complete(const std::string& process, const std::string& element, const char* vars) {
    auto tasks = open_tasks(process, element);
    ASSERT_EQ(tasks.size(), 1u) << process << "/" << element;
    auto done = engine_->complete_task(tasks[0].id, json::parse(vars).as_object(), "tester");
    ASSERT_TRUE(done.ok()) << done.error().message;
    engine_->run_until_idle();
  }

  void advance_days(int days) {
    for (int i = 0; i < days; ++i) {
      clock_->advance(kDay);
      engine_->run_until_idle();
    }
  }

  std::vector<store::InstanceRecord> instances_of(const std::string& process) {
    store::InstanceQuery q;
    q.process_id = process;
    q.limit = 100;
    auto list = engine_->store().instances(q);
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<store::InstanceRecord>{};
  }

  // The variables an instance set, ended or not, from its history: the last
  // value recorded for each name.
  json::object variables_set(InstanceId id) {
    json::object out;
    auto history = engine_->store().history(id);
    EXPECT_TRUE(history.ok());
    if (!history.ok()) return out;
    for (const store::HistoryRecord& h : *history) {
      json::value records = json::parse(h.records);
      for (const json::value& v : records.as_array()) {
        const json::object& r = v.as_object();
        const int64_t kind = r.at("k").to_number<int64_t>();
        const json::value* name = r.if_contains("n");
        const json::value* value = r.if_contains("p");
        if ((kind == 10 || kind == 11) && name && name->is_string()) {  // variable created, updated
          out[name->as_string()] = value ? *value : json::value();
        }
      }
    }
    return out;
  }

  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> calls_;
  bool deceased_ = true;      // what the shared death records say
  bool active_card_ = false;  // the registry holds an active card for the holder
  std::string cancelled_on_;  // and cancelled one on this day
};

// Files a new-issue application for the holder and runs it as far as it goes alone.
InstanceId apply_for_a_card(Engine& engine, const std::string& key) {
  StartRequest start;
  start.process_id = "certificate-new-issue";
  start.business_key = key;
  start.variables = json::parse(R"({"applicationId": ")" + key + R"(",
    "applicant": {"name": "刘洋", "idNumber": "220102198506150028", "region": "220102"}})").as_object();
  auto id = engine.start_instance(start);
  EXPECT_TRUE(id.ok()) << id.error().message;
  engine.run_until_idle();
  return id.ok() ? *id : InstanceId{};
}

TEST_F(OneThingEngine, IssuedCertificateStartsTheLinkedServicesAndCancellationStopsThem) {
  StartRequest start;
  start.process_id = "certificate-new-issue";
  start.business_key = "A-2026-0777";
  start.variables = json::parse(R"({"applicationId": "A-2026-0777",
    "applicant": {"name": "刘洋", "idNumber": "220102198506150028", "region": "220102"}})").as_object();
  auto issued = engine_->start_instance(start);
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  engine_->run_until_idle();
  complete("certificate-new-issue", "accept", R"({"accepted": true})");
  complete("certificate-new-issue", "assess", R"({"meetsStandard": true, "disability": {"category": "肢体", "level": "一级"}})");
  advance_days(7);  // public notice: 5 working days
  complete("certificate-new-issue", "review", R"({"approved": true})");

  auto card = engine_->store().instance(*issued);
  ASSERT_TRUE(card.ok() && card->has_value());
  EXPECT_NE((*card)->ended_at, 0) << "certificate-new-issue did not end";

  // certificate-issued started linked-services with the holder data; the
  // decisions offered both subsidies and started the pension contribution.
  auto linked = instances_of("linked-services");
  ASSERT_EQ(linked.size(), 1u);
  EXPECT_EQ(open_tasks("linked-services", "consent").size(), 1u);
  EXPECT_EQ(open_tasks("pension-contribution", "verify").size(), 1u);
  EXPECT_EQ(open_tasks("employment-assistance", "register").size(), 1u);
  EXPECT_TRUE(open_tasks("living-subsidy", "firstCheck").empty()) << "a subsidy started without consent";
  auto view = engine_->inspect_instance(linked[0].id);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(json::serialize(view->variables.at("subsidyEligibility")), R"({"living":true,"nursing":true})");
  EXPECT_EQ(view->variables.at("age"), json::value(40));

  // The holder agrees online: both subsidies start.
  PublishRequest consent;
  consent.name = "subsidy-consent";
  consent.correlation_key = kHolderId;
  consent.variables = json::parse(R"({"consent": {"living": true, "nursing": true}})").as_object();
  auto published = engine_->publish_message(consent);
  ASSERT_TRUE(published.ok());
  engine_->run_until_idle();
  EXPECT_EQ(open_tasks("living-subsidy", "firstCheck").size(), 1u);
  EXPECT_EQ(open_tasks("nursing-subsidy", "firstCheck").size(), 1u);
  complete("pension-contribution", "verify", R"({"enrolled": true})");
  EXPECT_NE(std::find(calls_.begin(), calls_.end(), "social-insurance.pay-contribution"), calls_.end());

  // A death record cancels the card; certificate-cancelled stops everything.
  StartRequest death;
  death.process_id = "certificate-cancellation";
  death.start_event = "deathRecorded";
  death.variables = json::parse(R"({"certificateNumber": "22010219850615002811",
    "applicant": {"name": "刘洋", "idNumber": "220102198506150028", "region": "220102"},
    "cancellation": {"reason": "death"}})").as_object();
  auto cancelled = engine_->start_instance(death);
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  engine_->run_until_idle();

  for (const char* process : {"linked-services", "living-subsidy", "nursing-subsidy", "pension-contribution",
                              "employment-assistance", "certificate-cancellation"}) {
    for (const store::InstanceRecord& r : instances_of(process)) {
      auto now = engine_->store().instance(r.id);
      ASSERT_TRUE(now.ok() && now->has_value());
      EXPECT_NE((*now)->ended_at, 0) << process << " still runs after the cancellation";
    }
  }
  EXPECT_TRUE(open_tasks("living-subsidy", "firstCheck").empty());
  EXPECT_TRUE(open_tasks("employment-assistance", "register").empty());
  EXPECT_NE(std::find(calls_.begin(), calls_.end(), "civil-affairs.stop-subsidy"), calls_.end());
  EXPECT_NE(std::find(calls_.begin(), calls_.end(), "social-insurance.stop-contribution"), calls_.end());
  auto incidents = engine_->store().incidents(0);
  ASSERT_TRUE(incidents.ok());
  EXPECT_TRUE(incidents->empty()) << incidents->front().message;
}

// The one-year rule across the models: a holder whose card is cancelled (no
// longer meeting the standard) and who applies again within the year is
// refused before the window with a reasoned notice; a year after the
// cancellation the same application reaches the window. A second application
// while the card is active is refused too.
// Begins in 2025, so that the year after the cancellation ends within the
// business calendars shipped (2025 and 2026).
class OneThingReapply : public OneThingEngine {
 protected:
  const char* start_time() const override { return "2025-03-03T09:00:00+08:00"; }
};

TEST_F(OneThingReapply, ANewCardIsRefusedWithinAYearOfTheCancellation) {
  deceased_ = false;
  InstanceId first = apply_for_a_card(*engine_, "A-2025-0901");
  complete("certificate-new-issue", "accept", R"({"accepted": true})");
  complete("certificate-new-issue", "assess", R"({"meetsStandard": true, "disability": {"category": "肢体", "level": "三级"}})");
  advance_days(7);
  complete("certificate-new-issue", "review", R"({"approved": true})");
  EXPECT_EQ(variables_set(first)["certificateNumber"], json::value(std::string(kHolderId) + "11"));

  InstanceId twice = apply_for_a_card(*engine_, "A-2025-0902");
  json::object vars = variables_set(twice);
  ASSERT_TRUE(vars["refusal"].is_object()) << json::serialize(vars);
  EXPECT_EQ(vars["refusal"].at("code"), json::value("already-holds-certificate"));
  EXPECT_TRUE(open_tasks("certificate-new-issue", "accept").empty());

  StartRequest cancel;
  cancel.process_id = "certificate-cancellation";
  cancel.variables = json::parse(R"({"certificateNumber": "22010219850615002811",
    "applicant": {"name": "刘洋", "idNumber": "220102198506150028", "region": "220102"},
    "cancellation": {"reason": "not-meeting-standard"}})").as_object();
  ASSERT_TRUE(engine_->start_instance(cancel).ok());
  engine_->run_until_idle();
  complete("certificate-cancellation", "review", R"({"confirmed": true})");
  ASSERT_FALSE(cancelled_on_.empty()) << "the registry was not asked to cancel the card";
  for (const store::InstanceRecord& r : instances_of("linked-services")) {
    auto now = engine_->store().instance(r.id);
    ASSERT_TRUE(now.ok() && now->has_value());
    EXPECT_NE((*now)->ended_at, 0) << "the linked services still run after the cancellation";
  }

  advance_days(30);
  InstanceId soon = apply_for_a_card(*engine_, "A-2025-0903");
  auto soon_record = engine_->store().instance(soon);
  ASSERT_TRUE(soon_record.ok() && soon_record->has_value());
  EXPECT_NE((*soon_record)->ended_at, 0) << "an application within the year was not refused";
  vars = variables_set(soon);
  ASSERT_TRUE(vars["refusal"].is_object()) << json::serialize(vars);
  const json::object& refusal = vars["refusal"].as_object();
  EXPECT_EQ(refusal.at("code"), json::value("reapply-within-one-year"));
  const std::string from = std::to_string(std::stoi(cancelled_on_.substr(0, 4)) + 1) + cancelled_on_.substr(4);
  EXPECT_EQ(refusal.at("reapplyFrom"), json::value(from));
  EXPECT_NE(std::string(refusal.at("reason").as_string()).find(from), std::string::npos) << refusal.at("reason");
  EXPECT_TRUE(open_tasks("certificate-new-issue", "accept").empty());

  clock_->advance(366 * kDay);
  engine_->run_until_idle();
  InstanceId later = apply_for_a_card(*engine_, "A-2026-0904");
  auto at_window = open_tasks("certificate-new-issue", "accept");
  ASSERT_EQ(at_window.size(), 1u) << "a year after the cancellation the application did not reach the window";
  EXPECT_EQ(at_window[0].instance_id, later);
  auto incidents = engine_->store().incidents(0);
  ASSERT_TRUE(incidents.ok());
  EXPECT_TRUE(incidents->empty()) << incidents->front().message;
}

}  // namespace
}  // namespace banshi
