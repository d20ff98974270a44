// frontdoor/gateway.h — how the front door reaches the departments: the shared
// data for the pre-fill (data-sharing: household registration, 低保/特困;
// dpf: the certificate a person holds) and the SMS gateway for one-time codes
// and milestone notices (docs/frontdoor.md).
//
// Contract
// - lookup() asks the departments' systems; an ID number no household
//   registration holds is found = false, not an error. Error{"unavailable"}
//   when a system cannot be reached or answers with a server error; the
//   caller answers 503 and changes nothing.
// - send() hands one message to the SMS gateway; the text must carry no
//   personal data beyond what the message needs (never an ID number or a
//   name). An implementation retries a gateway it cannot reach, with
//   backoff, before it gives up; Error{"unavailable"} then, and
//   Error{"refused"} when the gateway refuses the message (a bad number).
// - Implementations never log ID numbers or phone numbers.
// Threads: both methods may be called from many threads at once and block the
// caller until the answer (bounded by the implementation's timeout).
#pragma once

#include <optional>
#include <string>

#include "banshi/result.h"

namespace banshi::frontdoor {

struct HeldCertificate {
  std::string number;
  std::string category;  // 视力 … 多重
  int level = 0;         // 1 … 4
  std::string status;    // active, void, cancelled, replaced
  std::string valid_until;
};

struct SharedRecord {
  bool found = false;          // a household registration holds the ID number
  std::string name;
  std::string region;          // 行政区划代码 of the household registration
  std::string region_name;
  std::string birth_date;      // YYYY-MM-DD
  bool dibao = false;
  bool tekun = false;
  bool deceased = false;
  std::optional<HeldCertificate> certificate;  // the active one, else the latest
};

struct OutgoingMessage {
  std::string phone;           // 11 digits
  std::string text;            // what the person reads
  std::string purpose;         // "otp", "milestone:accepted", ... (for the gateway's records)
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual Result<SharedRecord> lookup(const std::string& id_number) = 0;
  virtual Result<void> send(const OutgoingMessage& message) = 0;
};

}  // namespace banshi::frontdoor
