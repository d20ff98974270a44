// serve/config.h — the effective configuration of `banshi serve`.
//
// Sources, later ones win: built-in defaults, the TOML file (--config),
// environment variables BANSHI_<SECTION>_<KEY> (e.g. BANSHI_SERVER_LISTEN,
// BANSHI_STORE_PATH), then command-line flags. Unknown keys, wrong types and
// out-of-range values are errors naming the key. Keys marked secret are
// printed as "<hidden>" by to_toml() (frontdoor.hash_key).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "banshi/result.h"

namespace banshi::serve {

struct ServeConfig {
  // [server]
  std::string listen = "127.0.0.1:8080";
  int64_t threads = 4;                     // I/O threads
  int64_t handler_threads = 32;            // threads that run the requests
  int64_t max_connections = 1024;
  int64_t max_header_bytes = 16 * 1024;
  int64_t max_body_bytes = 10 * 1024 * 1024;
  int64_t read_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t shutdown_timeout_ms = 10'000;
  int64_t ws_idle_timeout_ms = 60'000;     // WebSocket clients are pinged after half of this
  int64_t ws_replay_events = 512;          // events kept for clients that resume with ?since=
  int64_t ws_max_queue = 1024;             // unsent frames that drop a WebSocket client
  double rate_limit_per_second = 0;        // per client; 0: no limit (429 over it)
  double rate_limit_burst = 100;
  int64_t max_long_polls = 2;              // external-task long polls waiting at once
  // [tls] both set: HTTPS and WSS only
  std::string tls_cert_file;               // PEM certificate chain
  std::string tls_key_file;                // PEM private key
  // [store]
  std::string store_path = "var/banshi/banshi.db";
  bool durable = true;
  // A postgresql:// URL: the nodes of a cluster share this PostgreSQL
  // database instead of the SQLite file store_path (docs/cluster.md). Secret
  // (it may hold a password).
  std::string store_url;
  std::string store_schema;        // PostgreSQL: the schema of banshi's tables; empty: the default
  int64_t store_connections = 8;   // PostgreSQL: connections in the pool
  // [engine]
  std::string node_id = "banshi-1";
  int64_t max_batch = 1000;
  int64_t job_workers = 2;
  int64_t utc_offset_minutes = 480;
  // [clock]
  std::string clock_mode = "system";  // system | accelerated | controlled
  double clock_factor = 60.0;
  std::string clock_start;            // ISO 8601 date-time (accelerated, controlled); empty: now
  // [console]
  std::string console_dir;            // empty: no console
  // [calendar]
  std::string calendar_dir;           // business calendars (one TOML per year); empty: none
  // [auth]
  int64_t session_idle_minutes = 30;       // a session unused this long ends
  int64_t session_absolute_minutes = 720;  // no session lives longer
  bool secure_cookie = false;              // mark the session cookie Secure (TLS in front of the server)
  // [connectors] the department systems (docs/connectors.md); enabled: serve runs the connector runtime
  bool connectors_enabled = false;
  std::string connectors_base_url;         // every department's endpoint unless it has its own <dept>_url
  std::string connectors_ca_file;          // PEM CA bundle for https endpoints; empty: the system's
  int64_t connectors_timeout_ms = 30'000;  // an attempt's deadline when the task sets no bs:timeout
  int64_t connectors_retry_backoff_ms = 10'000;  // first wait before a retry when the task sets none; doubled each time
  int64_t connectors_breaker_failures = 5;       // consecutive unreachable answers that open a department's breaker
  int64_t connectors_breaker_open_ms = 30'000;   // how long it stays open before one probe
  int64_t connectors_threads = 2;
  int64_t connectors_max_in_flight = 256;
  int64_t connectors_max_in_flight_per_department = 64;
  std::string connectors_topics;           // comma-separated external-task topics deployments may name
  struct ConnectorEndpoint {               // <dept>_url, <dept>_ca_file, <dept>_timeout_ms (0: the defaults above)
    std::string url;
    std::string ca_file;
    int64_t timeout_ms = 0;
  };
  std::map<std::string, ConnectorEndpoint> connector_endpoints;  // by department code (dpf, civil-affairs, ...)
  // [frontdoor] the one-window intake and the applicant's channel (docs/frontdoor.md); it runs when
  // the connectors do (pre-fill and SMS go through them)
  std::string frontdoor_uploads_dir;          // empty: "uploads" beside the store file
  std::string frontdoor_hash_key;             // secret: keys the hashes of ID and phone numbers
  std::string frontdoor_sms_url;              // the SMS gateway; empty: connectors.base_url
  int64_t frontdoor_code_ttl_seconds = 300;   // how long a one-time code lives
  int64_t frontdoor_max_upload_bytes = 5 * 1024 * 1024;
  bool frontdoor_notify_milestones = true;
};

// Applies a TOML document (its text; `origin` names it in errors).
Result<void> apply_toml(ServeConfig& config, const std::string& text, const std::string& origin);
// Applies BANSHI_* variables from `env` (name → value).
Result<void> apply_env(ServeConfig& config, const std::map<std::string, std::string>& env);
// Applies one key by its dotted name ("server.listen") from text, as a flag would.
Result<void> apply_value(ServeConfig& config, const std::string& dotted_key, const std::string& value);
// Checks values that depend on each other.
Result<void> check(const ServeConfig& config);
// The effective configuration as TOML, secrets hidden.
std::string to_toml(const ServeConfig& config);
// Every key, dotted, with its environment variable name — for the docs and tests.
std::vector<std::pair<std::string, std::string>> all_keys();

// "host:port" → its parts; the host may be [v6].
Result<std::pair<std::string, unsigned short>> split_listen(const std::string& listen);

}  // namespace banshi::serve
