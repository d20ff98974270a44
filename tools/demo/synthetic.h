// tools/demo/synthetic.h — realistic synthetic applicants for the demo and tests.
//
// Everything here is made up: names from common characters, ID numbers with
// a valid ISO 7064 MOD 11-2 check digit, regions from the demo's pilot areas.
// The generator is seeded, so the same seed gives the same applicants.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace banshi::demo {

struct Region {
  std::string_view code;
  std::string_view name;
  std::string_view city;
};

// The pilot counties of 长春 and 辽源 used by the demo.
const std::vector<Region>& demo_regions();

struct Applicant {
  std::string name;
  std::string id_number;  // 18 characters, valid check digit
  std::string phone;
  std::string region;     // county code
  std::string category;   // 视力 听力 言语 肢体 智力 精神 多重
  std::string level;      // 一级 .. 四级
  int birth_year = 0;
};

class ApplicantGenerator {
 public:
  explicit ApplicantGenerator(uint64_t seed) : rng_(seed) {}
  Applicant next();

 private:
  std::mt19937_64 rng_;
  int sequence_ = 0;
};

// The national card number: the ID number, then the category (1-7) and level (1-4) digits.
std::string certificate_number(const Applicant& a);

// The check digit of the first 17 characters of an ID number (ISO 7064 MOD 11-2).
char id_check_digit(std::string_view first17);
bool id_number_valid(std::string_view id);

// Personal data as lists and logs show it: "张*伟", "220102********123X", "138****5678".
std::string mask_name(std::string_view name);
std::string mask_id_number(std::string_view id);
std::string mask_phone(std::string_view phone);

}  // namespace banshi::demo
