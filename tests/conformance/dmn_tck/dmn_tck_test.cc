// DMN TCK runner: each case folder holds a model (.dmn) and test files
// (*-test-*.xml) with typed inputs and the expected value of result nodes.
// The runner loads the model with the decision engine (a model that does not
// load fails every case of its folder), evaluates every result node's decision
// with the case's inputs and compares the value with the expected one. It
// prints the pass count by folder. Any other TCK case folder can be dropped in
// unchanged: folders are discovered, not listed.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "dmn/evaluate.h"
#include "dmn/model.h"
#include "expr/feel.h"

namespace banshi::expr {
namespace {

namespace fs = std::filesystem;

// Cases that are expected to fail, keyed "folder/testCaseId/resultNode", or
// "folder/*" for a whole folder, or "folder/*/decisionPrefix*" for a group of
// decisions. Each entry says why.
struct KnownUnsupported {
  const char* key;
  const char* reason;
};
const std::vector<KnownUnsupported> kKnownUnsupported = {};

// The number of passing cases must not fall below this floor.
constexpr int kPassingFloor = 2124;

std::string conformance_dir() {
  if (const char* env = std::getenv("BANSHI_CONFORMANCE_DIR")) return env;
#ifdef BANSHI_CONFORMANCE_DIR
  return BANSHI_CONFORMANCE_DIR;
#else
  return {};
#endif
}

std::string local_name(const char* qualified) {
  std::string_view name(qualified);
  size_t colon = name.find(':');
  return std::string(colon == std::string_view::npos ? name : name.substr(colon + 1));
}

pugi::xml_node child(pugi::xml_node node, std::string_view name) {
  for (pugi::xml_node c : node.children()) {
    if (local_name(c.name()) == name) return c;
  }
  return {};
}

std::vector<pugi::xml_node> children(pugi::xml_node node, std::string_view name) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c : node.children()) {
    if (local_name(c.name()) == name) out.push_back(c);
  }
  return out;
}

std::string attribute(pugi::xml_node node, std::string_view name) {
  for (pugi::xml_attribute a : node.attributes()) {
    if (local_name(a.name()) == name) return a.value();
  }
  return {};
}

// A TCK valueType: <value xsi:type=..>, <list><item>..</item></list>, or <component name=..>.
std::optional<Value> read_value(pugi::xml_node node) {
  if (pugi::xml_node value = child(node, "value")) {
    if (attribute(value, "nil") == "true") return Value();
    std::string type = local_name(attribute(value, "type").c_str());
    std::string text = value.text().get();
    if (type == "decimal" || type == "double" || type == "integer" || type == "int" || type == "long") {
      auto n = Decimal::parse(text);
      if (!n) return std::nullopt;
      return Value::number(*n);
    }
    if (type == "boolean") return Value::boolean(text == "true");
    if (type == "date") {
      auto d = Date::parse(text);
      if (!d) return std::nullopt;
      return Value::date(*d);
    }
    if (type == "dateTime") {
      auto dt = DateTime::parse(text);
      if (!dt) return std::nullopt;
      return Value::date_time(*dt);
    }
    if (type == "time") {
      auto t = Time::parse(text);
      if (!t) return std::nullopt;
      return Value::time(*t);
    }
    if (type == "duration") {
      if (auto ym = YearsMonthsDuration::parse(text)) return Value::duration(*ym);
      if (auto dt = DaysTimeDuration::parse(text)) return Value::duration(*dt);
      return std::nullopt;
    }
    return Value::string(text);
  }
  if (pugi::xml_node list = child(node, "list")) {
    List items;
    for (pugi::xml_node item : children(list, "item")) {
      auto v = read_value(item);
      if (!v) return std::nullopt;
      items.push_back(*v);
    }
    return Value::list(std::move(items));
  }
  auto components = children(node, "component");
  if (!components.empty()) {
    ContextEntries entries;
    for (pugi::xml_node component : components) {
      auto v = read_value(component);
      if (!v) return std::nullopt;
      entries.emplace_back(attribute(component, "name"), *v);
    }
    return Value::context(std::move(entries));
  }
  return Value();
}

// Significant digits and digits after the point of a plain decimal text.
void digits_of(const std::string& text, int& significant, int& scale) {
  significant = 0;
  scale = 0;
  bool leading = true;
  bool after_point = false;
  for (char c : text) {
    if (c == 'e' || c == 'E') {
      scale = -1;  // exponent form: no rounding tolerance
      return;
    }
    if (c == '.') {
      after_point = true;
      continue;
    }
    if (c < '0' || c > '9') continue;
    if (after_point) ++scale;
    if (c != '0') leading = false;
    if (!leading) ++significant;
  }
}

