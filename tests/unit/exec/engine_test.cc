// The engine service on a real store, SQLite and PostgreSQL (when
// BANSHI_TEST_PG_URL is set): deploy, run, persist, restart.
#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "banshi/engine.h"
#include "core/records.h"
#include "core/serialize.h"
#include "model/iso8601.h"
#include "store/auth_store.h"
#include "store/sqlite/sqlite_store.h"
#include "test_util.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kHeader = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">)";

const std::string kStraight = kHeader + R"(
  <process id="straight" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="calc"/>
    <serviceTask id="calc" bs:connector="calc" bs:retries="3" bs:retryBackoff="PT10S"/>
    <sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="big"><conditionExpression>=fee &gt; 100</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="small"/>
    <endEvent id="big"/><endEvent id="small"/>
  </process></definitions>)";

const std::string kReview = kHeader + R"(
  <process id="review" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="审核" bs:candidateGroups="dpf-county" bs:region="=region"/>
    <boundaryEvent id="late" attachedToRef="check" cancelActivity="false">
      <timerEventDefinition><timeDuration>P2D</timeDuration></timerEventDefinition></boundaryEvent>
    <sequenceFlow id="f2" sourceRef="late" targetRef="remind"/>
    <serviceTask id="remind" bs:connector="remind"/>
    <sequenceFlow id="f3" sourceRef="remind" targetRef="reminded"/><endEvent id="reminded"/>
    <sequenceFlow id="f4" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";

const std::string kMessages = kHeader + R"(
  <message id="m" name="assessment-done" bs:correlationKey="=applicationId"/>
  <message id="ms" name="application-received"/>
  <process id="wait" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <receiveTask id="w" messageRef="m"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="intake" isExecutable="true">
    <startEvent id="ms1"><messageEventDefinition messageRef="ms"/></startEvent>
    <sequenceFlow id="g1" sourceRef="ms1" targetRef="ge"/><endEvent id="ge"/>
  </process></definitions>)";

const std::string kParent = kHeader + R"(
  <process id="parent" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
    <callActivity id="call" calledElement="child"/>
    <sequenceFlow id="f2" sourceRef="call" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="child" isExecutable="true">
    <startEvent id="cs"/><sequenceFlow id="c1" sourceRef="cs" targetRef="work"/>
    <serviceTask id="work" bs:connector="calc"/>
    <sequenceFlow id="c2" sourceRef="work" targetRef="ce"/><endEvent id="ce"/>
  </process></definitions>)";

class EngineTest : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << store::testing::kNoPostgres;
    clock_ = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  }

  // An engine on the test's database; every engine opened in a test sees
  // the same data, as a restarted node would.
  std::unique_ptr<Engine> open() {
    auto s = db_.open();
    EXPECT_NE(s, nullptr);
    auto e = Engine::open(EngineConfig{}, std::move(s), clock_);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return std::move(e).value();
  }

  // Nodes a and b on the test's database, both started, the messages model
  // deployed. Once `armed` is set, a's next commit first runs meanwhile(b) on
  // another thread and waits for it: b acts while a's transaction is open.
  struct TwoNodes {
    std::unique_ptr<Engine> a, b;
  };
  TwoNodes two_nodes(std::atomic<bool>& armed, std::function<void(Engine& b)> meanwhile) {
    auto b_ptr = std::make_shared<Engine*>(nullptr);
    auto a_store = db_.open([&armed, b_ptr, meanwhile] {
      if (!armed.exchange(false)) return;
      std::thread other([&] { meanwhile(**b_ptr); });
      other.join();
    });
    TwoNodes nodes;
    if (!a_store) return nodes;
    auto a = Engine::open(EngineConfig{}, std::move(a_store), clock_);
    EngineConfig second;
    second.node_id = "banshi-2";
    auto b = Engine::open(second, db_.open(), clock_);
    if (!a.ok() || !b.ok()) {
      ADD_FAILURE() << "cannot open the nodes: " << (a.ok() ? b.error().message : a.error().message);
      return nodes;
    }
    nodes.a = std::move(a).value();
    nodes.b = std::move(b).value();
    *b_ptr = nodes.b.get();
    EXPECT_TRUE(nodes.a->deploy("messages.bpmn", kMessages, "designer").ok());
    nodes.a->start();
    nodes.b->start();
    return nodes;
  }

  static uint8_t status(Engine& e, InstanceId id) {
    auto r = e.store().instance(id);
    return r.ok() && *r ? (*r)->status : 0;
  }

  store::testing::TestDatabase db_{GetParam()};
  std::shared_ptr<ManualClock> clock_;
};
BANSHI_BOTH_STORES(EngineTest);

TEST_P(EngineTest, StraightThroughRunsToTheEndAndIsStored) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  e->register_connector("calc", [](const JobContext& ctx) {
    json::object out;
    out["fee"] = ctx.variables.at("amount").to_number<int64_t>() / 10;
    return JobOutcome::completed(out);
  });
  StartRequest req;
  req.process_id = "straight";
  req.business_key = "A-1";
  req.variables["amount"] = 5000;
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  e->run_until_idle();
  EXPECT_EQ(status(*e, *id), 2);  // completed
  auto history = e->store().history(*id);
  ASSERT_TRUE(history.ok());
  EXPECT_GE(history->size(), 2u);
  std::string all;
  for (const auto& h : *history) all += h.records;
  EXPECT_NE(all.find("\"big\""), std::string::npos) << all;
  auto stored = e->store().instance(*id);
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_EQ((*stored)->business_key, "A-1");
  EXPECT_GT((*stored)->ended_at, 0);
  const EngineMetrics& m = e->metrics();
  EXPECT_EQ(m.instances_started.load(), 1u);
  EXPECT_EQ(m.instances_ended.load(), 1u);
  EXPECT_EQ(m.jobs_run.load(), 1u);
  EXPECT_GE(m.batches_committed.load(), 2u);
  EXPECT_EQ(m.commit_latency.snapshot().count, m.batches_committed.load());
}

TEST_P(EngineTest, FailingJobRetriesWithBackoffThenRaisesAnIncident) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  std::atomic<int> attempts{0};
  std::set<std::string> keys;
  std::mutex mu;
  e->register_connector("calc", [&](const JobContext& ctx) {
    {
      std::lock_guard lock(mu);
      keys.insert(ctx.idempotency_key);
    }
    ++attempts;
    return JobOutcome::failed("department system down");
  });
  StartRequest req;
  req.process_id = "straight";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok());
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 1);
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 1) << "retried before its backoff";
  clock_->advance(10000);  // first backoff: 10 s
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 2);
  clock_->advance(10000);
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 2) << "the second backoff is doubled";
  clock_->advance(10000);
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 3);
  auto incidents = e->store().incidents(*id);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ(incidents->front().element_id, "calc");
  EXPECT_EQ(keys.size(), 1u) << "every attempt carries the same idempotency key";
  // Fix the department and retry from the incident.
  e->register_connector("calc", [](const JobContext&) {
    json::object out;
    out["fee"] = 1;
    return JobOutcome::completed(out);
  });
  ASSERT_TRUE(e->resolve_incident(incidents->front().id, 1).ok());
  e->run_until_idle();
  EXPECT_EQ(status(*e, *id), 2);
  EXPECT_TRUE(e->store().incidents(*id)->empty());
}

