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

enum class Personal { kNone, kIdNumber, kPhone, kName, kOther, kKey };

Personal personal_kind(std::string_view key) {
  std::string k(key);
  for (char& c : k) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  auto has = [&k](std::string_view part) { return k.find(part) != std::string::npos; };
  if (has("idnumber") || has("idcard") || has("身份证")) return Personal::kIdNumber;
  if (has("businesskey") || has("correlationkey")) return Personal::kKey;
  if (has("phone") || has("mobile") || k.rfind("tel", 0) == 0) return Personal::kPhone;
  if (has("name") || has("姓名")) return Personal::kName;
  if (has("address") || has("住址") || has("bank") || has("account")) return Personal::kOther;
  return Personal::kNone;
}

// All but the last 4 characters as '*', at most 8 of them.
std::string keep_last_four(std::string_view v) {
  std::vector<std::string_view> cps = code_points(v);
  if (cps.size() <= 4) return std::string(cps.size(), '*');
  std::string out(std::min<size_t>(cps.size() - 4, 8), '*');
  for (size_t i = cps.size() - 4; i < cps.size(); ++i) out += cps[i];
  return out;
}

}  // namespace

void mask_personal(boost::json::value& value, std::string_view key) {
  if (value.is_object()) {
    for (auto& member : value.get_object()) mask_personal(member.value(), member.key());
    return;
  }
  if (value.is_array()) {
    for (boost::json::value& item : value.get_array()) mask_personal(item, key);
    return;
  }
  Personal kind = personal_kind(key);
  if (kind == Personal::kNone) return;
  std::string text;
  if (value.is_string()) text = std::string(value.get_string());
  else if (value.is_int64()) text = std::to_string(value.get_int64());
  else if (value.is_uint64()) text = std::to_string(value.get_uint64());
  else if (value.is_double()) text = "0";  // no personal number is a fraction: masked whole
  else return;                             // true, false, null say nothing
  switch (kind) {
    case Personal::kIdNumber: value = mask_id_number(text); break;
    case Personal::kPhone: value = mask_phone(text); break;
    case Personal::kName: value = mask_name(text); break;
    case Personal::kKey: value = mask_key(text); break;
    default: value = keep_last_four(text); break;
  }
}

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

std::string mask_key(std::string_view key) {
  return valid_id_number(key) ? mask_id_number(key) : std::string(key);
}

}  // namespace banshi::api
