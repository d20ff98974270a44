#include "serve/scenario_test.h"

#include <cstdlib>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "scenario/scenario.h"

namespace banshi::serve {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Every state-machine step of one test; a scenario that loops past it fails.
constexpr size_t kMaxSteps = 200'000;

// A private folder that removes itself.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "banshi-scenario-XXXXXX").string();
    if (char* made = ::mkdtemp(pattern.data())) path_ = made;
  }
  ~TempFolder() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return static_cast<bool>(out);
}

json::array strings(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

}  // namespace

Result<json::object> run_scenario_test(const std::map<std::string, std::string>& files, const std::string& scenario,
                                       const fs::path& calendar_dir) {
  TempFolder folder;
  if (folder.path().empty()) return Error{"io", "cannot make a folder for the scenario test"};
  for (const auto& [name, content] : files) {
    // The route passes plain names only; refuse anything else here too.
    if (name.empty() || name.find('/') != std::string::npos || name.front() == '.') {
      return Error{"bad-input", fmt::format("'{}' is not a plain file name", name)};
    }
    if (!write_file(folder.path() / name, content)) return Error{"io", "cannot write the scenario's files"};
  }
  if (!calendar_dir.empty()) {
    std::error_code ec;
    fs::create_directory(folder.path() / "calendars", ec);
    for (const auto& entry : fs::directory_iterator(calendar_dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".toml") {
        fs::copy_file(entry.path(), folder.path() / "calendars" / entry.path().filename(), ec);
      }
    }
  }
  const fs::path scenario_file = folder.path() / "test.scenario";
  if (!write_file(scenario_file, scenario)) return Error{"io", "cannot write the scenario"};

  scenario::RunnerOptions options;
  options.confine_to_folder = true;
  options.max_steps = kMaxSteps;
  scenario::Runner runner(options);
  scenario::ScenarioResult result = runner.run(scenario_file);

  // Failures read "<file>:<line>: message"; keep the line and the message,
  // and never show the server's folder.
  json::array failures;
  const std::string prefix = folder.path().string() + "/";
  for (std::string f : result.failures) {
    for (size_t at; (at = f.find(prefix)) != std::string::npos;) f.erase(at, prefix.size());
    json::object o;
    o["line"] = nullptr;
    o["message"] = f;
    size_t colon = f.find(':');
    size_t end = colon == std::string::npos ? colon : f.find(": ", colon + 1);
    if (end != std::string::npos && end > colon + 1 && end - colon <= 10) {
      std::string digits = f.substr(colon + 1, end - colon - 1);
      if (digits.find_first_not_of("0123456789") == std::string::npos) {
        o["line"] = std::stoll(digits);
        o["message"] = f.substr(end + 2);
      }
    }
    failures.push_back(std::move(o));
  }
  json::array coverage;
  for (const auto& [id, c] : runner.coverage()) {
    json::object o;
    o["processId"] = c.process_id;
    o["file"] = fs::path(c.file).filename().string();
    o["elements"] = c.elements.size();
    o["elementsReached"] = c.elements_reached.size();
    o["flows"] = c.flows.size();
    o["flowsTaken"] = c.flows_taken.size();
    std::vector<std::string> missed_elements, missed_flows;
    for (const auto& e : c.elements) {
      if (!c.elements_reached.count(e)) missed_elements.push_back(e);
    }
    for (const auto& f : c.flows) {
      if (!c.flows_taken.count(f)) missed_flows.push_back(f);
    }
    o["missedElements"] = strings(missed_elements);
    o["missedFlows"] = strings(missed_flows);
    coverage.push_back(std::move(o));
  }
  json::object report;
  report["passed"] = result.passed();
  report["commands"] = result.commands;
  report["expectations"] = result.expectations;
  report["failures"] = std::move(failures);
  report["coverage"] = std::move(coverage);
  return report;
}

}  // namespace banshi::serve
