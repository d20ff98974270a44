#include "frontdoor/frontdoor.h"

#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace banshi::frontdoor {

namespace json = boost::json;

// --- what people type --------------------------------------------------------------

char id_check_char(std::string_view first17) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kChecks[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  if (first17.size() != 17) return 0;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (first17[i] < '0' || first17[i] > '9') return 0;
    sum += (first17[i] - '0') * kWeights[i];
  }
  return kChecks[sum % 11];
}

namespace {

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

int digits(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

void civil_from_days(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
}

}  // namespace

std::string id_number_problem(std::string_view id) {
  if (id.size() != 18) return "An ID number has 18 characters.";
  for (size_t i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return "The first 17 characters of an ID number are digits.";
  }
  char want = id_check_char(id.substr(0, 17));
  char last = id[17] == 'x' ? 'X' : id[17];
  if (last != want) return "The last character of the ID number does not match its check digit.";
  int y = digits(id.substr(6, 4)), m = digits(id.substr(10, 2)), d = digits(id.substr(12, 2));
  if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
    return "Characters 7 to 14 of the ID number are not a real birth date.";
  }
  return {};
}

std::string birth_date_of(std::string_view id) {
  return fmt::format("{}-{}-{}", id.substr(6, 4), id.substr(10, 2), id.substr(12, 2));
}

int age_on(std::string_view id, std::string_view today) {
  int y = digits(id.substr(6, 4)), m = digits(id.substr(10, 2)), d = digits(id.substr(12, 2));
  int ty = digits(today.substr(0, 4)), tm = digits(today.substr(5, 2)), td = digits(today.substr(8, 2));
  int age = ty - y;
  if (tm < m || (tm == m && td < d)) --age;
  return age;
}

bool valid_phone(std::string_view phone) {
  if (phone.size() != 11 || phone[0] != '1' || phone[1] < '3' || phone[1] > '9') return false;
  return std::all_of(phone.begin(), phone.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string mask_id(std::string_view id) {
  if (id.size() < 8) return std::string(id.size(), '*');
  return std::string(id.substr(0, 4)) + std::string(id.size() - 8, '*') + std::string(id.substr(id.size() - 4));
}

std::string mask_phone(std::string_view phone) {
  if (phone.size() != 11) return std::string(phone.size(), '*');
  return std::string(phone.substr(0, 3)) + "****" + std::string(phone.substr(7));
}

std::string mask_name(std::string_view name) {
  if (name.empty()) return {};
  size_t first = 1;
  while (first < name.size() && (static_cast<unsigned char>(name[first]) & 0xC0) == 0x80) ++first;
  return std::string(name.substr(0, first)) + "**";
}

bool valid_person_name(std::string_view name) {
  if (name.empty() || name.size() > 90) return false;
  size_t chars = 0;
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > name.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(name[i + k]) & 0xC0) != 0x80) return false;
    }
    if (len == 1 && (c < 0x20 || c == 0x7F || c == '<' || c == '>')) return false;
    i += len;
    ++chars;
  }
  return chars <= 30;
}

// --- uploaded documents ---------------------------------------------------------------

std::optional<std::string> sniff_document(std::string_view b) {
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF) {
    return "image/jpeg";
  }
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (b.size() >= 5 && b.substr(0, 5) == "%PDF-") return "application/pdf";
  return std::nullopt;
}

std::string_view extension_of(std::string_view media_type) {
  if (media_type == "image/jpeg") return ".jpg";
  if (media_type == "image/png") return ".png";
  if (media_type == "application/pdf") return ".pdf";
  return ".bin";
}

// --- the catalogue ----------------------------------------------------------------------

json::object Text::json() const { return json::object{{"zh-CN", zh}, {"en", en}}; }

