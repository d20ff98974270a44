// The department simulators as a pure function of requests (no sockets).
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "simulators/people.h"
#include "simulators/simulator.h"

namespace banshi::connectors::sim {
namespace {

namespace json = boost::json;

api::Request post(const std::string& target, const std::string& body, const std::string& key = {}) {
  api::Fields headers;
  if (!key.empty()) headers.emplace_back("idempotency-key", key);
  return api::Request::make("POST", target, body, headers);
}
api::Request get(const std::string& target) { return api::Request::make("GET", target); }
json::object body_of(const api::Response& r) { return json::parse(r.body).as_object(); }
std::string code_of(const api::Response& r) { return std::string(body_of(r).at("code").as_string()); }

// The first synthetic person (born 1980-05-01 in 南关区) matching a predicate.
template <class Pred>
Person find_person(Pred pred, std::string birth = "19800501") {
  for (int seq = 0; seq < 1000; ++seq) {
    auto p = person_of(make_id_number("220102", birth, seq));
    if (p && pred(*p)) return *p;
  }
  ADD_FAILURE() << "no synthetic person fits";
  return {};
}

SimulatorOptions fixed_day() {
  SimulatorOptions o;
  o.today = "2026-03-02";
  return o;
}

TEST(People, CheckDigitFollowsIso7064) {
  EXPECT_EQ(id_check_char("11010519491231002"), 'X');  // the national standard's example
  EXPECT_TRUE(valid_id_number("11010519491231002X"));
  EXPECT_FALSE(valid_id_number("110105194912310021"));
  EXPECT_FALSE(valid_id_number("11010519491231002"));
  std::string id = make_id_number("220402", "19900230", 7);
  EXPECT_TRUE(valid_id_number(id));
  EXPECT_FALSE(person_of(id).has_value());  // 30 February is no birth date
  EXPECT_FALSE(person_of(make_id_number("110105", "19800501", 1)).has_value());  // not a demo region
  auto p = person_of(make_id_number("220402", "19800501", 1));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->region_code, "220402");
  EXPECT_EQ(p->birth_date, "1980-05-01");
  EXPECT_EQ(person_of(p->id_number)->name, p->name);  // the same number, the same person
}

TEST(Simulator, HouseholdLookupGivesTheRegionByIdNumber) {
  Simulator s(fixed_day());
  Person p = find_person([](const Person&) { return true; });
  auto r = s.handle(get("/data-sharing/household/" + p.id_number));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r).at("regionCode").as_string(), "220102");
  EXPECT_EQ(body_of(r).at("regionName").as_string(), "长春市南关区");
  EXPECT_EQ(code_of(s.handle(get("/data-sharing/household/220102198005010011"))), "invalid-id-number");
  EXPECT_EQ(s.handle(get("/data-sharing/household/" + make_id_number("110105", "19800501", 1))).status, 404);
  Person dead = find_person([](const Person& x) { return x.deceased; });
  auto d = s.handle(get("/data-sharing/deaths/" + dead.id_number));
  EXPECT_TRUE(body_of(d).at("deceased").as_bool());
  EXPECT_FALSE(body_of(d).at("dateOfDeath").as_string().empty());
}

