// connectors/simulators/simulate_command.h — `banshi simulate`: serves every
// department simulator over HTTP until SIGINT or SIGTERM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace banshi::connectors::sim {

struct SimulateArgs {
  std::string address = "127.0.0.1";
  int port = 8090;
  int threads = 8;
  int latency_ms = 0;
  double error_rate = 0;
  std::vector<std::string> outages;  // "[department:]FROM-TO" seconds since start
  uint64_t seed = 1;
  std::string today;
  std::string data;      // keep the state in DATA/simulators.db; empty: in memory
  std::string tls_cert;  // PEM certificate chain and key: serve HTTPS
  std::string tls_key;
};

void add_simulate_options(CLI::App& command, SimulateArgs& args);
int run_simulate(const SimulateArgs& args);

}  // namespace banshi::connectors::sim
