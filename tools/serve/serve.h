// serve/serve.h — `banshi serve`: the engine and its HTTP API in one process.
#pragma once

#include <string>
#include <vector>

#include "banshi/result.h"
#include "serve/config.h"

namespace banshi::serve {

struct ServeOptions {
  std::string config_file;   // --config; empty: defaults + environment + flags
  std::string listen;        // --listen host:port
  std::string data;          // --data DIR: the store is DIR/banshi.db
  std::string database;      // --database FILE
  std::string console;       // --console DIR
  bool print_config = false; // --print-config: print the effective configuration and exit
};

// Runs until SIGTERM or SIGINT, then stops the server (in-flight requests
// finish) and the engine. Exit codes: 0 clean stop or printed config, 1 the
// store, engine or listener could not start, 2 a configuration error.
int run_serve(const ServeOptions& options);

// The effective configuration for these options (defaults, file,
// environment, flags), as `banshi serve` would use it.
Result<ServeConfig> load_config(const ServeOptions& options);

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

}  // namespace banshi::serve