TEST(Simulator, CertificateLifecycleIssueLossTransferChangeCancel) {
  Simulator s(fixed_day());
  Person p = find_person([](const Person& x) { return !x.deceased; });
  auto issued = s.handle(post("/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":4,"level":2})"));
  ASSERT_EQ(issued.status, 201) << issued.body;
  std::string number(body_of(issued).at("certificateNumber").as_string());
  EXPECT_EQ(number, p.id_number + "42");  // ID number + category + level
  EXPECT_EQ(body_of(issued).at("validUntil").as_string(), "2036-03-02");
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":4,"level":2})"))),
            "already-registered");

  auto lost = s.handle(post("/dpf/certificates/" + number + "/loss", "{}"));
  ASSERT_EQ(lost.status, 201);
  std::string b1(body_of(lost).at("certificateNumber").as_string());
  EXPECT_EQ(b1, number + "B1");
  EXPECT_EQ(body_of(s.handle(get("/dpf/certificates/" + number))).at("status").as_string(), "void");
  auto lost2 = s.handle(post("/dpf/certificates/" + b1 + "/loss", "{}"));
  EXPECT_EQ(body_of(lost2).at("certificateNumber").as_string(), number + "B2");
  std::string b2 = number + "B2";

  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates/" + b2 + "/transfer", R"({"toRegion":"220102"})"))), "same-region");
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates/" + b2 + "/transfer", R"({"toRegion":"220100"})"))), "unknown-region");
  auto moved = s.handle(post("/dpf/certificates/" + b2 + "/transfer", R"({"toRegion":"220402"})"));
  ASSERT_EQ(moved.status, 200);
  EXPECT_EQ(body_of(moved).at("regionCode").as_string(), "220402");
  EXPECT_EQ(body_of(moved).at("transfers").as_array().at(0).as_string(), "220102->220402");

  auto changed = s.handle(post("/dpf/certificates/" + b2 + "/change", R"({"category":4,"level":1})"));
  ASSERT_EQ(changed.status, 201) << changed.body;
  std::string changed_number(body_of(changed).at("certificateNumber").as_string());
  EXPECT_EQ(changed_number, p.id_number + "41");
  EXPECT_EQ(body_of(s.handle(get("/dpf/certificates/" + b2))).at("status").as_string(), "replaced");

  auto renewed = s.handle(post("/dpf/certificates/" + changed_number + "/renewal", "{}"));
  EXPECT_EQ(renewed.status, 200);
  auto pushed = s.handle(post("/data-sharing/e-certificates", R"({"certificateNumber":")" + changed_number + R"("})"));
  ASSERT_EQ(pushed.status, 201) << pushed.body;
  EXPECT_EQ(body_of(pushed).at("status").as_string(), "valid");
  // The replaced card has a successor: that one is pushed, not this.
  EXPECT_EQ(code_of(s.handle(post("/data-sharing/e-certificates", R"({"certificateNumber":")" + b2 + R"("})"))),
            "certificate-not-active");
  auto cancelled = s.handle(post("/dpf/certificates/" + changed_number + "/cancellation", R"({"reason":"death"})"));
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(body_of(cancelled).at("reapplyFrom").as_string(), "2027-03-02");
  // The cancellation reaches the e-certificate platform, which revokes it.
  auto revoked = s.handle(post("/data-sharing/e-certificates", R"({"certificateNumber":")" + changed_number + R"("})"));
  ASSERT_EQ(revoked.status, 201) << revoked.body;
  EXPECT_EQ(body_of(revoked).at("status").as_string(), "revoked");
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates/" + changed_number + "/renewal", "{}"))), "certificate-not-active");
  EXPECT_EQ(s.applied("dpf.register-certificate"), 1u);
  EXPECT_EQ(s.applied("dpf.report-loss"), 2u);
}

// GET /dpf/holders/{id}/certificates is what dpf.check-reapply and the front
// door read: every card the person held, the active one first, a cancelled one
// with the date from which a new application is taken; the registry itself
// refuses a new card within that year.
TEST(Simulator, HolderCertificatesNameWhenANewApplicationIsTakenAgain) {
  int64_t now_ms = 1709312400000;  // 2024-03-02 01:00 in UTC+8
  SimulatorOptions o;
  o.now_ms = [&now_ms] { return now_ms; };
  Simulator s(o);
  auto set_day = [&](int y, int m, int d) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 1;
    now_ms = static_cast<int64_t>(timegm(&tm)) * 1000 - 8 * 3600 * 1000;
  };
  Person p = find_person([](const Person& x) { return !x.deceased; });
  const std::string holder = "/dpf/holders/" + p.id_number + "/certificates";
  const std::string issue = R"({"idNumber":")" + p.id_number + R"(","category":4,"level":2})";
  auto none = s.handle(get(holder));
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(body_of(none).at("items").as_array().empty());
  EXPECT_EQ(code_of(s.handle(get("/dpf/holders/220102198005010011/certificates"))), "invalid-id-number");

  set_day(2024, 2, 29);
  auto first = s.handle(post("/dpf/certificates", issue));
  ASSERT_EQ(first.status, 201) << first.body;
  std::string number(body_of(first).at("certificateNumber").as_string());
  ASSERT_EQ(s.handle(post("/dpf/certificates/" + number + "/cancellation", R"({"reason":"holder-request"})")).status, 200);
  auto listed = body_of(s.handle(get(holder))).at("items").as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("status").as_string(), "cancelled");
  EXPECT_EQ(listed[0].at("cancelledAt").as_string(), "2024-02-29");
  EXPECT_EQ(listed[0].at("reapplyFrom").as_string(), "2025-02-28");  // a year after 29 February
  EXPECT_EQ(listed[0].at("cancelReason").as_string(), "holder-request");

  set_day(2025, 2, 27);
  auto early = s.handle(post("/dpf/certificates", issue));
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(code_of(early), "reapply-too-soon");
  EXPECT_NE(body_of(early).at("detail").as_string().find("2025-02-28"), std::string::npos) << early.body;
  set_day(2025, 2, 28);
  auto again = s.handle(post("/dpf/certificates", issue));
  ASSERT_EQ(again.status, 201) << again.body;
  std::string second(body_of(again).at("certificateNumber").as_string());
  listed = body_of(s.handle(get(holder))).at("items").as_array();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("status").as_string(), "active");
  EXPECT_EQ(listed[0].at("certificateNumber").as_string(), second);
  EXPECT_FALSE(listed[0].as_object().contains("reapplyFrom"));
  EXPECT_EQ(listed[1].at("status").as_string(), "cancelled");
}

