#include "demo/synthetic.h"

#include <algorithm>

#include <fmt/format.h>

namespace banshi::demo {
namespace {

// UTF-8 code point boundaries, so masking never splits a character.
std::vector<std::string_view> characters(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    len = std::min(len, s.size() - i);
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

template <typename T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[std::uniform_int_distribution<size_t>(0, items.size() - 1)(rng)];
}

}  // namespace

const std::vector<Region>& demo_regions() {
  static const std::vector<Region> kRegions = {
      {"220102", "南关区", "长春市"}, {"220104", "朝阳区", "长春市"},
      {"220402", "龙山区", "辽源市"}, {"220421", "东丰县", "辽源市"},
  };
  return kRegions;
}

char id_check_digit(std::string_view first17) {
  static const int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static const char kDigits[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  int sum = 0;
  for (size_t i = 0; i < 17 && i < first17.size(); ++i) sum += (first17[i] - '0') * kWeights[i];
  return kDigits[sum % 11];
}

bool id_number_valid(std::string_view id) {
  if (id.size() != 18) return false;
  for (size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return id[17] == id_check_digit(id.substr(0, 17));
}

Applicant ApplicantGenerator::next() {
  static const std::vector<std::string> kSurnames = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴",
                                                     "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高", "罗"};
  static const std::vector<std::string> kGiven = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                                  "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "桂兰", "建华",
                                                  "玉兰", "志强", "海燕", "春梅"};
  static const std::vector<std::string> kCategories = {"视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
  static const std::vector<std::string> kLevels = {"一级", "二级", "三级", "四级"};
  Applicant a;
  a.name = pick(rng_, kSurnames) + pick(rng_, kGiven);
  const Region& region = pick(rng_, demo_regions());
  a.region = std::string(region.code);
  a.birth_year = std::uniform_int_distribution<int>(1940, 2018)(rng_);
  int month = std::uniform_int_distribution<int>(1, 12)(rng_);
  int day = std::uniform_int_distribution<int>(1, 28)(rng_);
  int seq = 100 + (sequence_++ * 7 + std::uniform_int_distribution<int>(0, 6)(rng_)) % 900;
  std::string first17 = fmt::format("{}{:04}{:02}{:02}{:03}", region.code, a.birth_year, month, day, seq);
  a.id_number = first17 + id_check_digit(first17);
  a.phone = fmt::format("13{}{:08}", std::uniform_int_distribution<int>(0, 9)(rng_),
                        std::uniform_int_distribution<int>(0, 99999999)(rng_));
  a.category = pick(rng_, kCategories);
  a.level = pick(rng_, kLevels);
  return a;
}

std::string mask_name(std::string_view name) {
  auto chars = characters(name);
  if (chars.size() <= 1) return "*";
  if (chars.size() == 2) return std::string(chars[0]) + "*";
  std::string out(chars.front());
  for (size_t i = 1; i + 1 < chars.size(); ++i) out += "*";
  out += chars.back();
  return out;
}

std::string mask_id_number(std::string_view id) {
  if (id.size() < 10) return std::string(id.size(), '*');
  return std::string(id.substr(0, 6)) + std::string(id.size() - 10, '*') + std::string(id.substr(id.size() - 4));
}

std::string mask_phone(std::string_view phone) {
  if (phone.size() < 7) return std::string(phone.size(), '*');
  return std::string(phone.substr(0, 3)) + std::string(phone.size() - 7, '*') + std::string(phone.substr(phone.size() - 4));
}

std::string certificate_number(const Applicant& a) {
  static const std::vector<std::string> kCategories = {"视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
  static const std::vector<std::string> kLevels = {"一级", "二级", "三级", "四级"};
  auto category = std::find(kCategories.begin(), kCategories.end(), a.category) - kCategories.begin() + 1;
  auto level = std::find(kLevels.begin(), kLevels.end(), a.level) - kLevels.begin() + 1;
  return a.id_number + std::to_string(category) + std::to_string(level);
}

}  // namespace banshi::demo
