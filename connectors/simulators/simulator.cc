#include "simulators/simulator.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <optional>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "expr/json_text.h"
#include "simulators/people.h"

namespace banshi::connectors::sim {

namespace json = boost::json;

namespace {

api::Response answer(int status, const json::value& body) {
  api::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = expr::json_text(body);
  return r;
}

api::Response problem(int status, std::string_view code, std::string detail) {
  json::object o;
  o["type"] = fmt::format("https://banshi.dev/simulators/problems/{}", code);
  o["title"] = std::string(code);
  o["status"] = status;
  o["code"] = std::string(code);
  o["detail"] = std::move(detail);
  api::Response r = answer(status, o);
  r.content_type = "application/problem+json";
  return r;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) {
      std::string part;
      if (!api::percent_decode(path.substr(i, j - i), part, false)) part = "\x01";  // never matches a route
      out.push_back(std::move(part));
    }
    i = j + 1;
  }
  return out;
}

// A required string member, or an error answer.
std::optional<api::Response> need_string(const json::object& body, const char* name, std::string& out) {
  const json::value* v = body.if_contains(name);
  if (!v || !v->is_string() || v->as_string().empty()) {
    return problem(400, "bad-request", fmt::format("the body needs the text member \"{}\"", name));
  }
  out = std::string(v->as_string());
  return std::nullopt;
}

std::optional<api::Response> need_int(const json::object& body, const char* name, int lo, int hi, int& out) {
  const json::value* v = body.if_contains(name);
  if (!v || !v->is_int64() || v->as_int64() < lo || v->as_int64() > hi) {
    return problem(400, "bad-request", fmt::format("the body needs the whole number \"{}\" from {} to {}", name, lo, hi));
  }
  out = static_cast<int>(v->as_int64());
  return std::nullopt;
}

// The person an ID number names, or the answer saying why there is none.
std::optional<api::Response> need_person(const std::string& id, Person& out) {
  if (!valid_id_number(id)) return problem(422, "invalid-id-number", "the ID number is not 18 characters with a valid check digit");
  auto p = person_of(id);
  if (!p) return problem(404, "person-not-found", "no household registration holds this ID number");
  out = *p;
  return std::nullopt;
}

std::string add_years(const std::string& date, int years) {
  int y = std::stoi(date.substr(0, 4)) + years;
  std::string md = date.substr(4);
  if (md == "-02-29") md = "-02-28";
  return fmt::format("{:04d}{}", y, md);
}

// "2026-03" -> "2026-04"; "2026-12" -> "2027-01".
std::string next_month(const std::string& month) {
  int y = std::stoi(month.substr(0, 4));
  int mo = std::stoi(month.substr(5, 2)) + 1;
  if (mo > 12) mo = 1, ++y;
  return fmt::format("{:04d}-{:02d}", y, mo);
}

const char* category_name(int c) {
  static const char* kNames[] = {"", "视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
  return c >= 1 && c <= 7 ? kNames[c] : "";
}

}  // namespace

Result<std::pair<std::string, std::pair<int64_t, int64_t>>> parse_outage(const std::string& text) {
  std::string dept = "*";
  std::string range = text;
  if (size_t colon = text.find(':'); colon != std::string::npos) {
    dept = text.substr(0, colon);
    range = text.substr(colon + 1);
  }
  size_t dash = range.find('-');
  auto number = [](const std::string& s) -> std::optional<int64_t> {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(s);
  };
  std::optional<int64_t> from = dash == std::string::npos ? std::nullopt : number(range.substr(0, dash));
  std::optional<int64_t> to = dash == std::string::npos ? std::nullopt : number(range.substr(dash + 1));
  if (!from || !to || *to <= *from) {
    return Error{"bad-flag", fmt::format("outage '{}' is not [department:]FROM-TO in whole seconds with FROM < TO", text)};
  }
  if (dept != "*") {
    bool known = false;
    for (const auto& d : Simulator::departments()) known = known || d == dept;
    if (!known) return Error{"bad-flag", fmt::format("outage '{}' names an unknown department '{}'", text, dept)};
  }
  return std::make_pair(dept, std::make_pair(*from * 1000, *to * 1000));
}

const std::vector<std::string>& Simulator::departments() {
  static const std::vector<std::string> kDepartments = {"dpf", "civil-affairs", "hrss", "social-insurance",
                                                        "data-sharing", "assessment", "notification"};
  return kDepartments;
}

Simulator::Simulator(SimulatorOptions options)
    : options_(std::move(options)), started_(std::chrono::steady_clock::now()), rng_(options_.seed) {}

Simulator::~Simulator() = default;

void Simulator::set_faults(const std::string& department, const Faults& faults) {
  std::lock_guard lock(mu_);
  options_.faults[department] = faults;
}

uint64_t Simulator::applied(const std::string& operation) const {
  std::lock_guard lock(mu_);
  auto it = applied_.find(operation);
  return it == applied_.end() ? 0 : it->second;
}

const Faults& Simulator::faults_of(const std::string& dept) const {
  static const Faults kNone;
  if (auto it = options_.faults.find(dept); it != options_.faults.end()) return it->second;
  if (auto it = options_.faults.find("*"); it != options_.faults.end()) return it->second;
  return kNone;
}

