#include "sdk/plugin.h"

#include <dlfcn.h>

#include <chrono>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "banshi/connector_abi.h"
#include "expr/json_text.h"

namespace banshi::connectors {

namespace json = boost::json;

namespace {

// Owns the dlopen handle and the plugin's state; unloads when the last connector goes.
class Library {
 public:
  Library(void* handle, const banshi_plugin* plugin) : handle_(handle), plugin_(plugin) {}
  ~Library() {
    if (plugin_ && plugin_->destroy) plugin_->destroy(plugin_->state);
    if (handle_) dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  const banshi_plugin* plugin() const { return plugin_; }

 private:
  void* handle_;
  const banshi_plugin* plugin_;
};

// What lives while the plugin works on one call: the strings it was given and the handler.
struct CallFrame {
  std::shared_ptr<Library> library;  // keeps the code loaded until the answer
  std::string type, key, variables, headers;
  banshi_call call{};
  Done done;
};

void complete_trampoline(void* token, const banshi_reply* reply) {
  std::unique_ptr<CallFrame> frame(static_cast<CallFrame*>(token));
  if (!reply || reply->struct_size < sizeof(banshi_reply)) {
    frame->done(Reply::retry("the plugin answered without a reply"));
    return;
  }
  auto str = [](const char* s) { return s ? std::string(s) : std::string(); };
  json::object vars;
  if (reply->variables_json && *reply->variables_json) {
    boost::system::error_code ec;
    json::value v = json::parse(reply->variables_json, ec);
    if (ec || !v.is_object()) {
      frame->done(Reply::retry("the plugin answered variables that are not a JSON object"));
      return;
    }
    vars = std::move(v.as_object());
  }
  switch (reply->kind) {
    case BANSHI_OUTCOME_COMPLETED: frame->done(Reply::ok(std::move(vars))); return;
    case BANSHI_OUTCOME_FAILED: frame->done(Reply::retry(str(reply->message), reply->unreachable != 0)); return;
    case BANSHI_OUTCOME_BPMN_ERROR:
      if (!reply->error_code || !*reply->error_code) {
        frame->done(Reply::retry("the plugin threw a BPMN error without an error code"));
        return;
      }
      frame->done(Reply::business_error(reply->error_code, str(reply->message), std::move(vars)));
      return;
  }
  frame->done(Reply::retry(fmt::format("the plugin answered an unknown outcome {}", static_cast<int>(reply->kind))));
}

class PluginAsyncConnector final : public AsyncConnector {
 public:
  PluginAsyncConnector(std::shared_ptr<Library> library, const banshi_connector_ops* ops)
      : library_(std::move(library)), ops_(ops) {}

  void call(Call call, Done done) override {
    auto frame = std::make_unique<CallFrame>();
    frame->library = library_;
    frame->type = call.type;
    frame->key = call.idempotency_key;
    frame->variables = expr::json_text(call.variables);
    frame->headers = expr::json_text(call.headers);
    frame->done = std::move(done);
    banshi_call& c = frame->call;
    c.struct_size = sizeof(banshi_call);
    c.type = frame->type.c_str();
    c.idempotency_key = frame->key.c_str();
    c.variables_json = frame->variables.c_str();
    c.headers_json = frame->headers.c_str();
    c.job_id = call.job_id;
    c.instance_id = call.instance_id;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - SteadyClock::now());
    c.deadline_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count() + left.count();
    c.retries_left = call.retries_left;
    CallFrame* raw = frame.release();  // owned by the plugin until it calls complete
    ops_->invoke(library_->plugin()->state, &raw->call, &complete_trampoline, raw);
  }

 private:
  std::shared_ptr<Library> library_;
  const banshi_connector_ops* ops_;
};

}  // namespace

Result<LoadedPlugin> load_plugin(const std::string& path, const std::string& config_json) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return Error{"plugin", fmt::format("{}: cannot load the plugin: {}", path, why ? why : "unknown reason")};
  }
  auto entry = reinterpret_cast<banshi_plugin_entry_fn>(dlsym(handle, BANSHI_PLUGIN_ENTRY));
  if (!entry) {
    dlclose(handle);
    return Error{"plugin", fmt::format("{}: exports no {} function", path, BANSHI_PLUGIN_ENTRY)};
  }
  char error[512] = {0};
  const banshi_plugin* plugin = entry(BANSHI_CONNECTOR_ABI_VERSION, config_json.c_str(), error, sizeof error);
  if (!plugin) {
    dlclose(handle);
    error[sizeof error - 1] = '\0';
    return Error{"plugin", fmt::format("{}: the plugin refused to start: {}", path, *error ? error : "no reason given")};
  }
  if (plugin->abi_version != BANSHI_CONNECTOR_ABI_VERSION) {
    dlclose(handle);
    return Error{"plugin", fmt::format("{}: the plugin speaks connector ABI {}, this host speaks {}", path,
                                       plugin->abi_version, BANSHI_CONNECTOR_ABI_VERSION)};
  }
  if (plugin->struct_size < sizeof(banshi_plugin)) {
    dlclose(handle);
    return Error{"plugin", fmt::format("{}: the plugin description is truncated", path)};
  }
  auto library = std::make_shared<Library>(handle, plugin);
  LoadedPlugin out;
  out.name = plugin->name ? plugin->name : "";
  out.version = plugin->version ? plugin->version : "";
  for (size_t i = 0; i < plugin->connector_count; ++i) {
    const banshi_connector_ops* ops = &plugin->connectors[i];
    if (!ops->name || !*ops->name || !ops->invoke) {
      return Error{"plugin", fmt::format("{}: connector {} has no name or no invoke function", path, i)};
    }
    out.connectors.push_back(PluginConnector{ops->name, ops->department ? ops->department : "",
                                             std::make_shared<PluginAsyncConnector>(library, ops)});
  }
  if (out.connectors.empty()) return Error{"plugin", fmt::format("{}: the plugin declares no connector", path)};
  return out;
}

}  // namespace banshi::connectors
