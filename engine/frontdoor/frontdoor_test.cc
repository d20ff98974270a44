// The front door's pure pieces: ID numbers, phones, names, document sniffing,
// the catalogue (checked against the shipped workflows), requirements and
// promised dates.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "calendar/business_calendar.h"
#include "frontdoor/frontdoor.h"
#include "model/iso8601.h"
#include "model/load.h"

namespace banshi::frontdoor {
namespace {

namespace fs = std::filesystem;

TEST(IdNumber, CheckDigitAndBirthDate) {
  EXPECT_TRUE(valid_id_number("220102198001010012"));
  EXPECT_EQ(id_check_char("22010219800101001"), '2');
  EXPECT_EQ(id_check_char("11010519491231002"), 'X');  // GB 11643's example
  EXPECT_TRUE(valid_id_number("11010519491231002X"));
  EXPECT_TRUE(valid_id_number("11010519491231002x"));
  EXPECT_NE(id_number_problem("220102198001010013").find("check digit"), std::string::npos);
  EXPECT_NE(id_number_problem("22010219800101001").find("18 characters"), std::string::npos);
  EXPECT_NE(id_number_problem("2201021980010100A3").find("digits"), std::string::npos);
  // A check digit that fits a date that does not exist.
  std::string feb30 = "22010219800230001";
  feb30 += id_check_char(feb30);
  EXPECT_NE(id_number_problem(feb30).find("birth date"), std::string::npos);
  EXPECT_EQ(birth_date_of("220102198001010012"), "1980-01-01");
  EXPECT_EQ(age_on("220102198001010013", "2026-01-01"), 46);
  EXPECT_EQ(age_on("220102198001020013", "2026-01-01"), 45);
}

TEST(PersonalData, PhonesNamesAndMasks) {
  EXPECT_TRUE(valid_phone("13800138000"));
  EXPECT_FALSE(valid_phone("12800138000"));
  EXPECT_FALSE(valid_phone("1380013800"));
  EXPECT_FALSE(valid_phone("1380013800a"));
  EXPECT_EQ(mask_phone("13800138000"), "138****8000");
  EXPECT_EQ(mask_id("220102198001010013"), "2201**********0013");
  EXPECT_EQ(mask_name("张三丰"), "张**");
  EXPECT_TRUE(valid_person_name("张三"));
  EXPECT_TRUE(valid_person_name("Ahmatjan Tursun"));
  EXPECT_FALSE(valid_person_name(""));
  EXPECT_FALSE(valid_person_name("<script>"));
  EXPECT_FALSE(valid_person_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_person_name("\xff\xfe"));
  EXPECT_FALSE(valid_person_name(std::string(31, 'a')));
}

TEST(Documents, TypeByMagicBytesOnly) {
  EXPECT_EQ(sniff_document(std::string("\xFF\xD8\xFF\xE0rest", 8)), "image/jpeg");
  EXPECT_EQ(sniff_document(std::string("\x89PNG\r\n\x1a\nrest", 12)), "image/png");
  EXPECT_EQ(sniff_document("%PDF-1.7\n"), "application/pdf");
  EXPECT_EQ(sniff_document("GIF89a"), std::nullopt);
  EXPECT_EQ(sniff_document("<html>%PDF-"), std::nullopt);
  EXPECT_EQ(sniff_document(""), std::nullopt);
  EXPECT_EQ(extension_of("image/png"), ".png");
}

std::string read_file(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Catalog, EveryStepAndStatusNamesAnElementOfItsModel) {
  const Catalog& c = catalog();
  ASSERT_EQ(c.operations.size(), 6u);
  ASSERT_EQ(c.services.size(), 4u);
  const fs::path dir(BANSHI_WORKFLOWS_DIR);
  auto elements_of = [&](const std::string& process) {
    std::set<std::string> ids;
    auto model = model::load_bpmn(read_file(dir / (process + ".bpmn")));
    EXPECT_TRUE(model.ok()) << process;
    if (!model.definitions) return ids;
    for (const model::Process& p : model.definitions->processes) {
      for (const model::FlowNode& n : p.nodes) ids.insert(n.id);
    }
    return ids;
  };
  for (const Operation& op : c.operations) {
    auto ids = elements_of(op.id);
    for (const Step& s : op.steps) EXPECT_TRUE(ids.count(s.id)) << op.id << " has no element " << s.id;
    EXPECT_FALSE(op.name.zh.empty());
    EXPECT_FALSE(op.name.en.empty());
  }
  for (const auto& [process, statuses] : c.statuses) {
    auto ids = elements_of(process);
    for (const auto& [element, text] : statuses) {
      EXPECT_TRUE(ids.count(element)) << process << " has no element " << element;
      EXPECT_FALSE(text.zh.empty());
      EXPECT_FALSE(text.en.empty());
    }
  }
}

TEST(Catalog, RefusesWhatDoesNotParse) {
  EXPECT_FALSE(parse_catalog("[]").ok());
  EXPECT_FALSE(parse_catalog(R"({"materials": [], "operations": [{"id": "x"}], "services": []})").ok());
  auto unknown = parse_catalog(R"({"materials": [], "services": [],
      "operations": [{"id": "x", "name": {"zh-CN": "x", "en": "x"}, "materials": ["nope"], "steps": [], "caseDays": 1}]})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("nope"), std::string::npos);
}