std::string Simulator::today() const {
  if (!options_.today.empty()) return options_.today;
  std::time_t t = (options_.now_ms ? static_cast<std::time_t>(options_.now_ms() / 1000) : std::time(nullptr)) + 8 * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

api::Response Simulator::handle(const api::Request& req) {
  std::vector<std::string> parts = split_path(req.path);
  if (!parts.empty() && parts[0] == "_sim") return control(req);
  if (parts.empty()) return problem(404, "not-found", "no such route");
  const std::string dept = parts[0];
  bool known = false;
  for (const auto& d : departments()) known = known || d == dept;
  if (!known) return problem(404, "not-found", fmt::format("no department system is served at /{}", dept));

  int latency = 0;
  int slow = 0;
  {
    std::lock_guard lock(mu_);
    Faults& f = options_.faults.count(dept) ? options_.faults[dept] : options_.faults["*"];
    latency = f.latency_ms;
    int64_t since = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count();
    bool out = f.down;
    for (const auto& [from, to] : f.outages) out = out || (since >= from && since < to);
    if (out) return problem(503, "unavailable", fmt::format("the {} system is down", dept));
    if (f.refuse) return problem(401, "unauthorized", fmt::format("the {} system does not know this caller", dept));
    if (f.error_rate > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < f.error_rate) {
      return problem(500, "internal", fmt::format("the {} system failed", dept));
    }
    if (f.slow_next > 0) {
      --f.slow_next;
      slow = f.slow_ms;
    }
  }
  if (latency > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency));

  json::object body;
  if (req.method == "POST" || req.method == "PUT") {
    boost::system::error_code ec;
    json::value v = req.body.empty() ? json::value(json::object()) : json::parse(req.body, ec);
    if (ec || !v.is_object()) return problem(400, "bad-request", "the body is not a JSON object");
    body = std::move(v.as_object());
  }
  std::optional<std::string> key;
  if (auto k = req.header("idempotency-key"); k && req.method != "GET") {
    if (k->empty() || k->size() > 200) return problem(400, "bad-request", "the Idempotency-Key header must hold 1 to 200 characters");
    key = dept + "\n" + std::string(*k);
  }
  std::string fingerprint = req.method + " " + req.path + "\n" + req.body;
  api::Response res;
  {
    std::lock_guard lock(mu_);
    if (key) {
      if (auto it = idempotency_.find(*key); it != idempotency_.end()) {
        if (it->second.fingerprint != fingerprint) {
          return problem(422, "idempotency-key-reused", "this Idempotency-Key was used for another request");
        }
        res = it->second.response;
        res.headers.emplace_back("Idempotent-Replayed", "true");
        slow = 0;
        return res;
      }
    }
    std::string operation;
    dirty_.clear();
    res = route(req, dept, parts, body, operation);
    if (res.status >= 200 && res.status < 300) ++answered_[dept];
    if (res.status >= 200 && res.status < 300 && !operation.empty()) ++applied_[operation];
    const bool remember = key && res.status < 500;
    if (remember) idempotency_[*key] = Remembered{fingerprint, res};
    if (db_ && (remember || !dirty_.empty() || !operation.empty())) {
      if (auto saved = persist(operation, remember ? &*key : nullptr, remember ? &idempotency_[*key] : nullptr); !saved.ok()) {
        return problem(500, "internal", fmt::format("the {} system could not save the change: {}", dept, saved.error().message));
      }
    }
  }
  if (slow > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow));
  return res;
}

api::Response Simulator::control(const api::Request& req) {
  std::vector<std::string> parts = split_path(req.path);
  if (parts.size() == 2 && parts[1] == "stats" && req.method == "GET") {
    std::lock_guard lock(mu_);
    json::object applied;
    for (const auto& [op, n] : applied_) applied[op] = n;
    json::object o;
    o["applied"] = std::move(applied);
    json::object answered;
    for (const auto& [dept, n] : answered_) answered[dept] = n;
    o["answered"] = std::move(answered);  // successful answers (reads too) since this process started
    o["certificates"] = certificates_.size();
    return answer(200, o);
  }
  if (parts.size() == 2 && parts[1] == "faults" && req.method == "POST") {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return problem(400, "bad-request", "the body is not a JSON object");
    const json::object& o = v.as_object();
    std::string dept = "*";
    if (auto* d = o.if_contains("department")) {
      if (!d->is_string()) return problem(400, "bad-request", "department must be text");
      dept = std::string(d->as_string());
    }
    Faults f;
    for (const auto& [k, val] : o) {
      if (k == "department") continue;
      if (k == "down" && val.is_bool()) f.down = val.as_bool();
      else if (k == "refuse" && val.is_bool()) f.refuse = val.as_bool();
      else if (k == "latencyMs" && val.is_int64() && val.as_int64() >= 0 && val.as_int64() <= 600000) f.latency_ms = static_cast<int>(val.as_int64());
      else if (k == "errorRate" && val.is_number() && val.to_number<double>() >= 0 && val.to_number<double>() <= 1) f.error_rate = val.to_number<double>();
      else if (k == "slowNext" && val.is_int64() && val.as_int64() >= 0) f.slow_next = static_cast<int>(val.as_int64());
      else if (k == "slowMs" && val.is_int64() && val.as_int64() >= 0 && val.as_int64() <= 600000) f.slow_ms = static_cast<int>(val.as_int64());
      else return problem(400, "bad-request", fmt::format("'{}' is not a fault setting (down, refuse, latencyMs, errorRate, slowNext, slowMs) with a valid value", std::string(k)));
    }
    set_faults(dept, f);
    return answer(200, o);
  }
  return problem(404, "not-found", "the control routes are GET /_sim/stats and POST /_sim/faults");
}