TEST_P(EngineTest, InlineConnectorsFinishTheJobInTheBatchThatCreatesIt) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  std::string key;
  e->register_inline_connector("calc", [&](const JobContext& ctx) {
    key = ctx.idempotency_key;
    json::object out;
    out["fee"] = ctx.variables.at("amount").to_number<int64_t>() / 10;
    return JobOutcome::completed(out);
  });
  StartRequest req;
  req.process_id = "straight";
  req.variables["amount"] = 5000;
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  e->run_until_idle();
  EXPECT_EQ(status(*e, *id), 2);
  // Started, run through the service task and ended in one transaction.
  auto stored = e->store().instance(*id);
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_EQ((*stored)->version, 1);
  auto history = e->store().history(*id);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_NE(history->front().records.find("\"big\""), std::string::npos) << history->front().records;
  EXPECT_EQ(e->metrics().batches_committed.load(), 1u);
  EXPECT_EQ(e->metrics().jobs_run.load(), 1u);
  EXPECT_EQ(key.rfind(std::to_string(*id) + "-", 0), 0u) << "the idempotency key names the instance: " << key;
}

TEST_P(EngineTest, AFailedInlineJobIsStoredAndRetriedAfterItsBackoff) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  std::atomic<int> attempts{0};
  std::set<std::string> keys;
  std::mutex mu;
  e->register_inline_connector("calc", [&](const JobContext& ctx) {
    {
      std::lock_guard lock(mu);
      keys.insert(ctx.idempotency_key);
    }
    if (++attempts == 1) return JobOutcome::failed("not yet");
    json::object out;
    out["fee"] = 1;
    return JobOutcome::completed(out);
  });
  StartRequest req;
  req.process_id = "straight";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok());
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 1);
  EXPECT_EQ(status(*e, *id), 1) << "waits for the retry";
  clock_->advance(5000);
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 1) << "retried before its backoff";
  clock_->advance(5000);
  e->run_until_idle();
  EXPECT_EQ(attempts.load(), 2);
  EXPECT_EQ(status(*e, *id), 2);
  EXPECT_EQ(keys.size(), 1u) << "the retry carries the same idempotency key";
}

TEST_P(EngineTest, UserTasksTimersAndRestart) {
  InstanceId id = 0;
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("review.bpmn", kReview, "designer").ok());
    StartRequest req;
    req.process_id = "review";
    req.variables["region"] = "220102";
    auto started = e->start_instance(req);
    ASSERT_TRUE(started.ok());
    id = *started;
    e->run_until_idle();
    store::TaskQuery q;
    q.candidate_groups = {"dpf-county"};
    q.regions = {"2201"};
    auto tasks = e->store().tasks(q);
    ASSERT_TRUE(tasks.ok());
    ASSERT_EQ(tasks->size(), 1u);
    EXPECT_EQ(tasks->front().name, "审核");
    EXPECT_EQ(tasks->front().region, "220102");
  }
  // The engine is gone; time passes; a new engine on the same file finds the
  // overdue timer and fires it once.
  clock_->advance(3 * 24 * 3600 * 1000LL);
  auto e = open();
  std::atomic<int> reminders{0};
  e->register_connector("remind", [&](const JobContext&) {
    ++reminders;
    return JobOutcome::completed();
  });
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(reminders.load(), 1);
  auto tasks = e->store().tasks(store::TaskQuery{});
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  ASSERT_TRUE(e->claim_task(tasks->front().id, "li.na").ok());
  EXPECT_FALSE(e->claim_task(tasks->front().id, "wang.wu").ok()) << "a claimed task cannot be claimed again";
  EXPECT_FALSE(e->complete_task(tasks->front().id, {}, "wang.wu").ok()) << "only the assignee completes";
  ASSERT_TRUE(e->complete_task(tasks->front().id, {}, "li.na").ok());
  e->run_until_idle();
  EXPECT_EQ(status(*e, id), 2);
  EXPECT_FALSE(e->complete_task(tasks->front().id, {}, "li.na").ok()) << "a task completes once";
}

// A repeating timer that falls due while the engine is down fires once when
// it is back, not once per occurrence missed; its series goes on with the
// first occurrence still ahead, and the skipped ones count towards R5.
TEST_P(EngineTest, ALateTimerCycleFiresOnceAndGoesOnWithTheSeriesStillAhead) {
  const std::string cycle = kHeader + R"(
  <process id="nag" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="审核" bs:candidateGroups="dpf-county"/>
    <boundaryEvent id="again" attachedToRef="check" cancelActivity="false">
      <timerEventDefinition><timeCycle>R5/PT1H</timeCycle></timerEventDefinition></boundaryEvent>
    <sequenceFlow id="f2" sourceRef="again" targetRef="remind"/>
    <serviceTask id="remind" bs:connector="remind"/>
    <sequenceFlow id="f3" sourceRef="remind" targetRef="reminded"/><endEvent id="reminded"/>
    <sequenceFlow id="f4" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";
  constexpr int64_t kHour = 3600 * 1000;
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("nag.bpmn", cycle, "designer").ok());
    StartRequest req;
    req.process_id = "nag";
    ASSERT_TRUE(e->start_instance(req).ok());
    e->run_until_idle();
  }
  // Down from the start until 2.5 hours later: the occurrences at 1 h and 2 h
  // are both past.
  clock_->advance(5 * kHour / 2);
  auto e = open();
  std::atomic<int> reminders{0};
  e->register_connector("remind", [&](const JobContext&) {
    ++reminders;
    return JobOutcome::completed();
  });
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(reminders.load(), 1) << "one firing for the occurrences missed";
  clock_->advance(kHour / 2);  // 3 h: the next of the series
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(reminders.load(), 2);
  for (int hour = 4; hour <= 12; ++hour) {
    clock_->advance(kHour);
    e->run_until_idle();
    e->run_until_idle();
  }
  EXPECT_EQ(reminders.load(), 4) << "1 h (late), 3 h, 4 h, 5 h: the one at 2 h was skipped, and R5 ends at 5 h";
}

const std::string kWaitAMinute = kHeader + R"(
  <process id="minute" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <intermediateCatchEvent id="t"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition>
    </intermediateCatchEvent>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";

int timer_firings(Engine& e, InstanceId id) {
  auto history = e.store().history(id);
  if (!history.ok()) return -1;
  int n = 0;
  for (const store::HistoryRecord& h : *history) {
    json::value records = json::parse(h.records);
    for (const json::value& r : records.as_array()) {
      n += r.as_object().at("k").as_int64() == static_cast<int64_t>(core::RecordKind::kTimerFired);
    }
  }
  return n;
}

// More timers fall due at once than a store returns in one page (1,000),
// found in the store at start-up: all fire, each once, not an hour later
// when the loaded window ends.
TEST_P(EngineTest, MoreTimersDueAtOnceThanAPageAllFireOnce) {
  constexpr int kInstances = 1200;
  std::vector<InstanceId> ids;
  {
    auto before = open();
    ASSERT_TRUE(before->deploy("minute.bpmn", kWaitAMinute, "designer").ok());
    for (int i = 0; i < kInstances; ++i) {
      StartRequest req;
      req.process_id = "minute";
      auto id = before->start_instance(req);
      ASSERT_TRUE(id.ok()) << id.error().message;
      ids.push_back(*id);
    }
  }
  clock_->advance(2 * 60 * 1000);
  auto e = open();
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(e->metrics().timers_fired.load(), static_cast<uint64_t>(kInstances));
  int ended = 0;
  for (InstanceId id : ids) ended += status(*e, id) == 2;
  EXPECT_EQ(ended, kInstances);
  EXPECT_EQ(timer_firings(*e, ids.front()), 1);
  EXPECT_EQ(timer_firings(*e, ids.back()), 1);
}