TEST(Requirements, SharedDataIsNotAskedAgain) {
  const Catalog& c = catalog();
  const Operation* op = c.operation("certificate-new-issue");
  ASSERT_NE(op, nullptr);
  std::vector<const Service*> services{c.service("living-subsidy"), c.service("nursing-subsidy")};
  SharedFacts facts;
  facts.household = true;
  facts.dibao = true;
  auto reqs = requirements(c, *op, services, facts, {"photos"});
  std::map<std::string, std::string> status;
  for (const auto& r : reqs) status[r.material] = r.status;
  EXPECT_EQ(status["household-book"], "shared");
  EXPECT_EQ(status["id-card"], "shared");
  EXPECT_EQ(status["dibao-proof"], "shared");
  EXPECT_EQ(status["photos"], "uploaded");
  EXPECT_EQ(status["care-need"], "needed");
  EXPECT_EQ(status.count("guardian-proof"), 0u);
  EXPECT_EQ(std::count_if(reqs.begin(), reqs.end(), [](const Requirement& r) { return r.material == "bank-account"; }), 1);
  facts = {};
  facts.guardian_needed = true;
  status.clear();
  for (const auto& r : requirements(c, *op, {}, facts, {})) status[r.material] = r.status;
  EXPECT_EQ(status["household-book"], "needed");
  EXPECT_EQ(status["guardian-proof"], "needed");
}

TEST(Promise, WorkingDaysSkipWeekendsAndHolidays) {
  auto cal = calendar::BusinessCalendar::load_directory((fs::path(BANSHI_WORKFLOWS_DIR) / "calendars").string());
  ASSERT_TRUE(cal.ok()) << cal.error().message;
  const Operation* op = catalog().operation("certificate-new-issue");
  // Friday 2026-02-13, before 春节 (02-15..02-23; 02-14 and 02-28 are working Saturdays).
  auto start = model::parse_date_time("2026-02-13T10:00:00+08:00");
  ASSERT_TRUE(start.ok());
  auto p = promise(*op, boost::json::object{}, *start, *cal, 480);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->steps[0].promised_date, "2026-02-14");  // the make-up Saturday
  EXPECT_EQ(p->steps[1].promised_date, "2026-03-06");
  // A county's own shorter promise counts instead of the default.
  auto shorter = promise(*op, boost::json::object{{"assessDays", 3}}, *start, *cal, 480);
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ(shorter->steps[1].days, 3);
  EXPECT_EQ(shorter->steps[1].promised_date, "2026-02-26");
  // A year with no published calendar is an error, not a guess.
  auto late = model::parse_date_time("2027-12-20T10:00:00+08:00");
  EXPECT_FALSE(promise(*op, boost::json::object{}, *late, *cal, 480).ok());
}

}  // namespace
}  // namespace banshi::frontdoor
