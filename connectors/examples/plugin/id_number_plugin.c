/* An example connector plugin in plain C, built against banshi/connector_abi.h.
 *
 * example.check-id-number reads the variable `idNumber` (an 18-character
 * resident ID number) and checks its check digit (ISO 7064 MOD 11-2). A valid
 * number completes with {"idNumberValid": true, "regionCode": "220102",
 * "birthDate": "1980-05-01"}; an invalid one throws the BPMN error
 * "invalid-id-number"; a missing one is a failure (retrying cannot help, but
 * the incident tells a person what is wrong).
 *
 * The plugin accepts the configuration {"reject": "<region code>"} to show
 * configuration: numbers from that region are refused as "region-not-served".
 */
#include <stdio.h>
#include <string.h>

#include "banshi/connector_abi.h"

typedef struct plugin_state {
  char reject[7];
} plugin_state;

static plugin_state g_state;

/* Finds "name": "value" in a flat JSON object; enough for this example, whose
 * input the host serialised itself (no escapes inside an ID number). */
static int find_string(const char* json, const char* name, char* out, size_t out_size) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", name);
  const char* at = strstr(json, pattern);
  if (!at) return 0;
  at += strlen(pattern);
  while (*at == ' ') ++at;
  if (*at != '"') return 0;
  ++at;
  size_t n = 0;
  while (at[n] && at[n] != '"' && at[n] != '\\') ++n;
  if (at[n] != '"' || n + 1 > out_size) return 0;
  memcpy(out, at, n);
  out[n] = '\0';
  return 1;
}

static int check_digit_ok(const char* id) {
  static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static const char digits[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
  if (strlen(id) != 18) return 0;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return 0;
    sum += (id[i] - '0') * weights[i];
  }
  char last = id[17] == 'x' ? 'X' : id[17];
  return digits[sum % 11] == last;
}

static void check_id_number(void* state, const banshi_call* call, banshi_complete_fn complete, void* token) {
  const plugin_state* s = (const plugin_state*)state;
  banshi_reply reply;
  memset(&reply, 0, sizeof reply);
  reply.struct_size = sizeof reply;
  char id[32];
  if (!find_string(call->variables_json, "idNumber", id, sizeof id)) {
    reply.kind = BANSHI_OUTCOME_FAILED;
    reply.message = "the variable idNumber is missing or not a string";
    complete(token, &reply);
    return;
  }
  if (!check_digit_ok(id)) {
    reply.kind = BANSHI_OUTCOME_BPMN_ERROR;
    reply.error_code = "invalid-id-number";
    reply.message = "the ID number's check digit does not match";
    complete(token, &reply);
    return;
  }
  if (s->reject[0] && strncmp(id, s->reject, 6) == 0) {
    reply.kind = BANSHI_OUTCOME_BPMN_ERROR;
    reply.error_code = "region-not-served";
    reply.message = "this region is not served";
    complete(token, &reply);
    return;
  }
  char vars[160];
  snprintf(vars, sizeof vars, "{\"idNumberValid\":true,\"regionCode\":\"%.6s\",\"birthDate\":\"%.4s-%.2s-%.2s\"}", id,
           id + 6, id + 10, id + 12);
  reply.kind = BANSHI_OUTCOME_COMPLETED;
  reply.variables_json = vars;
  complete(token, &reply);
}

static const banshi_connector_ops g_connectors[] = {
    {"example.check-id-number", "example", check_id_number},
};

static const banshi_plugin g_plugin = {
    BANSHI_CONNECTOR_ABI_VERSION, sizeof(banshi_plugin), "example-id-number", "1.0.0", &g_state,
    sizeof g_connectors / sizeof g_connectors[0], g_connectors, NULL,
};

const banshi_plugin* banshi_connector_plugin(uint32_t host_abi_version, const char* config_json, char* error,
                                             size_t error_size) {
  if (host_abi_version != BANSHI_CONNECTOR_ABI_VERSION) {
    snprintf(error, error_size, "built for connector ABI %u", BANSHI_CONNECTOR_ABI_VERSION);
    return NULL;
  }
  memset(&g_state, 0, sizeof g_state);
  char reject[16];
  if (config_json && find_string(config_json, "reject", reject, sizeof reject)) {
    if (strlen(reject) != 6) {
      snprintf(error, error_size, "reject must be a 6-digit region code");
      return NULL;
    }
    memcpy(g_state.reject, reject, 7);
  }
  return &g_plugin;
}
