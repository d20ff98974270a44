// The one-window intake (一窗受理, 一表申请) and the milestone notices
// (docs/frontdoor.md): pre-fill from the shared data, what is still needed
// and why, filing a case that starts the whole "one thing" with one business
// key, uploaded documents, and the receipt with its promised dates.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input.h"
#include "api/password.h"
#include "api/problem.h"
#include "api/roles.h"
#include "expr/json_text.h"
#include "frontdoor/frontdoor.h"
#include "frontdoor/multipart.h"
#include "reports/reports.h"

namespace banshi::api {

namespace json = boost::json;
namespace fd = banshi::frontdoor;

namespace frontdoor_detail {

namespace {

// Which hash key stands in when none is configured (docs/frontdoor.md).
constexpr std::string_view kBuiltInHashKey = "banshi-frontdoor-v1";

Response json_answer(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = expr::json_text(v);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response bad(const InputError& e) {
  if (e.status == 415) return problem(ProblemKind::kUnsupportedMediaType, e.detail, e.field);
  return problem(ProblemKind::kBadRequest, e.detail, e.field);
}

const json::value* path_of(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::object* cur = &o;
  const json::value* v = nullptr;
  for (std::string_view p : path) {
    if (!cur) return nullptr;
    v = cur->if_contains(p);
    if (!v) return nullptr;
    cur = v->is_object() ? &v->as_object() : nullptr;
  }
  return v;
}

std::string string_at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = path_of(o, path);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const char* level_name(int level) {
  static const char* kNames[] = {"", "一级", "二级", "三级", "四级"};
  return level >= 1 && level <= 4 ? kNames[level] : "";
}

std::string today_of(Engine& engine) {
  return fd::local_date(engine.clock().now_ms(), 480);
}

json::object shared_json(const fd::SharedRecord& s, const std::string& id, const std::string& today) {
  json::object o;
  o["found"] = s.found;
  if (s.found) {
    o["name"] = s.name;
    o["region"] = s.region;
    o["regionName"] = s.region_name;
    o["birthDate"] = s.birth_date;
  }
  o["age"] = fd::age_on(id, today);
  o["dibao"] = s.dibao;
  o["tekun"] = s.tekun;
  o["deceased"] = s.deceased;
  if (s.certificate) {
    o["certificate"] = json::object{{"number", s.certificate->number},
                                    {"category", s.certificate->category},
                                    {"level", s.certificate->level},
                                    {"status", s.certificate->status},
                                    {"validUntil", s.certificate->valid_until}};
  } else {
    o["certificate"] = nullptr;
  }
  return o;
}

fd::SharedFacts facts_of(const fd::SharedRecord& s, const std::string& id, const std::string& today,
                         const std::string& category) {
  fd::SharedFacts f;
  f.household = s.found;
  f.dibao = s.dibao;
  f.tekun = s.tekun;
  f.guardian_needed = fd::age_on(id, today) < 18 || category == "智力" || category == "精神";
  return f;
}

json::array requirements_json(const std::vector<fd::Requirement>& reqs) {
  json::array a;
  for (const fd::Requirement& r : reqs) {
    a.push_back(json::object{{"material", r.material},
                             {"name", r.name.json()},
                             {"reason", r.reason.json()},
                             {"status", r.status},
                             {"for", r.for_what},
                             {"upload", r.upload}});
  }
  return a;
}

// Reads a services list and checks each against the catalogue.
std::vector<const fd::Service*> services_of(const std::vector<std::string>& ids, std::string& error) {
  std::vector<const fd::Service*> out;
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    const fd::Service* s = fd::catalog().service(id);
    if (!s) {
      error = "Unknown service " + id + "; the services are living-subsidy, nursing-subsidy, employment-assistance and pension-contribution.";
      return {};
    }
    if (seen.insert(id).second) out.push_back(s);
  }
  return out;
}

std::vector<std::string> uploaded_materials(Context& ctx, const std::string& key) {
  std::vector<std::string> out;
  auto docs = ctx.store->documents(key);
  if (docs.ok()) {
    for (const auto& d : *docs) out.push_back(d.material);
  }
  return out;
}

}  // namespace

std::string keyed_hash(const FrontDoorOptions& options, std::string_view kind, std::string_view value) {
  std::string_view key = options.hash_key.empty() ? kBuiltInHashKey : std::string_view(options.hash_key);
  std::string msg = std::string(kind) + ":" + std::string(value);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 0xF]);
  }
  return hex;
}

// Writes a new file readable by the server's user only from the moment it
// exists (never under the umask first), and on disk before the row naming
// it is stored. False when any step fails.
bool write_private_file(const std::filesystem::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = true;
  for (size_t done = 0; ok && done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else done += static_cast<size_t>(n);
  }
  if (ok && ::fsync(fd) != 0) ok = false;
  if (::close(fd) != 0) ok = false;
  return ok;
}

Response unavailable(std::string_view what) {
  Response r = problem(ProblemKind::kUnavailable, std::string(what));
  r.headers.emplace_back("Retry-After", "30");
  return r;
}

