// Every BPMN MIWG reference model loads, and the loader finds exactly the
// processes, sequence flows, message flows and flow nodes (by element type)
// that an independent parser counted (manifest.json).
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model/load.h"

namespace banshi::model {
namespace {

namespace fs = std::filesystem;

fs::path miwg_dir() {
  if (const char* env = std::getenv("BANSHI_CONFORMANCE_DIR")) return fs::path(env) / "miwg";
  return fs::path(BANSHI_CONFORMANCE_DIR) / "miwg";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Structural problems (reading, ids, references, scopes) are failures; the
// executable rules (BS2xx) are not, since most reference models are descriptive
// or written for other engines.
bool is_structural(const Diagnostic& d) {
  return d.severity == Severity::kError && d.code.size() == 5 && (d.code[2] == '0' || d.code[2] == '1');
}

TEST(Miwg, EveryReferenceModelLoadsWithTheManifestCounts) {
  fs::path dir = miwg_dir();
  if (!fs::exists(dir / "manifest.json")) {
    GTEST_SKIP() << "the MIWG conformance models are not present at " << dir.string();
  }
  boost::json::object manifest = boost::json::parse(slurp(dir / "manifest.json")).as_object();
  ASSERT_GE(manifest.size(), 20u);
  size_t checked = 0;
  for (const auto& [file, expected_value] : manifest) {
    SCOPED_TRACE(std::string(file));
    const boost::json::object& expected = expected_value.as_object();
    std::string bytes = slurp(dir / std::string(file));
    ASSERT_FALSE(bytes.empty());
    LoadResult r = load_bpmn(bytes);
    ASSERT_NE(r.definitions, nullptr) << (r.diagnostics.empty() ? "" : format_diagnostic(r.diagnostics[0], file));
    size_t executable_findings = 0;
    for (const Diagnostic& d : r.diagnostics) {
      EXPECT_FALSE(is_structural(d)) << format_diagnostic(d, file);
      if (d.severity == Severity::kError && !is_structural(d)) ++executable_findings;
    }
    const Definitions& defs = *r.definitions;
    size_t flows = 0, message_flows = 0;
    std::map<std::string, int64_t> nodes;
    for (const Process& p : defs.processes) {
      flows += p.flows.size();
      for (const FlowNode& n : p.nodes) nodes[std::string(xml_name(n.type))]++;
    }
    for (const Collaboration& c : defs.collaborations) message_flows += c.message_flows.size();
    EXPECT_EQ(static_cast<int64_t>(defs.processes.size()), expected.at("processes").as_int64());
    EXPECT_EQ(static_cast<int64_t>(flows), expected.at("sequenceFlows").as_int64());
    EXPECT_EQ(static_cast<int64_t>(message_flows), expected.at("messageFlows").as_int64());
    std::map<std::string, int64_t> want;
    for (const auto& [type, count] : expected.at("flowNodes").as_object()) want[std::string(type)] = count.as_int64();
    EXPECT_EQ(nodes, want);
    fmt::print("{}: {} processes, {} flow nodes, {} sequence flows; {} executable-rule findings\n", std::string(file),
               defs.processes.size(), [&] {
                 int64_t n = 0;
                 for (const auto& [k, v] : nodes) n += v;
                 return n;
               }(),
               flows, executable_findings);
    ++checked;
  }
  EXPECT_EQ(checked, manifest.size());
}

}  // namespace
}  // namespace banshi::model
