// banshi — the command line: validate models now; serve, demo, deploy, test and
// bench as the engine grows. Exit codes: 0 success, 1 a checked failure (an
// invalid model), 2 a usage error.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "banshi/version.h"
#include "model/load.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

// Reads at most `limit + 1` bytes so an oversized file is refused without
// being loaded whole.
bool read_file(const std::string& path, size_t limit, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot open the file";
    return false;
  }
  out.resize(limit + 1);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (in.bad()) {
    why = "cannot read the file";
    return false;
  }
  out.resize(static_cast<size_t>(in.gcount()));
  return true;
}

struct ValidateOptions {
  std::vector<std::string> files;
  bool quiet = false;
  bool werror = false;
};

int run_validate(const ValidateOptions& options) {
  banshi::model::LoadLimits limits;
  int invalid = 0;
  for (const std::string& path : options.files) {
    std::string bytes, why;
    if (!read_file(path, limits.max_bytes, bytes, why)) {
      fmt::print(stderr, "{}: error: {}\n", path, why);
      ++invalid;
      continue;
    }
    banshi::model::LoadResult result = banshi::model::load_bpmn(bytes, limits);
    size_t errors = 0, warnings = 0;
    for (const auto& d : result.diagnostics) {
      bool is_error = d.severity == banshi::model::Severity::kError;
      (is_error ? errors : warnings)++;
      if (!is_error && options.quiet) continue;
      fmt::print("{}\n", banshi::model::format_diagnostic(d, path));
    }
    bool ok = errors == 0 && result.definitions && (!options.werror || warnings == 0);
    if (!ok) ++invalid;
    if (!options.quiet) {
      size_t processes = result.definitions ? result.definitions->processes.size() : 0;
      fmt::print("{}: {} ({} process{}, {} error{}, {} warning{})\n", path, ok ? "valid" : "INVALID", processes,
                 processes == 1 ? "" : "es", errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    }
  }
  return invalid == 0 ? kExitOk : kExitInvalid;
}

int run(int argc, char** argv) {
  CLI::App app{"banshi (办事) — a BPMN workflow engine for integrated government services", "banshi"};
  app.set_version_flag("--version", fmt::format("banshi {}", banshi::kVersion));
  app.require_subcommand(1);

  ValidateOptions validate;
  CLI::App* validate_cmd = app.add_subcommand(
      "validate", "Check BPMN files as a deployment would; print every problem as file:line:col: error CODE: text");
  validate_cmd->add_option("files", validate.files, "BPMN files to check")->required();
  validate_cmd->add_flag("-q,--quiet", validate.quiet, "Print errors only, no warnings or summary");
  validate_cmd->add_flag("--warnings-as-errors", validate.werror, "Fail on warnings too");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (validate_cmd->parsed()) return run_validate(validate);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "banshi: internal error: {}\n", e.what());
    return kExitInvalid;
  }
}