// Numbers compare as decimals (the canonical form makes that structural),
// with two allowances for expected values that were computed elsewhere:
// - one with 15 or more significant digits was computed and printed with
//   binary floating point (the TCK's loan payments): it matches an actual
//   value within a relative 1e-12 of it, far below what a double keeps but
//   far above the 34-digit decimal arithmetic here;
// - any other matches an actual value less than 1e-8 away, the bound the
//   TCK's own runners judge numbers by (its `5 ** 2.55` is printed rounded
//   to 11 places). `g_near_matches` counts the cases that needed it.
int g_near_matches = 0;

bool same(const Value& actual, const Value& expected) {
  if (actual.is_number() && expected.is_number() && !(actual == expected)) {
    auto difference = Decimal::subtract(actual.as_number(), expected.as_number());
    if (!difference) return false;
    int significant = 0;
    int scale = 0;
    digits_of(expected.as_number().to_string(), significant, scale);
    if (significant >= 15 && scale >= 0) {
      auto bound = Decimal::multiply(expected.as_number().abs(), *Decimal::parse("1e-12"));
      if (bound && difference->abs() <= *bound) return true;
    }
    if (difference->abs() < *Decimal::parse("1e-8")) {
      ++g_near_matches;
      return true;
    }
    return false;
  }
  if (actual.is_context() && expected.is_context()) {
    if (actual.as_context().size() != expected.as_context().size()) return false;
    for (const auto& [key, value] : expected.as_context()) {
      const Value* other = actual.find(key);
      if (!other || !same(*other, value)) return false;
    }
    return true;
  }
  if (actual.is_list() && expected.is_list()) {
    if (actual.as_list().size() != expected.as_list().size()) return false;
    for (size_t i = 0; i < actual.as_list().size(); ++i) {
      if (!same(actual.as_list()[i], expected.as_list()[i])) return false;
    }
    return true;
  }
  return actual == expected;
}

class ValueVariables final : public Variables {
 public:
  const boost::json::value* find(std::string_view) const override { return nullptr; }
  const Value* find_value(std::string_view name) const override {
    auto it = values.find(std::string(name));
    return it == values.end() ? nullptr : &it->second;
  }
  std::map<std::string, Value, std::less<>> values;
};

struct FolderCounts {
  int passed = 0;
  int failed = 0;
  int known = 0;
  int unsupported = 0;  // result nodes of kinds the runner does not evaluate (decision services)
};

class TckRunner {
 public:
  std::map<std::string, FolderCounts> counts;
  std::vector<std::string> failures;
  std::set<std::string> used_known;

