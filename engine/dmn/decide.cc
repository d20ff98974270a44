#include "dmn/decide.h"

#include <fstream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "dmn/evaluate.h"
#include "dmn/model.h"
#include "expr/json_text.h"

namespace banshi::dmn {

int run_decide(const DecideOptions& options, std::FILE* out, std::FILE* err) {
  LoadOptions load_options;
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    fmt::print(err, "{}: error: cannot open the file\n", options.file);
    return 2;
  }
  std::string bytes;
  bytes.resize(load_options.limits.max_bytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));

  LoadResult loaded = load_dmn(bytes, load_options);
  bool invalid = !loaded.ok();
  for (const auto& d : loaded.diagnostics) {
    if (invalid || d.severity == model::Severity::kWarning) fmt::print(err, "{}\n", model::format_diagnostic(d, options.file));
  }
  if (invalid) return 1;

  boost::json::error_code ec;
  boost::json::value input = boost::json::parse(options.input, ec);
  if (ec || !input.is_object()) {
    fmt::print(err, "error: --input must be a JSON object{}\n", ec ? " (" + ec.message() + ")" : "");
    return 2;
  }
  if (!loaded.definitions->find_decision(options.decision)) {
    std::string known;
    for (const auto& d : loaded.definitions->decisions) known += (known.empty() ? "" : ", ") + d.id;
    fmt::print(err, "error: {} has no decision '{}' (decisions: {})\n", options.file, options.decision, known);
    return 2;
  }
  expr::JsonVariables variables(input.get_object());
  EvalOptions eval_options;
  eval_options.now_epoch_ms = options.now_epoch_ms;
  DecisionResult r = evaluate(*loaded.definitions, options.decision, variables, eval_options);

  if (options.json) {
    boost::json::object o;
    o["result"] = expr::to_json(r.value);
    boost::json::array matched;
    for (const auto& m : r.matched) {
      boost::json::object entry;
      entry["decision"] = m.decision_id;
      boost::json::array rules;
      for (size_t n : m.rules) rules.push_back(static_cast<int64_t>(n));
      entry["rules"] = std::move(rules);
      boost::json::array ids;
      for (const auto& id : m.rule_ids) ids.push_back(boost::json::string(id));
      entry["ruleIds"] = std::move(ids);
      matched.push_back(std::move(entry));
    }
    o["matched"] = std::move(matched);
    boost::json::array errors;
    for (const auto& e : r.errors) errors.push_back(boost::json::string(e));
    o["errors"] = std::move(errors);
    fmt::print(out, "{}\n", expr::json_text(o));
  } else {
    fmt::print(out, "{}\n", expr::json_text(expr::to_json(r.value)));
    for (const auto& m : r.matched) {
      std::string rules;
      for (size_t i = 0; i < m.rules.size(); ++i) {
        rules += fmt::format("{}{}", i ? ", " : "", m.rules[i]);
        if (!m.rule_ids[i].empty()) rules += " (" + m.rule_ids[i] + ")";
      }
      fmt::print(out, "matched in {}: {}\n", m.decision_name.empty() ? m.decision_id : m.decision_name,
                 rules.empty() ? "no rule" : "rule " + rules);
    }
    for (const auto& e : r.errors) fmt::print(err, "error: {}\n", e);
  }
  return r.errors.empty() ? 0 : 1;
}

}  // namespace banshi::dmn
