// Tests of core/serialize.h: round trips, hostile input, the version-1 golden
// file and the size of a typical waiting instance.
#include "core/serialize.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace banshi::core {
namespace {

using model::kNoIndex;

// ---------------------------------------------------------------------------
// Field-by-field comparison, so a failure names the field that differs.

void expect_same_json(const boost::json::value& a, const boost::json::value& b, const std::string& where) {
  EXPECT_EQ(boost::json::serialize(a), boost::json::serialize(b)) << where;
  EXPECT_TRUE(a == b) << where;
}

void expect_same_variables(const Variables& a, const Variables& b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first) << where;
    expect_same_json(ia->second, ib->second, where + "." + ia->first);
  }
}

void expect_same(const InstanceState& a, const InstanceState& b) {
  EXPECT_EQ(a.process_id, b.process_id);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.next_key, b.next_key);
  EXPECT_EQ(a.root, b.root);
  EXPECT_EQ(a.parent_element, b.parent_element);

  ASSERT_EQ(a.elements.size(), b.elements.size());
  for (auto ia = a.elements.begin(), ib = b.elements.begin(); ia != a.elements.end(); ++ia, ++ib) {
    const std::string where = "element " + std::to_string(ia->first);
    const ElementInstance& x = ia->second;
    const ElementInstance& y = ib->second;
    EXPECT_EQ(ia->first, ib->first) << where;
    EXPECT_EQ(x.key, y.key) << where;
    EXPECT_EQ(x.element, y.element) << where;
    EXPECT_EQ(x.scope, y.scope) << where;
    EXPECT_EQ(x.state, y.state) << where;
    EXPECT_EQ(x.entered_by, y.entered_by) << where;
    expect_same_variables(x.variables, y.variables, where);
    EXPECT_EQ(x.incident, y.incident) << where;
    EXPECT_EQ(x.is_mi_body, y.is_mi_body) << where;
    EXPECT_EQ(x.loop_counter, y.loop_counter) << where;
    EXPECT_EQ(x.mi_total, y.mi_total) << where;
    EXPECT_EQ(x.mi_completed, y.mi_completed) << where;
    EXPECT_EQ(x.mi_active, y.mi_active) << where;
    EXPECT_EQ(x.interrupted, y.interrupted) << where;
    EXPECT_EQ(x.compensation_thrower, y.compensation_thrower) << where;
    EXPECT_EQ(x.pending_compensation, y.pending_compensation) << where;
  }

  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (auto ia = a.jobs.begin(), ib = b.jobs.begin(); ia != a.jobs.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.type, ib->second.type);
    EXPECT_EQ(ia->second.retries, ib->second.retries);
    EXPECT_EQ(ia->second.last_error, ib->second.last_error);
    EXPECT_EQ(ia->second.failed, ib->second.failed);
  }

  ASSERT_EQ(a.user_tasks.size(), b.user_tasks.size());
  for (auto ia = a.user_tasks.begin(), ib = b.user_tasks.begin(); ia != a.user_tasks.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
  }

  ASSERT_EQ(a.timers.size(), b.timers.size());
  for (auto ia = a.timers.begin(), ib = b.timers.begin(); ia != a.timers.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.element, ib->second.element);
    EXPECT_EQ(ia->second.due_at, ib->second.due_at);
    EXPECT_EQ(ia->second.repetitions_left, ib->second.repetitions_left);
    EXPECT_EQ(ia->second.interval_ms, ib->second.interval_ms);
    EXPECT_EQ(ia->second.cron, ib->second.cron);
  }

  ASSERT_EQ(a.message_subscriptions.size(), b.message_subscriptions.size());
  for (auto ia = a.message_subscriptions.begin(), ib = b.message_subscriptions.begin();
       ia != a.message_subscriptions.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.element, ib->second.element);
    EXPECT_EQ(ia->second.name, ib->second.name);
    EXPECT_EQ(ia->second.correlation_key, ib->second.correlation_key);
  }

  ASSERT_EQ(a.signal_subscriptions.size(), b.signal_subscriptions.size());
  for (auto ia = a.signal_subscriptions.begin(), ib = b.signal_subscriptions.begin();
       ia != a.signal_subscriptions.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.element, ib->second.element);
    EXPECT_EQ(ia->second.name, ib->second.name);
  }

  ASSERT_EQ(a.incidents.size(), b.incidents.size());
  for (auto ia = a.incidents.begin(), ib = b.incidents.begin(); ia != a.incidents.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.key, ib->second.key);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.kind, ib->second.kind);
    EXPECT_EQ(ia->second.message, ib->second.message);
    EXPECT_EQ(ia->second.job, ib->second.job);
  }

  ASSERT_EQ(a.joins.size(), b.joins.size());
  for (size_t i = 0; i < a.joins.size(); ++i) {
    EXPECT_EQ(a.joins[i].scope, b.joins[i].scope) << "join " << i;
    EXPECT_EQ(a.joins[i].gateway, b.joins[i].gateway) << "join " << i;
    EXPECT_EQ(a.joins[i].arrived, b.joins[i].arrived) << "join " << i;
  }

  ASSERT_EQ(a.conditional_subscriptions.size(), b.conditional_subscriptions.size());
  for (auto ia = a.conditional_subscriptions.begin(), ib = b.conditional_subscriptions.begin();
       ia != a.conditional_subscriptions.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.element_instance, ib->second.element_instance);
    EXPECT_EQ(ia->second.element, ib->second.element);
    EXPECT_EQ(ia->second.last_value, ib->second.last_value);
  }
  ASSERT_EQ(a.compensable.size(), b.compensable.size());
  for (auto ia = a.compensable.begin(), ib = b.compensable.begin(); ia != a.compensable.end(); ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_EQ(ia->second.scope, ib->second.scope);
    EXPECT_EQ(ia->second.element, ib->second.element);
  }
}