// A batch whose commit the store refuses because of one command's write: the
// other commands of the batch commit (applied again one batch each), and the
// timer whose firing failed fires once the store takes it.
TEST_P(EngineTest, WhenOneWriteOfABatchIsRefusedTheOthersCommitAndItsTimerFiresLater) {
  auto e = open();
  ASSERT_TRUE(e->deploy("minute.bpmn", kWaitAMinute, "designer").ok());
  std::vector<InstanceId> ids;
  for (int i = 0; i < 3; ++i) {
    StartRequest req;
    req.process_id = "minute";
    auto id = e->start_instance(req);
    ASSERT_TRUE(id.ok()) << id.error().message;
    ids.push_back(*id);
  }
  const InstanceId refused = ids[1];
  const std::string id_text = std::to_string(static_cast<int64_t>(refused));
  std::string error;
  const bool sqlite = GetParam() == store::testing::Backend::kSqlite;
  ASSERT_TRUE(db_.exec(sqlite ? "CREATE TRIGGER refuse BEFORE UPDATE ON instances WHEN NEW.id = " + id_text +
                                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
                              : "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                "RAISE EXCEPTION 'refused by the test'; END $$; "
                                "CREATE TRIGGER refuse BEFORE UPDATE ON instances FOR EACH ROW WHEN (NEW.id = " +
                                    id_text + ") EXECUTE FUNCTION refuse();",
                       &error))
      << error;
  clock_->advance(2 * 60 * 1000);
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(status(*e, ids[0]), 2) << "a firing was lost with the refused batch";
  EXPECT_EQ(status(*e, ids[2]), 2) << "a firing was lost with the refused batch";
  EXPECT_EQ(status(*e, refused), 1);
  ASSERT_TRUE(db_.exec(sqlite ? "DROP TRIGGER refuse;" : "DROP TRIGGER refuse ON instances; DROP FUNCTION refuse();",
                       &error))
      << error;
  clock_->advance(10 * 1000);  // the engine looks for that timer again a few seconds on
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(status(*e, refused), 2);
  for (InstanceId id : ids) EXPECT_EQ(timer_firings(*e, id), 1) << id;
}