TEST(Simulator, SubsidyRulesFollowDibaoTekunAndLevel) {
  Simulator s(fixed_day());
  auto issue = [&](const Person& p, int category, int level) {
    auto r = s.handle(post("/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":)" +
                                                    std::to_string(category) + R"(,"level":)" + std::to_string(level) + "}"));
    ASSERT_EQ(r.status, 201) << r.body;
  };
  auto decide = [&](const Person& p, const char* subsidy) {
    return s.handle(post("/civil-affairs/subsidy-decisions",
                         R"({"idNumber":")" + p.id_number + R"(","subsidy":")" + subsidy + R"("})"));
  };
  Person poor = find_person([](const Person& x) { return x.dibao && !x.deceased; });
  Person other = find_person([](const Person& x) { return !x.dibao && !x.tekun && !x.deceased; });
  EXPECT_EQ(code_of(decide(poor, "living")), "no-active-certificate");
  issue(poor, 4, 3);
  issue(other, 4, 1);
  auto granted = decide(poor, "living");
  ASSERT_EQ(granted.status, 201) << granted.body;
  EXPECT_EQ(body_of(granted).at("monthlyAmount").as_int64(), 80);
  EXPECT_EQ(body_of(granted).at("fromMonth").as_string(), "2026-03");
  EXPECT_EQ(code_of(decide(poor, "living")), "already-granted");
  EXPECT_EQ(code_of(decide(poor, "nursing")), "not-eligible");  // 三级 肢体
  EXPECT_EQ(code_of(decide(other, "living")), "not-eligible");   // not in 低保
  EXPECT_EQ(decide(other, "nursing").status, 201);               // 一级
}

TEST(Simulator, EmploymentAndPensionRules) {
  Simulator s(fixed_day());
  Person p = find_person([](const Person& x) { return !x.deceased; });
  std::string id = R"({"idNumber":")" + p.id_number + R"("})";
  EXPECT_EQ(code_of(s.handle(post("/hrss/employment-difficulty-recognitions", id))), "not-registered");
  ASSERT_EQ(s.handle(post("/hrss/unemployment-registrations", id)).status, 201);
  EXPECT_EQ(code_of(s.handle(post("/hrss/employment-difficulty-recognitions", id))), "no-active-certificate");
  ASSERT_EQ(s.handle(post("/dpf/certificates", R"({"idNumber":")" + p.id_number + R"(","category":1,"level":2})")).status, 201);
  EXPECT_EQ(s.handle(post("/hrss/employment-difficulty-recognitions", id)).status, 201);
  Person old = find_person([](const Person& x) { return !x.deceased; }, "19500101");
  EXPECT_EQ(code_of(s.handle(post("/hrss/unemployment-registrations", R"({"idNumber":")" + old.id_number + R"("})"))),
            "not-working-age");
  std::string year = R"({"idNumber":")" + p.id_number + R"(","year":2026})";
  auto paid = s.handle(post("/social-insurance/contributions", year));
  ASSERT_EQ(paid.status, 201) << paid.body;
  EXPECT_EQ(body_of(paid).at("amount").as_int64(), 100);
  EXPECT_EQ(code_of(s.handle(post("/social-insurance/contributions", year))), "already-paid");
}

