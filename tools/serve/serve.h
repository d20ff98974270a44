// serve/serve.h — `banshi serve`: the engine and its HTTP API in one process.
#pragma once

#include <string>

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

}  // namespace banshi::serve