std::vector<store::InstanceRecord> case_instances(Context& ctx, const store::IntakeRecord& intake,
                                                  std::string* id_number) {
  std::vector<store::InstanceRecord> out;
  auto main = ctx.engine.store().instance(intake.instance_id);
  if (!main.ok() || !*main) return out;
  out.push_back(**main);
  const std::string& id = intake.linked_key;
  if (id_number) *id_number = id;
  if (id.empty()) return out;
  // The linked services run under the holder's ID number (the correlation key
  // of certificate-issued); subsidies and the rest are their children. Only
  // those this case's certificate started belong to it (issuedBy, carried by
  // certificate-issued): anyone may file a case naming someone's ID number,
  // and must not reach the services of a card another case issued.
  store::InstanceQuery q;
  q.business_key = id;
  q.limit = 100;
  auto linked = ctx.engine.store().instances(q);
  if (linked.ok()) {
    std::sort(linked->begin(), linked->end(), [](const store::InstanceRecord& a, const store::InstanceRecord& b) {
      return a.started_at != b.started_at ? a.started_at < b.started_at : a.id < b.id;
    });
    std::set<InstanceId> ours;
    for (const auto& i : *linked) {
      if (i.id == intake.instance_id || i.started_at < intake.created_at - 1000) continue;
      bool belongs = false;
      if (i.parent_id != 0) {
        belongs = ours.count(i.parent_id) > 0;  // a parent starts before its children
      } else {
        auto view = ctx.engine.inspect_instance(i.id);
        belongs = view.ok() && string_at(view->variables, {"issuedBy"}) == intake.business_key;
      }
      if (!belongs) continue;
      ours.insert(i.id);
      out.push_back(i);
    }
  }
  return out;
}