TEST(Simulator, SubsidiesArePaidMonthByMonthUntilStopped) {
  Simulator s(fixed_day());
  Person poor = find_person([](const Person& x) { return x.dibao && !x.deceased; });
  std::string id = R"({"idNumber":")" + poor.id_number + R"("})";
  std::string living = R"({"idNumber":")" + poor.id_number + R"(","subsidy":"living"})";
  EXPECT_EQ(code_of(s.handle(post("/civil-affairs/subsidy-payments", living))), "not-granted");
  ASSERT_EQ(s.handle(post("/dpf/certificates", R"({"idNumber":")" + poor.id_number + R"(","category":4,"level":2})")).status, 201);
  ASSERT_EQ(s.handle(post("/civil-affairs/subsidy-decisions", living)).status, 201);
  std::vector<std::string> months;
  for (int i = 0; i < 11; ++i) {
    auto paid = s.handle(post("/civil-affairs/subsidy-payments", living, "pay-" + std::to_string(i)));
    ASSERT_EQ(paid.status, 201) << paid.body;
    months.emplace_back(body_of(paid).at("month").as_string());
    EXPECT_EQ(body_of(paid).at("amount").as_int64(), 80);
  }
  EXPECT_EQ(months.front(), "2026-03");
  EXPECT_EQ(months[9], "2026-12");
  EXPECT_EQ(months[10], "2027-01");
  // The same payment job again pays nothing more.
  auto again = s.handle(post("/civil-affairs/subsidy-payments", living, "pay-10"));
  EXPECT_EQ(body_of(again).at("month").as_string(), "2027-01");
  EXPECT_EQ(s.applied("civil-affairs.pay-subsidy"), 11u);

  auto stopped = s.handle(post("/civil-affairs/subsidy-stops", id));
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(body_of(stopped).at("stopFrom").as_string(), "2026-04");
  EXPECT_EQ(body_of(stopped).at("stopped"), json::value(json::array{"living"}));
  EXPECT_EQ(code_of(s.handle(post("/civil-affairs/subsidy-payments", living))), "subsidy-stopped");
  // Someone without subsidies: nothing to stop is no error.
  Person other = find_person([](const Person& x) { return !x.dibao && !x.deceased; });
  auto none = s.handle(post("/civil-affairs/subsidy-stops", R"({"idNumber":")" + other.id_number + R"("})"));
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_TRUE(body_of(none).at("stopped").as_array().empty());

  // The pension contribution stops from next month: this year's is no longer paid.
  auto stop = s.handle(post("/social-insurance/contribution-stops", id));
  ASSERT_EQ(stop.status, 200) << stop.body;
  EXPECT_EQ(body_of(stop).at("stopFrom").as_string(), "2026-04");
  EXPECT_EQ(code_of(s.handle(post("/social-insurance/contributions", R"({"idNumber":")" + poor.id_number + R"(","year":2026})"))),
            "contribution-stopped");
}

TEST(Simulator, AStoreKeepsTheStateAndTheIdempotencyKeysAcrossRestarts) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("banshi-sim-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Person p = find_person([](const Person& x) { return x.dibao && !x.deceased; });
  std::string issue = R"({"idNumber":")" + p.id_number + R"(","category":4,"level":2})";
  std::string living = R"({"idNumber":")" + p.id_number + R"(","subsidy":"living"})";
  std::string first_answer, number;
  {
    Simulator s(fixed_day());
    ASSERT_TRUE(s.open_store(dir.string()).ok());
    auto issued = s.handle(post("/dpf/certificates", issue, "job-1"));
    ASSERT_EQ(issued.status, 201) << issued.body;
    first_answer = issued.body;
    number = std::string(body_of(issued).at("certificateNumber").as_string());
    ASSERT_EQ(s.handle(post("/dpf/certificates/" + number + "/transfer", R"({"toRegion":"220402"})", "job-2")).status, 200);
    ASSERT_EQ(s.handle(post("/civil-affairs/subsidy-decisions", living, "job-3")).status, 201);
    ASSERT_EQ(s.handle(post("/civil-affairs/subsidy-payments", living, "job-4")).status, 201);
    ASSERT_EQ(s.handle(post("/hrss/unemployment-registrations", R"({"idNumber":")" + p.id_number + R"("})")).status, 201);
  }
  Simulator s(fixed_day());
  ASSERT_TRUE(s.open_store(dir.string()).ok());
  // The registry, the subsidy and its payments, and the registration are back.
  auto cert = s.handle(get("/dpf/certificates/" + number));
  ASSERT_EQ(cert.status, 200) << cert.body;
  EXPECT_EQ(body_of(cert).at("regionCode").as_string(), "220402");
  EXPECT_EQ(body_of(cert).at("transfers").as_array().size(), 1u);
  EXPECT_EQ(s.certificates().size(), 1u);
  EXPECT_EQ(code_of(s.handle(post("/civil-affairs/subsidy-decisions", living))), "already-granted");
  auto next = s.handle(post("/civil-affairs/subsidy-payments", living, "job-5"));
  EXPECT_EQ(body_of(next).at("month").as_string(), "2026-04");
  EXPECT_EQ(code_of(s.handle(post("/hrss/unemployment-registrations", R"({"idNumber":")" + p.id_number + R"("})"))),
            "already-registered");
  // A job retried after the restart gets its first answer, applied once.
  auto replay = s.handle(post("/dpf/certificates", issue, "job-1"));
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first_answer);
  EXPECT_EQ(s.applied("dpf.register-certificate"), 1u);
  auto paid_again = s.handle(post("/civil-affairs/subsidy-payments", living, "job-4"));
  EXPECT_EQ(body_of(paid_again).at("month").as_string(), "2026-03");
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates", R"({"idNumber":"x","category":2,"level":3})", "job-1"))),
            "idempotency-key-reused");
  // Identifiers keep counting up: the first run handed out 1001 to 1003.
  const std::string payment(body_of(next).at("paymentId").as_string());
  EXPECT_GT(std::stoi(payment.substr(3)), 1003) << payment;
  std::filesystem::remove_all(dir);
}