std::string Simulator::issue_number(const std::string& id, int category, int level) const {
  return fmt::format("{}{}{}", id, category, level);
}

Simulator::Certificate* Simulator::active_certificate_of(const std::string& id) {
  for (auto& [n, c] : certificates_) {
    if (c.id_number == id && c.status == "active") return &c;
  }
  return nullptr;
}

json::object Simulator::certificate_json(const Certificate& c) const {
  json::object o;
  o["certificateNumber"] = c.number;
  o["idNumber"] = c.id_number;
  o["regionCode"] = c.region;
  o["category"] = c.category;
  o["categoryName"] = category_name(c.category);
  o["level"] = c.level;
  o["status"] = c.status;
  o["validFrom"] = c.valid_from;
  o["validUntil"] = c.valid_until;
  if (!c.cancelled_at.empty()) {
    o["cancelledAt"] = c.cancelled_at;
    o["cancelReason"] = c.cancel_reason;
    o["reapplyFrom"] = add_years(c.cancelled_at, 1);
  }
  json::array t;
  for (const auto& s : c.transfers) t.emplace_back(s);
  o["transfers"] = std::move(t);
  return o;
}

api::Response Simulator::route(const api::Request& req, const std::string& dept, const std::vector<std::string>& p,
                               const json::object& body, std::string& operation) {
  const std::string& m = req.method;
  const size_t n = p.size();
  auto person_answer = [&](const Person& person) {
    json::object o;
    o["idNumber"] = person.id_number;
    o["name"] = person.name;
    o["regionCode"] = person.region_code;
    o["regionName"] = find_region(person.region_code)->name;
    o["birthDate"] = person.birth_date;
    return o;
  };
  auto assistance_answer = [&](const Person& person) {
    json::object o;
    o["idNumber"] = person.id_number;
    o["dibao"] = person.dibao;
    o["tekun"] = person.tekun;
    return answer(200, o);
  };

  // --- data-sharing (政数局): shared data and the e-certificate platform ---
  if (dept == "data-sharing") {
    if (m == "GET" && n == 3 && (p[1] == "household" || p[1] == "assistance" || p[1] == "deaths")) {
      Person person;
      if (auto e = need_person(p[2], person)) return *e;
      if (p[1] == "household") return answer(200, person_answer(person));
      if (p[1] == "assistance") return assistance_answer(person);
      json::object o;
      o["idNumber"] = person.id_number;
      o["deceased"] = person.deceased;
      if (person.deceased) o["dateOfDeath"] = person.date_of_death;
      return answer(200, o);
    }
    if (m == "POST" && n == 2 && p[1] == "e-certificates") {
      std::string number;
      if (auto e = need_string(body, "certificateNumber", number)) return *e;
      auto it = certificates_.find(number);
      if (it == certificates_.end()) return problem(404, "certificate-not-found", "no certificate has this number");
      // An active card is published; a cancelled one is pushed to revoke its
      // e-certificate (作废电子证照). A void or replaced card has a successor,
      // which is the one to push.
      const std::string& status = it->second.status;
      if (status != "active" && status != "cancelled") {
        return problem(409, "certificate-not-active", "only an active or a cancelled certificate can be pushed");
      }
      operation = "data-sharing.push-e-certificate";
      json::object o;
      o["eCertificateId"] = fmt::format("EC-{}-{}", number, ++next_id_);
      o["certificateNumber"] = number;
      o["status"] = status == "active" ? "valid" : "revoked";
      o["pushedAt"] = today();
      return answer(201, o);
    }
  }

  // --- dpf (残联): the certificate registry ---
  if (dept == "dpf") {
    if (m == "POST" && n == 2 && p[1] == "certificates") {
      std::string id;
      int category = 0, level = 0;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      if (auto e = need_int(body, "category", 1, 7, category)) return *e;
      if (auto e = need_int(body, "level", 1, 4, level)) return *e;
      Person person;
      if (auto e = need_person(id, person)) return *e;
      if (person.deceased) return problem(422, "person-deceased", "the death registry holds this person");
      if (active_certificate_of(id)) return problem(409, "already-registered", "this person already holds an active certificate");
      // National rules of 2018: no new application within a year of a cancellation.
      for (const auto& [number, held] : certificates_) {
        if (held.id_number != id || held.cancelled_at.empty()) continue;
        if (std::string from = add_years(held.cancelled_at, 1); today() < from) {
          return problem(409, "reapply-too-soon",
                         fmt::format("the certificate {} was cancelled on {}; a new one may be applied for from {}", number,
                                     held.cancelled_at, from));
        }
      }
      Certificate c;
      c.number = issue_number(id, category, level);
      c.id_number = id;
      c.region = person.region_code;
      c.status = "active";
      c.category = category;
      c.level = level;
      c.valid_from = today();
      c.valid_until = add_years(c.valid_from, 10);
      // The number is the same as that of a card cancelled earlier: the old
      // record stays in the person's history under a key of its own.
      if (auto old = certificates_.find(c.number); old != certificates_.end()) {
        std::string archived = fmt::format("{}@{}", c.number, old->second.cancelled_at.empty() ? old->second.valid_from
                                                                                             : old->second.cancelled_at);
        certificates_[archived] = old->second;
        touch("certificate", archived);
      }
      certificates_[c.number] = c;
      touch("certificate", c.number);
      operation = "dpf.register-certificate";
      return answer(201, certificate_json(c));
    }
    if (n >= 3 && p[1] == "certificates") {
      auto it = certificates_.find(p[2]);
      if (it == certificates_.end()) return problem(404, "certificate-not-found", "no certificate has this number");
      Certificate& c = it->second;
      if (m == "GET" && n == 3) return answer(200, certificate_json(c));
      touch("certificate", c.number);  // every operation below that succeeds changes it
      if (m != "POST" || n != 4) return problem(404, "not-found", "no such certificate operation");
      if (c.status != "active") return problem(409, "certificate-not-active", fmt::format("the certificate is {}", c.status));
      const std::string& op = p[3];
      if (op == "renewal") {
        c.valid_from = today();
        c.valid_until = add_years(c.valid_from, 10);
        operation = "dpf.renew-certificate";
        return answer(200, certificate_json(c));
      }
      if (op == "transfer") {
        std::string to;
        if (auto e = need_string(body, "toRegion", to)) return *e;
        const Region* r = find_region(to);
        if (!r || to.substr(4) == "00") return problem(422, "unknown-region", "toRegion is not a county-level region code");
        if (to == c.region) return problem(422, "same-region", "the certificate is already held in that region");
        c.transfers.push_back(c.region + "->" + to);
        c.region = to;
        operation = "dpf.transfer-certificate";
        return answer(200, certificate_json(c));
      }
      if (op == "loss") {
        // The lost card is void at once; the replacement number gets the next B suffix.
        std::string base = c.number.substr(0, 20);
        int next = c.replacements + 1;
        Certificate fresh = c;
        fresh.number = fmt::format("{}B{}", base, next);
        fresh.replacements = next;
        fresh.transfers = c.transfers;
        c.status = "void";
        certificates_[fresh.number] = fresh;
        touch("certificate", fresh.number);
        operation = "dpf.report-loss";
        json::object o = certificate_json(fresh);
        o["replaces"] = c.number;
        return answer(201, o);
      }
      if (op == "cancellation") {
        std::string reason;
        if (auto e = need_string(body, "reason", reason)) return *e;
        if (reason != "death" && reason != "no-longer-eligible" && reason != "holder-request") {
          return problem(400, "bad-request", "reason must be death, no-longer-eligible or holder-request");
        }
        c.status = "cancelled";
        c.cancelled_at = today();
        c.cancel_reason = reason;
        operation = "dpf.cancel-certificate";
        return answer(200, certificate_json(c));
      }
      if (op == "change") {
        int category = 0, level = 0;
        if (auto e = need_int(body, "category", 1, 7, category)) return *e;
        if (auto e = need_int(body, "level", 1, 4, level)) return *e;
        if (category == c.category && level == c.level) return problem(422, "no-change", "category and level are unchanged");
        Certificate fresh = c;
        fresh.number = issue_number(c.id_number, category, level);
        if (certificates_.count(fresh.number)) fresh.number += fmt::format("B{}", c.replacements + 1);
        fresh.category = category;
        fresh.level = level;
        fresh.valid_from = today();
        fresh.valid_until = add_years(fresh.valid_from, 10);
        c.status = "replaced";
        certificates_[fresh.number] = fresh;
        touch("certificate", fresh.number);
        operation = "dpf.change-certificate";
        json::object o = certificate_json(fresh);
        o["replaces"] = c.number;
        return answer(201, o);
      }
      return problem(404, "not-found", "no such certificate operation");
    }
  }

  // --- civil-affairs (民政): 低保/特困 status and the two subsidies ---
  if (dept == "civil-affairs") {
    if (m == "GET" && n == 3 && p[1] == "assistance") {
      Person person;
      if (auto e = need_person(p[2], person)) return *e;
      return assistance_answer(person);
    }
    if (m == "POST" && n == 2 && p[1] == "subsidy-decisions") {
      std::string id, subsidy;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      if (auto e = need_string(body, "subsidy", subsidy)) return *e;
      if (subsidy != "living" && subsidy != "nursing") return problem(400, "bad-request", "subsidy must be living or nursing");
      Person person;
      if (auto e = need_person(id, person)) return *e;
      if (person.deceased) return problem(422, "person-deceased", "the death registry holds this person");
      Certificate* c = active_certificate_of(id);
      if (!c) return problem(422, "no-active-certificate", "the applicant holds no active disability certificate");
      if (subsidies_.count(id + "/" + subsidy)) return problem(409, "already-granted", "this subsidy is already granted");
      std::string why;
      if (subsidy == "living" && !person.dibao) why = "the living subsidy needs a family in 低保";
      if (subsidy == "nursing") {
        bool severe = c->level <= 2 || (c->category == 5 || c->category == 6);
        if (!severe) why = "the nursing subsidy needs level 一级 or 二级 (or 三/四级 智力/精神)";
        else if (person.tekun) why = "people supported as 特困 draw no nursing subsidy";
      }
      if (!why.empty()) {
        api::Response r = problem(422, "not-eligible", why);
        return r;
      }
      Subsidy granted;
      granted.decision = fmt::format("MZ-{}", ++next_id_);
      granted.subsidy = subsidy;
      granted.from_month = today().substr(0, 7);
      granted.monthly_amount = subsidy == "living" ? options_.amounts.living_subsidy_monthly : options_.amounts.nursing_subsidy_monthly;
      subsidies_[id + "/" + subsidy] = granted;
      touch("subsidy", id + "/" + subsidy);
      operation = "civil-affairs.decide-subsidy";
      json::object o;
      o["decisionId"] = granted.decision;
      o["subsidy"] = subsidy;
      o["decision"] = "granted";
      o["monthlyAmount"] = granted.monthly_amount;
      o["fromMonth"] = granted.from_month;
      o["reviewEveryMonths"] = 6;
      return answer(201, o);
    }
    // One month's payment of a granted subsidy: the month after the last one paid
    // (the first: the decision's fromMonth), until the subsidy is stopped.
    if (m == "POST" && n == 2 && p[1] == "subsidy-payments") {
      std::string id, subsidy;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      if (auto e = need_string(body, "subsidy", subsidy)) return *e;
      if (subsidy != "living" && subsidy != "nursing") return problem(400, "bad-request", "subsidy must be living or nursing");
      Person person;
      if (auto e = need_person(id, person)) return *e;
      auto it = subsidies_.find(id + "/" + subsidy);
      if (it == subsidies_.end()) return problem(422, "not-granted", "no decision grants this subsidy to this person");
      Subsidy& s = it->second;
      const std::string month = s.last_paid_month.empty() ? s.from_month : next_month(s.last_paid_month);
      if (!s.stop_from.empty() && month >= s.stop_from) {
        return problem(409, "subsidy-stopped", fmt::format("the subsidy is stopped from {}", s.stop_from));
      }
      s.last_paid_month = month;
      ++s.months_paid;
      touch("subsidy", it->first);
      operation = "civil-affairs.pay-subsidy";
      json::object o;
      o["paymentId"] = fmt::format("FF-{}", ++next_id_);
      o["decisionId"] = s.decision;
      o["subsidy"] = subsidy;
      o["month"] = month;
      o["amount"] = s.monthly_amount;
      o["monthsPaid"] = s.months_paid;
      return answer(201, o);
    }
    // Stops every subsidy the person draws from the first day of next month.
    // Nothing to stop is no error: the answer lists what was stopped.
    if (m == "POST" && n == 2 && p[1] == "subsidy-stops") {
      std::string id;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      Person person;
      if (auto e = need_person(id, person)) return *e;
      const std::string from = next_month(today().substr(0, 7));
      json::array stopped;
      for (const char* kind : {"living", "nursing"}) {
        auto it = subsidies_.find(id + "/" + kind);
        if (it == subsidies_.end()) continue;
        if (it->second.stop_from.empty() || it->second.stop_from > from) it->second.stop_from = from;
        touch("subsidy", it->first);
        stopped.emplace_back(kind);
      }
      operation = "civil-affairs.stop-subsidy";
      json::object o;
      o["idNumber"] = id;
      o["stopped"] = std::move(stopped);
      o["stopFrom"] = from;
      return answer(200, o);
    }
  }

  // --- hrss (人社/就业): unemployment registration, 就业困难 recognition ---
  if (dept == "hrss") {
    if (m == "POST" && n == 2 && p[1] == "unemployment-registrations") {
      std::string id;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      Person person;
      if (auto e = need_person(id, person)) return *e;
      if (person.deceased) return problem(422, "person-deceased", "the death registry holds this person");
      int age = age_on(person, today());
      if (age < 16 || age >= 60) return problem(422, "not-working-age", fmt::format("the person is {}, outside working age 16–59", age));
      if (unemployment_.count(id)) return problem(409, "already-registered", "the person is already registered as unemployed");
      std::string number = fmt::format("SY{}{}", person.region_code, ++next_id_);
      unemployment_[id] = number;
      touch("unemployment", id);
      operation = "hrss.register-unemployment";
      json::object o;
      o["registrationNumber"] = number;
      o["regionCode"] = person.region_code;
      o["registeredAt"] = today();
      return answer(201, o);
    }
    if (m == "POST" && n == 2 && p[1] == "employment-difficulty-recognitions") {
      std::string id;
      if (auto e = need_string(body, "idNumber", id)) return *e;
      Person person;
      if (auto e = need_person(id, person)) return *e;
      if (!unemployment_.count(id)) return problem(422, "not-registered", "recognition needs an unemployment registration first");
      if (!active_certificate_of(id)) return problem(422, "no-active-certificate", "the person holds no active disability certificate");
      if (difficulty_.count(id)) return problem(409, "already-recognized", "the person is already recognised");
      std::string rid = fmt::format("KN-{}", ++next_id_);
      difficulty_[id] = rid;
      touch("difficulty", id);
      operation = "hrss.recognize-employment-difficulty";
      json::object o;
      o["recognitionId"] = rid;
      o["recognized"] = true;
      o["group"] = "disabled";
      o["registrationNumber"] = unemployment_[id];
      return answer(201, o);
    }
  }

  // --- social-insurance (社保): the pension contribution paid on behalf ---
  if (dept == "social-insurance" && m == "POST" && n == 2 && p[1] == "contributions") {
    std::string id;
    int year = 0;
    if (auto e = need_string(body, "idNumber", id)) return *e;
    if (auto e = need_int(body, "year", 2000, 2100, year)) return *e;
    Person person;
    if (auto e = need_person(id, person)) return *e;
    if (person.deceased) return problem(422, "person-deceased", "the death registry holds this person");
    Certificate* c = active_certificate_of(id);
    if (!c || c->level > 2) return problem(422, "not-eligible", "the contribution is paid for holders of a level 一级 or 二级 certificate");
    std::string k = fmt::format("{}/{}", id, year);
    if (contributions_.count(k)) return problem(409, "already-paid", fmt::format("the {} contribution is already paid", year));
    if (auto stop = contribution_stops_.find(id); stop != contribution_stops_.end() && stop->second <= fmt::format("{}-12", year)) {
      return problem(409, "contribution-stopped", fmt::format("the contribution is stopped from {}", stop->second));
    }
    std::string cid = fmt::format("YL-{}", ++next_id_);
    contributions_[k] = cid;
    touch("contribution", k);
    operation = "social-insurance.pay-contribution";
    json::object o;
    o["contributionId"] = cid;
    o["year"] = year;
    o["amount"] = options_.amounts.pension_contribution_yearly;
    o["paidAt"] = today();
    return answer(201, o);
  }

  // Stops paying the contribution on the person's behalf from next month.
  if (dept == "social-insurance" && m == "POST" && n == 2 && p[1] == "contribution-stops") {
    std::string id;
    if (auto e = need_string(body, "idNumber", id)) return *e;
    Person person;
    if (auto e = need_person(id, person)) return *e;
    const std::string from = next_month(today().substr(0, 7));
    std::string& stop = contribution_stops_[id];
    if (stop.empty() || stop > from) stop = from;
    touch("contribution-stop", id);
    operation = "social-insurance.stop-contribution";
    json::object o;
    o["idNumber"] = id;
    o["stopFrom"] = stop;
    return answer(200, o);
  }

  // --- assessment (评定机构): disability category and level ---
  if (dept == "assessment" && m == "POST" && n == 2 && p[1] == "assessments") {
    std::string id;
    int category = 0;
    if (auto e = need_string(body, "idNumber", id)) return *e;
    if (auto e = need_int(body, "category", 1, 7, category)) return *e;
    Person person;
    if (auto e = need_person(id, person)) return *e;
    if (person.deceased) return problem(422, "person-deceased", "the death registry holds this person");
    uint64_t h = std::hash<std::string>{}(id + std::to_string(category));
    operation = "assessment.assess";
    json::object o;
    o["assessmentId"] = fmt::format("PD-{}", ++next_id_);
    o["category"] = category;
    o["categoryName"] = category_name(category);
    o["meetsStandard"] = h % 10 != 0;
    o["level"] = static_cast<int>(1 + (h >> 8) % 4);
    o["assessedAt"] = today();
    return answer(201, o);
  }

  if (auto front_door = front_door_route(req, dept, p, body, operation)) return *front_door;

  return problem(404, "not-found", fmt::format("{} {} is not a route of the {} system", m, req.path, dept));
}

