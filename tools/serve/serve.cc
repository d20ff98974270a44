#include "serve/serve.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include "api/api.h"
#include "api/server.h"
#include "banshi/engine.h"
#include "calendar/business_calendar.h"
#include "departments.h"
#include "endpoints.h"
#include "model/iso8601.h"
#include "notification/gateway.h"
#include "serve/config.h"
#include "serve/scenario_test.h"
#include "store/sqlite/sqlite_store.h"
#include "store/postgres/postgres_store.h"

extern char** environ;

namespace banshi::serve {

namespace fs = std::filesystem;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace

// The [connectors] section as the connector runtime takes it (serve.h).
connectors::EndpointsConfig endpoints_config(const ServeConfig& config) {
  connectors::EndpointsConfig out;
  for (const std::string& dept : connectors::department_codes()) {
    connectors::DepartmentEndpoint ep;
    ep.base_url = config.connectors_base_url;
    ep.ca_file = config.connectors_ca_file;
    if (auto it = config.connector_endpoints.find(dept); it != config.connector_endpoints.end()) {
      if (!it->second.url.empty()) ep.base_url = it->second.url;
      if (!it->second.ca_file.empty()) ep.ca_file = it->second.ca_file;
      ep.timeout = std::chrono::milliseconds(it->second.timeout_ms);
    }
    out.endpoints[dept] = ep;
  }
  // The runtime reports under this name and a report counts only while its
  // worker holds the job's lease: each node's runtime is a worker of its own,
  // so one node's late report cannot pass for another's.
  out.runtime.worker_id = "banshi-connectors@" + config.node_id;
  out.runtime.threads = static_cast<int>(config.connectors_threads);
  out.runtime.max_in_flight = static_cast<size_t>(config.connectors_max_in_flight);
  out.runtime.max_in_flight_per_department = static_cast<size_t>(config.connectors_max_in_flight_per_department);
  out.runtime.default_timeout = std::chrono::milliseconds(config.connectors_timeout_ms);
  out.runtime.breaker.failure_threshold = static_cast<int>(config.connectors_breaker_failures);
  out.runtime.breaker.open_for_ms = config.connectors_breaker_open_ms;
  // Job leases are counted on the engine's clock: under an accelerated clock a
  // lease must still outlast a real call, or every report comes too late.
  if (config.clock_mode == "accelerated" && config.clock_factor > 1) {
    out.runtime.lock_ms = static_cast<int64_t>(static_cast<double>(out.runtime.lock_ms) * config.clock_factor);
  }
  std::string_view topics = config.connectors_topics;
  while (!topics.empty()) {
    size_t comma = topics.find(',');
    std::string_view t = topics.substr(0, comma);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (!t.empty()) out.topics.emplace_back(t);
    topics = comma == std::string_view::npos ? std::string_view() : topics.substr(comma + 1);
  }
  return out;
}

Result<ServeConfig> load_config(const ServeOptions& options) {
  ServeConfig config;
  if (!options.config_file.empty()) {
    std::ifstream in(options.config_file, std::ios::binary);
    if (!in) return Error{"bad-config", fmt::format("{}: cannot open the configuration file", options.config_file)};
    std::ostringstream text;
    text << in.rdbuf();
    if (auto r = apply_toml(config, text.str(), options.config_file); !r.ok()) return r.error();
  }
  if (auto r = apply_env(config, environment()); !r.ok()) return r.error();
  if (!options.listen.empty()) {
    if (auto r = apply_value(config, "server.listen", options.listen); !r.ok()) return Error{"bad-config", "--listen: " + r.error().message};
  }
  if (!options.data.empty()) config.store_path = (fs::path(options.data) / "banshi.db").string();
  if (!options.database.empty()) {
    // --database takes a SQLite file or a cluster's postgresql:// URL.
    if (store::postgres::is_postgres_url(options.database)) {
      config.store_url = options.database;
    } else {
      config.store_path = options.database;
    }
  }
  if (!options.console.empty()) config.console_dir = options.console;
  for (const auto& [key, value] : options.overrides) {
    if (auto r = apply_value(config, key, value); !r.ok()) return Error{"bad-config", key + ": " + r.error().message};
  }
  if (auto r = check(config); !r.ok()) return r.error();
  return config;
}

int run_serve(const ServeOptions& options, const ServeHooks& hooks) {
  auto loaded = load_config(options);
  if (!loaded.ok()) {
    fmt::print(stderr, "banshi serve: {}\n", loaded.error().message);
    return kExitUsage;
  }
  const ServeConfig& config = *loaded;
  if (options.print_config) {
    fmt::print("{}", to_toml(config));
    return kExitOk;
  }

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  std::string location = config.store_url;  // a cluster's PostgreSQL database, else the SQLite file
  if (location.empty()) {
    location = config.store_path;
    fs::path db(config.store_path);
    if (db.has_parent_path()) fs::create_directories(db.parent_path(), ec);
  }
  store::OpenOptions store_options;
  store_options.durable = config.durable;
  store_options.schema = config.store_schema;
  store_options.connections = static_cast<int>(config.store_connections);
  auto store = store::open_store(location, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open the store: {}", store.error().message);
    return kExitFailed;
  }

  std::shared_ptr<Clock> clock;
  // A controlled clock (tests, training) moves only through POST /api/v1/admin/clock.
  std::shared_ptr<ManualClock> controlled_clock;
  if (config.clock_mode == "accelerated" || config.clock_mode == "controlled") {
    int64_t start = SystemClock().now_ms();
    if (!config.clock_start.empty()) {
      start = *model::parse_date_time(config.clock_start, static_cast<int32_t>(config.utc_offset_minutes));
    }
    if (config.clock_mode == "controlled") {
      controlled_clock = std::make_shared<ManualClock>(start);
      clock = controlled_clock;
    } else {
      clock = std::make_shared<AcceleratedClock>(start, config.clock_factor);
    }
  } else {
    clock = std::make_shared<SystemClock>();
  }

  EngineConfig engine_config;
  engine_config.node_id = config.node_id;
  engine_config.node_address = config.listen;
  engine_config.max_batch = static_cast<size_t>(config.max_batch);
  engine_config.job_workers = static_cast<int>(config.job_workers);
  engine_config.utc_offset_minutes = static_cast<int32_t>(config.utc_offset_minutes);
  engine_config.default_retry_backoff_ms = config.connectors_retry_backoff_ms;
  if (!config.calendar_dir.empty()) {
    auto calendar = calendar::BusinessCalendar::load_directory(config.calendar_dir);
    if (!calendar.ok()) {
      spdlog::error("cannot load the business calendars: {}", calendar.error().message);
      return kExitFailed;
    }
    engine_config.working_days = std::make_shared<calendar::BusinessCalendar>(std::move(calendar).value());
  }
  auto engine = Engine::open(engine_config, std::move(store).value(), clock);
  if (!engine.ok()) {
    spdlog::error("cannot open the engine: {}", engine.error().message);
    return kExitFailed;
  }
  (*engine)->start();
  // The department connectors, running before the hooks start (the demo files cases at once).
  std::unique_ptr<connectors::DepartmentConnectors> department_connectors;
  if (config.connectors_enabled) {
    auto made = connectors::DepartmentConnectors::create(**engine, endpoints_config(config));
    if (!made.ok()) {
      spdlog::error("cannot start the connectors: {}", made.error().message);
      (*engine)->stop();
      return kExitFailed;
    }
    department_connectors = std::move(made).value();
    department_connectors->start();
  }
  if (hooks.on_start) {
    if (auto r = hooks.on_start(**engine); !r.ok()) {
      spdlog::error("{}", r.error().message);
      (*engine)->stop();
      return kExitFailed;
    }
  }

  api::ApiOptions api_options;
  api_options.console_dir = config.console_dir;
  api_options.node_id = config.node_id;
  api_options.controlled_clock = controlled_clock;
  api_options.auth.session_idle_ms = config.session_idle_minutes * 60 * 1000;
  api_options.auth.session_absolute_ms = config.session_absolute_minutes * 60 * 1000;
  bool tls = !config.tls_cert_file.empty();
  api_options.auth.secure_cookie = config.secure_cookie || tls;
  api_options.rate_limit_per_second = config.rate_limit_per_second;
  api_options.rate_limit_burst = config.rate_limit_burst;
  api_options.max_long_polls = static_cast<int>(config.max_long_polls);
  api_options.ws_replay_events = static_cast<size_t>(config.ws_replay_events);
  api_options.run_scenario = [calendars = fs::path(config.calendar_dir)](const std::map<std::string, std::string>& files,
                                                                        const std::string& scenario) {
    return run_scenario_test(files, scenario, calendars);
  };
  if (department_connectors) {
    api_options.connector_health = [dc = department_connectors.get()] {
      std::vector<api::ConnectorHealth> out;
      for (const connectors::DepartmentStatus& s : dc->departments()) {
        out.push_back(api::ConnectorHealth{s.department, std::string(connectors::breaker_state_name(s.state)),
                                           s.unreachable_since_ms, s.consecutive_failures, s.last_error,
                                           s.times_opened, s.summary()});
      }
      return out;
    };
  }
  // The front door (docs/frontdoor.md): pre-fill and SMS go to the same
  // department systems as the connectors; uploads live beside the store.
  std::unique_ptr<connectors::ConnectorGateway> front_door_gateway;
  if (config.connectors_enabled) {
    auto endpoints = endpoints_config(config);
    connectors::GatewayEndpoints ge;
    ge.data_sharing_url = endpoints.endpoints["data-sharing"].base_url;
    ge.dpf_url = endpoints.endpoints["dpf"].base_url;
    ge.sms_url = config.frontdoor_sms_url.empty() ? config.connectors_base_url : config.frontdoor_sms_url;
    ge.ca_file = config.connectors_ca_file;
    if (!ge.data_sharing_url.empty() && !ge.dpf_url.empty() && !ge.sms_url.empty()) {
      auto gateway = connectors::ConnectorGateway::create(ge);
      if (!gateway.ok()) {
        spdlog::error("cannot start the front door's gateway: {}", gateway.error().message);
        (*engine)->stop();
        return kExitFailed;
      }
      front_door_gateway = std::move(gateway).value();
    }
  }
  if (!front_door_gateway) {
    spdlog::info("the front door has no shared-data or SMS endpoint: pre-fill and sign-in codes answer 503");
  }
  api_options.gateway = front_door_gateway.get();
  api_options.frontdoor.uploads_dir =
      config.frontdoor_uploads_dir.empty() ? fs::path(config.store_path).parent_path() / "uploads" : fs::path(config.frontdoor_uploads_dir);
  api_options.frontdoor.hash_key = config.frontdoor_hash_key;
  if (config.frontdoor_hash_key.empty() && front_door_gateway) {
    // The built-in key is in the source: with it, the hashes that stand for
    // ID and phone numbers (and the audit trail's applicant ids) can be
    // reversed by trying every number.
    spdlog::warn("frontdoor.hash_key is not set: ID and phone numbers are hashed under the built-in key, which "
                 "anyone can read; set a secret key before applicants use this server (docs/frontdoor.md)");
  }
  api_options.frontdoor.code_ttl_ms = config.frontdoor_code_ttl_seconds * 1000;
  api_options.frontdoor.max_upload_bytes = config.frontdoor_max_upload_bytes;
  api_options.frontdoor.notify_milestones = config.frontdoor_notify_milestones;
  if (!config.console_dir.empty() && !fs::is_directory(config.console_dir, ec)) {
    spdlog::warn("console folder '{}' does not exist; serving no console", config.console_dir);
  }
  api::Api api(**engine, api_options);
  // After the API has registered its own in-process connectors, which deployments may name too.
  if (department_connectors) department_connectors->install_deploy_check();

  auto listen = split_listen(config.listen);  // checked with the configuration
  api::ServerOptions server_options;
  server_options.address = listen->first;
  server_options.port = listen->second;
  server_options.threads = static_cast<int>(config.threads);
  server_options.handler_threads = static_cast<int>(config.handler_threads);
  server_options.max_connections = static_cast<size_t>(config.max_connections);
  server_options.max_header_bytes = static_cast<size_t>(config.max_header_bytes);
  server_options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  server_options.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  server_options.shutdown_timeout = std::chrono::milliseconds(config.shutdown_timeout_ms);
  server_options.ws_idle_timeout = std::chrono::milliseconds(config.ws_idle_timeout_ms);
  server_options.ws_max_queue = static_cast<size_t>(config.ws_max_queue);
  server_options.tls_cert_file = config.tls_cert_file;
  server_options.tls_key_file = config.tls_key_file;
  api::Server server(server_options, [&api](const api::Request& r) { return api.handle(r); });
  server.set_upgrade_handler([&api](const api::Request& r) { return api.upgrade(r); });
  if (auto r = server.start(); !r.ok()) {
    spdlog::error("{}", r.error().message);
    (*engine)->stop();
    return kExitFailed;
  }
  spdlog::info("banshi serve listening on {}://{}:{} (store {}, clock {})", tls ? "https" : "http",
               listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first,
               server.port(), config.store_url.empty() ? config.store_path : "postgresql, node " + config.node_id,
               config.clock_mode);
  if (auto* auth_store = dynamic_cast<store::AuthStore*>(&(*engine)->store())) {
    auto list = auth_store->users();
    if (list.ok() && list->empty()) spdlog::warn("there are no users yet: create the first admin with `banshi init`");
  }

  if (hooks.on_listening) {
    hooks.on_listening(**engine, fmt::format("http://{}:{}",
                                             listen->first.find(':') != std::string::npos ? "[" + listen->first + "]"
                                                                                          : listen->first,
                                             server.port()));
  }
  int signal = 0;
  if (hooks.on_tick) {
    const auto tick = std::max(hooks.tick, std::chrono::milliseconds(10));
    const timespec wait{static_cast<time_t>(tick.count() / 1000), static_cast<long>(tick.count() % 1000) * 1000000L};
    while ((signal = sigtimedwait(&stop_signals, nullptr, &wait)) < 0) hooks.on_tick(**engine);
  } else {
    sigwait(&stop_signals, &signal);
  }
  if (hooks.on_stop) hooks.on_stop(**engine);
  spdlog::info("received {}; stopping the server, then the engine", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  api.begin_shutdown();
  server.stop();
  if (department_connectors) department_connectors->stop();
  (*engine)->stop();
  spdlog::info("stopped cleanly");
  return kExitOk;
}

}  // namespace banshi::serve
