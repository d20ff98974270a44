// frontdoor/frontdoor.h — the pure pieces of the front door (docs/frontdoor.md):
// checks of what an applicant types, the kind of an uploaded document, the
// catalogue of what each operation and service asks for (一次告知) and the
// steps with their promised dates (受理回执).
//
// Contract
// - Nothing here does I/O, reads a clock or logs; every function is a pure
//   function of its arguments and may run on any thread.
// - The catalogue is linked into the binary from engine/frontdoor/catalog.json
//   and parsed once; catalog() never fails at run time (a catalogue that does
//   not parse is caught by the unit tests, not by users).
// - Texts shown to people come in zh-CN and en.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "banshi/result.h"
#include "expr/feel.h"

namespace banshi::frontdoor {

// --- what people type --------------------------------------------------------------

// An 18-character resident ID number: 17 digits, a check character by
// ISO 7064 MOD 11-2 ('0'-'9' or 'X'), and a real birth date in digits 7-14.
// Empty when valid, else a sentence saying what is wrong.
std::string id_number_problem(std::string_view id);
inline bool valid_id_number(std::string_view id) { return id_number_problem(id).empty(); }
// The check character the first 17 digits call for; 0 when they are not 17 digits.
char id_check_char(std::string_view first17);
// "YYYY-MM-DD" from a valid ID number.
std::string birth_date_of(std::string_view id);
// Whole years of age on `today` ("YYYY-MM-DD") of a valid ID number.
int age_on(std::string_view id, std::string_view today);
// A mainland mobile number: 11 digits starting with 1 and 3-9.
bool valid_phone(std::string_view phone);
// Masked for lists and messages: "2201**********0013", "138****5678".
std::string mask_id(std::string_view id);
std::string mask_phone(std::string_view phone);
// The first character of a name and "**": "张**".
std::string mask_name(std::string_view name);
// A person's name: 1 to 30 characters (UTF-8), no control characters, no '<' or '>'.
bool valid_person_name(std::string_view name);

// --- uploaded documents ---------------------------------------------------------------

// The media type the first bytes show: "image/jpeg", "image/png" or
// "application/pdf"; std::nullopt for anything else, whatever the client claims.
std::optional<std::string> sniff_document(std::string_view bytes);
// The file extension stored for a sniffed media type (".jpg", ".png", ".pdf").
std::string_view extension_of(std::string_view media_type);

// --- the catalogue ----------------------------------------------------------------------

struct Text {
  std::string zh, en;
  boost::json::object json() const;
};

struct Material {
  std::string id;
  Text name, reason;
  // What in the shared data stands in for it: "household" (a household
  // registration was found), "dibao" (the family is in 低保), "certificate-lost"
  // (never: the old card is handed back), or empty: nothing does.
  std::string shared_by;
  std::string only_when;  // "guardian": only for minors and 智力/精神 applicants; empty: always
  bool upload = false;    // brought as a scan or photo (else shown at the window)
};

struct Step {
  std::string id;       // the element of the model
  Text name;
  std::string limit;    // the model's limits entry ("acceptDays"); empty: same day as the step before
  int days = 0;         // its default in working days
};

struct Operation {
  std::string id;       // the process id, "certificate-new-issue"
  Text name;
  bool needs_certificate = false;      // renewal, replacement, transfer, cancellation, change
  bool needs_transfer_region = false;  // transfer
  std::vector<std::string> materials;
  std::vector<Step> steps;
  int case_days = 0;
};

struct Service {
  std::string id;       // "living-subsidy"
  Text name;
  std::vector<std::string> materials;
};

struct Catalog {
  std::vector<Operation> operations;
  std::vector<Service> services;
  std::map<std::string, Material> materials;
  // process id → element id → plain-language status
  std::map<std::string, std::map<std::string, Text>> statuses;

  const Operation* operation(std::string_view id) const;
  const Service* service(std::string_view id) const;
  const Text* status(std::string_view process_id, std::string_view element_id) const;
};

// Parses a catalogue; errors name the member that is wrong.
Result<Catalog> parse_catalog(std::string_view json_text);
// The catalogue linked into the binary.
const Catalog& catalog();

// --- 一次告知: what is still needed and why ---------------------------------------------

// What the shared data said about the applicant (from the pre-fill).
struct SharedFacts {
  bool household = false;  // a household registration holds the ID number
  bool dibao = false;
  bool tekun = false;
  bool guardian_needed = false;  // a minor, or a 智力/精神 category was named
};

struct Requirement {
  std::string material;
  Text name, reason;
  std::string status;   // "needed", "shared" (the government holds it: not asked), "uploaded"
  std::string for_what; // the operation or service id that asks for it
  bool upload = false;
};

// Every material the operation and the services ask for, once each, in
// catalogue order, with its status given the shared facts and the materials
// already uploaded.
std::vector<Requirement> requirements(const Catalog& catalog, const Operation& operation,
                                      const std::vector<const Service*>& services, const SharedFacts& facts,
                                      const std::vector<std::string>& uploaded);

// --- 受理回执: the steps and their promised dates ---------------------------------------

struct PromisedStep {
  std::string id;
  Text name;
  int days = 0;            // the step's working days
  int64_t promised_at = 0; // the end of the working day it is promised by (ms since the epoch)
  std::string promised_date;  // "YYYY-MM-DD" in the local zone
};

struct Promise {
  std::vector<PromisedStep> steps;
  int64_t case_promised_at = 0;
  std::string case_promised_date;
};

// Counts each step's working days on from `start` (limits given at intake
// override the defaults), with the business calendar. Fails when the
// calendar does not cover the dates (a year not yet published).
Result<Promise> promise(const Operation& operation, const boost::json::object& limits, int64_t start,
                        const expr::WorkingDays& working_days, int32_t utc_offset_minutes);

// "YYYY-MM-DD" of an instant in a zone.
std::string local_date(int64_t epoch_ms, int32_t utc_offset_minutes);

}  // namespace banshi::frontdoor