// ---------------------------------------------------------------------------
// States.

ElementInstance element(Key key, model::Index index, Key scope, ElementState st = ElementState::kActivated) {
  ElementInstance e;
  e.key = key;
  e.element = index;
  e.scope = scope;
  e.state = st;
  return e;
}

// FROZEN: golden/state-v1.bin holds exactly this state. Never change this
// function; a new format version gets its own golden file and builder.
InstanceState golden_v1_state() {
  InstanceState s;
  s.process_id = "户籍迁移-审批";
  s.status = InstanceStatus::kActive;
  s.next_key = 40;
  s.root = 1;

  ElementInstance root = element(1, kNoIndex, 0);
  root.variables["申请人"] = "张三";
  root.variables["amount"] = 1234.5;
  root.variables["count"] = 7;
  root.variables["big"] = std::numeric_limits<int64_t>::min();
  root.variables["huge"] = std::numeric_limits<uint64_t>::max();
  root.variables["ratio"] = 123456789.123456789;  // Boost 1.81's own parser misreads this one
  root.variables["empty"] = nullptr;
  root.variables["ok"] = true;
  root.variables["材料"] = boost::json::parse(
      R"({"身份证":{"号码":"110101199003077777","有效":true},"附件":[1,2.25,"三",null,[],{}],)"
      R"("quote":"a\"b\\c\n\u0001"})");
  s.elements[1] = root;

  ElementInstance task = element(2, 3, 1);
  task.entered_by = 1;
  task.variables["审批意见"] = "同意";
  s.elements[2] = task;

  ElementInstance body = element(3, 5, 1);
  body.entered_by = 4;
  body.is_mi_body = true;
  body.loop_counter = 3;
  body.mi_total = 3;
  body.mi_completed = 1;
  body.mi_active = 2;
  body.variables["results"] = boost::json::array{"甲", nullptr, nullptr};
  s.elements[3] = body;
  for (Key k : {Key{4}, Key{5}}) {
    ElementInstance inner = element(k, 5, 3);
    inner.loop_counter = static_cast<int64_t>(k) - 2;
    inner.variables["item"] = boost::json::object{{"region", "110101"}, {"n", static_cast<int64_t>(k)}};
    s.elements[k] = inner;
  }

  ElementInstance failing = element(6, 7, 1, ElementState::kActivating);
  failing.entered_by = 0;
  failing.incident = 20;
  s.elements[6] = failing;

  ElementInstance sub = element(7, 9, 1);
  sub.interrupted = true;
  s.elements[7] = sub;
  ElementInstance completing = element(8, 10, 7, ElementState::kCompleting);
  completing.entered_by = 12;
  s.elements[8] = completing;

  s.jobs[10] = Job{10, 4, "身份核验", 3, "", false};
  s.jobs[11] = Job{11, 5, "http-json", 2, "连接超时 (timeout after 30s)", true};
  s.jobs[12] = Job{12, 6, "archive", 0, "HTTP 500", true};

  s.user_tasks[13] = UserTask{13, 2};

  s.timers[14] = Timer{14, 2, 11, 1700000000000, 0, 0, {}};         // one-shot boundary
  s.timers[15] = Timer{15, 7, 13, 1700000060000, -1, 60000, {}};         // unbounded cycle
  s.timers[16] = Timer{16, 1, 14, -5, 4, 86400000, {}};         // bounded cycle, odd due time

  s.message_subscriptions[17] = MessageSubscription{17, 2, 15, "补正材料", "110101199003077777"};
  s.message_subscriptions[18] = MessageSubscription{18, 7, 16, "cancel", ""};

  s.signal_subscriptions[19] = SignalSubscription{19, 1, 17, "政策变更"};

  s.incidents[20] = Incident{20, 6, IncidentKind::kJobNoRetries, "任务 archive 没有剩余重试次数", 12};
  s.incidents[21] = Incident{21, 8, IncidentKind::kLoopWithoutWait, "loop", 0};

  s.joins.push_back(JoinState{1, 18, {1, 0, 2}});
  s.joins.push_back(JoinState{7, 19, {}});
  s.joins.push_back(JoinState{1, kNoIndex - 1, {std::numeric_limits<uint32_t>::max()}});
  return s;
}

