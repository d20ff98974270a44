#include "simulators/people.h"

#include <cstdint>

#include <fmt/format.h>

namespace banshi::connectors::sim {

const std::vector<Region>& regions() {
  static const std::vector<Region> kRegions = {
      {"220000", "吉林省"},         {"220100", "长春市"},         {"220102", "长春市南关区"}, {"220103", "长春市宽城区"},
      {"220104", "长春市朝阳区"},   {"220105", "长春市二道区"},   {"220106", "长春市绿园区"}, {"220112", "长春市双阳区"},
      {"220113", "长春市九台区"},   {"220122", "长春市农安县"},   {"220182", "榆树市"},       {"220183", "德惠市"},
      {"220400", "辽源市"},         {"220402", "辽源市龙山区"},   {"220403", "辽源市西安区"}, {"220421", "辽源市东丰县"},
      {"220422", "辽源市东辽县"},
  };
  return kRegions;
}

const Region* find_region(std::string_view code) {
  for (const Region& r : regions()) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

char id_check_char(std::string_view first17) {
  static const int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static const char kChars[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  if (first17.size() != 17) return 0;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (first17[i] < '0' || first17[i] > '9') return 0;
    sum += (first17[i] - '0') * kWeights[i];
  }
  return kChars[sum % 11];
}

bool valid_id_number(std::string_view id) {
  if (id.size() != 18) return false;
  char c = id_check_char(id.substr(0, 17));
  return c != 0 && c == id[17];
}

std::string make_id_number(std::string_view region, std::string_view birth, int sequence) {
  std::string first17 = fmt::format("{}{}{:03d}", region, birth, sequence % 1000);
  char c = id_check_char(first17);
  return c ? first17 + c : std::string();
}

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool real_date(int y, int m, int d) {
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2030 || m < 1 || m > 12 || d < 1) return false;
  int max = kDays[m - 1] + ((m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) ? 1 : 0);
  return d <= max;
}

}  // namespace

std::optional<Person> person_of(std::string_view id) {
  if (!valid_id_number(id)) return std::nullopt;
  const Region* region = find_region(id.substr(0, 6));
  if (!region) return std::nullopt;
  int y = std::stoi(std::string(id.substr(6, 4)));
  int m = std::stoi(std::string(id.substr(10, 2)));
  int d = std::stoi(std::string(id.substr(12, 2)));
  if (!real_date(y, m, d)) return std::nullopt;
  static const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱"};
  static const char* kGiven[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"};
  uint64_t h = fnv1a(id);
  Person p;
  p.id_number = std::string(id);
  p.region_code = region->code;
  p.name = std::string(kSurnames[h % 14]) + kGiven[(h >> 8) % 16] + ((h >> 16) % 2 ? kGiven[(h >> 20) % 16] : "");
  p.birth_date = fmt::format("{:04d}-{:02d}-{:02d}", y, m, d);
  p.dibao = (h >> 24) % 4 == 0;
  p.tekun = !p.dibao && (h >> 28) % 12 == 0;
  p.deceased = (h >> 32) % 25 == 0;
  if (p.deceased) p.date_of_death = fmt::format("2025-{:02d}-{:02d}", 1 + (h >> 40) % 12, 1 + (h >> 44) % 28);
  return p;
}

int age_on(const Person& p, std::string_view today) {
  if (today.size() < 10) return 0;
  int y = std::stoi(std::string(today.substr(0, 4)));
  int md = std::stoi(std::string(today.substr(5, 2))) * 100 + std::stoi(std::string(today.substr(8, 2)));
  int by = std::stoi(p.birth_date.substr(0, 4));
  int bmd = std::stoi(p.birth_date.substr(5, 2)) * 100 + std::stoi(p.birth_date.substr(8, 2));
  return y - by - (md < bmd ? 1 : 0);
}

}  // namespace banshi::connectors::sim
