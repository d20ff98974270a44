// api/frontdoor_routes.h — the options of the front door's routes
// (frontdoor_routes.cc: the one-window intake; applicant_routes.cc: the
// applicant's online channel) and the milestone notifier. docs/frontdoor.md
// is the reference.
//
// Who may call:
// - intake routes (pre-fill, requirements, intake, documents, receipt):
//   staff and supervisors, whose regions must cover the case's region;
// - applicant routes (/api/v1/applicant/...): an applicant signed in by a
//   one-time code sent to their phone. A route requires the applicant
//   principal by registering with Access `applicant()` (api.h); the handler
//   then gets a Principal of kind kApplicant whose `name` is the keyed hash
//   of the phone, and Api::applicant_owns(who, business_key) says whether a
//   case is theirs. Applicant sessions never pass any other route.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace banshi::api {

struct FrontDoorOptions {
  // Where uploaded documents are stored (random names); empty: uploads are refused (503).
  std::filesystem::path uploads_dir;
  int64_t max_upload_bytes = 5 * 1024 * 1024;
  int max_documents_per_case = 30;
  // How many cases filed online one phone may have running at once: filing
  // costs a signed-in phone nothing, and every case fills staff's lists.
  int max_open_online_cases = 3;
  // How many different people (ID number and name) one phone may have
  // checked against the household registration a day when applying online:
  // each answer tells whether a name is that number's holder, and whether
  // the holder has a certificate. One count for every node (the store keeps
  // it).
  int identity_checks_per_day = 10;
  // One-time codes: how long one lives, how many tries it allows, how often
  // a phone may ask for one.
  int64_t code_ttl_ms = 5 * 60 * 1000;
  int code_max_attempts = 5;
  int64_t code_min_interval_ms = 60 * 1000;
  int codes_per_hour = 5;
  int codes_per_day = 10;  // with code_max_attempts: 50 guesses a day at a one-in-a-million code
  int64_t applicant_session_idle_ms = 30 * 60 * 1000;
  int64_t applicant_session_absolute_ms = 2 * 60 * 60 * 1000;
  // The key of the hashes that stand for ID and phone numbers in the front
  // door's tables; set it in production (empty: a built-in key, so the hashes
  // are merely unreadable, not secret).
  std::string hash_key;
  // Milestone notices through the gateway (accepted, assessment booked, ...).
  bool notify_milestones = true;
};

}  // namespace banshi::api

// --- shared by frontdoor_routes.cc and applicant_routes.cc (internal) ---------------

#include <array>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/auth.h"
#include "api/http_types.h"
#include "banshi/engine.h"
#include "frontdoor/gateway.h"
#include "store/frontdoor_store.h"

namespace banshi::api::frontdoor_detail {

// Online filings from one phone run one at a time on this node, from the
// count of its open cases to the stored intake: otherwise applications sent
// at the same moment would all pass the limit of open cases before any of
// them was filed. Phones share 64 locks by their hash.
class FilingLocks {
 public:
  std::mutex& of(std::string_view phone_hash) { return locks_[std::hash<std::string_view>{}(phone_hash) % locks_.size()]; }

 private:
  std::array<std::mutex, 64> locks_;
};

struct Context {
  Engine& engine;
  store::FrontDoorStore* store;       // null: the front door is off (503)
  frontdoor::Gateway* gateway;        // null: no pre-fill, codes or notices (503)
  const FrontDoorOptions& options;
  Auth& auth;
  FilingLocks& filing_locks;
};

// The keyed hash that stands for an ID or phone number in the front door's
// tables: HMAC-SHA256 over "<kind>:<value>", hex.
std::string keyed_hash(const FrontDoorOptions& options, std::string_view kind, std::string_view value);

// Files a case (the intake form): validates everything, pre-fills from the
// shared data, starts the operation's instance with one business key and
// records the intake. `online`: filed by the signed-in applicant `who`.
Response file_case(Context& ctx, const Request& req, const Principal& who, bool online);
// Stores an uploaded document of a case (raw body; its type by magic bytes).
Response store_document(Context& ctx, const Request& req, const store::IntakeRecord& intake,
                        const std::string& uploaded_by);
// The receipt of a case: steps, promised dates, materials still needed.
boost::json::object receipt_json(Context& ctx, const store::IntakeRecord& intake);
// The case as its applicant sees it: each process with its plain-language
// status, what is asked of them, and the promised dates.
boost::json::object applicant_view(Context& ctx, const store::IntakeRecord& intake);
// The instances that belong to a case: the operation's, then those started
// for the same person (linked services, subsidies, employment, pension).
std::vector<store::InstanceRecord> case_instances(Context& ctx, const store::IntakeRecord& intake,
                                                  std::string* id_number = nullptr);
// The problem answer for a front door that is not configured.
Response unavailable(std::string_view what);

}  // namespace banshi::api::frontdoor_detail
