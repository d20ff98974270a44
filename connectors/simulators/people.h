// connectors/simulators/people.h — the synthetic population the department
// simulators share: every resident ID number with a valid check digit, a
// region prefix from the demo regions and a real birth date is a person, whose
// name and circumstances (低保, 特困, death) follow deterministically from the
// number. Nothing here is a real person.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace banshi::connectors::sim {

struct Region {
  std::string code;  // 行政区划代码, "220102"
  std::string name;  // "长春市南关区"
};
const std::vector<Region>& regions();
const Region* find_region(std::string_view code);

// ISO 7064 MOD 11-2 check character of the first 17 digits ('0'-'9' or 'X'); 0 when not 17 digits.
char id_check_char(std::string_view first17);
bool valid_id_number(std::string_view id);
// region (6 digits) + birth date (YYYYMMDD) + sequence (0..999) + check character.
std::string make_id_number(std::string_view region, std::string_view birth_yyyymmdd, int sequence);

struct Person {
  std::string id_number;
  std::string name;
  std::string region_code;
  std::string birth_date;  // YYYY-MM-DD
  bool dibao = false;      // 低保: the family receives the minimum living guarantee
  bool tekun = false;      // 特困: supported as extremely poor
  bool deceased = false;
  std::string date_of_death;  // YYYY-MM-DD when deceased
};

// The person an ID number names, or nullopt when no such person is registered.
std::optional<Person> person_of(std::string_view id_number);

// Age in whole years on `today` (YYYY-MM-DD).
int age_on(const Person& p, std::string_view today);

}  // namespace banshi::connectors::sim
