/* banshi/connector_abi.h — the C ABI of connector plugins, version 1.
 *
 * A plugin is a shared library exporting one function, banshi_connector_plugin
 * (BANSHI_PLUGIN_ENTRY names it). The host calls it once with the ABI version
 * it speaks and the plugin's configuration (a JSON object as text); the
 * plugin answers with a description of itself, or NULL and a sentence in
 * `error`. The host refuses a plugin whose abi_version differs from its own.
 *
 * Calls: the host calls invoke() on one of its I/O threads for each attempt
 * of a job. invoke() must return quickly; the plugin calls `complete` exactly
 * once, from any thread, before or after invoke() returns. Every string the
 * host passes lives until `complete` is called; every string in the reply
 * need only live during the `complete` call (the host copies them).
 * All strings are UTF-8 and NUL-terminated; JSON texts hold one object.
 *
 * Outcomes: COMPLETED sets variables_json on the instance; FAILED is a
 * retryable failure (set `unreachable` when the department system did not
 * answer, which feeds its circuit breaker); BPMN_ERROR is a business outcome
 * the model can catch, named by error_code.
 *
 * Compatibility: fields are only ever appended; struct_size tells which
 * exist. A change that is not an append bumps BANSHI_CONNECTOR_ABI_VERSION.
 */
#ifndef BANSHI_CONNECTOR_ABI_H
#define BANSHI_CONNECTOR_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BANSHI_CONNECTOR_ABI_VERSION 1u
#define BANSHI_PLUGIN_ENTRY "banshi_connector_plugin"

typedef enum banshi_outcome_kind {
  BANSHI_OUTCOME_COMPLETED = 0,
  BANSHI_OUTCOME_FAILED = 1,
  BANSHI_OUTCOME_BPMN_ERROR = 2
} banshi_outcome_kind;

typedef struct banshi_call {
  uint32_t struct_size;          /* sizeof(banshi_call) as the host built it */
  const char* type;              /* the connector name, e.g. "example.check-id-number" */
  const char* idempotency_key;   /* the same for every attempt of one job */
  const char* variables_json;    /* the variables visible from the task */
  const char* headers_json;      /* the task's static headers */
  int64_t job_id;
  int64_t instance_id;
  int64_t deadline_unix_ms;      /* answer before this instant */
  int32_t retries_left;
} banshi_call;

typedef struct banshi_reply {
  uint32_t struct_size;          /* sizeof(banshi_reply) as the plugin built it */
  banshi_outcome_kind kind;
  const char* variables_json;    /* COMPLETED / BPMN_ERROR; NULL: none */
  const char* error_code;        /* BPMN_ERROR */
  const char* message;           /* FAILED / BPMN_ERROR; NULL: none */
  int32_t unreachable;           /* FAILED: nonzero when the system did not answer */
} banshi_reply;

typedef void (*banshi_complete_fn)(void* token, const banshi_reply* reply);

typedef struct banshi_connector_ops {
  const char* name;              /* the connector name a task's bs:connector gives */
  const char* department;        /* the department code, groups its circuit breaker */
  void (*invoke)(void* plugin_state, const banshi_call* call, banshi_complete_fn complete, void* token);
} banshi_connector_ops;

typedef struct banshi_plugin {
  uint32_t abi_version;          /* BANSHI_CONNECTOR_ABI_VERSION the plugin was built against */
  uint32_t struct_size;          /* sizeof(banshi_plugin) */
  const char* name;
  const char* version;
  void* state;                   /* handed back to invoke() and destroy() */
  size_t connector_count;
  const banshi_connector_ops* connectors;
  void (*destroy)(void* state);  /* called once when the host unloads the plugin; may be NULL */
} banshi_plugin;

typedef const banshi_plugin* (*banshi_plugin_entry_fn)(uint32_t host_abi_version, const char* config_json,
                                                       char* error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* BANSHI_CONNECTOR_ABI_H */