// ---- persistence: DIR/simulators.db ----

struct Simulator::Db {
  sqlite3* handle = nullptr;
  ~Db() {
    if (handle) sqlite3_close(handle);
  }
  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(handle, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : sqlite3_errmsg(handle);
      sqlite3_free(err);
      return Error{"store", why};
    }
    return {};
  }
  // Runs one statement with text/integer parameters bound in order.
  Result<void> run(const char* sql, std::initializer_list<std::string_view> texts, std::optional<int64_t> number = std::nullopt) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(handle, sql, -1, &st, nullptr) != SQLITE_OK) return Error{"store", sqlite3_errmsg(handle)};
    int i = 1;
    for (std::string_view t : texts) sqlite3_bind_text(st, i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
    if (number) sqlite3_bind_int64(st, i, *number);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error{"store", sqlite3_errmsg(handle)};
    return {};
  }
};

namespace {
json::object certificate_record(const std::string& number, const std::string& id, const std::string& region,
                                const std::string& status, int category, int level, int replacements,
                                const std::string& valid_from, const std::string& valid_until,
                                const std::string& cancelled_at, const std::string& cancel_reason,
                                const std::vector<std::string>& transfers) {
  json::object o;
  o["number"] = number;
  o["idNumber"] = id;
  o["region"] = region;
  o["status"] = status;
  o["category"] = category;
  o["level"] = level;
  o["replacements"] = replacements;
  o["validFrom"] = valid_from;
  o["validUntil"] = valid_until;
  o["cancelledAt"] = cancelled_at;
  o["cancelReason"] = cancel_reason;
  json::array t;
  for (const auto& x : transfers) t.emplace_back(x);
  o["transfers"] = std::move(t);
  return o;
}

std::string text_of(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
int int_of(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_int64() ? static_cast<int>(v->as_int64()) : 0;
}
}  // namespace

std::string Simulator::record_text(const std::string& kind, const std::string& key) const {
  if (kind == "certificate") {
    auto it = certificates_.find(key);
    if (it == certificates_.end()) return {};
    const Certificate& c = it->second;
    return expr::json_text(certificate_record(c.number, c.id_number, c.region, c.status, c.category, c.level,
                                              c.replacements, c.valid_from, c.valid_until, c.cancelled_at,
                                              c.cancel_reason, c.transfers));
  }
  if (kind == "subsidy") {
    auto it = subsidies_.find(key);
    if (it == subsidies_.end()) return {};
    const Subsidy& s = it->second;
    json::object o;
    o["decision"] = s.decision;
    o["subsidy"] = s.subsidy;
    o["fromMonth"] = s.from_month;
    o["monthlyAmount"] = s.monthly_amount;
    o["monthsPaid"] = s.months_paid;
    o["lastPaidMonth"] = s.last_paid_month;
    o["stopFrom"] = s.stop_from;
    return expr::json_text(o);
  }
  const std::map<std::string, std::string>* plain = kind == "unemployment"        ? &unemployment_
                                                    : kind == "difficulty"        ? &difficulty_
                                                    : kind == "contribution"      ? &contributions_
                                                    : kind == "contribution-stop" ? &contribution_stops_
                                                                                  : nullptr;
  if (!plain) return {};
  auto it = plain->find(key);
  return it == plain->end() ? std::string() : it->second;
}

Result<void> Simulator::load_record(const std::string& kind, const std::string& key, const std::string& value) {
  if (kind == "certificate" || kind == "subsidy") {
    boost::system::error_code ec;
    json::value v = json::parse(value, ec);
    if (ec || !v.is_object()) return Error{"store", fmt::format("the {} record '{}' is not a JSON object", kind, key)};
    const json::object& o = v.as_object();
    if (kind == "certificate") {
      Certificate c;
      c.number = text_of(o, "number");
      c.id_number = text_of(o, "idNumber");
      c.region = text_of(o, "region");
      c.status = text_of(o, "status");
      c.category = int_of(o, "category");
      c.level = int_of(o, "level");
      c.replacements = int_of(o, "replacements");
      c.valid_from = text_of(o, "validFrom");
      c.valid_until = text_of(o, "validUntil");
      c.cancelled_at = text_of(o, "cancelledAt");
      c.cancel_reason = text_of(o, "cancelReason");
      if (const json::value* t = o.if_contains("transfers"); t && t->is_array()) {
        for (const json::value& x : t->as_array()) {
          if (x.is_string()) c.transfers.emplace_back(x.as_string());
        }
      }
      certificates_[key] = std::move(c);
    } else {
      Subsidy s;
      s.decision = text_of(o, "decision");
      s.subsidy = text_of(o, "subsidy");
      s.from_month = text_of(o, "fromMonth");
      s.monthly_amount = int_of(o, "monthlyAmount");
      s.months_paid = int_of(o, "monthsPaid");
      s.last_paid_month = text_of(o, "lastPaidMonth");
      s.stop_from = text_of(o, "stopFrom");
      subsidies_[key] = std::move(s);
    }
    return {};
  }
  if (kind == "unemployment") unemployment_[key] = value;
  else if (kind == "difficulty") difficulty_[key] = value;
  else if (kind == "contribution") contributions_[key] = value;
  else if (kind == "contribution-stop") contribution_stops_[key] = value;
  else return Error{"store", fmt::format("unknown record kind '{}'", kind)};
  return {};
}

Result<void> Simulator::open_store(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (db_) return Error{"store", "the simulators' store is already open"};
  auto db = std::make_unique<Db>();
  const std::string path = dir + "/simulators.db";
  if (sqlite3_open_v2(path.c_str(), &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Error{"store", fmt::format("{}: {}", path, db->handle ? sqlite3_errmsg(db->handle) : "cannot open")};
  }
  sqlite3_busy_timeout(db->handle, 5000);
  auto schema = db->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS records(kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
      " PRIMARY KEY(kind, key)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
      " status INTEGER NOT NULL, content_type TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;");
  if (!schema.ok()) return Error{"store", fmt::format("{}: {}", path, schema.error().message)};

  auto each = [&](const char* sql, const std::function<Result<void>(sqlite3_stmt*)>& row) -> Result<void> {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db->handle, sql, -1, &st, nullptr) != SQLITE_OK) return Error{"store", sqlite3_errmsg(db->handle)};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (auto r = row(st); !r.ok()) {
        sqlite3_finalize(st);
        return r;
      }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error{"store", sqlite3_errmsg(db->handle)};
    return {};
  };
  auto col = [](sqlite3_stmt* st, int i) {
    const unsigned char* t = sqlite3_column_text(st, i);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
  };
  auto loaded = each("SELECT kind, key, value FROM records", [&](sqlite3_stmt* st) {
    return load_record(col(st, 0), col(st, 1), col(st, 2));
  });
  if (loaded.ok()) {
    loaded = each("SELECT key, fingerprint, status, content_type, body FROM idempotency", [&](sqlite3_stmt* st) {
      Remembered r;
      r.fingerprint = col(st, 1);
      r.response.status = sqlite3_column_int(st, 2);
      r.response.content_type = col(st, 3);
      r.response.body = col(st, 4);
      idempotency_[col(st, 0)] = std::move(r);
      return Result<void>{};
    });
  }
  if (loaded.ok()) {
    loaded = each("SELECT name, value FROM counters", [&](sqlite3_stmt* st) {
      const std::string name = col(st, 0);
      const auto value = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
      if (name == "next-id") next_id_ = std::max(next_id_, value);
      else if (name.rfind("applied:", 0) == 0) applied_[name.substr(8)] = value;
      return Result<void>{};
    });
  }
  if (!loaded.ok()) return Error{"store", fmt::format("{}: {}", path, loaded.error().message)};
  db_ = std::move(db);
  return {};
}

