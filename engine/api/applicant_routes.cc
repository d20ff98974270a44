// The applicant's online channel (一网通办, docs/frontdoor.md): sign-in by a
// one-time code sent through the notification connector, the applicant's own
// cases in plain language with their promised dates, online applications,
// supplementing a missing document and accepting or declining an offered
// subsidy. An applicant sees only the cases filed with their phone.
#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "api/api.h"
#include "api/input.h"
#include "api/password.h"
#include "api/problem.h"
#include "expr/json_text.h"
#include "frontdoor/frontdoor.h"

namespace banshi::api {

namespace json = boost::json;
namespace fd = banshi::frontdoor;

namespace {

constexpr std::string_view kApplicantCookie = "banshi_applicant";

Response answer(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = expr::json_text(v);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response bad_input(const InputError& e) {
  if (e.status == 415) return problem(ProblemKind::kUnsupportedMediaType, e.detail, e.field);
  return problem(ProblemKind::kBadRequest, e.detail, e.field);
}

std::string cookie_of(std::string_view header, std::string_view name) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && trim(part.substr(0, eq)) == name) return std::string(trim(part.substr(eq + 1)));
  }
  return {};
}

bool hex64(std::string_view t) {
  return t.size() == 64 && std::all_of(t.begin(), t.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Six random digits, without modulo bias.
std::string random_code() {
  for (;;) {
    uint32_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) throw std::runtime_error("RAND_bytes failed");
    if (v < 4'294'000'000u) return fmt::format("{:06d}", v % 1'000'000);
  }
}

std::string code_hash(const std::string& salt, const std::string& code) { return salt + "$" + sha256_hex(salt + ":" + code); }

bool code_matches(const std::string& stored, const std::string& code) {
  size_t dollar = stored.find('$');
  if (dollar == std::string::npos) return false;
  return equal_constant_time(stored, code_hash(stored.substr(0, dollar), code));
}

}  // namespace

Result<std::optional<Principal>> Api::authenticate_applicant(const Request& request) {
  if (!frontdoor_store_) return std::optional<Principal>();
  auto cookies = request.header("cookie");
  if (!cookies) return std::optional<Principal>();
  std::string secret = cookie_of(*cookies, kApplicantCookie);
  if (!hex64(secret)) return std::optional<Principal>();
  std::string hash = sha256_hex(secret);
  auto session = frontdoor_store_->applicant_session(hash);
  if (!session.ok()) return session.error();
  if (!*session) return std::optional<Principal>();
  const int64_t now = auth_.now();
  const auto& s = **session;
  if (now - s.last_seen_at > options_.frontdoor.applicant_session_idle_ms ||
      now - s.created_at >= options_.frontdoor.applicant_session_absolute_ms) {
    (void)frontdoor_store_->delete_applicant_session(hash);
    return std::optional<Principal>();
  }
  if (now - s.last_seen_at >= 60'000) {
    if (auto t = frontdoor_store_->touch_applicant_session(hash, now); !t.ok()) return t.error();
  }
  Principal p;
  p.kind = Principal::Kind::kApplicant;
  p.name = s.phone_hash;
  p.session_hash = hash;
  p.csrf_token = s.csrf_token;
  return std::optional<Principal>(std::move(p));
}

bool Api::applicant_owns(const Principal& who, const std::string& business_key) {
  if (who.kind != Principal::Kind::kApplicant || !frontdoor_store_) return false;
  auto intake = frontdoor_store_->intake(business_key);
  return intake.ok() && *intake && equal_constant_time((*intake)->phone_hash, who.name);
}

void Api::add_applicant_routes() {
  using namespace frontdoor_detail;
  auto ctx = [this] { return Context{engine_, frontdoor_store_, options_.gateway, options_.frontdoor, auth_, filing_locks_}; };

  // The applicant's own case, or the answer why not (the same 404 whether it
  // does not exist or is someone else's).
  auto own_case = [this](const PathParams& p, const Principal& who, store::IntakeRecord& out) -> std::optional<Response> {
    auto intake = frontdoor_store_->intake(p.at("key"));
    if (!intake.ok()) return problem_from_error(intake.error());
    if (!*intake || !equal_constant_time((*intake)->phone_hash, who.name)) {
      return problem(ProblemKind::kNotFound, "You have no case " + p.at("key") + ".");
    }
    out = **intake;
    return std::nullopt;
  };

  // --- sign-in by one-time code -----------------------------------------------------------
  add("POST", "/api/v1/applicant/codes", open(), [this](const Request& req, const PathParams&, const Principal&) {
    const FrontDoorOptions& fo = options_.frontdoor;
    json::object body;
    if (auto e = parse_json_body(req, body)) return bad_input(*e);
    BodyReader b(body, {"phone"});
    std::string phone = b.string("phone", true, 11);
    if (!b.ok()) return bad_input(b.error());
    if (!fd::valid_phone(phone)) {
      return problem(ProblemKind::kBadRequest, "A phone number is 11 digits starting with 13 to 19.", "phone");
    }
    if (!frontdoor_store_) return unavailable("This server keeps no applicant accounts.");
    if (!options_.gateway) return unavailable("Codes cannot be sent from this server now.");
    const int64_t now = auth_.now();
    std::string phone_hash = keyed_hash(fo, "phone", phone);
    // The code is stored before it is sent, with the limits checked in the
    // same transaction: requests at once (on any node) store one code and
    // send one SMS. A code that cannot be sent is removed again.
    std::string code = random_code();
    store::OneTimeCodeRecord rec;
    rec.phone_hash = phone_hash;
    rec.code_hash = code_hash(random_token().substr(0, 16), code);
    rec.created_at = now;
    rec.expires_at = now + fo.code_ttl_ms;
    auto admitted = frontdoor_store_->add_code(rec, fo.code_min_interval_ms, fo.codes_per_hour, fo.codes_per_day);
    if (!admitted.ok()) return problem_from_error(admitted.error());
    if (admitted->day_full) {
      int64_t wait = std::max<int64_t>(1, (admitted->day_opens_at - now + 999) / 1000);
      Response r = problem(ProblemKind::kTooManyRequests, "Too many codes for this phone within a day; try tomorrow.");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return r;
    }
    if (admitted->id == 0 && !admitted->hour_full) {
      int64_t wait = std::max<int64_t>(1, (fo.code_min_interval_ms - (now - admitted->last_sent_at) + 999) / 1000);
      Response r = problem(ProblemKind::kTooManyRequests, fmt::format("A code was just sent; ask again in {} seconds.", wait));
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return r;
    }
    if (admitted->id == 0) {
      Response r = problem(ProblemKind::kTooManyRequests, "Too many codes for this phone within the hour; try later.");
      r.headers.emplace_back("Retry-After", "3600");
      return r;
    }
    auto sent = options_.gateway->send(fd::OutgoingMessage{
        phone,
        fmt::format("【残疾人服务一件事】您的登录验证码为{}，{}分钟内有效。请勿告诉他人。", code, fo.code_ttl_ms / 60'000),
        "otp"});
    if (!sent.ok()) {
      if (auto removed = frontdoor_store_->remove_code(admitted->id); !removed.ok()) {
        spdlog::warn("a sign-in code that was not sent could not be removed: {}", removed.error().message);
      }
      // The gateway has retried already (connectors/notification): say plainly that no code is coming.
      auth_.audit("applicant:" + phone_hash.substr(0, 12), "applicant-code-not-sent", "phone " + fd::mask_phone(phone),
                  req.remote_address, sent.error().code);
      Response r = unavailable(sent.error().code == "refused"
                                   ? "The SMS gateway refused to send a code to this phone; no code was sent. "
                                     "Check the number, or apply at a service window."
                                   : "The SMS gateway could not send the code, even after several tries; no code "
                                     "was sent. Please ask again in a few minutes.");
      return r;
    }
    auth_.audit("applicant:" + phone_hash.substr(0, 12), "applicant-code", "phone " + fd::mask_phone(phone),
                req.remote_address);
    return answer(202, json::object{{"sent", true}, {"expiresInSeconds", fo.code_ttl_ms / 1000}});
  });

  add("POST", "/api/v1/applicant/session", open(), [this](const Request& req, const PathParams&, const Principal&) {
    const FrontDoorOptions& fo = options_.frontdoor;
    json::object body;
    if (auto e = parse_json_body(req, body)) return bad_input(*e);
    BodyReader b(body, {"phone", "code"});
    std::string phone = b.string("phone", true, 11);
    std::string code = b.string("code", true, 6);
    if (!b.ok()) return bad_input(b.error());
    if (!fd::valid_phone(phone)) return problem(ProblemKind::kBadRequest, "A phone number is 11 digits starting with 13 to 19.", "phone");
    if (code.size() != 6 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return problem(ProblemKind::kBadRequest, "The code is the 6 digits sent to the phone.", "code");
    }
    if (!frontdoor_store_) return unavailable("This server keeps no applicant accounts.");
    const int64_t now = auth_.now();
    std::string phone_hash = keyed_hash(fo, "phone", phone);
    auto recent = frontdoor_store_->codes(phone_hash, now - fo.code_ttl_ms);
    if (!recent.ok()) return problem_from_error(recent.error());
    // Only the newest code counts; it must be unspent, unexpired and under its attempt cap.
    const store::OneTimeCodeRecord* live = nullptr;
    if (!recent->empty()) {
      const auto& c = recent->front();
      if (!c.used && c.expires_at > now && c.attempts < fo.code_max_attempts) live = &c;
    }
    bool ok = live && code_matches(live->code_hash, code);
    if (live) {
      // Counted only while the code is still live: a request beside this one
      // may have spent it or used up its attempts since it was read. Not
      // counted, not signed in.
      auto counted = frontdoor_store_->record_code_attempt(live->id, ok, fo.code_max_attempts, now);
      if (!counted.ok()) return problem_from_error(counted.error());
      ok = ok && *counted;
    }
    if (!ok) {
      auth_.audit("applicant:" + phone_hash.substr(0, 12), "applicant-sign-in-failed", "phone " + fd::mask_phone(phone),
                  req.remote_address);
      return problem(ProblemKind::kUnauthorized, "The code is wrong, expired or used up; ask for a new one.");
    }
    std::string token = random_token();
    store::ApplicantSessionRecord s{sha256_hex(token), phone_hash, random_token(), now, now};
    if (auto r = frontdoor_store_->add_applicant_session(s); !r.ok()) return problem_from_error(r.error());
    auth_.audit("applicant:" + phone_hash.substr(0, 12), "applicant-sign-in", "phone " + fd::mask_phone(phone),
                req.remote_address);
    Response out = answer(200, json::object{{"phone", fd::mask_phone(phone)}, {"csrfToken", s.csrf_token}});
    out.headers.emplace_back("Set-Cookie", std::string(kApplicantCookie) + "=" + token +
                                               "; Path=/; HttpOnly; SameSite=Strict" +
                                               (auth_.options().secure_cookie ? "; Secure" : ""));
    return out;
  });

  add("GET", "/api/v1/applicant/me", applicant(), [](const Request&, const PathParams&, const Principal& who) {
    return answer(200, json::object{{"kind", "applicant"}, {"csrfToken", who.csrf_token}});
  });

  add("POST", "/api/v1/applicant/logout", applicant(), [this](const Request& req, const PathParams&, const Principal& who) {
    (void)frontdoor_store_->delete_applicant_session(who.session_hash);
    auth_.audit(who.actor(), "applicant-sign-out", "applicant session", req.remote_address);
    Response r;
    r.status = 204;
    r.headers.emplace_back("Set-Cookie", std::string(kApplicantCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    return r;
  });

  // --- the applicant's cases --------------------------------------------------------------
  add("GET", "/api/v1/applicant/cases", applicant(), [this, ctx](const Request&, const PathParams&, const Principal& who) {
    auto intakes = frontdoor_store_->intakes_of_phone(who.name);
    if (!intakes.ok()) return problem_from_error(intakes.error());
    Context c = ctx();
    json::array items;
    for (const auto& i : *intakes) {
      json::object v = applicant_view(c, i);
      items.push_back(std::move(v));
    }
    return answer(200, json::object{{"items", items}});
  });

  add("GET", "/api/v1/applicant/cases/{key}", applicant(),
      [ctx, own_case](const Request&, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = own_case(p, who, intake)) return *refused;
        Context c = ctx();
        return answer(200, applicant_view(c, intake));
      });

  add("POST", "/api/v1/applicant/applications", applicant(),
      [ctx](const Request& req, const PathParams&, const Principal& who) {
        Context c = ctx();
        return file_case(c, req, who, true);
      });

  add("POST", "/api/v1/applicant/cases/{key}/documents", applicant(),
      [ctx, own_case](const Request& req, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = own_case(p, who, intake)) return *refused;
        Context c = ctx();
        // A case of which nothing runs any more takes no documents: every
        // case once filed would otherwise keep its upload allowance for ever.
        auto instances = case_instances(c, intake);
        if (std::none_of(instances.begin(), instances.end(), [](const store::InstanceRecord& i) { return i.status == 1; })) {
          return problem(ProblemKind::kConflict, "This case has ended; it takes no more documents.");
        }
        return store_document(c, req, intake, who.actor());
      });

  // The missing documents are in: the case goes on (and its SLA clock, which
  // stood still while the applicant owed them, runs again).
  add("POST", "/api/v1/applicant/cases/{key}/supplement", applicant(),
      [this, ctx, own_case](const Request& req, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = own_case(p, who, intake)) return *refused;
        json::object body;
        if (auto e = parse_json_body(req, body)) return bad_input(*e);
        BodyReader b(body, {"instanceId"});
        int64_t target = b.integer("instanceId", false, 1, INT64_MAX, intake.instance_id);
        if (!b.ok()) return bad_input(b.error());
        Context c = ctx();
        std::string id_number;
        auto instances = case_instances(c, intake, &id_number);
        auto inst = std::find_if(instances.begin(), instances.end(),
                                 [&](const store::InstanceRecord& i) { return i.id == static_cast<InstanceId>(target); });
        if (inst == instances.end()) return problem(ProblemKind::kNotFound, "That process is not part of your case.", "instanceId");
        auto view = engine_.inspect_instance(inst->id);
        if (!view.ok()) return problem_from_error(view.error());
        bool waiting = std::any_of(view->active.begin(), view->active.end(),
                                   [](const ActiveElement& a) { return a.element_id == "supplement"; });
        if (!waiting) return problem(ProblemKind::kConflict, "No document is being asked for in this process now.");
        // The key the waiting step listens on (docs/workflows.md, materials-supplemented).
        std::string key = inst->process_id.rfind("certificate-", 0) == 0 ? intake.business_key
                                                                          : id_number + ":" + inst->process_id;
        PublishRequest pub;
        pub.name = "materials-supplemented";
        pub.correlation_key = key;
        pub.variables = json::object{{"supplementedOnline", true}};
        auto published = engine_.publish_message(pub);
        if (!published.ok()) return problem_from_error(published.error());
        if (published->correlated == 0) return problem(ProblemKind::kConflict, "The process was no longer waiting.");
        auth_.audit(who.actor(), "supplement", "case " + intake.business_key, req.remote_address,
                    fmt::format("instance {}", inst->id));
        return answer(200, applicant_view(c, intake));
      });

  // Accept or decline the subsidies offered when the certificate was issued.
  add("POST", "/api/v1/applicant/cases/{key}/subsidies", applicant(),
      [this, ctx, own_case](const Request& req, const PathParams& p, const Principal& who) {
        store::IntakeRecord intake;
        if (auto refused = own_case(p, who, intake)) return *refused;
        json::object body;
        if (auto e = parse_json_body(req, body)) return bad_input(*e);
        BodyReader b(body, {"living", "nursing"});
        // Both answers are required and must be true or false: a null is
        // not a "no".
        for (const char* member : {"living", "nursing"}) {
          const json::value* answer = body.if_contains(member);
          if (answer == nullptr || !answer->is_bool()) {
            b.fail(member, "Say yes (true) or no (false) to both subsidies.");
            break;
          }
        }
        bool living = b.boolean("living", false);
        bool nursing = b.boolean("nursing", false);
        if (!b.ok()) return bad_input(b.error());
        Context c = ctx();
        std::string id_number;
        auto instances = case_instances(c, intake, &id_number);
        const store::InstanceRecord* linked = nullptr;
        for (const auto& i : instances) {
          if (i.process_id == "linked-services" && i.status == 1) linked = &i;
        }
        if (!linked || id_number.empty()) return problem(ProblemKind::kConflict, "No subsidy is on offer in this case now.");
        auto view = engine_.inspect_instance(linked->id);
        if (!view.ok()) return problem_from_error(view.error());
        bool offered = std::any_of(view->active.begin(), view->active.end(),
                                   [](const ActiveElement& a) { return a.element_id == "consent"; });
        if (!offered) return problem(ProblemKind::kConflict, "No subsidy is on offer in this case now.");
        PublishRequest pub;
        pub.name = "subsidy-consent";
        pub.correlation_key = id_number;
        pub.variables = json::object{{"consent", json::object{{"living", living}, {"nursing", nursing}}},
                                     {"consentChannel", "online"}};
        auto published = engine_.publish_message(pub);
        if (!published.ok()) return problem_from_error(published.error());
        if (published->correlated == 0) return problem(ProblemKind::kConflict, "The offer was no longer open.");
        auth_.audit(who.actor(), living || nursing ? "subsidy-accept" : "subsidy-decline", "case " + intake.business_key,
                    req.remote_address, fmt::format("living={} nursing={}", living, nursing));
        return answer(200, applicant_view(c, intake));
      });
}

}  // namespace banshi::api
