#include "simulators/simulate_command.h"

#include <csignal>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "api/server.h"
#include "simulators/simulator.h"

namespace banshi::connectors::sim {

void add_simulate_options(CLI::App& cmd, SimulateArgs& a) {
  cmd.add_option("--address", a.address, "Address to listen on")->capture_default_str();
  cmd.add_option("--port", a.port, "Port to listen on (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd.add_option("--threads", a.threads, "Threads answering requests")->check(CLI::Range(1, 256))->capture_default_str();
  cmd.add_option("--latency-ms", a.latency_ms, "Wait this long before every answer")->check(CLI::Range(0, 600000));
  cmd.add_option("--error-rate", a.error_rate, "Share of requests answered 500 before anything is applied (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--outage", a.outages, "[department:]FROM-TO: answer 503 from FROM to TO seconds after start (repeatable)");
  cmd.add_option("--seed", a.seed, "Seed of the injected errors");
  cmd.add_option("--today", a.today, "The date the simulated systems take as today (YYYY-MM-DD)");
  cmd.add_option("--data", a.data, "Keep the state in DIR/simulators.db, so a restart resumes (default: in memory)");
  cmd.add_option("--tls-cert", a.tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  cmd.add_option("--tls-key", a.tls_key, "PEM private key for --tls-cert");
}

int run_simulate(const SimulateArgs& a) {
  SimulatorOptions o;
  o.seed = a.seed;
  o.today = a.today;
  if (!a.today.empty() && (a.today.size() != 10 || a.today[4] != '-' || a.today[7] != '-')) {
    fmt::print(stderr, "error: --today '{}' is not YYYY-MM-DD\n", a.today);
    return 2;
  }
  Faults& all = o.faults["*"];
  all.latency_ms = a.latency_ms;
  all.error_rate = a.error_rate;
  for (const std::string& text : a.outages) {
    auto w = parse_outage(text);
    if (!w.ok()) {
      fmt::print(stderr, "error: {}\n", w.error().message);
      return 2;
    }
    o.faults[w->first].outages.push_back(w->second);
  }
  // A department with its own outage keeps the global latency and error rate.
  for (auto& [dept, f] : o.faults) {
    if (dept == "*") continue;
    f.latency_ms = a.latency_ms;
    f.error_rate = a.error_rate;
    for (const auto& w : all.outages) f.outages.push_back(w);
  }
  if (a.tls_cert.empty() != a.tls_key.empty()) {
    fmt::print(stderr, "error: --tls-cert and --tls-key go together\n");
    return 2;
  }
  Simulator simulator(o);
  if (!a.data.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.data, ec);
    if (auto r = simulator.open_store(a.data); !r.ok()) {
      fmt::print(stderr, "error: {}\n", r.error().message);
      return 1;
    }
  }

  // Signals are taken by sigwait below, not by the server threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::ServerOptions so;
  so.address = a.address;
  so.port = static_cast<unsigned short>(a.port);
  so.threads = a.threads;
  so.max_body_bytes = 1024 * 1024;
  so.tls_cert_file = a.tls_cert;
  so.tls_key_file = a.tls_key;
  api::Server server(so, [&simulator](const api::Request& r) { return simulator.handle(r); });
  if (auto s = server.start(); !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.error().message);
    return 1;
  }
  fmt::print("department simulators listening on {}://{}:{}\n", a.tls_cert.empty() ? "http" : "https", a.address,
             server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  return 0;
}

}  // namespace banshi::connectors::sim