Result<void> Simulator::persist(const std::string& operation, const std::string* idem_key, const Remembered* remembered) {
  if (auto r = db_->exec("BEGIN IMMEDIATE"); !r.ok()) return r;
  auto write = [&]() -> Result<void> {
    for (const auto& [kind, key] : dirty_) {
      const std::string value = record_text(kind, key);
      if (value.empty()) continue;
      if (auto r = db_->run("INSERT OR REPLACE INTO records(kind, key, value) VALUES(?, ?, ?)", {kind, key, value}); !r.ok()) return r;
    }
    if (auto r = db_->run("INSERT OR REPLACE INTO counters(name, value) VALUES(?, ?)", {"next-id"},
                          static_cast<int64_t>(next_id_));
        !r.ok()) {
      return r;
    }
    if (!operation.empty()) {
      if (auto it = applied_.find(operation); it != applied_.end()) {
        if (auto r = db_->run("INSERT OR REPLACE INTO counters(name, value) VALUES(?, ?)", {"applied:" + operation},
                              static_cast<int64_t>(it->second));
            !r.ok()) {
          return r;
        }
      }
    }
    if (idem_key && remembered) {
      if (auto r = db_->run("INSERT OR REPLACE INTO idempotency(key, fingerprint, content_type, body, status) VALUES(?, ?, ?, ?, ?)",
                            {*idem_key, remembered->fingerprint, remembered->response.content_type, remembered->response.body},
                            remembered->response.status);
          !r.ok()) {
        return r;
      }
    }
    return {};
  };
  auto written = write();
  if (!written.ok()) {
    (void)db_->exec("ROLLBACK");
    return written;
  }
  return db_->exec("COMMIT");
}

