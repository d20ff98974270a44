// banshi — the command line: validate models and run scenario tests now;
// serve the HTTP API; demo, deploy and bench as the engine grows. Exit codes: 0 success, 1 a checked failure (an
// invalid model), 2 a usage error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "banshi/version.h"
#include "calendar/business_calendar.h"
#include "core/start_timer.h"
#include "dmn/decide.h"
#include "model/iso8601.h"
#include "model/load.h"
#include "store/sqlite/sqlite_store.h"
#include "demo/demo.h"
#include "demo/live.h"
#include "scenario/scenario.h"
#include "serve/audit.h"
#include "serve/serve.h"
#include "simulators/simulate_command.h"

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
  std::string at;        // evaluate timer start events as a deploy at this instant; empty: now
  int utc_offset_minutes = 480;
  std::string calendar;  // business calendars for FEEL timer values that count working days
};

int run_validate(const ValidateOptions& options) {
  banshi::model::LoadLimits limits;
  // Timer start events are evaluated as a deploy would evaluate them now.
  banshi::core::StartTimerEnv timers;
  timers.utc_offset_minutes = options.utc_offset_minutes;
  timers.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  if (!options.at.empty()) {
    auto at = banshi::model::parse_date_time(options.at, options.utc_offset_minutes);
    if (!at.ok()) {
      fmt::print(stderr, "banshi validate: --at: {}\n", at.error().message);
      return kExitUsage;
    }
    timers.now_ms = *at;
  }
  std::unique_ptr<banshi::calendar::BusinessCalendar> calendar;
  if (!options.calendar.empty()) {
    auto loaded = banshi::calendar::BusinessCalendar::load_directory(options.calendar);
    if (!loaded.ok()) {
      fmt::print(stderr, "banshi validate: --calendar: {}\n", loaded.error().message);
      return kExitUsage;
    }
    calendar = std::make_unique<banshi::calendar::BusinessCalendar>(std::move(loaded).value());
    timers.working_days = calendar.get();
  }
  int invalid = 0;
  for (const std::string& path : options.files) {
    std::string bytes, why;
    if (!read_file(path, limits.max_bytes, bytes, why)) {
      fmt::print(stderr, "{}: error: {}\n", path, why);
      ++invalid;
      continue;
    }
    banshi::model::LoadResult result = banshi::model::load_bpmn(bytes, limits);
    if (result.ok()) {
      for (auto& d : banshi::core::check_start_timers(*result.definitions, timers)) {
        result.diagnostics.push_back(std::move(d));
      }
    }
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

int run_backup(const std::string& database, const std::string& dest) {
  std::error_code ec;
  if (!std::filesystem::exists(database, ec)) {
    fmt::print(stderr, "banshi backup: {}: no such database\n", database);
    return kExitInvalid;
  }
  if (std::filesystem::exists(dest, ec)) {
    fmt::print(stderr, "banshi backup: {} exists; choose a new file\n", dest);
    return kExitInvalid;
  }
  banshi::store::sqlite::SqliteOptions options;
  options.path = database;
  auto store = banshi::store::sqlite::SqliteStore::open(options);
  if (!store.ok()) {
    fmt::print(stderr, "banshi backup: {}\n", store.error().message);
    return kExitInvalid;
  }
  auto r = (*store)->backup(dest);
  if (!r.ok()) {
    fmt::print(stderr, "banshi backup: {}\n", r.error().message);
    return kExitInvalid;
  }
  fmt::print("backed up {} to {}\n", database, dest);
  return kExitOk;
}

struct TestOptions {
  std::vector<std::string> paths;
  bool coverage = true;
};

// Runs scenario files (or every *.scenario under a folder) and reports, per
// process, which elements and sequence flows the scenarios reached.
int run_test(const TestOptions& options) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const std::string& p : options.paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(p, ec)) {
        if (entry.path().extension() == ".scenario") files.push_back(entry.path());
      }
    } else if (fs::exists(p, ec)) {
      files.emplace_back(p);
    } else {
      fmt::print(stderr, "{}: error: no such file or folder\n", p);
      return kExitUsage;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    fmt::print(stderr, "banshi test: no .scenario files found\n");
    return kExitUsage;
  }
  banshi::scenario::Runner runner;
  size_t passed = 0, failed = 0;
  for (const fs::path& f : files) {
    banshi::scenario::ScenarioResult r = runner.run(f);
    if (r.passed()) {
      ++passed;
      fmt::print("ok   {} ({} commands, {} expectations)\n", f.string(), r.commands, r.expectations);
    } else {
      ++failed;
      fmt::print("FAIL {}\n", f.string());
      for (const std::string& msg : r.failures) fmt::print("  {}\n", msg);
    }
  }
  if (options.coverage) {
    fmt::print("\ncoverage{:>32} {:>12} {:>12}\n", "", "elements", "flows");
    for (const auto& [id, cov] : runner.coverage()) {
      size_t reached = 0, taken = 0;
      std::vector<std::string> missed;
      for (const std::string& e : cov.elements) {
        if (cov.elements_reached.count(e)) ++reached;
        else missed.push_back(e);
      }
      for (const std::string& fl : cov.flows) {
        if (cov.flows_taken.count(fl)) ++taken;
        else missed.push_back(fl);
      }
      fmt::print("  {:<38} {:>5}/{:<6} {:>5}/{:<6}\n", id, reached, cov.elements.size(), taken, cov.flows.size());
      if (!missed.empty()) {
        std::string list;
        for (const std::string& m : missed) list += " " + m;
        fmt::print("    not covered:{}\n", list);
      }
    }
  }
  fmt::print("\n{} passed, {} failed\n", passed, failed);
  return failed == 0 ? kExitOk : kExitInvalid;
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
  validate_cmd->add_option("--at", validate.at,
                           "Evaluate timer start events as a deployment at this date-time would (default: now)");
  validate_cmd->add_option("--utc-offset-minutes", validate.utc_offset_minutes,
                           "The engine's zone for timer values without an offset and cron fields (default 480)")
      ->check(CLI::Range(-14 * 60, 14 * 60));
  validate_cmd->add_option("--calendar", validate.calendar,
                           "Folder of business calendars (YEAR.toml) for FEEL timer values that count working days");

  TestOptions test;
  CLI::App* test_cmd = app.add_subcommand(
      "test", "Run scenario files (or folders of them) and report the elements and flows they covered");
  test_cmd->add_option("paths", test.paths, "Scenario files or folders")->required();
  test_cmd->add_flag("!--no-coverage", test.coverage, "Do not print the coverage report");

  banshi::dmn::DecideOptions decide;
  CLI::App* decide_cmd = app.add_subcommand(
      "decide", "Evaluate a decision of a DMN file; print the result (JSON) and the rules that matched");
  decide_cmd->add_option("file", decide.file, "The DMN file")->required();
  decide_cmd->add_option("decision", decide.decision, "The decision's id or name")->required();
  decide_cmd->add_option("-i,--input", decide.input, "The input values as a JSON object")->capture_default_str();
  decide_cmd->add_flag("--json", decide.json, "Print one JSON object: result, matched rules, errors");
  std::string decide_now;
  decide_cmd->add_option("--now", decide_now,
                         "What now() and today() see: an ISO 8601 date-time or epoch milliseconds (default: the clock)");

  banshi::demo::DemoOptions demo;
  banshi::demo::LiveOptions live;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo",
      "Run the whole system to watch: the server and console on an accelerated clock, department stand-ins, "
      "users and a stream of synthetic applications (with -n: a quick smoke run that exits)");
  demo_cmd->add_option("--workflows", demo.workflows, "Folder of BPMN workflows")->capture_default_str();
  demo_cmd->add_option("--data", demo.data, "Folder for the demo's data (kept between runs)")->capture_default_str();
  CLI::Option* batch_opt =
      demo_cmd->add_option("-n,--applications", demo.applications,
                           "Smoke run: push this many applications through on a manual clock, print what happened, exit")
          ->check(CLI::Range(1, 10000));
  demo_cmd->add_option("--listen", live.listen, "Address of the server")->capture_default_str();
  demo_cmd->add_option("--console", live.console, "Folder of the built console")->capture_default_str();
  demo_cmd->add_option("--speed", live.speed, "Simulated seconds per real second (1440: a day a minute)")
      ->check(CLI::Range(0.001, 1e7))
      ->capture_default_str();
  demo_cmd->add_option("--interval", live.interval, "Real seconds between two synthetic applications")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  demo_cmd->add_option("--for", live.run_for, "Stop after this many real seconds (0: run until Ctrl-C)")
      ->check(CLI::Range(0.0, 1e9));
  demo_cmd->add_flag("--reset", live.reset, "Start over with empty data");
  demo_cmd->add_option("--seed", demo.seed, "Seed for the synthetic data and decisions")->capture_default_str();
  demo_cmd->add_flag("-q,--quiet", demo.quiet, "Print the summary only");

  std::string backup_db, backup_dest;
  CLI::App* backup_cmd = app.add_subcommand(
      "backup", "Copy a banshi database to a file while the engine keeps running (SQLite online backup)");
  backup_cmd->add_option("--database", backup_db, "The engine's SQLite database file")->required();
  backup_cmd->add_option("dest", backup_dest, "Where to write the copy (must not exist)")->required();

  banshi::serve::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Run the engine behind its HTTP API until SIGTERM or SIGINT");
  serve_cmd->add_option("-c,--config", serve.config_file, "TOML configuration file");
  serve_cmd->add_option("--listen", serve.listen, "Address and port to listen on, e.g. 127.0.0.1:8080");
  serve_cmd->add_option("--data", serve.data, "Folder for the database (the store is DIR/banshi.db)");
  serve_cmd->add_option("--database", serve.database, "The SQLite database file, or a cluster's postgresql:// URL");
  serve_cmd->add_option("--console", serve.console, "Folder of the web console served under /");
  serve_cmd->add_flag("--print-config", serve.print_config, "Print the effective configuration as TOML and exit");

  // init and user work on the database `banshi serve` uses, found the same way.
  auto add_store_options = [](CLI::App* cmd, banshi::serve::ServeOptions& o) {
    cmd->add_option("-c,--config", o.config_file, "TOML configuration file (as for banshi serve)");
    cmd->add_option("--data", o.data, "Folder of the database (the store is DIR/banshi.db)");
    cmd->add_option("--database", o.database, "The SQLite database file, or a cluster's postgresql:// URL");
  };
  banshi::serve::ServeOptions init;
  std::string init_admin = "admin";
  banshi::connectors::sim::SimulateArgs simulate;
  CLI::App* simulate_cmd = app.add_subcommand(
      "simulate", "Serve the department simulators (DPF, civil affairs, HRSS, social insurance, data sharing, assessment) over HTTP");
  banshi::connectors::sim::add_simulate_options(*simulate_cmd, simulate);

  CLI::App* init_cmd = app.add_subcommand(
      "init", "Create the database and its first admin user; print the generated password once");
  add_store_options(init_cmd, init);
  init_cmd->add_option("--admin", init_admin, "Name of the first admin user")->capture_default_str();

  banshi::serve::ServeOptions user_store;
  CLI::App* user_cmd = app.add_subcommand("user", "Manage the users of banshi serve");
  user_cmd->require_subcommand(1);
  user_cmd->fallthrough();  // --data and friends may also follow the subcommand
  add_store_options(user_cmd, user_store);
  banshi::serve::UserOptions user_add;
  CLI::App* user_add_cmd = user_cmd->add_subcommand("add", "Add a user; print the generated password once");
  user_add_cmd->add_option("name", user_add.name, "Login name")->required();
  user_add_cmd->add_option("--role", user_add.roles, "staff, supervisor, monitor, designer or admin (repeatable)")
      ->required();
  user_add_cmd->add_option("--department", user_add.department, "Department, e.g. dpf (staff and supervisor)");
  user_add_cmd->add_option("--region", user_add.regions, "6-digit region code (repeatable)");
  std::string passwd_name;
  CLI::App* user_passwd_cmd =
      user_cmd->add_subcommand("passwd", "Give a user a new generated password and end their sessions");
  user_passwd_cmd->add_option("name", passwd_name, "Login name")->required();
  CLI::App* user_list_cmd = user_cmd->add_subcommand("list", "List the users");

  banshi::serve::ServeOptions cluster_store;
  double silent_after_s = 10;
  CLI::App* cluster_cmd = app.add_subcommand("cluster", "Look at the nodes sharing a PostgreSQL database");
  cluster_cmd->require_subcommand(1);
  cluster_cmd->fallthrough();
  add_store_options(cluster_cmd, cluster_store);
  CLI::App* cluster_status_cmd =
      cluster_cmd->add_subcommand("status", "List the nodes, their job leases and heartbeats, and replication lag");
  cluster_status_cmd->add_option("--silent-after", silent_after_s, "Seconds without a heartbeat before a node is silent")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1e6));

  banshi::serve::ServeOptions audit_store;
  std::string audit_head;
  CLI::App* audit_cmd = app.add_subcommand("audit", "Check the audit trail of banshi serve");
  audit_cmd->require_subcommand(1);
  audit_cmd->fallthrough();
  add_store_options(audit_cmd, audit_store);
  CLI::App* audit_verify_cmd = audit_cmd->add_subcommand(
      "verify", "Walk the audit trail's hash chain; exit 1 naming the first changed or removed row");
  audit_verify_cmd->add_option("--head", audit_head, "A head hash printed by an earlier run, which the chain must still hold");

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
  if (decide_cmd->parsed()) {
    decide.now_epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    if (!decide_now.empty()) {
      bool digits = decide_now.find_first_not_of("0123456789") == std::string::npos && decide_now.size() <= 15;
      if (digits) {
        decide.now_epoch_ms = std::stoll(decide_now);
      } else {
        auto parsed = banshi::model::parse_date_time(decide_now);
        if (!parsed.ok()) {
          fmt::print(stderr, "banshi decide: --now must be an ISO 8601 date-time or epoch milliseconds\n");
          return kExitUsage;
        }
        decide.now_epoch_ms = *parsed;
      }
    }
    return banshi::dmn::run_decide(decide, stdout, stderr);
  }
  if (test_cmd->parsed()) return run_test(test);
  if (demo_cmd->parsed()) {
    if (batch_opt->count() > 0) return banshi::demo::run_demo(demo);
    live.workflows = demo.workflows;
    live.data = demo.data;
    live.seed = demo.seed;
    return banshi::demo::run_live_demo(live);
  }
  if (backup_cmd->parsed()) return run_backup(backup_db, backup_dest);
  if (serve_cmd->parsed()) return banshi::serve::run_serve(serve);
  if (simulate_cmd->parsed()) return banshi::connectors::sim::run_simulate(simulate);
  if (init_cmd->parsed()) return banshi::serve::run_init(init, init_admin);
  if (user_add_cmd->parsed()) return banshi::serve::run_user_add(user_store, user_add);
  if (user_passwd_cmd->parsed()) return banshi::serve::run_user_passwd(user_store, passwd_name);
  if (user_list_cmd->parsed()) return banshi::serve::run_user_list(user_store);
  if (cluster_status_cmd->parsed()) {
    return banshi::serve::run_cluster_status(cluster_store, static_cast<int64_t>(silent_after_s * 1000));
  }
  if (audit_verify_cmd->parsed()) return banshi::serve::run_audit_verify(audit_store, audit_head);
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
