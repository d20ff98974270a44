// Prints how long loading (parse + validate + compile expressions) takes for
// the given BPMN files, e.g. the largest MIWG reference model.
// Usage: bench_model FILE... [--seconds S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "model/load.h"

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else files.push_back(a);
  }
  if (files.empty()) {
    fmt::print(stderr, "usage: bench_model FILE... [--seconds S]\n");
    return 2;
  }
  fmt::print("{:<40} {:>10} {:>8} {:>12} {:>12} {:>12}\n", "file", "bytes", "nodes", "loads/s", "p50 us", "p99 us");
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    auto first = banshi::model::load_bpmn(bytes);
    if (!first.definitions) {
      fmt::print(stderr, "{}: does not load\n", path);
      return 1;
    }
    size_t nodes = 0;
    for (const auto& p : first.definitions->processes) nodes += p.nodes.size();
    std::vector<double> samples;
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = banshi::model::load_bpmn(bytes);
      auto t1 = std::chrono::steady_clock::now();
      if (!r.definitions) return 1;
      samples.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::sort(samples.begin(), samples.end());
    auto pct = [&](double q) { return samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))]; };
    std::string name = path.substr(path.find_last_of('/') + 1);
    fmt::print("{:<40} {:>10} {:>8} {:>12.0f} {:>12.1f} {:>12.1f}\n", name, bytes.size(), nodes,
               static_cast<double>(samples.size()) / total, pct(0.5), pct(0.99));
  }
  return 0;
}