Response file_case(Context& ctx, const Request& req, const Principal& who, bool online) {
  if (!ctx.store) return unavailable("This server keeps no front-door cases.");
  json::object body;
  if (auto e = parse_json_body(req, body)) return bad(*e);
  BodyReader b(body, {"operation", "services", "applicant", "category", "onBehalf", "agent", "transferTo",
                      "cancellationReason", "renewalReason"});
  std::string operation_id = b.string("operation", true, 64);
  std::vector<std::string> service_ids = b.strings("services", 10, 64);
  json::object applicant = b.object("applicant");
  std::string category = b.string("category", false, 8);
  bool on_behalf = b.boolean("onBehalf", false);
  json::object agent = b.object("agent");
  std::string transfer_to = b.string("transferTo", false, 6);
  std::string cancellation_reason = b.string("cancellationReason", false, 32);
  std::string renewal_reason = b.string("renewalReason", false, 16);
  if (!b.ok()) return bad(b.error());

  const fd::Operation* op = fd::catalog().operation(operation_id);
  if (!op) {
    return problem(ProblemKind::kBadRequest,
                   "Unknown operation " + operation_id + "; it is one of the six certificate operations, such as certificate-new-issue.",
                   "operation");
  }
  std::string error;
  auto services = services_of(service_ids, error);
  if (!error.empty()) return problem(ProblemKind::kBadRequest, error, "services");
  BodyReader a(applicant, {"idNumber", "name", "phone", "region"});
  std::string id = a.string("idNumber", true, 18);
  std::string name = a.string("name", true, 90);
  std::string phone = a.string("phone", true, 11);
  std::string region = a.string("region", false, 6);
  if (!a.ok()) {
    InputError e = a.error();
    e.field = "applicant." + e.field;
    return bad(e);
  }
  if (std::string why = fd::id_number_problem(id); !why.empty()) {
    return problem(ProblemKind::kBadRequest, why, "applicant.idNumber");
  }
  if (!id.empty() && id[17] == 'x') id[17] = 'X';
  if (!fd::valid_person_name(name)) {
    return problem(ProblemKind::kBadRequest, "A name is 1 to 30 characters without control characters or < >.",
                   "applicant.name");
  }
  if (!fd::valid_phone(phone)) {
    return problem(ProblemKind::kBadRequest, "A phone number is 11 digits starting with 13 to 19.", "applicant.phone");
  }
  if (!region.empty() && (!valid_region(region) || region.substr(4) == "00")) {
    return problem(ProblemKind::kBadRequest, "The region is the 6-digit code of a county, such as 220102.",
                   "applicant.region");
  }
  static const std::set<std::string> kCategories = {"视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
  if (!category.empty() && !kCategories.count(category)) {
    return problem(ProblemKind::kBadRequest, "The category is one of 视力, 听力, 言语, 肢体, 智力, 精神, 多重.", "category");
  }
  std::string agent_name, agent_relation;
  if (!agent.empty()) {
    BodyReader g(agent, {"name", "relation"});
    agent_name = g.string("name", true, 90);
    agent_relation = g.string("relation", true, 32);
    if (!g.ok()) {
      InputError e = g.error();
      e.field = "agent." + e.field;
      return bad(e);
    }
    if (!fd::valid_person_name(agent_name)) return problem(ProblemKind::kBadRequest, "The agent's name is not a name.", "agent.name");
    if (!fd::valid_person_name(agent_relation)) {
      return problem(ProblemKind::kBadRequest, "The relation is a short word such as 监护人 or 子女.", "agent.relation");
    }
  }
  if (online && on_behalf) {
    return problem(ProblemKind::kBadRequest, "Filing on a person's behalf (帮办代办) is done at a window.", "onBehalf");
  }
  std::string phone_hash = keyed_hash(ctx.options, "phone", phone);
  if (online && phone_hash != who.name) {
    return problem(ProblemKind::kForbidden, "Apply with the phone number you signed in with.", "applicant.phone");
  }
  // The phone's open online cases, counted before the shared data is asked
  // (a refusal costs nothing), and again under the filing lock.
  auto too_many_open = [&]() -> std::optional<Response> {
    auto mine = ctx.store->intakes_of_phone(phone_hash);
    if (!mine.ok()) return problem_from_error(mine.error());
    int running = 0;
    for (const store::IntakeRecord& i : *mine) {
      if (i.channel != "online") continue;
      auto inst = ctx.engine.store().instance(i.instance_id);
      if (inst.ok() && *inst && (*inst)->status == 1) ++running;
    }
    if (running < ctx.options.max_open_online_cases) return std::nullopt;
    return problem(ProblemKind::kConflict,
                   fmt::format("This phone has {} cases in progress online already; follow those, or apply at a "
                               "service window.",
                               running));
  };
  if (online) {
    if (auto refused = too_many_open()) return *refused;
  }
  if (op->needs_transfer_region) {
    if (!valid_region(transfer_to) || transfer_to.substr(4) == "00") {
      return problem(ProblemKind::kBadRequest, "A transfer names the county it moves to (transferTo, such as 220402).",
                     "transferTo");
    }
  }
  if (op->id == "certificate-cancellation" && cancellation_reason != "not-meeting-standard" &&
      cancellation_reason != "holder-request") {
    return problem(ProblemKind::kBadRequest,
                   "A cancellation gives cancellationReason not-meeting-standard or holder-request (a death is cancelled from the death records).",
                   "cancellationReason");
  }
  if (!renewal_reason.empty() && renewal_reason != "expired" && renewal_reason != "damaged") {
    return problem(ProblemKind::kBadRequest, "renewalReason is expired or damaged.", "renewalReason");
  }

  // The shared data: nothing the government holds is asked again.
  if (!ctx.gateway) return unavailable("The shared data cannot be reached from this server; nothing was filed.");
  const int64_t asked_at = ctx.engine.clock().now_ms();
  const std::string person_hash = online ? keyed_hash(ctx.options, "person", id + "\n" + name) : std::string();
  // One count of the people a phone checks a day, for every node.
  const std::string check_day = fd::local_date(asked_at, 480);
  std::optional<store::IdentityCheckAdmission> admission;
  if (online) {
    auto admitted =
        ctx.store->admit_identity_check(phone_hash, person_hash, check_day, ctx.options.identity_checks_per_day);
    if (!admitted.ok()) return problem_from_error(admitted.error());
    admission = *admitted;
  }
  const bool check_recorded = admission == store::IdentityCheckAdmission::kRecorded;
  if (admission == store::IdentityCheckAdmission::kDayFull) {
    Response r = problem(ProblemKind::kTooManyRequests,
                         fmt::format("This phone has applied for {} different people today; nothing was filed. Apply "
                                     "at a service window, or try again tomorrow.",
                                     ctx.options.identity_checks_per_day),
                         "applicant.idNumber");
    const int64_t into_day = (asked_at / 1000 + 8 * 3600) % 86400;  // China Standard Time
    r.headers.emplace_back("Retry-After", std::to_string(86400 - into_day));
    return r;
  }
  auto shared = ctx.gateway->lookup(id);
  if (!shared.ok()) {
    if (check_recorded) {  // nothing was told
      if (auto forgot = ctx.store->forget_identity_check(phone_hash, person_hash, check_day); !forgot.ok()) {
        spdlog::warn("an identity check could not be taken back: {}", forgot.error().message);
      }
    }
    return unavailable("The shared data cannot be reached now; nothing was filed. Try again shortly.");
  }
  const fd::SharedRecord& s = *shared;
  // Online, a signed-in phone proves no one's identity: the ID number must be
  // one the household registration holds, for a living person of that name,
  // before anything about the person (their region, a certificate) is told
  // or a case filed in their name. Each of these is refused in the same
  // words, so the answer does not tell which: a number nobody holds, another
  // name, or a death. At a window, staff see the person and their papers.
  if (online && (!s.found || s.deceased || s.name != name)) {
    return problem(ProblemKind::kBadRequest,
                   "The household registration holds no living person of this name and ID number; nothing was filed. "
                   "Check both, or apply at a service window.",
                   "applicant.idNumber");
  }
  if (s.deceased) return problem(ProblemKind::kConflict, "The death records hold this ID number; nothing was filed.");
  if (s.found) {
    // Online the registered region is taken as it is, without naming it.
    if (!online && !region.empty() && region != s.region && !op->needs_transfer_region) {
      return problem(ProblemKind::kConflict,
                     "The household registration is in " + s.region + ", which handles the case; leave the region out.",
                     "applicant.region");
    }
    region = s.region;
  } else if (region.empty()) {
    return problem(ProblemKind::kBadRequest,
                   "No household registration holds this ID number: give the region of the household book.",
                   "applicant.region");
  }
  bool holds_active = s.certificate && s.certificate->status == "active";
  if (op->needs_certificate && !holds_active) {
    return problem(ProblemKind::kConflict, "The person holds no active certificate for this operation.", "operation");
  }
  if (op->id == "certificate-new-issue" && holds_active) {
    return problem(ProblemKind::kConflict, "The person already holds an active certificate; choose renewal, replacement or change.",
                   "operation");
  }
  if (op->needs_transfer_region && transfer_to == region) {
    return problem(ProblemKind::kBadRequest, "The certificate is already held in that region.", "transferTo");
  }
  if (!online && !regions_cover(who.regions, region, false)) {
    return problem(ProblemKind::kForbidden, "The case belongs to region " + region + ", which is not one of yours.");
  }

  // From the count to the stored intake, one filing per phone at a time
  // (FilingLocks); taken after the shared data was asked, so a slow lookup
  // holds no lock.
  std::unique_lock<std::mutex> filing;
  if (online) {
    filing = std::unique_lock(ctx.filing_locks.of(phone_hash));
    if (auto refused = too_many_open()) return *refused;
  }

  // One business key for the whole case: region, date, sequence.
  const int64_t now = ctx.engine.clock().now_ms();
  std::string today = fd::local_date(now, 480);
  auto seq = ctx.engine.store().allocate_ids("intake", 1);
  if (!seq.ok()) return problem_from_error(seq.error());
  std::string key = fmt::format("{}-{}-{:06d}", region, today.substr(0, 4) + today.substr(5, 2) + today.substr(8, 2),
                                *seq % 1'000'000);

  json::object vars;
  vars["applicationId"] = key;
  vars["applicant"] = json::object{{"name", name}, {"idNumber", id}, {"region", region}, {"phone", phone}};
  json::array requested;
  for (const fd::Service* sv : services) requested.emplace_back(sv->id);
  vars["requestedServices"] = requested;
  vars["intake"] = json::object{{"channel", online ? "online" : "window"},
                                {"onBehalf", on_behalf},
                                {"filedBy", online ? std::string("applicant") : who.name}};
  if (holds_active) {
    vars["certificateNumber"] = s.certificate->number;
    vars["disability"] = json::object{{"category", s.certificate->category},
                                      {"level", level_name(s.certificate->level)}};
  }
  if (op->needs_transfer_region) vars["transfer"] = json::object{{"fromRegion", region}, {"toRegion", transfer_to}};
  if (op->id == "certificate-cancellation") vars["cancellation"] = json::object{{"reason", cancellation_reason}};
  if (op->id == "certificate-renewal") {
    vars["renewal"] = json::object{{"reason", renewal_reason.empty() ? "expired" : renewal_reason}};
  }

  StartRequest start;
  start.process_id = op->id;
  start.business_key = key;
  start.variables = vars;
  auto instance = ctx.engine.start_instance(start);
  if (!instance.ok()) return problem_from_error(instance.error());

  json::object receipt;
  if (const expr::WorkingDays* wd = ctx.engine.working_days()) {
    auto promised = fd::promise(*op, json::object{}, now, *wd, 480);
    if (promised.ok()) {
      json::array steps;
      for (const auto& st : promised->steps) {
        steps.push_back(json::object{{"id", st.id}, {"name", st.name.json()}, {"days", st.days},
                                     {"promisedAt", st.promised_at}, {"promisedDate", st.promised_date}});
      }
      receipt["steps"] = steps;
      receipt["casePromisedAt"] = promised->case_promised_at;
      receipt["casePromisedDate"] = promised->case_promised_date;
    } else {
      receipt["calendarProblem"] = promised.error().message;
    }
  } else {
    receipt["calendarProblem"] = "this server has no business calendar";
  }

  store::IntakeRecord rec;
  rec.business_key = key;
  rec.instance_id = static_cast<int64_t>(*instance);
  rec.process_id = op->id;
  rec.services = expr::json_text(requested);
  rec.region = region;
  rec.applicant_hash = keyed_hash(ctx.options, "id", id);
  rec.phone_hash = phone_hash;
  rec.channel = online ? "online" : "window";
  rec.filed_by = online ? "applicant" : who.name;
  rec.on_behalf = on_behalf;
  if (!agent_name.empty()) {
    rec.proxy = expr::json_text(json::object{{"name", fd::mask_name(agent_name)}, {"relation", agent_relation}});
  }
  rec.receipt = expr::json_text(receipt);
  rec.created_at = now;
  rec.linked_key = id;
  if (auto r = ctx.store->add_intake(rec); !r.ok()) {
    // Without its intake the case would run where neither the applicant nor
    // the window can see it: it is cancelled, and the filing is refused.
    auto cancelled = ctx.engine.cancel_instance(*instance, "its intake could not be stored", nullptr);
    if (!cancelled.ok()) {
      spdlog::error("case {}: instance {} runs without its intake: {}", key, *instance, cancelled.error().message);
    }
    return problem_from_error(r.error());
  }
  ctx.auth.audit(online ? who.actor() : who.name, on_behalf ? "intake-on-behalf" : "intake", "case " + key,
                 req.remote_address, fmt::format("{} instance {}", op->id, *instance));

  if (ctx.gateway && ctx.options.notify_milestones) {
    (void)ctx.store->mark_notified(key, "received", now);
    auto sent = ctx.gateway->send(fd::OutgoingMessage{
        phone,
        fmt::format("【残疾人服务一件事】您的{}申请已提交，受理编号{}。可凭手机号登录网上办事查看进度。", op->name.zh, key),
        "milestone:received"});
    if (!sent.ok()) spdlog::warn("case {}: the receipt notice was not sent: {}", key, sent.error().message);
  }

  auto facts = facts_of(s, id, today, category);
  json::object out;
  out["businessKey"] = key;
  out["instanceId"] = static_cast<int64_t>(*instance);
  out["region"] = region;
  // The shared record is for the window's staff; an applicant filed their own.
  if (!online) out["shared"] = shared_json(s, id, today);
  out["requirements"] = requirements_json(fd::requirements(fd::catalog(), *op, services, facts, {}));
  out["receipt"] = receipt;
  Response r = json_answer(201, out);
  r.headers.emplace_back("Location", "/api/v1/cases/" + key + "/receipt");
  return r;
}

Response store_document(Context& ctx, const Request& req, const store::IntakeRecord& intake,
                        const std::string& uploaded_by) {
  if (ctx.options.uploads_dir.empty()) return unavailable("This server stores no uploads (frontdoor.uploads_dir).");
  QueryReader q(req, {"material"});
  std::string material = q.string("material", 64);
  if (!q.ok()) return bad(q.error());
  auto declared = req.header("content-type");
  std::string declared_type = declared ? std::string(declared->substr(0, declared->find(';'))) : std::string();
  while (!declared_type.empty() && declared_type.back() == ' ') declared_type.pop_back();
  for (char& c : declared_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // The document: the raw body, or the `file` part of a multipart/form-data
  // form (a browser's form; `material` may come as a part instead of in the query).
  std::string_view document = req.body;
  const bool multipart = declared_type == "multipart/form-data";
  if (multipart) {
    auto boundary = fd::multipart_boundary(*declared);
    if (!boundary.ok()) return problem(ProblemKind::kBadRequest, boundary.error().message, "Content-Type");
    fd::MultipartLimits limits;
    limits.max_parts = 2;
    limits.max_part_bytes = static_cast<size_t>(ctx.options.max_upload_bytes);
    auto parts = fd::parse_multipart(req.body, *boundary, limits);
    if (!parts.ok()) {
      if (parts.error().code == "too-large") {
        return problem(ProblemKind::kPayloadTooLarge,
                       fmt::format("A document may be at most {} bytes.", ctx.options.max_upload_bytes), "file");
      }
      return problem(ProblemKind::kBadRequest, parts.error().message, "body");
    }
    const fd::MultipartPart* file = nullptr;
    for (const fd::MultipartPart& part : *parts) {
      if (part.name == "file" && part.has_filename) {
        file = &part;
      } else if (part.name == "material" && !part.has_filename) {
        if (!material.empty() && material != part.body) {
          return problem(ProblemKind::kBadRequest, "The form and the query name different materials.", "material");
        }
        material = std::string(part.body.substr(0, 65));
      } else {
        return problem(ProblemKind::kBadRequest,
                       "A document form holds the part 'file' (the document, with a file name) and, if not in the "
                       "query, 'material'; nothing else.",
                       part.name.size() <= 64 ? part.name : std::string("body"));
      }
    }
    if (!file) return problem(ProblemKind::kBadRequest, "The form has no 'file' part with the document.", "file");
    document = file->body;
    declared_type = file->content_type;
  }
  auto m = fd::catalog().materials.find(material);
  if (m == fd::catalog().materials.end() || !m->second.upload) {
    return problem(ProblemKind::kBadRequest, "Name the material (such as photos) the document is; it must be one that is uploaded.",
                   "material");
  }
  if (declared_type != "image/jpeg" && declared_type != "image/png" && declared_type != "application/pdf") {
    return problem(ProblemKind::kUnsupportedMediaType, "Send a JPEG, PNG or PDF with its Content-Type.",
                   multipart ? "file" : "Content-Type");
  }
  if (static_cast<int64_t>(document.size()) > ctx.options.max_upload_bytes) {
    return problem(ProblemKind::kPayloadTooLarge,
                   fmt::format("A document may be at most {} bytes.", ctx.options.max_upload_bytes), multipart ? "file" : "body");
  }
  if (document.empty()) {
    return problem(ProblemKind::kBadRequest, "The body must hold the document.", multipart ? "file" : "body");
  }
  auto sniffed = fd::sniff_document(document);
  if (!sniffed || *sniffed != declared_type) {
    return problem(ProblemKind::kUnsupportedMediaType,
                   "The document's contents are not the " + declared_type + " its Content-Type says (JPEG, PNG and PDF only).",
                   multipart ? "file" : "body");
  }
  auto existing = ctx.store->documents(intake.business_key);
  if (!existing.ok()) return problem_from_error(existing.error());
  if (static_cast<int>(existing->size()) >= ctx.options.max_documents_per_case) {
    return problem(ProblemKind::kConflict, "This case already has as many documents as it may hold.");
  }
  std::error_code ec;
  std::filesystem::create_directories(ctx.options.uploads_dir, ec);
  std::string stored = random_token() + std::string(fd::extension_of(*sniffed));
  std::filesystem::path path = ctx.options.uploads_dir / stored;
  if (!write_private_file(path, document)) {
    std::filesystem::remove(path, ec);
    return problem_from_error(Error{"store", "the document could not be written"});
  }
  store::DocumentRecord d;
  d.business_key = intake.business_key;
  d.material = material;
  d.media_type = *sniffed;
  d.size = static_cast<int64_t>(document.size());
  d.stored_name = stored;
  d.sha256 = sha256_hex(document);
  d.uploaded_by = uploaded_by;
  d.uploaded_at = ctx.auth.now();
  // Counted again with the insert: uploads at once may have filled the case since.
  auto id = ctx.store->add_document(d, ctx.options.max_documents_per_case);
  if (!id.ok()) {
    std::filesystem::remove(path, ec);
    if (id.error().code == "limit-reached") {
      return problem(ProblemKind::kConflict, "This case already has as many documents as it may hold.");
    }
    return problem_from_error(id.error());
  }
  ctx.auth.audit(uploaded_by, "document-upload", "case " + intake.business_key, req.remote_address,
                 fmt::format("{} {} bytes", material, d.size));
  return json_answer(201, json::object{{"id", *id},
                                       {"material", material},
                                       {"mediaType", d.media_type},
                                       {"size", d.size},
                                       {"sha256", d.sha256},
                                       {"uploadedAt", d.uploaded_at}});
}

json::object receipt_json(Context& ctx, const store::IntakeRecord& intake) {
  const fd::Operation* op = fd::catalog().operation(intake.process_id);
  json::object o;
  o["businessKey"] = intake.business_key;
  o["instanceId"] = intake.instance_id;
  o["operation"] = intake.process_id;
  if (op) o["operationName"] = op->name.json();
  json::array services;
  std::vector<const fd::Service*> svc;
  {
    json::error_code ec;
    json::value v = json::parse(intake.services, ec);
    if (!ec && v.is_array()) {
      for (const json::value& s : v.as_array()) {
        if (!s.is_string()) continue;
        if (const fd::Service* sv = fd::catalog().service(s.as_string())) {
          svc.push_back(sv);
          services.push_back(json::object{{"id", sv->id}, {"name", sv->name.json()}});
        }
      }
    }
  }
  o["services"] = services;
  o["region"] = intake.region;
  o["channel"] = intake.channel;
  o["onBehalf"] = intake.on_behalf;
  o["filedBy"] = intake.filed_by;
  o["createdAt"] = intake.created_at;
  o["createdDate"] = fd::local_date(intake.created_at, 480);
  json::error_code ec;
  json::value receipt = json::parse(intake.receipt, ec);
  if (!ec && receipt.is_object()) {
    for (const auto& [k, v] : receipt.as_object()) o[k] = v;
  }
  if (!intake.proxy.empty()) {
    json::value proxy = json::parse(intake.proxy, ec);
    if (!ec) o["agent"] = proxy;
  }
  // Who it is for, masked: the receipt is handed over and may be left about.
  auto view = ctx.engine.inspect_instance(intake.instance_id);
  const std::string& id = intake.linked_key;
  std::string name = view.ok() ? string_at(view->variables, {"applicant", "name"}) : std::string();
  if (!name.empty()) o["applicantName"] = fd::mask_name(name);
  if (!id.empty()) o["applicantIdNumber"] = fd::mask_id(id);
  if (op && !id.empty()) {
    fd::SharedFacts facts;
    facts.household = true;  // pre-filled at intake, or the region was given from the household book
    facts.guardian_needed = fd::age_on(id, fd::local_date(intake.created_at, 480)) < 18;
    o["requirements"] = requirements_json(
        fd::requirements(fd::catalog(), *op, svc, facts, uploaded_materials(ctx, intake.business_key)));
  }
  return o;
}

boost::json::object applicant_view(Context& ctx, const store::IntakeRecord& intake) {
  json::object o = receipt_json(ctx, intake);
  json::array processes;
  for (const store::InstanceRecord& inst : case_instances(ctx, intake)) {
    json::object p;
    p["instanceId"] = inst.id;
    p["processId"] = inst.process_id;
    if (const fd::Operation* op = fd::catalog().operation(inst.process_id)) {
      p["name"] = op->name.json();
    } else if (const fd::Service* sv = fd::catalog().service(inst.process_id)) {
      p["name"] = sv->name.json();
    } else if (inst.process_id == "linked-services") {
      p["name"] = fd::Text{"关联服务（一件事）", "Linked services (one thing)"}.json();
    } else {
      p["name"] = fd::Text{inst.process_id, inst.process_id}.json();
    }
    p["startedAt"] = inst.started_at;
    json::array statuses;
    bool supplement = false, offer = false;
    json::array missing;
    json::object offered;
    if (inst.status == 1) {
      auto view = ctx.engine.inspect_instance(inst.id);
      if (view.ok()) {
        for (const ActiveElement& a : view->active) {
          if (const fd::Text* t = fd::catalog().status(inst.process_id, a.element_id)) {
            statuses.push_back(t->json());
          }
          if (a.element_id == "supplement") supplement = true;
          if (a.element_id == "consent") offer = true;
        }
        if (supplement) {
          if (const json::value* m = view->variables.if_contains("missingMaterials"); m && m->is_array()) missing = m->as_array();
        }
        if (offer) {
          if (const json::value* e = view->variables.if_contains("subsidyEligibility"); e && e->is_object()) offered = e->as_object();
        }
      }
      if (statuses.empty()) statuses.push_back(fd::Text{"办理中", "In progress"}.json());
      p["state"] = "active";
    } else {
      p["state"] = inst.status == 2 ? "completed" : "ended";
      statuses.push_back(inst.status == 2 ? fd::Text{"已办结", "Finished"}.json() : fd::Text{"已终止", "Stopped"}.json());
      p["endedAt"] = inst.ended_at;
    }
    p["status"] = statuses;
    p["supplementRequested"] = supplement;
    if (supplement) p["missingMaterials"] = missing;
    p["subsidyOffered"] = offer;
    if (offer) p["offer"] = offered;
    processes.push_back(std::move(p));
  }
  o["processes"] = processes;
  // 好差评: once the operation's process has ended the applicant may rate it, once.
  auto rating = ctx.engine.store().rating(intake.instance_id);
  if (rating.ok() && *rating) {
    o["rating"] = json::object{{"level", reports::level_word((*rating)->level)},
                               {"comment", (*rating)->comment},
                               {"onBehalf", (*rating)->on_behalf},
                               {"ratedAt", (*rating)->rated_at}};
  } else {
    o["rating"] = nullptr;
  }
  auto main = ctx.engine.store().instance(intake.instance_id);
  o["ratable"] = rating.ok() && !*rating && main.ok() && *main && (*main)->status != 1;
  return o;
}

// --- milestone notices ------------------------------------------------------------------

namespace {

// Which milestone an instance has reached, from its variables and active
// elements (docs/frontdoor.md, "Notices"). Each is sent at most once per case.
struct Milestone {
  std::string id;
  std::string text;  // with {key} for the case number; no personal data
};

std::vector<Milestone> milestones_of(const std::string& process_id, const InstanceView& view, bool ended) {
  std::vector<Milestone> out;
  auto active = [&](std::string_view element) {
    return std::any_of(view.active.begin(), view.active.end(),
                       [&](const ActiveElement& a) { return a.element_id == element; });
  };
  auto flag = [&](std::string_view name) {
    const json::value* v = view.variables.if_contains(name);
    return v && v->is_bool() && v->as_bool();
  };
  if (process_id.rfind("certificate-", 0) == 0) {
    if (flag("accepted")) out.push_back({"accepted", "您的申请（受理编号{key}）已受理。"});
    if (active("supplement")) out.push_back({"supplement", "您的申请（受理编号{key}）需要补充材料，请登录网上办事查看并上传。"});
    if (process_id == "certificate-new-issue") {
      if (active("assess")) out.push_back({"assessment-booked", "您的申请（受理编号{key}）已安排残疾评定，评定机构将与您联系。"});
      if (active("notice")) out.push_back({"public-notice", "您的申请（受理编号{key}）评定结果正在公示。"});
    }
    if (view.variables.if_contains("certificateNumber") && process_id == "certificate-new-issue" && ended) {
      out.push_back({"certificate-issued", "您的残疾人证已制发（受理编号{key}），电子证照已同步。"});
    }
  } else if (process_id == "linked-services") {
    // linked-services starts only from certificate-issued: the card exists.
    out.push_back({"certificate-issued", "您的残疾人证已制发（受理编号{key}），电子证照已同步。"});
    if (active("consent")) out.push_back({"subsidy-offered", "您符合补贴申领条件（受理编号{key}），请登录网上办事选择是否申请。"});
  } else if (process_id == "living-subsidy" || process_id == "nursing-subsidy") {
    std::string which = process_id == "living-subsidy" ? "生活补贴" : "护理补贴";
    if (const json::value* g = view.variables.if_contains("subsidyGranted"); g && g->is_bool()) {
      out.push_back({process_id + ":decided", "您的" + which + "已审批完成（受理编号{key}），请登录网上办事查看结果。"});
    }
    if (const json::value* m = view.variables.if_contains("paidMonths"); m && m->is_int64() && m->as_int64() >= 1) {
      out.push_back({process_id + ":payment-started", "您的" + which + "已开始按月发放（受理编号{key}）。"});
    }
  } else if (process_id == "pension-contribution") {
    if (view.variables.if_contains("contributionId")) {
      out.push_back({"pension-paid", "城乡居民养老保险补助已为您代缴（受理编号{key}），无需申请。"});
    }
  }
  return out;
}

class MilestoneNotifier {
 public:
  MilestoneNotifier(Engine& engine, store::FrontDoorStore* store, frontdoor::Gateway* gateway, FrontDoorOptions options)
      : engine_(engine), store_(store), gateway_(gateway), options_(std::move(options)) {
    worker_ = std::thread([this] { run(); });
    subscription_ = engine_.subscribe([this](const EngineEvent& e) {
      if (e.type != "task.created" && e.type != "task.completed" && e.type != "instance.ended" &&
          e.type != "instance.started") {
        return;
      }
      std::lock_guard lock(mu_);
      // A task's step counts as reached even if the case moved past it
      // before this notifier reads the instance.
      if (queue_.size() < 10'000) {
        queue_.push_back({e.instance_id, e.process_id, e.type == "instance.ended",
                          e.type == "task.created" ? e.element_id : std::string()});
      }
      cv_.notify_one();
    });
  }
  ~MilestoneNotifier() {
    engine_.unsubscribe(subscription_);
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_one();
    }
    worker_.join();
  }

 private:
  // The case (intake key) named by issuedBy on the top of an instance's
  // call chain (linked services and their children); "" when none.
  std::string issuing_case(const store::InstanceRecord& inst) {
    store::InstanceRecord top = inst;
    for (int depth = 0; top.parent_id != 0 && depth < 16; ++depth) {
      auto parent = engine_.store().instance(top.parent_id);
      if (!parent.ok() || !*parent) return {};
      top = std::move(**parent);
    }
    auto view = engine_.inspect_instance(top.id);
    return view.ok() ? string_at(view->variables, {"issuedBy"}) : std::string();
  }

  struct Item {
    InstanceId instance;
    std::string process_id;
    bool ended;
    std::string reached;  // the element a task was created at, or empty
  };

  void run() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      check(item);
    }
  }

  void check(const Item& item) {
    auto inst = engine_.store().instance(item.instance);
    if (!inst.ok() || !*inst || (*inst)->business_key.empty()) return;
    // The case: the operation's own instance, or one run for the same person
    // (linked services and their children carry the holder's ID number).
    std::optional<store::IntakeRecord> intake;
    if (auto direct = store_->intake((*inst)->business_key); direct.ok() && *direct) {
      intake = **direct;
    } else if (std::string issued_by = issuing_case(**inst); !issued_by.empty()) {
      // The case whose certificate started the linked services: not the
      // person's newest case, which anyone could have filed.
      if (auto issuing = store_->intake(issued_by); issuing.ok() && *issuing) intake = **issuing;
    } else if (fd::valid_id_number((*inst)->business_key)) {
      auto of = store_->intake_of_applicant(keyed_hash(options_, "id", (*inst)->business_key));
      if (of.ok() && *of) intake = **of;
    }
    if (!intake) return;
    auto view = engine_.inspect_instance(item.instance);
    if (!view.ok()) return;
    if (!item.reached.empty()) view->active.push_back(ActiveElement{item.reached, 1, false});
    auto milestones = milestones_of(item.process_id.empty() ? (*inst)->process_id : item.process_id, *view,
                                    item.ended || (*inst)->status != 1);
    if (milestones.empty()) return;
    // The phone lives only in the case's variables (the linked services get
    // them with certificate-issued), never in the front door's tables.
    std::string phone = string_at(view->variables, {"applicant", "phone"});
    if (!fd::valid_phone(phone)) {
      if (auto main = engine_.inspect_instance(intake->instance_id); main.ok()) {
        phone = string_at(main->variables, {"applicant", "phone"});
      }
    }
    if (!fd::valid_phone(phone)) return;
    for (const Milestone& m : milestones) {
      auto first = store_->mark_notified(intake->business_key, m.id, engine_.clock().now_ms());
      if (!first.ok() || !*first) continue;
      std::string text = m.text;
      if (size_t at = text.find("{key}"); at != std::string::npos) text.replace(at, 5, intake->business_key);
      auto sent = gateway_->send(fd::OutgoingMessage{phone, "【残疾人服务一件事】" + text, "milestone:" + m.id});
      if (!sent.ok()) {
        spdlog::warn("case {}: the {} notice was not sent: {}", intake->business_key, m.id, sent.error().message);
      } else {
        sent_.fetch_add(1);
      }
    }
  }

 public:
  uint64_t sent() const { return sent_.load(); }

 private:
  std::atomic<uint64_t> sent_{0};

  Engine& engine_;
  store::FrontDoorStore* store_;
  frontdoor::Gateway* gateway_;
  FrontDoorOptions options_;
  uint64_t subscription_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace

}  // namespace frontdoor_detail

