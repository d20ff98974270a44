// connectors/simulators/simulator.h — stand-ins for the department systems.
//
// One Simulator answers every department's routes (below /dpf, /civil-affairs,
// /hrss, /social-insurance, /data-sharing, /assessment; docs/connectors.md
// lists them) with realistic behaviour over the synthetic population
// (people.h) and a certificate registry. handle() is a pure function of the
// request and the simulator's state, so tests call it without sockets;
// `banshi simulate` puts it behind the HTTP transport.
//
// State: in memory, or, after open_store(DIR), also in DIR/simulators.db
// (SQLite): the certificate registry, subsidy decisions and payments,
// registrations, contributions, the remembered idempotency keys and the
// counters. Each applied request is written in one transaction before it is
// answered, so a restarted simulator resumes where it stopped.
//
// Idempotency: a POST carrying an Idempotency-Key header is applied once;
// a repeat of the key returns the first answer unchanged, across restarts
// too (the same key on another route or body is refused, 422
// idempotency-key-reused).
//
// Faults, per department or for all ("*"): latency before each answer, a
// share of answers that are 500 before anything is applied, outage windows
// (503, nothing applied), and "slow the next n answers" (applied, then the
// answer waits — a client that times out has still changed the state).
// Set by options, or at run time with POST /_sim/faults. GET /_sim/stats
// counts the operations applied.
//
// Thread-safe: handle() may run on many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/http_types.h"
#include "banshi/result.h"

namespace banshi::connectors::sim {

struct Faults {
  int latency_ms = 0;
  double error_rate = 0;  // 0..1
  bool down = false;
  bool refuse = false;    // answers 401, as a system whose credentials lapsed
  // Outage windows, in ms since the simulator started: [from, to).
  std::vector<std::pair<int64_t, int64_t>> outages;
  int slow_next = 0;      // the next n answers wait slow_ms after being applied
  int slow_ms = 0;
};

struct Amounts {  // set by the province; yuan
  int living_subsidy_monthly = 80;
  int nursing_subsidy_monthly = 90;
  int pension_contribution_yearly = 100;
};

struct SimulatorOptions {
  std::map<std::string, Faults> faults;  // by department; "*" for all
  Amounts amounts;
  uint64_t seed = 1;
  std::string today;  // YYYY-MM-DD the simulated systems take as today; empty: the real date (UTC+8)
  // When set (and `today` is empty), today is this clock's date in UTC+8:
  // the demo's accelerated clock, so the systems age with the cases.
  std::function<int64_t()> now_ms;
};

// A certificate as the registry holds it (for the demo's generator and tests).
struct CertificateView {
  std::string number, id_number, region, status;
  int category = 0, level = 0;
};

// Parses "--outage" values: "[dept:]FROM-TO" in seconds since start, e.g. "dpf:10-40".
Result<std::pair<std::string, std::pair<int64_t, int64_t>>> parse_outage(const std::string& text);

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options = {});
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Keeps the state in DIR/simulators.db (created when missing) and loads
  // what an earlier run left there. Call once, before handle().
  Result<void> open_store(const std::string& dir);

  api::Response handle(const api::Request& request);

  // Changes the faults of a department ("*": all) at run time.
  void set_faults(const std::string& department, const Faults& faults);
  // How many times an operation ("dpf.register-certificate") changed state.
  uint64_t applied(const std::string& operation) const;
  // The certificates in the registry, by number.
  std::vector<CertificateView> certificates() const;
  static const std::vector<std::string>& departments();

 private:
  struct Certificate {
    std::string number, id_number, region, status;  // active, void, cancelled, replaced
    int category = 0, level = 0, replacements = 0;
    std::string valid_from, valid_until, cancelled_at, cancel_reason;
    std::vector<std::string> transfers;  // "220102->220402"
  };
  struct Subsidy {
    std::string decision, subsidy, from_month, last_paid_month, stop_from;
    int monthly_amount = 0, months_paid = 0;
  };
  struct Remembered {
    std::string fingerprint;  // method, path and body of the first request
    api::Response response;
  };

  api::Response route(const api::Request& req, const std::string& dept, const std::vector<std::string>& parts,
                      const boost::json::object& body, std::string& operation);
  api::Response control(const api::Request& req);
  const Faults& faults_of(const std::string& dept) const;
  std::string today() const;
  std::string issue_number(const std::string& id, int category, int level) const;
  Certificate* active_certificate_of(const std::string& id);
  boost::json::object certificate_json(const Certificate& c) const;
  // The front door's stand-ins (docs/frontdoor.md): the DPF registry by
  // holder and the SMS gateway (POST /notification/sms, GET
  // /notification/sms/outbox?to=). Messages are kept in memory only.
  std::optional<api::Response> front_door_route(const api::Request& req, const std::string& dept,
                                                const std::vector<std::string>& parts, const boost::json::object& body,
                                                std::string& operation);
  struct Sms {
    std::string id, to, text, purpose, sent_at;
  };
  std::vector<Sms> sms_;  // the newest 1000
  // Persistence: records changed by the request being applied, written with its answer.
  void touch(std::string kind, std::string key) { dirty_.emplace_back(std::move(kind), std::move(key)); }
  std::string record_text(const std::string& kind, const std::string& key) const;
  Result<void> load_record(const std::string& kind, const std::string& key, const std::string& value);
  Result<void> persist(const std::string& operation, const std::string* idem_key, const Remembered* remembered);

  SimulatorOptions options_;
  std::chrono::steady_clock::time_point started_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, Certificate> certificates_;       // by number
  std::map<std::string, std::string> unemployment_;       // id -> registration number
  std::map<std::string, std::string> difficulty_;         // id -> recognition id
  std::map<std::string, std::string> contributions_;      // id + year -> contribution id
  std::map<std::string, Subsidy> subsidies_;              // id + "/" + subsidy
  std::map<std::string, std::string> contribution_stops_; // id -> first month not paid
  std::map<std::string, Remembered> idempotency_;         // department + key
  std::map<std::string, uint64_t> applied_;
  std::map<std::string, uint64_t> answered_;  // department -> 2xx answers since start (not kept)
  uint64_t next_id_ = 1000;
  struct Db;
  std::unique_ptr<Db> db_;
  std::vector<std::pair<std::string, std::string>> dirty_;  // (kind, key) changed by the current request
};

}  // namespace banshi::connectors::sim
