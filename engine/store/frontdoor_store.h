// store/frontdoor_store.h — what the front door keeps (docs/frontdoor.md):
// the cases filed at the window or online, their uploaded documents, the
// applicants' one-time codes and sessions, and the milestone notices sent.
//
// A separate interface from Store and AuthStore: the engine never needs it.
// The SQLite store implements it on the same database file (migration 7).
//
// Contract
// - Personal data is kept out of these tables: ID numbers and phone numbers
//   only as keyed hashes (the API computes them), except linked_key, the
//   business key the engine already keeps for the linked services; an
//   uploaded file's contents live under the data directory with a random
//   name, and its original file name is never stored.
// - Codes and session tokens only as hashes, like the users' sessions.
// - Every method is one transaction. add_intake() of an existing business key
//   is Error{"duplicate"}; mark_notified() says whether it was the first time.
// - Threads: every method may be called from any thread.
// - Times are milliseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "banshi/result.h"

namespace banshi::store {

struct IntakeRecord {
  std::string business_key;   // "220102-20260302-000001": the case number on the receipt
  int64_t instance_id = 0;    // the operation's instance
  std::string process_id;     // the operation ("certificate-new-issue")
  std::string services;       // JSON array of the linked services asked for
  std::string region;         // the county that handles it
  std::string applicant_hash; // keyed hash of the applicant's ID number
  std::string phone_hash;     // keyed hash of the phone the applicant signs in with
  std::string channel;        // "window" or "online"
  std::string filed_by;       // the staff user, or "applicant"
  bool on_behalf = false;     // 帮办代办: staff filed for the person
  std::string proxy;          // JSON {"name", "relation"} of who brought it (masked name), or ""
  std::string receipt;        // JSON: the steps and promised dates computed at intake
  int64_t created_at = 0;
  // The business key the linked services run under: the holder's ID number
  // (the correlation key of certificate-issued), which the instances table
  // holds as their business key anyway.
  std::string linked_key;
};

struct DocumentRecord {
  int64_t id = 0;             // assigned by the store
  std::string business_key;
  std::string material;       // the catalogue's material id ("photos")
  std::string media_type;     // sniffed: image/jpeg, image/png, application/pdf
  int64_t size = 0;
  std::string stored_name;    // random file name under the uploads directory
  std::string sha256;
  std::string uploaded_by;    // staff user or "applicant"
  int64_t uploaded_at = 0;
};

struct OneTimeCodeRecord {
  int64_t id = 0;             // assigned by the store
  std::string phone_hash;
  std::string code_hash;      // salted SHA-256 ("<salt>$<hash>")
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int32_t attempts = 0;
  bool used = false;
};

// The windows add_code() counts codes in.
inline constexpr int64_t kCodeHourMs = 3'600'000;
inline constexpr int64_t kCodeDayMs = 24 * kCodeHourMs;

// What add_code() did: stored the code (id > 0), or refused it because the
// phone was sent one less than the minimum interval ago (`last_sent_at`),
// or as many as a day allows (until `day_opens_at`), or as many as an hour
// allows.
struct CodeAdmission {
  int64_t id = 0;
  int64_t last_sent_at = 0;
  bool day_full = false;
  int64_t day_opens_at = 0;  // day_full: when the oldest code of the day stops counting (24 h and 1 ms on)
  bool hour_full = false;
};

// What admit_identity_check() found.
enum class IdentityCheckAdmission { kRecorded, kAlreadyToday, kDayFull };

struct ApplicantSessionRecord {
  std::string token_hash;     // SHA-256 of the cookie value
  std::string phone_hash;
  std::string csrf_token;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
};

class FrontDoorStore {
 public:
  virtual ~FrontDoorStore() = default;

  virtual Result<void> add_intake(const IntakeRecord& intake) = 0;
  virtual Result<std::optional<IntakeRecord>> intake(const std::string& business_key) = 0;
  // The cases a phone signs in to, newest first.
  virtual Result<std::vector<IntakeRecord>> intakes_of_phone(const std::string& phone_hash) = 0;
  // The newest case filed for a person (by the keyed hash of the ID number).
  virtual Result<std::optional<IntakeRecord>> intake_of_applicant(const std::string& applicant_hash) = 0;

  // Adds a document unless its case already holds `max_per_case`
  // ("limit-reached" then). The count and the insert are one transaction, taken in turn per
  // case, so uploads at once cannot pass the limit together.
  virtual Result<int64_t> add_document(const DocumentRecord& document, int max_per_case) = 0;
  virtual Result<std::vector<DocumentRecord>> documents(const std::string& business_key) = 0;

  // Stores a code unless the phone was sent one within `min_interval_ms`
  // before code.created_at, `per_day` within the 24 hours before it, or
  // `per_hour` within the hour before it. The check and the insert are one
  // transaction, taken in turn per phone (from every node), so requests at
  // once store one code.
  virtual Result<CodeAdmission> add_code(const OneTimeCodeRecord& code, int64_t min_interval_ms, int per_hour,
                                         int per_day) = 0;
  // Removes a code that could not be sent: it counts towards no limit.
  virtual Result<void> remove_code(int64_t id) = 0;
  // Codes sent to a phone at or after `since`, newest first.
  virtual Result<std::vector<OneTimeCodeRecord>> codes(const std::string& phone_hash, int64_t since) = 0;
  // Counts one attempt on a code while it is live (unspent, under
  // `max_attempts`, expiring after `now`), in one statement; `used` also
  // spends it. False when the code was no longer live: spent, used up or
  // expired, perhaps by a request running beside this one (on this server
  // or another), so the attempt must fail.
  virtual Result<bool> record_code_attempt(int64_t id, bool used, int32_t max_attempts, int64_t now) = 0;

  // Admits a check of a person (`person_hash`, a keyed hash of ID number
  // and name) against the household registration for a phone on `day` (a
  // local date, "2026-12-02"): kAlreadyToday when the phone checked that
  // person already that day; kRecorded when it has checked fewer than
  // `per_day` people (the check is then recorded); kDayFull otherwise. The
  // count and the insert are one transaction, taken in turn per phone (from
  // every node), so one count holds for a whole cluster. Checks of earlier
  // days are forgotten.
  virtual Result<IdentityCheckAdmission> admit_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                            const std::string& day, int per_day) = 0;
  // Takes back a check recorded on `day`: the registration could not be
  // asked, so nothing was told.
  virtual Result<void> forget_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                             const std::string& day) = 0;

  virtual Result<void> add_applicant_session(const ApplicantSessionRecord& session) = 0;
  virtual Result<std::optional<ApplicantSessionRecord>> applicant_session(const std::string& token_hash) = 0;
  virtual Result<void> touch_applicant_session(const std::string& token_hash, int64_t last_seen_at) = 0;
  virtual Result<void> delete_applicant_session(const std::string& token_hash) = 0;

  // Records that a case's milestone was notified; false when it already was.
  virtual Result<bool> mark_notified(const std::string& business_key, const std::string& milestone, int64_t at) = 0;
};

}  // namespace banshi::store