TEST(Simulator, ARepeatedIdempotencyKeyReturnsTheFirstAnswerAndAppliesOnce) {
  Simulator s(fixed_day());
  Person p = find_person([](const Person& x) { return !x.deceased; });
  std::string body = R"({"idNumber":")" + p.id_number + R"(","category":2,"level":3})";
  auto first = s.handle(post("/dpf/certificates", body, "job-17"));
  auto again = s.handle(post("/dpf/certificates", body, "job-17"));
  ASSERT_EQ(first.status, 201);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(s.applied("dpf.register-certificate"), 1u);
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates", R"({"idNumber":"x","category":2,"level":3})", "job-17"))),
            "idempotency-key-reused");
  // Without the key, the repeat is a second request and is refused by the registry.
  EXPECT_EQ(code_of(s.handle(post("/dpf/certificates", body))), "already-registered");
}

TEST(Simulator, FaultsRefuseBeforeApplyingAndCanBeSetAtRunTime) {
  Simulator s(fixed_day());
  Person p = find_person([](const Person& x) { return !x.deceased; });
  auto r = s.handle(post("/_sim/faults", R"({"department":"dpf","down":true})"));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string body = R"({"idNumber":")" + p.id_number + R"(","category":2,"level":3})";
  EXPECT_EQ(s.handle(post("/dpf/certificates", body, "k1")).status, 503);
  EXPECT_EQ(s.handle(get("/data-sharing/household/" + p.id_number)).status, 200);  // other departments answer
  EXPECT_EQ(s.applied("dpf.register-certificate"), 0u);
  s.handle(post("/_sim/faults", R"({"department":"dpf","errorRate":1})"));
  EXPECT_EQ(s.handle(post("/dpf/certificates", body, "k1")).status, 500);
  s.handle(post("/_sim/faults", R"({"department":"dpf"})"));
  EXPECT_EQ(s.handle(post("/dpf/certificates", body, "k1")).status, 201);  // a refused request left no answer behind
  EXPECT_EQ(s.handle(post("/_sim/faults", R"({"down":"yes"})")).status, 400);
  auto stats = s.handle(get("/_sim/stats"));
  EXPECT_EQ(body_of(stats).at("applied").as_object().at("dpf.register-certificate").as_int64(), 1);
}

TEST(Simulator, OutageFlagsParseAndRefuseNonsense) {
  auto w = parse_outage("dpf:10-40");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->first, "dpf");
  EXPECT_EQ(w->second.first, 10000);
  EXPECT_EQ(w->second.second, 40000);
  EXPECT_EQ(parse_outage("5-6")->first, "*");
  EXPECT_FALSE(parse_outage("police:1-2").ok());
  EXPECT_FALSE(parse_outage("40-10").ok());
  EXPECT_FALSE(parse_outage("a-b").ok());
  SimulatorOptions o = fixed_day();
  o.faults["hrss"].outages.push_back({0, 60'000});
  Simulator s(o);
  EXPECT_EQ(s.handle(post("/hrss/unemployment-registrations", "{}")).status, 503);
}

TEST(Simulator, HostileInputGetsProblemAnswers) {
  Simulator s(fixed_day());
  EXPECT_EQ(s.handle(post("/dpf/certificates", "not json")).status, 400);
  EXPECT_EQ(s.handle(post("/dpf/certificates", "[1]")).status, 400);
  EXPECT_EQ(s.handle(post("/dpf/certificates", R"({"idNumber":"x","category":9,"level":1})")).status, 400);
  EXPECT_EQ(s.handle(get("/nowhere")).status, 404);
  EXPECT_EQ(s.handle(get("/dpf/certificates/%ZZ")).status, 404);
  auto r = s.handle(post("/dpf/certificates", R"({"idNumber":"220102198005010011","category":1,"level":1})"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.content_type, "application/problem+json");
}

}  // namespace
}  // namespace banshi::connectors::sim