// Starts the engine with a batch held open: an instance of "straight" (from
// kStraight, deployed by the caller) whose inline connector waits until
// release(). Commands queued meanwhile share the next batch. The connector
// refers to this object: the test starts no other "straight" instance.
class HeldBatch {
 public:
  explicit HeldBatch(Engine& e) {
    e.register_inline_connector("calc", [this](const JobContext&) {
      holding_ = true;
      released_.wait();
      json::object out;
      out["fee"] = 1;
      return JobOutcome::completed(out);
    });
    e.start();
    holder_ = std::thread([&e] {
      StartRequest req;
      req.process_id = "straight";
      req.variables["amount"] = 10;
      EXPECT_TRUE(e.start_instance(req).ok());
    });
    while (!holding_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~HeldBatch() { release(); }
  HeldBatch(const HeldBatch&) = delete;
  HeldBatch& operator=(const HeldBatch&) = delete;

  void release() {
    if (!holder_.joinable()) return;
    release_.set_value();
    holder_.join();
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::atomic<bool> holding_{false};
  std::thread holder_;
};

// Two messages for one waiting instance in the same batch: the first is
// delivered, the second is buffered (it has a time to live), and each
// publisher is told which. The second used to count on the subscription the
// first had taken, so it was reported delivered and lost.
TEST_P(EngineTest, TwoMessagesInOneBatchForOneWaitingInstanceDeliverOneAndBufferTheOther) {
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  StartRequest wait;
  wait.process_id = "wait";
  wait.variables["applicationId"] = "B-1";
  auto waiting = e->start_instance(wait);
  ASSERT_TRUE(waiting.ok()) << waiting.error().message;
  e->run_until_idle();

  // A batch held open by an inline connector, while both messages queue behind it.
  HeldBatch held(*e);
  std::vector<Result<PublishResult>> results(2, Error{"unset", ""});
  std::vector<std::thread> publishers;
  for (int i = 0; i < 2; ++i) {
    publishers.emplace_back([&, i] {
      PublishRequest m;
      m.name = "assessment-done";
      m.correlation_key = "B-1";
      m.variables["n"] = i;
      m.time_to_live_ms = 3600 * 1000;
      results[i] = e->publish_message(m);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both are queued
  held.release();
  for (std::thread& t : publishers) t.join();
  e->stop();

  ASSERT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_EQ(results[0]->correlated + results[1]->correlated, 1) << "one message reached the instance";
  EXPECT_EQ(static_cast<int>(results[0]->buffered) + static_cast<int>(results[1]->buffered), 1)
      << "the other waits for the next subscription";
  EXPECT_EQ(status(*e, *waiting), 2);
  EXPECT_EQ(e->store().buffered_messages("assessment-done", "B-1", 0, 100)->size(), 1u);
}

// A buffered message handed to a subscription that opens in a batch, and a
// message published later in the same batch for the same subscription: the
// subscription takes the buffered one, and the later one is buffered in its
// turn. It used to be told it was delivered to the subscription already
// taken, and was lost.
TEST_P(EngineTest, AMessagePublishedAfterASubscriptionTookABufferedOneIsBuffered) {
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  PublishRequest first;
  first.name = "assessment-done";
  first.correlation_key = "B-1";
  first.variables["n"] = 1;
  first.time_to_live_ms = 3600 * 1000;
  auto buffered = e->publish_message(first);
  ASSERT_TRUE(buffered.ok() && buffered->buffered);
  e->run_until_idle();

  HeldBatch held(*e);
  std::promise<Result<InstanceId>> started;
  StartRequest wait;
  wait.process_id = "wait";
  wait.variables["applicationId"] = "B-1";
  e->start_instance_async(wait, [&](Result<InstanceId> id) { started.set_value(std::move(id)); });
  Result<PublishResult> second = Error{"unset", ""};
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // queued behind the start
    PublishRequest m = first;
    m.variables["n"] = 2;
    second = e->publish_message(m);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both are queued
  held.release();
  publisher.join();
  auto id = started.get_future().get();
  e->stop();

  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(status(*e, *id), 2) << "the instance took the buffered message";
  EXPECT_EQ(second->correlated, 0) << "the subscription was taken already";
  EXPECT_TRUE(second->buffered);
  auto left = e->store().buffered_messages("assessment-done", "B-1", 0, 100);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_NE(left->front().variables.find("2"), std::string::npos) << left->front().variables;
}

// Stopping finishes every command accepted before: here the last batch
// fails on a repeated message id, its commands are applied again one by
// one, and the one after the repeat must still be applied and answered.
// (The final drain once ended at the first batch that applied nothing,
// leaving that caller waiting for ever.)
TEST_P(EngineTest, StoppingAnswersEveryAcceptedCommandAfterAFailedBatch) {
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  PublishRequest m;
  m.name = "assessment-done";
  m.correlation_key = "B-9";
  m.time_to_live_ms = 3600 * 1000;
  m.message_id = "M-9";
  ASSERT_TRUE(e->publish_message(m).ok());
  e->run_until_idle();

  auto held = std::make_unique<HeldBatch>(*e);
  // Two repeats: each fails alone, and each failure once ended a drain.
  std::vector<Result<PublishResult>> repeats(2, Error{"unset", ""});
  std::vector<std::thread> publishers;
  for (int i = 0; i < 2; ++i) {
    publishers.emplace_back([&, i] { repeats[i] = e->publish_message(m); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the repeats are queued first
  }
  std::promise<Result<InstanceId>> started;
  auto answer = started.get_future();
  StartRequest wait;
  wait.process_id = "wait";
  wait.variables["applicationId"] = "B-10";
  e->start_instance_async(wait, [&](Result<InstanceId> id) { started.set_value(std::move(id)); });
  std::thread stopper([&] { e->stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // stop() waits for the held batch
  held->release();
  stopper.join();
  for (std::thread& t : publishers) t.join();
  held.reset();

  ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "stop() left a caller waiting";
  auto id = answer.get();
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(status(*e, *id), 1) << "the instance was started and waits";
  for (const auto& repeat : repeats) {
    ASSERT_FALSE(repeat.ok());
    EXPECT_EQ(repeat.error().code, "duplicate");
  }
}

// A message id published twice within one batch: the store refuses the
// batch, its commands are applied again one batch each, and only the repeat
// fails. Each message taken has exactly one audit row, written with it; the
// repeat has none.
TEST_P(EngineTest, ARepeatedMessageIdInABatchFailsAloneAndOnlyTheOthersAreAudited) {
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  HeldBatch held(*e);
  const std::vector<std::string> ids{"M-1", "M-1", "M-2"};
  std::vector<Result<PublishResult>> results(ids.size(), Error{"unset", ""});
  std::vector<std::thread> publishers;
  for (size_t i = 0; i < ids.size(); ++i) {
    publishers.emplace_back([&, i] {
      PublishRequest m;
      m.name = "assessment-done";
      m.correlation_key = "B-" + std::to_string(i);
      m.time_to_live_ms = 3600 * 1000;
      m.message_id = ids[i];
      AuditNote note{1000, "clerk", "publish-message", "message assessment-done", "10.0.0.1", ids[i]};
      results[i] = e->publish_message(m, &note);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all three are queued
  held.release();
  for (std::thread& t : publishers) t.join();
  e->stop();

  int refused = 0;
  for (size_t i = 0; i < 2; ++i) {
    if (results[i].ok()) {
      EXPECT_TRUE(results[i]->buffered);
    } else {
      ++refused;
      EXPECT_EQ(results[i].error().code, "duplicate") << results[i].error().message;
    }
  }
  EXPECT_EQ(refused, 1) << "one of the two with id M-1 is taken";
  ASSERT_TRUE(results[2].ok()) << results[2].error().message;
  EXPECT_TRUE(results[2]->buffered);

  auto* trail = dynamic_cast<store::AuthStore*>(&e->store());
  ASSERT_NE(trail, nullptr);
  store::AuditQuery q;
  q.action = "publish-message";
  auto rows = trail->audit(q);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  std::vector<std::string> details;
  for (const store::AuditRecord& r : *rows) details.push_back(r.detail);
  std::sort(details.begin(), details.end());
  EXPECT_EQ(details, (std::vector<std::string>{"M-1; correlated 0, started 0, buffered",
                                               "M-2; correlated 0, started 0, buffered"}));
}

// stop() while a connector runs: its outcome is committed before stop()
// returns, not dropped (which would run the job again after a restart).
TEST_P(EngineTest, StopWaitsForARunningConnectorAndCommitsItsOutcome) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  std::atomic<bool> running{false};
  std::atomic<int> calls{0};
  e->register_connector("calc", [&](const JobContext&) {
    ++calls;
    running = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    json::object out;
    out["fee"] = 1;
    return JobOutcome::completed(out);
  });
  e->start();
  StartRequest req;
  req.process_id = "straight";
  req.variables["amount"] = 10;
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  while (!running) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  e->stop();
  EXPECT_EQ(status(*e, *id), 2) << "the job's outcome was lost in stop()";
  EXPECT_EQ(calls.load(), 1);
  auto jobs = e->store().jobs_of(*id);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty()) << "the job is still stored, to run again";
}

TEST_P(EngineTest, MessagesCorrelateBufferAndStartInstances) {
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  // Published before anyone waits: buffered for its time to live.
  PublishRequest early;
  early.name = "assessment-done";
  early.correlation_key = "A-1";
  early.variables["level"] = "二级";
  early.time_to_live_ms = 3600 * 1000;
  auto r = e->publish_message(early);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->buffered);
  StartRequest req;
  req.process_id = "wait";
  req.variables["applicationId"] = "A-1";
  auto a = e->start_instance(req);
  req.variables["applicationId"] = "A-2";
  auto b = e->start_instance(req);
  ASSERT_TRUE(a.ok() && b.ok());
  e->run_until_idle();
  EXPECT_EQ(status(*e, *a), 2) << "the buffered message reached the instance that opened its subscription";
  EXPECT_EQ(status(*e, *b), 1);
  PublishRequest late;
  late.name = "assessment-done";
  late.correlation_key = "A-2";
  auto r2 = e->publish_message(late);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->correlated, 1);
  e->run_until_idle();
  EXPECT_EQ(status(*e, *b), 2);
  PublishRequest start;
  start.name = "application-received";
  auto r3 = e->publish_message(start);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->started, 1);
  PublishRequest nobody;
  nobody.name = "assessment-done";
  nobody.correlation_key = "A-9";
  auto r4 = e->publish_message(nobody);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->correlated, 0);
  EXPECT_FALSE(r4->buffered) << "no time to live: dropped";
  // A buffered message nobody takes is deleted once its time to live ends.
  nobody.time_to_live_ms = 3600 * 1000;
  auto r5 = e->publish_message(nobody);
  ASSERT_TRUE(r5.ok() && r5->buffered);
  EXPECT_EQ(e->store().buffered_messages("assessment-done", "A-9", 0, 100)->size(), 1u);
  clock_->advance(2 * 3600 * 1000);
  e->run_until_idle();
  EXPECT_TRUE(e->store().buffered_messages("assessment-done", "A-9", 0, 100)->empty());
}

TEST_P(EngineTest, MessagesPublishedWhileTheSubscriptionOpensAreNotLost) {
  // Starts and publications race on purpose, so many land in the same batch as
  // the subscription they are for.
  auto e = open();
  ASSERT_TRUE(e->deploy("messages.bpmn", kMessages, "designer").ok());
  e->start();
  std::vector<InstanceId> ids(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      StartRequest req;
      req.process_id = "wait";
      req.variables["applicationId"] = "R-" + std::to_string(i);
      auto id = e->start_instance(req);
      if (id.ok()) ids[static_cast<size_t>(i)] = *id;
    });
    threads.emplace_back([&, i] {
      PublishRequest m;
      m.name = "assessment-done";
      m.correlation_key = "R-" + std::to_string(i);
      m.time_to_live_ms = 3600 * 1000;
      (void)e->publish_message(m);
    });
  }
  for (auto& t : threads) t.join();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  size_t done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    done = 0;
    for (InstanceId id : ids) done += id != 0 && status(*e, id) == 2;
    if (done == ids.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  e->stop();
  EXPECT_EQ(done, ids.size()) << "instances still waiting for a message that was published";
}

TEST_P(EngineTest, ARestartedNodeTakesBackItsLeasedJobsAtOnce) {
  const std::string job_model = kStraight;
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("straight.bpmn", job_model, "designer").ok());
    StartRequest req;
    req.process_id = "straight";
    ASSERT_TRUE(e->start_instance(req).ok());
    // Lease the job as a worker of this node would, then "crash".
    auto leased = e->fetch_and_lock({"calc"}, EngineConfig{}.node_id, 10, 5 * 60 * 1000);
    ASSERT_TRUE(leased.ok());
    ASSERT_EQ(leased->size(), 1u);
  }
  auto e = open();
  std::atomic<int> calls{0};
  e->register_connector("calc", [&](const JobContext&) {
    ++calls;
    json::object out;
    out["fee"] = 1;
    return JobOutcome::completed(out);
  });
  e->run_until_idle();
  EXPECT_EQ(calls.load(), 1) << "the job waited for its old lease instead of running";
}

TEST_P(EngineTest, CallActivityRunsTheChildAndResumesTheParent) {
  auto e = open();
  ASSERT_TRUE(e->deploy("parent.bpmn", kParent, "designer").ok());
  e->register_connector("calc", [](const JobContext&) {
    json::object out;
    out["childResult"] = "ok";
    return JobOutcome::completed(out);
  });
  StartRequest req;
  req.process_id = "parent";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok());
  e->run_until_idle();
  EXPECT_EQ(status(*e, *id), 2);
  auto stored = e->store().instance(*id);
  ASSERT_TRUE(stored.ok() && *stored);
  EXPECT_EQ((*stored)->status, 2);
}

TEST_P(EngineTest, DeploymentsAreVersionedAndInstancesKeepTheirVersion) {
  auto e = open();
  auto v1 = e->deploy("review.bpmn", kReview, "designer");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->front().version, 1);
  EXPECT_TRUE(v1->front().new_version);
  auto again = e->deploy("review.bpmn", kReview, "designer");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->front().version, 1) << "the same file makes no new version";
  EXPECT_FALSE(again->front().new_version) << "even on a clock that has not moved";
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220402";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok());
  std::string changed = kReview;
  const std::string old_name = "name=\"审核\"";
  changed.replace(changed.find(old_name), old_name.size(), "name=\"复核\"");
  auto v2 = e->deploy("review.bpmn", changed, "designer");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->front().version, 2);
  e->run_until_idle();
  auto tasks = e->store().tasks(store::TaskQuery{});
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ(tasks->front().name, "审核") << "the running instance stays on version 1";
  auto bad = e->deploy("bad.bpmn", kHeader + "<process id=\"x\" isExecutable=\"true\"/></definitions>", "designer");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("BS201"), std::string::npos) << bad.error().message;
}