  void run_folder(const fs::path& folder) {
    std::string folder_name = folder.filename().string();
    FolderCounts& folder_counts = counts[folder.parent_path().filename().string() + "/" + folder_name];
    std::map<std::string, Model> models;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() == ".dmn") models[entry.path().filename().string()] = load(entry.path());
    }
    std::vector<fs::path> test_files;
    for (const auto& entry : fs::directory_iterator(folder)) {
      std::string file = entry.path().filename().string();
      if (entry.path().extension() == ".xml" && file.find("-test-") != std::string::npos) {
        test_files.push_back(entry.path());
      }
    }
    std::sort(test_files.begin(), test_files.end());
    for (const auto& file : test_files) run_tests(folder_name, file, models, folder_counts);
  }

 private:
  struct Model {
    std::shared_ptr<const dmn::Definitions> definitions;
    std::string problems;  // why it did not load
  };

  static Model load(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    dmn::LoadOptions options;
    options.invalid_expressions_evaluate_to_null = true;  // some cases expect null from a bad expression
    dmn::LoadResult loaded = dmn::load_dmn(bytes, options);
    Model model;
    if (loaded.ok()) {
      model.definitions = loaded.definitions;
      return model;
    }
    for (const auto& d : loaded.diagnostics) {
      if (d.severity == model::Severity::kError) model.problems += "\n    " + model::format_diagnostic(d, path.filename().string());
    }
    return model;
  }

  const KnownUnsupported* known(const std::string& folder, const std::string& test_id, const std::string& result) {
    std::string exact = folder + "/" + test_id + "/" + result;
    for (const auto& k : kKnownUnsupported) {
      std::string_view key = k.key;
      bool match = key == exact || key == folder + "/*";
      std::string group_prefix = folder + "/*/";
      if (!match && key.starts_with(group_prefix) && key.ends_with("*")) {
        std::string_view prefix = key.substr(group_prefix.size(), key.size() - group_prefix.size() - 1);
        match = std::string_view(result).starts_with(prefix);
      }
      if (match) {
        used_known.insert(std::string(key));
        return &k;
      }
    }
    return nullptr;
  }

  void run_tests(const std::string& folder, const fs::path& file, const std::map<std::string, Model>& models,
                 FolderCounts& folder_counts) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_file(file.c_str())) << file;
    std::string model_name = child(doc.document_element(), "modelName").text().get();
    const Model* model = nullptr;
    if (auto it = models.find(model_name); it != models.end()) model = &it->second;
    else if (models.size() == 1) model = &models.begin()->second;
    for (pugi::xml_node test_case : children(doc.document_element(), "testCase")) {
      std::string test_id = attribute(test_case, "id");
      std::string case_type = attribute(test_case, "type");
      ValueVariables inputs;
      std::string input_problem;
      for (pugi::xml_node input : children(test_case, "inputNode")) {
        auto v = read_value(input);
        if (!v) input_problem = "the input '" + attribute(input, "name") + "' cannot be read";
        else inputs.values[attribute(input, "name")] = *v;
      }
      for (pugi::xml_node result : children(test_case, "resultNode")) {
        std::string result_name = attribute(result, "name");
        std::string result_type = attribute(result, "type");
        if ((!case_type.empty() && case_type != "decision") || (!result_type.empty() && result_type != "decision")) {
          ++folder_counts.unsupported;
          continue;
        }
        std::optional<Value> expected = attribute(result, "errorResult") == "true"
                                            ? std::optional<Value>(Value())
                                            : read_value(child(result, "expected"));
        std::string problem = input_problem;
        Value actual;
        if (!model) problem = "no model named '" + model_name + "'";
        else if (!model->definitions) problem = "the model does not load:" + model->problems;
        else if (!expected) problem = "the expected value cannot be read";
        if (problem.empty()) {
          dmn::EvalOptions options;
          options.now_epoch_ms = 1'700'000'000'000;
          dmn::DecisionResult r = dmn::evaluate(*model->definitions, result_name, inputs, options);
          actual = r.value;
          if (!r.errors.empty() && !actual.is_null()) problem = "errors with a value: " + r.errors.front();
          for (const auto& e : r.errors) {
            if (actual.null_reason().empty()) actual = Value::null(e);
          }
        }
        bool ok = problem.empty() && same(actual, *expected);
        const KnownUnsupported* k = known(folder, test_id, result_name);
        if (ok) {
          ++folder_counts.passed;
        } else if (k) {
          ++folder_counts.known;
        } else {
          ++folder_counts.failed;
          failures.push_back(problem.empty()
                                 ? fmt::format("{}/{}/{}: expected {}, got {}{}", folder, test_id, result_name,
                                               expected->to_string(), actual.to_string(),
                                               actual.null_reason().empty() ? "" : " (" + actual.null_reason() + ")")
                                 : fmt::format("{}/{}/{}: {}", folder, test_id, result_name, problem));
        }
      }
    }
  }
};

TEST(DmnTck, EveryResultNodeOfEveryCaseFolder) {
  fs::path root = fs::path(conformance_dir()) / "dmn-tck";
  if (conformance_dir().empty() || !fs::is_directory(root)) {
    GTEST_SKIP() << "the DMN TCK is not present under BANSHI_CONFORMANCE_DIR (" << root.string() << ")";
  }
  TckRunner runner;
  for (const char* level : {"compliance-level-2", "compliance-level-3"}) {
    if (!fs::is_directory(root / level)) continue;
    std::vector<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(root / level)) {
      if (entry.is_directory()) folders.push_back(entry.path());
    }
    std::sort(folders.begin(), folders.end());
    for (const auto& folder : folders) runner.run_folder(folder);
  }
  int passed = 0, failed = 0, known = 0, unsupported = 0;
  fmt::print("{:<60} {:>6} {:>6} {:>6} {:>11}\n", "folder", "pass", "fail", "known", "unsupported");
  for (const auto& [folder, c] : runner.counts) {
    fmt::print("{:<60} {:>6} {:>6} {:>6} {:>11}\n", folder, c.passed, c.failed, c.known, c.unsupported);
    passed += c.passed;
    failed += c.failed;
    known += c.known;
    unsupported += c.unsupported;
    if (folder.starts_with("compliance-level-2/")) {
      EXPECT_EQ(c.failed + c.known + c.unsupported, 0) << folder << ": every compliance-level-2 case must pass";
    }
  }
  fmt::print("{:<60} {:>6} {:>6} {:>6} {:>11}\n", "total", passed, failed, known, unsupported);
  fmt::print("numbers matched within the TCK runners' 1e-8 rather than exactly: {}\n", g_near_matches);
  for (const auto& failure : runner.failures) ADD_FAILURE() << failure;
  for (const auto& k : kKnownUnsupported) {
    EXPECT_TRUE(runner.used_known.contains(k.key)) << k.key << " is listed as unsupported but no case uses it";
  }
  EXPECT_GE(passed, kPassingFloor) << "fewer TCK cases pass than before";
}

}  // namespace
}  // namespace banshi::expr
