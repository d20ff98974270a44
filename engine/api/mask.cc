#include "api/mask.h"

#include <algorithm>
#include <vector>

namespace banshi::api {
namespace {

// Keeps `head` and `tail` characters of an ASCII value, the rest '*'.
std::string keep_ends(std::string_view v, size_t head, size_t tail, size_t short_limit) {
  if (v.empty()) return {};
  if (v.size() <= short_limit) {
    size_t keep = v.size() > 2 ? 2 : 0;
    return std::string(v.size() - keep, '*') + std::string(v.substr(v.size() - keep));
  }
  return std::string(v.substr(0, head)) + std::string(v.size() - head - tail, '*') +
         std::string(v.substr(v.size() - tail));
}

// Splits UTF-8 into code points (a malformed byte counts as one).
std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) {
        n = 1;
        break;
      }
    }
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

std::string mask_id_number(std::string_view id) { return keep_ends(id, 6, 4, 10); }

std::string mask_phone(std::string_view phone) { return keep_ends(phone, 3, 4, 7); }

std::string mask_name(std::string_view name) {
  std::vector<std::string_view> cps = code_points(name);
  if (cps.empty()) return {};
  if (cps.size() == 1) return "*";
  if (cps.size() == 2) return std::string(cps[0]) + "*";
  return std::string(cps.front()) + std::string(cps.size() - 2, '*') + std::string(cps.back());
}

bool valid_id_number(std::string_view id) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (id.size() == 15) return std::all_of(id.begin(), id.end(), digit);
  if (id.size() != 18) return false;
  if (!std::all_of(id.begin(), id.end() - 1, digit)) return false;
  return digit(id.back()) || id.back() == 'X' || id.back() == 'x';
}

}  // namespace banshi::api
