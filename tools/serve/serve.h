// serve/serve.h — `banshi serve`: the engine and its HTTP API in one process.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "banshi/engine.h"
#include "banshi/result.h"
#include "endpoints.h"
#include "serve/config.h"

namespace banshi::serve {

struct ServeOptions {
  std::string config_file;   // --config; empty: defaults + environment + flags
  std::string listen;        // --listen host:port
  std::string data;          // --data DIR: the store is DIR/banshi.db
  std::string database;      // --database FILE
  std::string console;       // --console DIR
  bool print_config = false; // --print-config: print the effective configuration and exit
  // Applied last, as flags would be: dotted key → value ("clock.mode", "accelerated").
  std::vector<std::pair<std::string, std::string>> overrides;
};

// Lets another command run inside `banshi serve` (the demo does): its
// department stand-ins, users and load generator live beside the server.
struct ServeHooks {
  // After the engine has started, before the listener opens; an error stops
  // the server (exit code 1).
  std::function<Result<void>(Engine&)> on_start;
  // Once the listener is open, with the base URL ("http://127.0.0.1:8080").
  std::function<void(Engine&, const std::string& url)> on_listening;
  // Every `tick` while serving, on the main thread.
  std::function<void(Engine&)> on_tick;
  std::chrono::milliseconds tick{1000};
  // On SIGTERM/SIGINT, before the server and the engine stop.
  std::function<void(Engine&)> on_stop;
};

// Runs until SIGTERM or SIGINT, then stops the server (in-flight requests
// finish) and the engine. Exit codes: 0 clean stop or printed config, 1 the
// store, engine or listener could not start, 2 a configuration error.
int run_serve(const ServeOptions& options, const ServeHooks& hooks = {});

// The effective configuration for these options (defaults, file,
// environment, flags), as `banshi serve` would use it.
Result<ServeConfig> load_config(const ServeOptions& options);

// The connector runtime's settings from a configuration: each department's
// endpoint (its own URL and CA bundle, or the shared base URL), the topics
// deployments may name, and the runtime's limits. The runtime reports as
// the worker `banshi-connectors@<engine.node_id>`, one per node, and its
// job leases are stretched by an accelerated clock's factor so that they
// still outlast a real call.
connectors::EndpointsConfig endpoints_config(const ServeConfig& config);

// `banshi init`: creates (or migrates) the database named by the options and
// its first admin user, printing the generated password once. Refuses when
// the database already has users. Exit codes: 0 done, 1 refused or failed,
// 2 a configuration error.
int run_init(const ServeOptions& options, const std::string& admin_name);

struct UserOptions {
  std::string name;
  std::vector<std::string> roles;
  std::string department;
  std::vector<std::string> regions;
};

// `banshi user add|passwd|list` on the same database as `banshi serve`.
// add and passwd print a generated password once; passwd also ends the
// user's sessions. Same exit codes as run_init.
int run_user_add(const ServeOptions& options, const UserOptions& user);
int run_user_passwd(const ServeOptions& options, const std::string& name);
int run_user_list(const ServeOptions& options);

// `banshi cluster status`: the nodes sharing the configured PostgreSQL
// database (store.url), their job leases and heartbeats, and the standbys'
// replication lag. A node whose heartbeat is older than silent_after_ms is
// shown as silent. Exit 0; 1 when the database cannot be read; 2 on a bad
// configuration.
int run_cluster_status(const ServeOptions& options, int64_t silent_after_ms);

}  // namespace banshi::serve