TEST_P(EngineTest, AVersionConflictIsRetriedNotLost) {
  auto e = open();
  ASSERT_TRUE(e->deploy("review.bpmn", kReview, "designer").ok());
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok());
  e->run_until_idle();
  // Another writer (a second node) changes the instance behind the engine's back.
  auto other = db_.open();
  ASSERT_NE(other, nullptr);
  auto stored = other->instance(*id);
  ASSERT_TRUE(stored.ok() && *stored);
  store::WriteBatch bump;
  store::InstanceRecord rec = **stored;
  const int64_t before = rec.version;
  rec.version = before + 1;
  bump.instances.push_back(store::InstanceWrite{rec, before});
  ASSERT_TRUE(other->write(bump).ok());
  auto tasks = e->store().tasks(store::TaskQuery{});
  ASSERT_TRUE(tasks.ok() && tasks->size() == 1);
  ASSERT_TRUE(e->complete_task(tasks->front().id, {}, "").ok());
  e->run_until_idle();
  EXPECT_EQ(status(*e, *id), 2);
  EXPECT_GE(e->metrics().batches_failed.load(), 1u) << "the first attempt met the conflict";
}

TEST_P(EngineTest, CallsFromManyThreadsWithoutBackgroundThreadsAreSerialised) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  e->register_connector("calc", [](const JobContext&) {
    json::object out;
    out["fee"] = 7;
    return JobOutcome::completed(out);
  });
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        StartRequest req;
        req.process_id = "straight";
        if (e->start_instance(req).ok()) ++started;
      }
    });
  }
  for (auto& t : threads) t.join();
  e->run_until_idle();
  EXPECT_EQ(started.load(), 160);
  store::InstanceQuery running;
  running.status = 1;
  EXPECT_TRUE(e->store().instances(running)->empty());
}

TEST_P(EngineTest, BackgroundThreadsCompleteInstancesDurably) {
  auto e = open();
  ASSERT_TRUE(e->deploy("straight.bpmn", kStraight, "designer").ok());
  e->register_connector("calc", [](const JobContext&) {
    json::object out;
    out["fee"] = 500;
    return JobOutcome::completed(out);
  });
  e->start();
  std::vector<InstanceId> ids;
  for (int i = 0; i < 50; ++i) {
    StartRequest req;
    req.process_id = "straight";
    auto id = e->start_instance(req);
    ASSERT_TRUE(id.ok()) << id.error().message;
    ids.push_back(*id);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  size_t done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    done = 0;
    for (InstanceId id : ids) done += status(*e, id) == 2;
    if (done == ids.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  e->stop();
  EXPECT_EQ(done, ids.size());
}

// The asynchronous forms answer through a callback once the command's batch
// has committed; a request refused at once is answered on the caller's
// thread; a callback may start the next instance.
TEST_P(EngineTest, AsynchronousCommandsAnswerOnceCommitted) {
  struct Answer {
    std::thread::id thread;
    bool ok;
    std::string code;
    InstanceId id;
    uint8_t seen = 0;  // the instance's stored status when the answer came
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Answer> answers;
  auto note = [&](Answer a) {
    std::lock_guard lock(mu);
    answers.push_back(std::move(a));
    cv.notify_all();
  };
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return answers.size() >= n; });
  };
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  // A chain of five starts, each started from the previous one's callback.
  Engine* engine = nullptr;
  std::atomic<int> chained{0};
  std::function<void(Result<InstanceId>)> next = [&](Result<InstanceId> id) {
    note(Answer{std::this_thread::get_id(), id.ok(), id.ok() ? "" : id.error().code, id.ok() ? *id : 0,
                id.ok() ? status(*engine, *id) : uint8_t{0}});
    if (++chained < 5) engine->start_instance_async(req, next);
  };
  // After everything the callbacks touch: the engine goes first.
  auto e = open();
  engine = e.get();
  ASSERT_TRUE(e->deploy("review.bpmn", kReview, "designer").ok());
  e->start();
  e->start_instance_async(req, next);
  ASSERT_TRUE(wait_for(5));
  std::vector<InstanceId> ids;
  {
    std::lock_guard lock(mu);
    for (const Answer& a : answers) {
      ASSERT_TRUE(a.ok) << a.code;
      EXPECT_NE(a.thread, std::this_thread::get_id()) << "answered on the engine's thread";
      EXPECT_EQ(a.seen, 1) << "the instance was stored before the answer";
      ids.push_back(a.id);
    }
    answers.clear();
  }
  // Each instance was committed before its answer: its task is stored.
  for (InstanceId id : ids) EXPECT_EQ(status(*e, id), 1);
  store::TaskQuery all;
  auto tasks = e->store().tasks(all);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 5u);

  // Refused at once: an unknown process, an unknown task, a task claimed by
  // someone else. Answered before the call returns, on this thread.
  StartRequest unknown;
  unknown.process_id = "nope";
  e->start_instance_async(unknown, [&](Result<InstanceId> id) {
    note(Answer{std::this_thread::get_id(), id.ok(), id.ok() ? "" : id.error().code, 0});
  });
  e->complete_task_async(999999, {}, "li.na", [&](Result<void> r) {
    note(Answer{std::this_thread::get_id(), r.ok(), r.ok() ? "" : r.error().code, 0});
  });
  ASSERT_TRUE(e->claim_task(tasks->front().id, "li.na").ok());
  e->complete_task_async(tasks->front().id, {}, "wang.wu", [&](Result<void> r) {
    note(Answer{std::this_thread::get_id(), r.ok(), r.ok() ? "" : r.error().code, 0});
  });
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(answers.size(), 3u) << "refusals are answered before the call returns";
    EXPECT_EQ(answers[1].code, "not-found");
    EXPECT_EQ(answers[2].code, "conflict");
    for (const Answer& a : answers) {
      EXPECT_FALSE(a.ok);
      EXPECT_EQ(a.thread, std::this_thread::get_id());
    }
    answers.clear();
  }

  // Every task completed asynchronously: each instance has ended when its
  // answer arrives.
  for (const store::TaskRecord& t : *tasks) {
    e->complete_task_async(t.id, {}, t.id == tasks->front().id ? "li.na" : "", [&, id = t.instance_id](Result<void> r) {
      note(Answer{std::this_thread::get_id(), r.ok(), r.ok() ? "" : r.error().code, id, status(*engine, id)});
    });
  }
  ASSERT_TRUE(wait_for(5));
  {
    std::lock_guard lock(mu);
    for (const Answer& a : answers) {
      EXPECT_TRUE(a.ok) << a.code;
      EXPECT_EQ(a.seen, 2) << "ended and committed before the answer";
      EXPECT_EQ(status(*e, a.id), 2);
    }
  }
  e->stop();

  // Without start() the caller's thread runs the batch: answered before the call returns.
  auto idle = open();
  bool answered = false;
  idle->start_instance_async(req, [&](Result<InstanceId> id) { answered = id.ok(); });
  EXPECT_TRUE(answered);
}