std::vector<CertificateView> Simulator::certificates() const {
  std::lock_guard lock(mu_);
  std::vector<CertificateView> out;
  out.reserve(certificates_.size());
  for (const auto& [number, c] : certificates_) {
    out.push_back(CertificateView{c.number, c.id_number, c.region, c.status, c.category, c.level});
  }
  return out;
}

// --- the front door's stand-ins (docs/frontdoor.md) ---------------------------------

std::optional<api::Response> Simulator::front_door_route(const api::Request& req, const std::string& dept,
                                                         const std::vector<std::string>& p, const json::object& body,
                                                         std::string& operation) {
  const size_t n = p.size();
  // Every certificate the registry holds for a person: the active one first, then the newest.
  if (dept == "dpf" && req.method == "GET" && n == 4 && p[1] == "holders" && p[3] == "certificates") {
    if (!valid_id_number(p[2])) return problem(422, "invalid-id-number", "the ID number is not 18 characters with a valid check digit");
    std::vector<const Certificate*> held;
    for (const auto& [number, c] : certificates_) {
      if (c.id_number == p[2]) held.push_back(&c);
    }
    std::sort(held.begin(), held.end(), [](const Certificate* a, const Certificate* b) {
      if ((a->status == "active") != (b->status == "active")) return a->status == "active";
      return a->valid_from > b->valid_from;
    });
    json::array items;
    for (const Certificate* c : held) items.push_back(certificate_json(*c));
    json::object o;
    o["items"] = std::move(items);
    return answer(200, o);
  }
  if (dept != "notification") return std::nullopt;
  if (req.method == "POST" && n == 2 && p[1] == "sms") {
    std::string to, text, purpose;
    if (auto e = need_string(body, "to", to)) return *e;
    if (auto e = need_string(body, "text", text)) return *e;
    if (const json::value* v = body.if_contains("purpose"); v && v->is_string()) purpose = std::string(v->as_string());
    bool phone = to.size() == 11 && to[0] == '1' && to.find_first_not_of("0123456789") == std::string::npos;
    if (!phone) return problem(422, "invalid-phone", "to is not an 11-digit mainland mobile number");
    if (text.size() > 600) return problem(422, "text-too-long", "an SMS text is at most 600 bytes");
    Sms sms{fmt::format("SMS-{}", ++next_id_), to, text, purpose, today()};
    sms_.push_back(sms);
    if (sms_.size() > 1000) sms_.erase(sms_.begin());
    operation = "notification.send-sms";
    json::object o;
    o["messageId"] = sms.id;
    o["acceptedAt"] = sms.sent_at;
    return answer(201, o);
  }
  // What was sent to a phone, newest last: the stand-in's window for tests and the demo.
  if (req.method == "GET" && n == 3 && p[1] == "sms" && p[2] == "outbox") {
    auto to = req.param("to");
    if (!to) return problem(400, "bad-request", "name the phone with ?to=");
    json::array items;
    for (const Sms& s : sms_) {
      if (s.to != *to) continue;
      json::object o;
      o["messageId"] = s.id;
      o["text"] = s.text;
      o["purpose"] = s.purpose;
      o["sentAt"] = s.sent_at;
      items.push_back(std::move(o));
    }
    json::object o;
    o["items"] = std::move(items);
    return answer(200, o);
  }
  return std::nullopt;
}

}  // namespace banshi::connectors::sim