void Api::add_frontdoor_routes() {
  using namespace frontdoor_detail;
  frontdoor_store_ = options_.frontdoor_store ? options_.frontdoor_store
                                              : dynamic_cast<store::FrontDoorStore*>(&engine_.store());
  auto ctx = [this] { return Context{engine_, frontdoor_store_, options_.gateway, options_.frontdoor, auth_, filing_locks_}; };
  const auto window = roles({"staff", "supervisor"});

  // The case of a business key that a member of staff may work on, or the answer why not.
  auto staff_case = [this](const PathParams& p, const Principal& who, store::IntakeRecord& out) -> std::optional<Response> {
    if (!frontdoor_store_) return unavailable("This server keeps no front-door cases.");
    auto intake = frontdoor_store_->intake(p.at("key"));
    if (!intake.ok()) return problem_from_error(intake.error());
    if (!*intake || !regions_cover(who.regions, (*intake)->region, false)) {
      return problem(ProblemKind::kNotFound, "There is no case " + p.at("key") + " in your regions.");
    }
    out = **intake;
    return std::nullopt;
  };

  add("GET", "/api/v1/intake/catalog", window, [](const Request&, const PathParams&, const Principal&) {
    json::array ops, services;
    for (const fd::Operation& o : fd::catalog().operations) {
      ops.push_back(json::object{{"id", o.id},
                                 {"name", o.name.json()},
                                 {"needsCertificate", o.needs_certificate},
                                 {"needsTransferRegion", o.needs_transfer_region}});
    }
    for (const fd::Service& s : fd::catalog().services) {
      services.push_back(json::object{{"id", s.id}, {"name", s.name.json()}});
    }
    return json_answer(200, json::object{{"operations", ops}, {"services", services}});
  });

  add("GET", "/api/v1/intake/prefill", window, [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"idNumber"});
    std::string id = q.string("idNumber", 18);
    if (!q.ok()) return bad(q.error());
    if (std::string why = fd::id_number_problem(id); !why.empty()) {
      return problem(ProblemKind::kBadRequest, why, "idNumber");
    }
    if (id[17] == 'x') id[17] = 'X';
    if (!options_.gateway) return unavailable("The shared data cannot be reached from this server.");
    auto shared = options_.gateway->lookup(id);
    if (!shared.ok()) return unavailable("The shared data cannot be reached now. Try again shortly.");
    // Opening a person's shared record is audited (never with the number itself).
    auth_.audit(who.actor(), "prefill", "person " + fd::mask_id(id), req.remote_address);
    return json_answer(200, shared_json(*shared, id, today_of(engine_)));
  });

  add("GET", "/api/v1/intake/requirements", window, [this](const Request& req, const PathParams&, const Principal&) {
    QueryReader q(req, {"operation", "services", "idNumber", "category"});
    std::string operation = q.string("operation", 64);
    std::vector<std::string> ids;
    for (const std::string& s : q.strings("services", 10, 256)) {
      size_t start = 0;
      while (start <= s.size()) {
        size_t comma = s.find(',', start);
        std::string one = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!one.empty()) ids.push_back(one);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    std::string id = q.string("idNumber", 18);
    std::string category = q.string("category", 8);
    if (!q.ok()) return bad(q.error());
    const fd::Operation* op = fd::catalog().operation(operation);
    if (!op) return problem(ProblemKind::kBadRequest, "Name a certificate operation, such as certificate-new-issue.", "operation");
    std::string error;
    auto services = services_of(ids, error);
    if (!error.empty()) return problem(ProblemKind::kBadRequest, error, "services");
    fd::SharedFacts facts;
    bool looked_up = false;
    if (!id.empty()) {
      if (std::string why = fd::id_number_problem(id); !why.empty()) return problem(ProblemKind::kBadRequest, why, "idNumber");
      if (!options_.gateway) return unavailable("The shared data cannot be reached from this server.");
      auto shared = options_.gateway->lookup(id);
      if (!shared.ok()) return unavailable("The shared data cannot be reached now. Try again shortly.");
      facts = facts_of(*shared, id, today_of(engine_), category);
      looked_up = true;
    } else {
      facts.guardian_needed = category == "智力" || category == "精神";
    }
    return json_answer(200, json::object{{"operation", op->id},
                                         {"sharedDataUsed", looked_up},
                                         {"items", requirements_json(fd::requirements(fd::catalog(), *op, services, facts, {}))}});
  });

  add("POST", "/api/v1/intake", window, [ctx](const Request& req, const PathParams&, const Principal& who) {
    Context c = ctx();
    return file_case(c, req, who, false);
  });

  add("POST", "/api/v1/cases/{key}/documents", window,
      [ctx, staff_case](const Request& req, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = staff_case(p, who, intake)) return *refused;
        Context c = ctx();
        return store_document(c, req, intake, who.actor());
      });

  add("GET", "/api/v1/cases/{key}/documents", window,
      [this, staff_case](const Request&, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = staff_case(p, who, intake)) return *refused;
        auto docs = frontdoor_store_->documents(intake.business_key);
        if (!docs.ok()) return problem_from_error(docs.error());
        json::array items;
        for (const auto& d : *docs) {
          items.push_back(json::object{{"id", d.id},
                                       {"material", d.material},
                                       {"mediaType", d.media_type},
                                       {"size", d.size},
                                       {"sha256", d.sha256},
                                       {"uploadedBy", d.uploaded_by},
                                       {"uploadedAt", d.uploaded_at}});
        }
        return json_answer(200, json::object{{"items", items}});
      });

  add("GET", "/api/v1/cases/{key}/receipt", window,
      [ctx, staff_case](const Request&, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = staff_case(p, who, intake)) return *refused;
        Context c = ctx();
        return json_answer(200, receipt_json(c, intake));
      });

  if (frontdoor_store_ && options_.gateway && options_.frontdoor.notify_milestones) {
    notifier_ = std::make_shared<MilestoneNotifier>(engine_, frontdoor_store_, options_.gateway, options_.frontdoor);
  }
}

}  // namespace banshi::api