// A listener may publish an event of its own (as a claim made from a
// listener would): it is delivered at once, on the listener's thread,
// whether the event heard was this node's or relayed from another. The
// listener lock was taken twice on one thread before, and a relayed event
// was delivered on the store's thread while the answering thread waited.
TEST_P(EngineTest, AListenerMayPublishAnEvent) {
  const bool two_nodes = GetParam() != store::testing::Backend::kSqlite;
  auto a = open();
  std::unique_ptr<Engine> b;
  if (two_nodes) {
    EngineConfig second;
    second.node_id = "banshi-2";
    auto opened = Engine::open(second, db_.open(), clock_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    b = std::move(opened).value();
  }
  ASSERT_TRUE(a->deploy("review.bpmn", kReview, "designer").ok());
  std::mutex mu;
  std::map<std::string, int> heard;  // "<node>:<type>"
  auto listen = [&](Engine& engine, const std::string& node) {
    engine.subscribe([&, node](const EngineEvent& e) {
      {
        std::lock_guard lock(mu);
        ++heard[node + ":" + e.type];
      }
      if (e.type == "task.created") {
        EngineEvent mine;
        mine.type = "task.looked-at";
        mine.instance_id = e.instance_id;
        engine.publish_event(mine);
      }
    });
  };
  listen(*a, "a");
  if (b) listen(*b, "b");
  a->start();
  if (b) b->start();
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  ASSERT_TRUE(a->start_instance(req).ok());
  auto count = [&](const std::string& key) {
    std::lock_guard lock(mu);
    return heard[key];
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((count("a:task.looked-at") == 0 || (b && count("b:task.looked-at") == 0)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(count("a:task.looked-at"), 1);
  if (b) {
    EXPECT_GE(count("b:task.looked-at"), 1) << "node b's listener published on hearing a relayed event";
  }
  a->stop();
  if (b) b->stop();
}

// An event a listener publishes reaches every listener after the event it
// was hearing: the second listener never hears the answer before the cause.
TEST_P(EngineTest, AnEventPublishedByAListenerComesAfterTheOneItHeard) {
  auto e = open();
  ASSERT_TRUE(e->deploy("review.bpmn", kReview, "designer").ok());
  std::mutex mu;
  std::vector<std::string> first, second;
  e->subscribe([&](const EngineEvent& ev) {
    {
      std::lock_guard lock(mu);
      first.push_back(ev.type);
    }
    if (ev.type == "task.created") {
      EngineEvent mine;
      mine.type = "task.looked-at";
      mine.instance_id = ev.instance_id;
      e->publish_event(mine);
    }
  });
  e->subscribe([&](const EngineEvent& ev) {
    std::lock_guard lock(mu);
    second.push_back(ev.type);
  });
  e->start();
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  ASSERT_TRUE(e->start_instance(req).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto heard = [&] {
    std::lock_guard lock(mu);
    return std::find(second.begin(), second.end(), "task.looked-at") != second.end();
  };
  while (!heard() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  e->stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(first, second) << "both listeners hear the same events in the same order";
  auto created = std::find(second.begin(), second.end(), "task.created");
  auto looked = std::find(second.begin(), second.end(), "task.looked-at");
  ASSERT_NE(looked, second.end());
  EXPECT_LT(created, looked);
}

TEST_P(EngineTest, EventsReachListenersOnEveryNode) {
  if (GetParam() == store::testing::Backend::kSqlite) GTEST_SKIP() << "one SQLite database has one node";
  auto a = open();
  EngineConfig second;
  second.node_id = "banshi-2";
  auto opened = Engine::open(second, db_.open(), clock_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto b = std::move(opened).value();
  ASSERT_TRUE(a->deploy("review.bpmn", kReview, "designer").ok());
  std::mutex mu;
  std::vector<EngineEvent> on_a, on_b;
  a->subscribe([&](const EngineEvent& e) {
    std::lock_guard lock(mu);
    on_a.push_back(e);
  });
  b->subscribe([&](const EngineEvent& e) {
    std::lock_guard lock(mu);
    on_b.push_back(e);
  });
  a->start();
  b->start();
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  auto id = a->start_instance(req);  // committed on node a
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto count = [&](const std::vector<EngineEvent>& list, const std::string& type) {
    std::lock_guard lock(mu);
    return std::count_if(list.begin(), list.end(),
                         [&](const EngineEvent& e) { return e.type == type && e.instance_id == *id; });
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (count(on_b, "task.created") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a duplicate would arrive by now
  EXPECT_EQ(count(on_b, "task.created"), 1) << "node b hears what node a committed, once";
  EXPECT_EQ(count(on_b, "instance.started"), 1);
  EXPECT_EQ(count(on_a, "task.created"), 1) << "node a hears its own event once, not again through the store";
  {
    std::lock_guard lock(mu);
    auto it = std::find_if(on_b.begin(), on_b.end(), [](const EngineEvent& e) { return e.type == "task.created"; });
    ASSERT_NE(it, on_b.end());
    EXPECT_EQ(it->candidate_groups, std::vector<std::string>{"dpf-county"});
    EXPECT_EQ(it->region, "220102");
    EXPECT_GT(it->task_id, 0);
  }
  a->stop();
  b->stop();
}

// Node b publishes a message at the very moment node a's instance opens the
// subscription for it: inside a's transaction, after a read the buffer and
// found nothing, b reads no subscription (a's is not committed) and buffers
// the message. Once both have committed, the instance must still get it.
TEST_P(EngineTest, AMessageMeetsASubscriptionOpenedOnAnotherNodeAtTheSameMoment) {
  if (GetParam() == store::testing::Backend::kSqlite) GTEST_SKIP() << "one SQLite database has one node";
  std::atomic<bool> armed{false};
  std::optional<Result<PublishResult>> published;
  auto [a, b] = two_nodes(armed, [&](Engine& other) {
    PublishRequest pub;
    pub.name = "assessment-done";
    pub.correlation_key = "A-77";
    pub.time_to_live_ms = 3'600'000;
    pub.variables["score"] = 7;
    published = other.publish_message(pub);
  });
  ASSERT_TRUE(a && b);
  StartRequest req;
  req.process_id = "wait";
  req.variables["applicationId"] = "A-1";
  ASSERT_TRUE(a->start_instance(req).ok());  // instance ids are reserved now, in a transaction of their own
  req.variables["applicationId"] = "A-77";
  armed = true;
  auto id = a->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  ASSERT_TRUE(published.has_value());
  ASSERT_TRUE(published->ok()) << published->error().message;
  EXPECT_TRUE((*published)->buffered) << "the race happened: b saw no subscription";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (status(*a, *id) == 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status(*a, *id), 2) << "the instance got the message";
  EXPECT_TRUE(a->store().buffered_messages("assessment-done", "A-77", clock_->now_ms(), 10)->empty())
      << "and the buffer gave it up";
  a->stop();
  b->stop();
}

// The other way round: node a publishes, and inside a's transaction node b
// starts an instance whose subscription finds no buffered message (a's is
// not committed). Node a, looking again after its commit, finds the
// subscription and delivers the message.
TEST_P(EngineTest, ASubscriptionOpenedOnAnotherNodeWhileAMessageIsBufferedGetsIt) {
  if (GetParam() == store::testing::Backend::kSqlite) GTEST_SKIP() << "one SQLite database has one node";
  std::atomic<bool> armed{false};
  std::optional<Result<InstanceId>> started;
  auto [a, b] = two_nodes(armed, [&](Engine& other) {
    StartRequest req;
    req.process_id = "wait";
    req.variables["applicationId"] = "A-78";
    started = other.start_instance(req);
  });
  ASSERT_TRUE(a && b);
  StartRequest warm;
  warm.process_id = "wait";
  warm.variables["applicationId"] = "B-0";
  ASSERT_TRUE(b->start_instance(warm).ok());  // b's instance ids are reserved now
  PublishRequest pub;
  pub.name = "assessment-done";
  pub.correlation_key = "A-78";
  pub.time_to_live_ms = 3'600'000;
  armed = true;
  auto published = a->publish_message(pub);
  ASSERT_TRUE(published.ok()) << published.error().message;
  EXPECT_TRUE(published->buffered) << "the race happened: a saw no subscription";
  ASSERT_TRUE(started.has_value());
  ASSERT_TRUE(started->ok()) << started->error().message;
  const InstanceId id = **started;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (status(*a, id) == 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status(*a, id), 2) << "the instance got the message";
  EXPECT_TRUE(a->store().buffered_messages("assessment-done", "A-78", clock_->now_ms(), 10)->empty());
  a->stop();
  b->stop();
}

// A user's completion is checked against the task's assignee when it is
// asked for, and committed later. Here, between the two, a supervisor gives
// the task to someone else (committed on another connection while another
// batch is being written): the completion must not go through.
TEST_P(EngineTest, ACompletionIsRefusedWhenTheTaskWasGivenToSomeoneElseBeforeItsCommit) {
  if (GetParam() == store::testing::Backend::kSqlite) {
    GTEST_SKIP() << "one SQLite writer: the reassignment would wait for the batch";
  }
  std::atomic<bool> armed{false};
  Engine* engine = nullptr;
  int64_t task_id = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<void>> completed;
  std::optional<Result<void>> reassigned;
  auto s = db_.open([&] {
    if (!armed.exchange(false)) return;
    // Checked now against the stored task (li.na's) and queued behind this batch...
    engine->complete_task_async(task_id, {}, "li.na", [&](Result<void> r) {
      std::lock_guard lock(mu);
      completed = std::move(r);
      cv.notify_all();
    });
    // ...then, before its batch, the task goes to wang.wu.
    std::thread supervisor([&] { reassigned = engine->store().assign_task(task_id, "li.na", "wang.wu"); });
    supervisor.join();
  });
  ASSERT_NE(s, nullptr);
  auto opened = Engine::open(EngineConfig{}, std::move(s), clock_);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto e = std::move(opened).value();
  engine = e.get();
  ASSERT_TRUE(e->deploy("review.bpmn", kReview, "designer").ok());
  e->start();
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  auto id = e->start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  store::TaskQuery q;
  q.instance_id = *id;
  auto tasks = e->store().tasks(q);
  ASSERT_TRUE(tasks.ok() && tasks->size() == 1u);
  task_id = tasks->front().id;
  ASSERT_TRUE(e->claim_task(task_id, "li.na").ok());
  armed = true;
  ASSERT_TRUE(e->start_instance(req).ok());  // its batch runs the hook
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return completed.has_value(); }));
  }
  ASSERT_TRUE(reassigned.has_value());
  ASSERT_TRUE(reassigned->ok()) << reassigned->error().message;
  ASSERT_FALSE(completed->ok()) << "li.na completed a task given to wang.wu";
  EXPECT_EQ(completed->error().code, "rejected") << completed->error().message;
  auto task = e->store().task(task_id);
  ASSERT_TRUE(task.ok() && *task);
  EXPECT_EQ((*task)->assignee, "wang.wu");
  EXPECT_EQ(status(*e, *id), 1) << "the instance still waits at the task";
  EXPECT_TRUE(e->complete_task(task_id, {}, "wang.wu").ok());
  EXPECT_EQ(status(*e, *id), 2);
  e->stop();
}

// An engine on a file store opened with `o` (its sync_log hook), clocked
// at a fixed Monday morning unless `clock` is given; null, with a failure,
// when it cannot open.
std::unique_ptr<Engine> open_on_file(const store::sqlite::SqliteOptions& o, EngineConfig config = {},
                                     std::shared_ptr<ManualClock> clock = nullptr) {
  if (!clock) clock = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  auto s = store::sqlite::SqliteStore::open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.error().message;
    return nullptr;
  }
  auto opened = Engine::open(std::move(config), std::move(s).value(), std::move(clock));
  if (!opened.ok()) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(opened).value();
}

// A batch's callers hear of it only once its log is synced, and the next
// batch is written meanwhile: the sync waits on the answer thread, not on
// the thread that applies commands (Store::write_unsynced).
TEST(EngineSync, CallersHearOfABatchOnceItIsSyncedAndTheNextIsWrittenMeanwhile) {
  store::testing::TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  bool released = false;
  int held = 0;
  store::sqlite::SqliteOptions o;
  o.path = dir.file("sync.db");
  o.sync_log = [&](int fd) {
    std::unique_lock lock(mu);
    if (hold) {
      ++held;
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
    }
    return ::fdatasync(fd);
  };
  auto opened = open_on_file(o);
  ASSERT_NE(opened, nullptr);
  Engine& e = *opened;
  ASSERT_TRUE(e.deploy("review.bpmn", kReview, "designer").ok());
  e.start();
  StartRequest req;
  req.process_id = "review";
  req.variables["region"] = "220102";
  ASSERT_TRUE(e.start_instance(req).ok());  // what the starts need is cached now
  auto release = [&] {
    std::lock_guard lock(mu);
    hold = false;
    released = true;
    cv.notify_all();
  };

  {
    std::lock_guard lock(mu);
    hold = true;
  }
  std::atomic<int> answered{0};
  std::promise<Result<InstanceId>> first, second;
  e.start_instance_async(req, [&](Result<InstanceId> id) {
    ++answered;
    first.set_value(std::move(id));
  });
  {
    std::unique_lock lock(mu);
    const bool syncing = cv.wait_for(lock, std::chrono::seconds(10), [&] { return held > 0; });
    lock.unlock();
    if (!syncing) release();
    ASSERT_TRUE(syncing) << "the first batch's sync never began";
  }
  // What is committed, seen through a connection of its own (the store's
  // readers would wait for the sync).
  auto committed_instances = [&] {
    sqlite3* db = nullptr;
    int64_t n = -1;
    if (sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM instances", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  };
  EXPECT_EQ(committed_instances(), 2) << "the first batch is committed before its sync";
  std::thread starter([&] {
    e.start_instance_async(req, [&](Result<InstanceId> id) {
      ++answered;
      second.set_value(std::move(id));
    });
  });
  for (int i = 0; i < 1000 && committed_instances() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool written_meanwhile = committed_instances() == 3;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int answered_while_held = answered.load();
  release();
  starter.join();
  auto a = first.get_future().get();
  auto b = second.get_future().get();
  e.stop();

  EXPECT_TRUE(written_meanwhile) << "the second batch waited for the first one's sync";
  EXPECT_EQ(answered_while_held, 0) << "a caller heard of a batch before it was durable";
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  for (InstanceId id : {*a, *b}) {
    auto stored = e.store().instance(id);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->status, 1) << "the instance waits at its task";
  }
}

// A connector acts on a job only once the batch that made the job is
// durable: when that batch's sync fails, the job is never run here (the
// failing sync is held long enough for a worker to have run it).
TEST(EngineSync, AConnectorRunsAJobOnlyOnceTheBatchThatMadeItIsDurable) {
  store::testing::TempDir dir;
  std::atomic<bool> failing{false};
  store::sqlite::SqliteOptions o;
  o.path = dir.file("jobs.db");
  o.sync_log = [&](int fd) {
    if (failing.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  auto opened = open_on_file(o);
  ASSERT_NE(opened, nullptr);
  Engine& e = *opened;
  ASSERT_TRUE(e.deploy("straight.bpmn", kStraight, "designer").ok());
  std::atomic<int> runs{0};
  e.register_connector("calc", [&](const JobContext&) {
    ++runs;
    return JobOutcome::completed(json::object{{"fee", 1}});
  });
  e.start();
  StartRequest req;
  req.process_id = "straight";
  auto first = e.start_instance(req);
  ASSERT_TRUE(first.ok()) << first.error().message;
  for (int i = 0; i < 1000 && runs.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(runs.load(), 1) << "the connector never ran";

  failing = true;
  auto lost = e.start_instance(req);
  ASSERT_FALSE(lost.ok()) << "a start was answered though its batch could not be made durable";
  EXPECT_NE(lost.error().message.find("may be lost"), std::string::npos) << lost.error().message;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  e.stop();
  EXPECT_EQ(runs.load(), 1) << "a connector ran a job whose batch may be lost";
}

// A command refused because of an earlier batch (a message id it stored) is
// answered only once that batch is durable: otherwise a crash could lose the
// first message while the second's publisher was told it was a repeat.
TEST(EngineSync, ARefusalThatRestsOnAnUnsyncedBatchWaitsForItsSync) {
  store::testing::TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int held = 0;
  store::sqlite::SqliteOptions o;
  o.path = dir.file("refusal.db");
  o.sync_log = [&](int fd) {
    std::unique_lock lock(mu);
    if (hold) {
      ++held;
      cv.notify_all();
      cv.wait(lock, [&] { return !hold; });
    }
    return ::fdatasync(fd);
  };
  auto opened = open_on_file(o);
  ASSERT_NE(opened, nullptr);
  Engine& e = *opened;
  e.start();
  PublishRequest m;
  m.name = "assessment-done";
  m.correlation_key = "A-1";
  m.time_to_live_ms = 60'000;
  m.message_id = "assessment-A-1";
  auto release = [&] {
    std::lock_guard lock(mu);
    hold = false;
    cv.notify_all();
  };
  {
    std::lock_guard lock(mu);
    hold = true;
  }
  auto first = std::async(std::launch::async, [&] { return e.publish_message(m); });
  {
    std::unique_lock lock(mu);
    const bool syncing = cv.wait_for(lock, std::chrono::seconds(10), [&] { return held > 0; });
    lock.unlock();
    if (!syncing) release();
    ASSERT_TRUE(syncing) << "the first message's sync never began";
  }
  auto second = std::async(std::launch::async, [&] { return e.publish_message(m); });
  const bool answered_while_held = second.wait_for(std::chrono::milliseconds(300)) == std::future_status::ready;
  release();
  auto a = first.get();
  auto b = second.get();
  e.stop();
  EXPECT_FALSE(answered_while_held) << "the repeat was refused before the first message was durable";
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(a->buffered);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "duplicate") << b.error().message;
}

// A batch nobody waits for (here a timer's firing) is synced too, soon,
// not whenever the next caller's batch happens to be. (No job workers: their
// polling writes would sync it on the way.)
TEST(EngineSync, ABatchWithNobodyToTellIsSyncedToo) {
  store::testing::TempDir dir;
  store::sqlite::SqliteOptions o;
  o.path = dir.file("quiet.db");
  // Each sync notes whether the instance had ended in what it covered
  // (read from the file, which holds every commit written so far).
  std::atomic<bool> ending_synced{false};
  o.sync_log = [&](int fd) {
    const int rc = ::fdatasync(fd);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM instances WHERE status = 2", -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        ending_synced = true;
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return rc;
  };
  EngineConfig config;
  config.job_workers = 0;
  auto clock = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  auto opened = open_on_file(o, config, clock);
  ASSERT_NE(opened, nullptr);
  Engine& e = *opened;
  ASSERT_TRUE(e.deploy("minute.bpmn", kWaitAMinute, "designer").ok());
  e.start();
  StartRequest req;
  req.process_id = "minute";
  ASSERT_TRUE(e.start_instance(req).ok());
  clock->advance(2 * 60 * 1000);
  for (int i = 0; i < 500 && !ending_synced.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  e.stop();
  EXPECT_TRUE(ending_synced.load()) << "the batch that ended the instance was never synced";
}

}  // namespace
}  // namespace banshi
