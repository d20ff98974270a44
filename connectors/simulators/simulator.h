// connectors/simulators/simulator.h — stand-ins for the department systems.
//
// One Simulator answers every department's routes (below /dpf, /civil-affairs,
// /hrss, /social-insurance, /data-sharing, /assessment; docs/connectors.md
// lists them) with realistic behaviour over the synthetic population
// (people.h) and an in-memory certificate registry. handle() is a pure
// function of the request and the simulator's state, so tests call it
// without sockets; serve_simulators() puts it behind the HTTP transport.
//
// Idempotency: a POST carrying an Idempotency-Key header is applied once;
// a repeat of the key returns the first answer unchanged (the same key on
// another route or body is refused, 422 idempotency-key-reused).
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
#include <map>
#include <mutex>
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
};

// Parses "--outage" values: "[dept:]FROM-TO" in seconds since start, e.g. "dpf:10-40".
Result<std::pair<std::string, std::pair<int64_t, int64_t>>> parse_outage(const std::string& text);

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options = {});

  api::Response handle(const api::Request& request);

  // Changes the faults of a department ("*": all) at run time.
  void set_faults(const std::string& department, const Faults& faults);
  // How many times an operation ("dpf.register-certificate") changed state.
  uint64_t applied(const std::string& operation) const;
  static const std::vector<std::string>& departments();

 private:
  struct Certificate {
    std::string number, id_number, region, status;  // active, void, cancelled, replaced
    int category = 0, level = 0, replacements = 0;
    std::string valid_from, valid_until, cancelled_at, cancel_reason;
    std::vector<std::string> transfers;  // "220102->220402"
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

  SimulatorOptions options_;
  std::chrono::steady_clock::time_point started_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, Certificate> certificates_;       // by number
  std::map<std::string, std::string> unemployment_;       // id -> registration number
  std::map<std::string, std::string> difficulty_;         // id -> recognition id
  std::map<std::string, std::string> contributions_;      // id + year -> contribution id
  std::map<std::string, std::string> subsidies_;          // id + subsidy -> decision id
  std::map<std::string, Remembered> idempotency_;         // department + key
  std::map<std::string, uint64_t> applied_;
  uint64_t next_id_ = 1000;
};

}  // namespace banshi::connectors::sim