// An instance waiting at one user task, as the engine leaves it.
InstanceState one_user_task_state() {
  InstanceState s;
  s.process_id = "business-license-application";
  s.next_key = 4;
  s.root = 1;
  ElementInstance root = element(1, kNoIndex, 0);
  root.variables["applicant"] = "张三";
  root.variables["amount"] = 1200;
  root.variables["region"] = "110101";
  s.elements[1] = root;
  ElementInstance task = element(2, 2, 1);
  task.entered_by = 1;
  s.elements[2] = task;
  s.user_tasks[3] = UserTask{3, 2};
  return s;
}

// ---------------------------------------------------------------------------
// Random states.

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool coin() { return (rng_() & 1) != 0; }

  uint64_t key() {
    switch (below(4)) {
      case 0: return below(128);
      case 1: return below(1u << 20);
      case 2: return rng_();
      default: return std::numeric_limits<uint64_t>::max() - below(4);
    }
  }
  int64_t signed_int() {
    switch (below(4)) {
      case 0: return static_cast<int64_t>(below(200)) - 100;
      case 1: return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(below(3));
      case 2: return std::numeric_limits<int64_t>::max() - static_cast<int64_t>(below(3));
      default: return static_cast<int64_t>(rng_());
    }
  }
  model::Index index() {
    switch (below(4)) {
      case 0: return kNoIndex;
      case 1: return kNoIndex - 1;
      case 2: return 0;
      default: return static_cast<model::Index>(below(1000));
    }
  }
  std::string text() {
    using namespace std::string_view_literals;
    static constexpr std::string_view kPieces[] = {"a"sv, "Z"sv, "审批"sv, "张三"sv, "\""sv, "\\"sv, "\n"sv,
                                                   "\t"sv, "\0"sv, "\x01"sv, "\x7f"sv, "\xff"sv, "\xc3"sv,
                                                   "é"sv, "𠀀"sv, " "sv, "{"sv, "}"sv};
    std::string s;
    const size_t n = below(8);
    for (size_t i = 0; i < n; ++i) s += kPieces[below(std::size(kPieces))];
    return s;
  }
  double finite_double() {
    for (;;) {
      uint64_t bits = rng_();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      if (std::isfinite(d)) return d;
    }
  }
  boost::json::value json(int depth) {
    switch (below(depth > 3 ? 6 : 8)) {
      case 0: return nullptr;
      case 1: return coin();
      case 2: return signed_int();
      case 3: return coin() ? boost::json::value(rng_() | (uint64_t{1} << 63)) : boost::json::value(finite_double());
      case 4: return boost::json::value(coin() ? static_cast<double>(below(10)) : -0.0);
      case 5: return boost::json::value(text());
      case 6: {
        boost::json::array a;
        const size_t n = below(4);
        for (size_t i = 0; i < n; ++i) a.push_back(json(depth + 1));
        return a;
      }
      default: {
        boost::json::object o;
        const size_t n = below(4);
        for (size_t i = 0; i < n; ++i) o[text()] = json(depth + 1);
        return o;
      }
    }
  }

  InstanceState state() {
    InstanceState s;
    s.process_id = text();
    s.status = static_cast<InstanceStatus>(1 + below(3));
    s.next_key = key();
    s.root = key();
    for (size_t i = below(6); i > 0; --i) {
      ElementInstance e = element(key(), index(), key(), static_cast<ElementState>(1 + below(3)));
      e.entered_by = index();
      for (size_t v = below(4); v > 0; --v) e.variables[text()] = json(0);
      e.incident = key();
      e.is_mi_body = coin();
      e.interrupted = coin();
      e.loop_counter = signed_int();
      e.mi_total = signed_int();
      e.mi_completed = signed_int();
      e.mi_active = signed_int();
      s.elements[e.key] = e;
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.jobs[k] = Job{k, key(), text(), static_cast<int32_t>(signed_int()), text(), coin()};
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.user_tasks[k] = UserTask{k, key()};
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.timers[k] = Timer{k, key(), index(), signed_int(), signed_int(), signed_int(),
                          coin() ? "0 0 6 * * " + text() : std::string()};
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.message_subscriptions[k] = MessageSubscription{k, key(), index(), text(), text()};
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.signal_subscriptions[k] = SignalSubscription{k, key(), index(), text()};
    }
    for (size_t i = below(4); i > 0; --i) {
      Key k = key();
      s.incidents[k] = Incident{k, key(), static_cast<IncidentKind>(1 + below(6)), text(), key()};
    }
    for (size_t i = below(4); i > 0; --i) {
      JoinState j{key(), index(), {}};
      for (size_t n = below(5); n > 0; --n) j.arrived.push_back(static_cast<uint32_t>(rng_()));
      s.joins.push_back(j);
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------------------
// Hand-built byte strings for the hostile-input tests.

struct Bytes {
  std::string b;
  Bytes& raw(std::string_view s) { b.append(s); return *this; }
  Bytes& u(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes& s(std::string_view text) { u(text.size()); return raw(text); }
};

// A minimal valid version-1 state with one element instance holding one
// variable whose JSON text is `json`.
std::string minimal_with_json(std::string_view json) {
  Bytes x;
  x.raw(kStateMagic).u(1).s("p").u(1).u(2).u(1);
  x.u(1).u(1).u(0).u(0).u(2).u(0);   // elements: 1 entry; key 1, no element, scope 0, activated, no flow
  x.u(1).s("x").s(json);              // one variable
  x.u(0).u(0).u(0).u(0).u(0).u(0);   // incident, flags, loop counters
  for (int i = 0; i < 7; ++i) x.u(0);  // jobs .. incidents, joins: empty
  return x.b;
}

void expect_error(std::string_view bytes, std::string_view code, std::string_view fragment) {
  auto r = decode(bytes);
  ASSERT_FALSE(r.ok()) << "decoded input that should fail: " << fragment;
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The bytes of golden/state-vN.bin (empty, with a failure, when it is
// missing). With BANSHI_WRITE_GOLDEN=N it first writes `state` there, which
// only an encoder of format version N may do.
std::string golden_bytes(uint32_t version, const InstanceState& state) {
  const std::string path = std::string(BANSHI_GOLDEN_DIR) + "/state-v" + std::to_string(version) + ".bin";
  const char* write = std::getenv("BANSHI_WRITE_GOLDEN");
  if (write != nullptr && std::string_view(write) == std::to_string(version)) {
    EXPECT_EQ(InstanceState::kFormatVersion, version) << path << " must be written by its version's encoder";
    if (InstanceState::kFormatVersion == version) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      const std::string bytes = encode(state);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      EXPECT_TRUE(out.good()) << "cannot write " << path;
    }
  }
  std::string bytes = read_file(path);
  EXPECT_FALSE(bytes.empty()) << "missing golden file " << path;
  return bytes;
}

// ---------------------------------------------------------------------------
// Round trips.

TEST(Serialize, RichStateRoundTrips) {
  const InstanceState original = golden_v1_state();
  const std::string bytes = encode(original);
  ASSERT_EQ(bytes.substr(0, 4), kStateMagic);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(original, *decoded);
  EXPECT_EQ(encode(*decoded), bytes);
  // The double Boost 1.81's parser gets wrong comes back bit for bit.
  EXPECT_EQ(decoded->elements.at(1).variables.at("ratio").as_double(), 123456789.123456789);
  EXPECT_TRUE(decoded->elements.at(1).variables.at("huge").is_uint64());
}

TEST(Serialize, EmptyStateRoundTrips) {
  const InstanceState empty;
  auto decoded = decode(encode(empty));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(empty, *decoded);
}

TEST(Serialize, EncodingIsDeterministicAcrossInsertionOrder) {
  InstanceState a = one_user_task_state();
  InstanceState b;
  b.process_id = a.process_id;
  b.next_key = a.next_key;
  b.root = a.root;
  b.user_tasks = a.user_tasks;
  b.elements[2] = a.elements.at(2);
  ElementInstance root = element(1, kNoIndex, 0);
  root.variables["region"] = "110101";
  root.variables["amount"] = 1200;
  root.variables["applicant"] = "张三";
  b.elements[1] = root;
  EXPECT_EQ(encode(a), encode(b));
}

TEST(Serialize, NonFiniteNumbersStayReadable) {
  InstanceState s = one_user_task_state();
  s.elements.at(1).variables["inf"] = std::numeric_limits<double>::infinity();
  s.elements.at(1).variables["ninf"] = -std::numeric_limits<double>::infinity();
  s.elements.at(1).variables["nan"] = std::numeric_limits<double>::quiet_NaN();
  const std::string bytes = encode(s);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const Variables& v = decoded->elements.at(1).variables;
  EXPECT_EQ(v.at("inf").as_double(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(v.at("ninf").as_double(), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(v.at("nan").is_null());  // JSON has no NaN (documented in serialize.h)
  EXPECT_EQ(encode(*decoded), bytes);
}

TEST(Serialize, RandomStatesRoundTrip) {
  Gen gen(20240611);
  for (int i = 0; i < 300; ++i) {
    const InstanceState original = gen.state();
    const std::string bytes = encode(original);
    auto decoded = decode(bytes);
    ASSERT_TRUE(decoded.ok()) << "state " << i << ": " << decoded.error().message;
    expect_same(original, *decoded);
    ASSERT_EQ(encode(*decoded), bytes) << "state " << i;
    if (HasFailure()) FAIL() << "state " << i << " differs";
  }
}

TEST(Serialize, EncodeRefusesAMapKeyThatDiffersFromTheEntry) {
  InstanceState s = one_user_task_state();
  s.user_tasks[9] = UserTask{8, 2};
  EXPECT_THROW((void)encode(s), std::logic_error);
}

// ---------------------------------------------------------------------------
// Hostile input.

TEST(SerializeHostile, MinimalHandBuiltStateDecodes) {
  auto r = decode(minimal_with_json(R"({"a":[1,2.5,"x"]})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->process_id, "p");
  EXPECT_EQ(r->elements.at(1).variables.at("x").at("a").at(1).as_double(), 2.5);
}

TEST(SerializeHostile, EveryTruncationFails) {
  const std::string bytes = encode(golden_v1_state());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << "a prefix of " << n << " bytes decoded";
    EXPECT_FALSE(r.error().message.empty());
  }
  expect_error("", "corrupt-state", "too short");
  expect_error(std::string_view(bytes).substr(0, 5), "corrupt-state", "ends early");
}

TEST(SerializeHostile, WrongMagic) {
  std::string bytes = encode(one_user_task_state());
  bytes[0] = 'X';
  expect_error(bytes, "corrupt-state", "magic");
  expect_error("{\"process_id\":\"p\"}", "corrupt-state", "magic");
  bytes = encode(one_user_task_state());
  bytes[3] = '\x02';
  expect_error(bytes, "unsupported-state-version", "encoding 2");
}

TEST(SerializeHostile, UnknownVersion) {
  const uint32_t next = InstanceState::kFormatVersion + 1;
  expect_error(Bytes{}.raw(kStateMagic).u(next).s("p").b, "unsupported-state-version",
               "version " + std::to_string(next));
  expect_error(Bytes{}.raw(kStateMagic).u(1000000).b, "unsupported-state-version", "version 1000000");
  expect_error(Bytes{}.raw(kStateMagic).u(0).b, "unsupported-state-version", "version 0");
}

TEST(SerializeHostile, AbsurdLengthsAndCounts) {
  // A process id claiming a terabyte.
  expect_error(Bytes{}.raw(kStateMagic).u(1).u(uint64_t{1} << 40).raw("abc").b, "corrupt-state",
               "exceeds the 3 bytes left");
  // An element count near 2^64.
  expect_error(Bytes{}.raw(kStateMagic).u(1).s("p").u(1).u(2).u(1).u(~uint64_t{0}).b, "corrupt-state",
               "exceeds");
  // A JSON text longer than what follows.
  std::string bytes = minimal_with_json("1");
  const size_t at = bytes.find("\x01x\x01");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 2] = '\x70';
  expect_error(bytes, "corrupt-state", "exceeds");
}

TEST(SerializeHostile, VarintOverflow) {
  Bytes x;
  x.raw(kStateMagic).u(1).s("p").u(1);
  x.raw("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f");  // next_key: 70 bits
  expect_error(x.b, "corrupt-state", "overflows 64 bits");
  Bytes y;
  y.raw(kStateMagic).u(1).s("p").u(1).raw(std::string(40, '\xff'));
  expect_error(y.b, "corrupt-state", "overflows 64 bits");
  // The largest value that fits is fine; an overlong encoding of 1 is not.
  Bytes z;
  z.raw(kStateMagic).u(1).s("p").u(1).raw("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
  expect_error(z.b, "corrupt-state", "ends early");  // valid next_key, then the input ends
  expect_error(Bytes{}.raw(kStateMagic).raw(std::string_view("\x81\x00", 2)).b, "corrupt-state", "redundant");
}

TEST(SerializeHostile, InvalidJson) {
  expect_error(minimal_with_json("{bad"), "corrupt-state", "JSON");
  expect_error(minimal_with_json(""), "corrupt-state", "JSON");
  expect_error(minimal_with_json("1 2"), "corrupt-state", "JSON");
  expect_error(minimal_with_json("[1,]"), "corrupt-state", "JSON");
  expect_error(minimal_with_json(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']')),
               "corrupt-state", "JSON");
  // Deep but within the limit is fine.
  auto r = decode(minimal_with_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST(SerializeHostile, TrailingGarbage) {
  std::string bytes = encode(golden_v1_state());
  expect_error(bytes + "x", "corrupt-state", "1 bytes follow");
  expect_error(bytes + std::string(10, '\0'), "corrupt-state", "10 bytes follow");
}

TEST(SerializeHostile, OutOfRangeCodes) {
  std::string ok = minimal_with_json("1");
  ASSERT_TRUE(decode(ok).ok());
  // status is the byte after magic, version and the process id "p".
  std::string bad_status = ok;
  bad_status[4 + 1 + 2] = '\x09';
  expect_error(bad_status, "corrupt-state", "status");
  std::string zero_status = ok;
  zero_status[4 + 1 + 2] = '\x00';
  expect_error(zero_status, "corrupt-state", "status");

  Bytes flags;
  flags.raw(kStateMagic).u(1).s("p").u(1).u(2).u(1);
  flags.u(1).u(1).u(0).u(0).u(2).u(0).u(0).u(0).u(4);
  expect_error(flags.b, "corrupt-state", "flags");

  Bytes index;  // an element index of 2^32 - 1 + 1 is beyond kNoIndex
  index.raw(kStateMagic).u(1).s("p").u(1).u(2).u(1);
  index.u(1).u(1).u(uint64_t{1} << 32);
  expect_error(index.b, "corrupt-state", "out of range");
}

TEST(SerializeHostile, KeysOutOfOrderOrRepeated) {
  Bytes x;
  x.raw(kStateMagic).u(1).s("p").u(1).u(2).u(1).u(0);  // no elements
  x.u(2).u(5).u(1).s("t").u(6).s("").u(0);  // job 5
  x.u(5).u(1).s("t").u(6).s("").u(0);       // job 5 again
  expect_error(x.b, "corrupt-state", "out of order or repeated");
}

TEST(SerializeHostile, RandomCorruptionNeverCrashes) {
  const std::string good = encode(golden_v1_state());
  std::mt19937_64 rng(7);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
    auto r = decode(bytes);
    if (!r.ok()) {
      ++refused;
      EXPECT_FALSE(r.error().message.empty());
    } else {
      // Whatever decodes must encode and decode again.
      auto again = decode(encode(*r));
      EXPECT_TRUE(again.ok());
    }
  }
  EXPECT_GT(refused, 1000);
}

// ---------------------------------------------------------------------------
// Version 1 data keeps loading.

TEST(SerializeGolden, Version1StillDecodes) {
  const std::string bytes = golden_bytes(1, golden_v1_state());
  ASSERT_FALSE(bytes.empty());
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(golden_v1_state(), *decoded);

  // Spot checks that do not depend on the builder above.
  const InstanceState& s = *decoded;
  EXPECT_EQ(s.process_id, "户籍迁移-审批");
  EXPECT_EQ(s.elements.size(), 8u);
  EXPECT_EQ(s.elements.at(1).element, kNoIndex);
  EXPECT_EQ(s.elements.at(1).variables.at("材料").at("身份证").at("号码"), "110101199003077777");
  EXPECT_TRUE(s.elements.at(3).is_mi_body);
  EXPECT_EQ(s.elements.at(3).mi_active, 2);
  EXPECT_TRUE(s.elements.at(7).interrupted);
  EXPECT_EQ(s.jobs.at(11).last_error, "连接超时 (timeout after 30s)");
  EXPECT_EQ(s.timers.at(15).repetitions_left, -1);
  EXPECT_EQ(s.message_subscriptions.at(17).name, "补正材料");
  EXPECT_EQ(s.signal_subscriptions.at(19).name, "政策变更");
  EXPECT_EQ(s.incidents.at(20).kind, IncidentKind::kJobNoRetries);
  EXPECT_EQ(s.joins.at(2).gateway, kNoIndex - 1);

  // While version 1 is the current format, the encoder must still write
  // exactly these bytes; after a version change only the decoding above holds.
  if (InstanceState::kFormatVersion == 1) {
    EXPECT_EQ(encode(s), bytes) << "the version-1 encoding changed; add a new format version instead";
  }
}

// ---------------------------------------------------------------------------
// Version 2 added compensation bookkeeping and conditional subscriptions.

// FROZEN: golden/state-v2.bin holds exactly this state.
InstanceState golden_v2_state() {
  InstanceState s = golden_v1_state();
  s.elements.at(2).pending_compensation = {4, 9, kNoIndex - 1};
  s.elements.at(5).compensation_thrower = 2;
  s.conditional_subscriptions[30] = ConditionalSubscription{30, 4, 12, false};
  s.conditional_subscriptions[31] = ConditionalSubscription{31, 1, 13, true};
  s.compensable[32] = CompensableActivity{32, 1, 7};
  s.compensable[33] = CompensableActivity{33, 4, kNoIndex - 2};
  s.next_key = 34;
  s.parent_element = 77;
  return s;
}

TEST(SerializeGolden, Version2StillDecodes) {
  const std::string bytes = golden_bytes(2, golden_v2_state());
  ASSERT_FALSE(bytes.empty());
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(golden_v2_state(), *decoded);
  EXPECT_EQ(decoded->conditional_subscriptions.at(31).element, 13u);
  EXPECT_EQ(decoded->compensable.at(33).element, kNoIndex - 2);
  if (InstanceState::kFormatVersion == 2) {
    EXPECT_EQ(encode(*decoded), bytes) << "the version-2 encoding changed; add a new format version instead";
  }
}

TEST(SerializeGolden, Version1DecodesWithEmptyVersion2Sections) {
  auto decoded = decode(read_file(std::string(BANSHI_GOLDEN_DIR) + "/state-v1.bin"));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_TRUE(decoded->conditional_subscriptions.empty());
  EXPECT_TRUE(decoded->compensable.empty());
  // Re-encoded, it is written in the current format and reads back the same.
  auto again = decode(encode(*decoded));
  ASSERT_TRUE(again.ok()) << again.error().message;
  expect_same(*decoded, *again);
}

// ---------------------------------------------------------------------------
// Version 4 added the cron cycles of timers.

// FROZEN: golden/state-v4.bin holds exactly this state.
InstanceState golden_v4_state() {
  InstanceState s = golden_v2_state();
  s.timers[34] = Timer{34, 1, 14, 1772402400000, -1, 0, "0 0 6 * * MON-FRI"};
  s.timers[35] = Timer{35, 7, 13, 1772985600000, -1, 0, "0 0 0 L * ?"};
  s.next_key = 36;
  return s;
}

TEST(SerializeGolden, Version4StillDecodes) {
  const std::string bytes = golden_bytes(4, golden_v4_state());
  ASSERT_FALSE(bytes.empty());
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(golden_v4_state(), *decoded);
  EXPECT_EQ(decoded->timers.at(34).cron, "0 0 6 * * MON-FRI");
  EXPECT_EQ(decoded->timers.at(35).cron, "0 0 0 L * ?");
  EXPECT_TRUE(decoded->timers.at(15).cron.empty());
  if (InstanceState::kFormatVersion == 4) {
    EXPECT_EQ(encode(*decoded), bytes) << "the version-4 encoding changed; add a new format version instead";
  }
}

TEST(SerializeGolden, Version2DecodesWithoutCronCycles) {
  auto decoded = decode(read_file(std::string(BANSHI_GOLDEN_DIR) + "/state-v2.bin"));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  for (const auto& [key, t] : decoded->timers) EXPECT_TRUE(t.cron.empty()) << key;
}

TEST(SerializeHostile, ACronCycleForAMissingTimerOrAnEmptyOneIsRefused) {
  InstanceState s = golden_v4_state();
  const std::string good = encode(s);
  // The section comes last but for version 5's (empty here: one count byte 0):
  // count 2, then key 34 and its text, key 35 and its text.
  const std::string tail =
      std::string("\x02\x22\x11") + "0 0 6 * * MON-FRI" + "\x23\x0b" + "0 0 0 L * ?" + std::string(1, '\0');
  ASSERT_EQ(good.substr(good.size() - tail.size()), tail);
  const std::string head = good.substr(0, good.size() - tail.size());
  auto missing = decode(head + std::string("\x01\x63\x01") + "x");  // timer 99
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("timer 99 does not exist"), std::string::npos) << missing.error().message;
  auto empty = decode(head + std::string("\x01\x22\x00", 3));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("cron cycle is empty"), std::string::npos) << empty.error().message;
  auto unordered = decode(head + std::string("\x02\x23\x01") + "x" + "\x22\x01" + "y");
  ASSERT_FALSE(unordered.ok());
  EXPECT_NE(unordered.error().message.find("out of order"), std::string::npos) << unordered.error().message;
}

// ---------------------------------------------------------------------------
// Size.

TEST(SerializeSize, OneUserTaskInstanceIsSmall) {
  const std::string bytes = encode(one_user_task_state());
  std::cout << "encoded size of an instance waiting at one user task: " << bytes.size() << " bytes\n";
  RecordProperty("encoded_bytes", static_cast<int>(bytes.size()));
  EXPECT_LT(bytes.size(), 1024u);
}

}  // namespace
}  // namespace banshi::core