const Operation* Catalog::operation(std::string_view id) const {
  for (const Operation& o : operations) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

const Service* Catalog::service(std::string_view id) const {
  for (const Service& s : services) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

const Text* Catalog::status(std::string_view process_id, std::string_view element_id) const {
  auto p = statuses.find(std::string(process_id));
  if (p == statuses.end()) return nullptr;
  auto e = p->second.find(std::string(element_id));
  return e == p->second.end() ? nullptr : &e->second;
}

namespace {

struct Reader {
  std::string error;

  const json::value* member(const json::object& o, std::string_view name, const std::string& where) {
    const json::value* v = o.if_contains(name);
    if (!v && error.empty()) error = fmt::format("{}: the member \"{}\" is missing", where, name);
    return v;
  }
  std::string string(const json::object& o, std::string_view name, const std::string& where, bool required = true) {
    const json::value* v = o.if_contains(name);
    if (!v) {
      if (required && error.empty()) error = fmt::format("{}: the member \"{}\" is missing", where, name);
      return {};
    }
    if (!v->is_string()) {
      if (error.empty()) error = fmt::format("{}.{} must be a string", where, name);
      return {};
    }
    return std::string(v->as_string());
  }
  Text text(const json::object& o, std::string_view name, const std::string& where) {
    const json::value* v = member(o, name, where);
    if (!v) return {};
    if (!v->is_object()) {
      if (error.empty()) error = fmt::format("{}.{} must be an object with zh-CN and en", where, name);
      return {};
    }
    std::string w = where + "." + std::string(name);
    return Text{string(v->as_object(), "zh-CN", w), string(v->as_object(), "en", w)};
  }
  std::vector<std::string> strings(const json::object& o, std::string_view name, const std::string& where) {
    std::vector<std::string> out;
    const json::value* v = member(o, name, where);
    if (!v) return out;
    if (!v->is_array()) {
      if (error.empty()) error = fmt::format("{}.{} must be an array", where, name);
      return out;
    }
    for (const json::value& s : v->as_array()) {
      if (!s.is_string()) {
        if (error.empty()) error = fmt::format("{}.{} must hold strings", where, name);
        return out;
      }
      out.emplace_back(s.as_string());
    }
    return out;
  }
  const json::array* array(const json::object& o, std::string_view name, const std::string& where) {
    const json::value* v = member(o, name, where);
    if (!v) return nullptr;
    if (!v->is_array()) {
      if (error.empty()) error = fmt::format("{}.{} must be an array", where, name);
      return nullptr;
    }
    return &v->as_array();
  }
  int integer(const json::object& o, std::string_view name, const std::string& where) {
    const json::value* v = member(o, name, where);
    if (!v) return 0;
    if (!v->is_int64() || v->as_int64() < 0 || v->as_int64() > 365) {
      if (error.empty()) error = fmt::format("{}.{} must be a whole number from 0 to 365", where, name);
      return 0;
    }
    return static_cast<int>(v->as_int64());
  }
};

}  // namespace

Result<Catalog> parse_catalog(std::string_view text) {
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return Error{"catalog", "the catalogue is not a JSON object"};
  const json::object& root = doc.as_object();
  Reader r;
  Catalog c;
  if (const json::array* materials = r.array(root, "materials", "catalog")) {
    for (size_t i = 0; i < materials->size(); ++i) {
      std::string where = fmt::format("materials[{}]", i);
      if (!(*materials)[i].is_object()) return Error{"catalog", where + " must be an object"};
      const json::object& o = (*materials)[i].as_object();
      Material m;
      m.id = r.string(o, "id", where);
      m.name = r.text(o, "name", where);
      m.reason = r.text(o, "reason", where);
      m.shared_by = r.string(o, "sharedBy", where, false);
      m.only_when = r.string(o, "onlyWhen", where, false);
      if (const json::value* up = o.if_contains("upload"); up && up->is_bool()) m.upload = up->as_bool();
      if (!m.only_when.empty() && m.only_when != "guardian") {
        return Error{"catalog", where + ".onlyWhen must be \"guardian\""};
      }
      c.materials[m.id] = m;
    }
  }
  auto check_materials = [&](const std::vector<std::string>& ids, const std::string& where) -> std::string {
    for (const std::string& id : ids) {
      if (!c.materials.count(id)) return fmt::format("{} names the unknown material \"{}\"", where, id);
    }
    return {};
  };
  if (const json::array* ops = r.array(root, "operations", "catalog")) {
    for (size_t i = 0; i < ops->size(); ++i) {
      std::string where = fmt::format("operations[{}]", i);
      if (!(*ops)[i].is_object()) return Error{"catalog", where + " must be an object"};
      const json::object& o = (*ops)[i].as_object();
      Operation op;
      op.id = r.string(o, "id", where);
      op.name = r.text(o, "name", where);
      if (const json::value* v = o.if_contains("needsCertificate"); v && v->is_bool()) op.needs_certificate = v->as_bool();
      if (const json::value* v = o.if_contains("needsTransferRegion"); v && v->is_bool()) {
        op.needs_transfer_region = v->as_bool();
      }
      op.materials = r.strings(o, "materials", where);
      op.case_days = r.integer(o, "caseDays", where);
      if (const json::array* steps = r.array(o, "steps", where)) {
        for (size_t k = 0; k < steps->size(); ++k) {
          std::string sw = fmt::format("{}.steps[{}]", where, k);
          if (!(*steps)[k].is_object()) return Error{"catalog", sw + " must be an object"};
          const json::object& so = (*steps)[k].as_object();
          Step s;
          s.id = r.string(so, "id", sw);
          s.name = r.text(so, "name", sw);
          s.limit = r.string(so, "limit", sw, false);
          s.days = r.integer(so, "days", sw);
          op.steps.push_back(std::move(s));
        }
      }
      if (std::string e = check_materials(op.materials, where); !e.empty()) return Error{"catalog", e};
      c.operations.push_back(std::move(op));
    }
  }
  if (const json::array* services = r.array(root, "services", "catalog")) {
    for (size_t i = 0; i < services->size(); ++i) {
      std::string where = fmt::format("services[{}]", i);
      if (!(*services)[i].is_object()) return Error{"catalog", where + " must be an object"};
      const json::object& o = (*services)[i].as_object();
      Service s;
      s.id = r.string(o, "id", where);
      s.name = r.text(o, "name", where);
      s.materials = r.strings(o, "materials", where);
      if (std::string e = check_materials(s.materials, where); !e.empty()) return Error{"catalog", e};
      c.services.push_back(std::move(s));
    }
  }
  if (const json::value* st = root.if_contains("statuses"); st && st->is_object()) {
    for (const auto& [process, elements] : st->as_object()) {
      if (!elements.is_object()) return Error{"catalog", fmt::format("statuses.{} must be an object", std::string(process))};
      for (const auto& [element, t] : elements.as_object()) {
        if (!t.is_object()) {
          return Error{"catalog", fmt::format("statuses.{}.{} must be an object", std::string(process), std::string(element))};
        }
        std::string where = fmt::format("statuses.{}.{}", std::string(process), std::string(element));
        c.statuses[std::string(process)][std::string(element)] =
            Text{r.string(t.as_object(), "zh-CN", where), r.string(t.as_object(), "en", where)};
      }
    }
  }
  if (!r.error.empty()) return Error{"catalog", r.error};
  return c;
}

// --- 一次告知 ---------------------------------------------------------------------------

std::vector<Requirement> requirements(const Catalog& catalog, const Operation& operation,
                                      const std::vector<const Service*>& services, const SharedFacts& facts,
                                      const std::vector<std::string>& uploaded) {
  std::vector<Requirement> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& id, const std::string& for_what) {
    if (!seen.insert(id).second) return;
    auto it = catalog.materials.find(id);
    if (it == catalog.materials.end()) return;
    const Material& m = it->second;
    if (m.only_when == "guardian" && !facts.guardian_needed) return;
    Requirement r;
    r.material = m.id;
    r.name = m.name;
    r.reason = m.reason;
    r.for_what = for_what;
    r.upload = m.upload;
    bool shared = (m.shared_by == "household" && facts.household) || (m.shared_by == "dibao" && facts.dibao);
    if (shared) {
      r.status = "shared";
    } else if (std::find(uploaded.begin(), uploaded.end(), m.id) != uploaded.end()) {
      r.status = "uploaded";
    } else {
      r.status = "needed";
    }
    out.push_back(std::move(r));
  };
  for (const std::string& m : operation.materials) add(m, operation.id);
  for (const Service* s : services) {
    for (const std::string& m : s->materials) add(m, s->id);
  }
  return out;
}

// --- 受理回执 ----------------------------------------------------------------------------

std::string local_date(int64_t epoch_ms, int32_t utc_offset_minutes) {
  int64_t local = epoch_ms + int64_t{utc_offset_minutes} * 60'000;
  int64_t day = local >= 0 ? local / 86'400'000 : (local - 86'399'999) / 86'400'000;
  int y = 0, m = 0, d = 0;
  civil_from_days(day, y, m, d);
  return fmt::format("{:04d}-{:02d}-{:02d}", y, m, d);
}

Result<Promise> promise(const Operation& operation, const json::object& limits, int64_t start,
                        const expr::WorkingDays& working_days, int32_t utc_offset_minutes) {
  Promise p;
  int64_t at = start;
  std::string why;
  for (const Step& s : operation.steps) {
    int days = s.days;
    if (!s.limit.empty()) {
      if (const json::value* v = limits.if_contains(s.limit); v && v->is_int64() && v->as_int64() >= 0 &&
                                                             v->as_int64() <= 365) {
        days = static_cast<int>(v->as_int64());
      }
    }
    auto next = working_days.add(at, days, why);
    if (!next) return Error{"calendar", why};
    at = *next;
    p.steps.push_back(PromisedStep{s.id, s.name, days, at, local_date(at, utc_offset_minutes)});
  }
  auto whole = working_days.add(start, operation.case_days, why);
  if (!whole) return Error{"calendar", why};
  p.case_promised_at = std::max(*whole, at);
  p.case_promised_date = local_date(p.case_promised_at, utc_offset_minutes);
  return p;
}

}  // namespace banshi::frontdoor

// The catalogue, linked in from catalog.json so an installed server carries it.
#ifndef BANSHI_FRONTDOOR_CATALOG
#error "BANSHI_FRONTDOOR_CATALOG must name engine/frontdoor/catalog.json"
#endif

__asm__(".section .rodata\n"
        ".balign 16\n"
        "banshi_frontdoor_catalog_begin:\n"
        ".incbin \"" BANSHI_FRONTDOOR_CATALOG "\"\n"
        "banshi_frontdoor_catalog_end:\n"
        ".byte 0\n"
        ".previous\n");

extern "C" const char banshi_frontdoor_catalog_begin[];
extern "C" const char banshi_frontdoor_catalog_end[];

namespace banshi::frontdoor {

const Catalog& catalog() {
  static const Catalog kCatalog = [] {
    auto parsed = parse_catalog(std::string_view(
        banshi_frontdoor_catalog_begin,
        static_cast<size_t>(banshi_frontdoor_catalog_end - banshi_frontdoor_catalog_begin)));
    return parsed.ok() ? std::move(parsed).value() : Catalog{};
  }();
  return kCatalog;
}

}  // namespace banshi::frontdoor
