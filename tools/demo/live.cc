#include "demo/live.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <pthread.h>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/password.h"
#include "banshi/engine.h"
#include "demo/department_systems.h"
#include "demo/synthetic.h"
#include "model/iso8601.h"
#include "serve/serve.h"
#include "simulators/people.h"
#include "simulators/simulator.h"
#include "store/auth_store.h"
#include "store/store.h"

namespace banshi::demo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;

constexpr int32_t kZone = 480;
constexpr int64_t kMinute = 60000;
constexpr int64_t kHour = 60 * kMinute;
constexpr const char* kStart = "2026-03-02T09:00:00+08:00";  // a Monday morning
constexpr const char* kHumanRegion = "220102";                // 南关区: left to people

std::string sim_text(int64_t ms) {
  int64_t local = ms + int64_t{kZone} * kMinute;
  int64_t days = local / 86400000;
  int64_t rest = local % 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  static const char* kWeekdays[] = {"四", "五", "六", "日", "一", "二", "三"};  // 1970-01-01 was a Thursday
  return fmt::format("{}-{:02}-{:02} 周{} {:02}:{:02}", y, m, d, kWeekdays[((days % 7) + 7) % 7], rest / kHour,
                     rest / kMinute % 60);
}

std::string iso_text(int64_t ms) {
  int64_t local = ms + int64_t{kZone} * kMinute;
  int64_t days = local / 86400000;
  int64_t rest = local % 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00", y, m, d, rest / kHour, rest / kMinute % 60,
                     rest / 1000 % 60);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A number kept in a file beside the database (the simulated date, how many
// applicants the generator has drawn), so a restart resumes it.
class SimDateFile {
 public:
  explicit SimDateFile(fs::path path) : path_(std::move(path)) {}
  std::optional<int64_t> load() const {
    std::ifstream in(path_);
    int64_t ms = 0;
    if (in >> ms && ms > 0) return ms;
    return std::nullopt;
  }
  void save(int64_t ms) const {
    fs::path tmp = path_;
    tmp += ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << ms << "\n";
      if (!out) return;
    }
    std::error_code ec;
    fs::rename(tmp, path_, ec);
  }

 private:
  fs::path path_;
};

struct DemoUser {
  std::string name;
  std::string role;
  std::string department;
  std::string region;
  std::string label;
};

// Everyone the demo creates: staff in the four pilot counties for each
// department, supervisors for the two cities and the province, a monitor,
// a designer and an admin.
std::vector<DemoUser> demo_users() {
  struct Dept {
    const char* code;
    const char* short_name;
    const char* label;
  };
  static const Dept kDepts[] = {{"dpf", "dpf", "残联"},
                                {"civil-affairs", "mz", "民政"},
                                {"hrss", "rs", "人社"},
                                {"social-insurance", "sb", "社保"},
                                {"assessment", "pd", "评定机构"}};
  struct County {
    const char* code;
    const char* pinyin;
    const char* name;
  };
  static const County kCounties[] = {
      {"220102", "nanguan", "南关区"}, {"220104", "chaoyang", "朝阳区"}, {"220402", "longshan", "龙山区"}, {"220421", "dongfeng", "东丰县"}};
  static const County kUpper[] = {{"220100", "changchun", "长春市"}, {"220400", "liaoyuan", "辽源市"}, {"220000", "jilin", "吉林省"}};
  std::vector<DemoUser> users;
  users.push_back({"admin", "admin", "", "", "管理员 admin"});
  users.push_back({"designer", "designer", "", "", "流程设计 designer"});
  users.push_back({"monitor", "monitor", "", "", "监控 monitor (全部地区)"});
  for (const Dept& d : kDepts) {
    for (const County& c : kCounties) {
      users.push_back({fmt::format("{}.{}", d.short_name, c.pinyin), "staff", d.code, c.code,
                       fmt::format("{}{} 工作人员 staff", c.name, d.label)});
    }
    for (const County& c : kUpper) {
      users.push_back({fmt::format("{}.{}", d.short_name, c.pinyin), "supervisor", d.code, c.code,
                       fmt::format("{}{} 主管 supervisor", c.name, d.label)});
    }
  }
  return users;
}

class LiveDemo {
 public:
  LiveDemo(const LiveOptions& options, SimDateFile date_file, connectors::sim::Simulator& departments,
           std::string departments_url)
      : options_(options),
        date_file_(std::move(date_file)),
        drawn_file_(fs::path(options.data) / "applicants-drawn"),
        holders_file_(fs::path(options.data) / "holder-cases"),
        departments_(departments),
        departments_url_(std::move(departments_url)),
        rng_(options.seed),
        applicants_(options.seed) {}

  Result<void> start(Engine& engine) {
    if (auto r = deploy(engine); !r.ok()) return r;
    load_forms();
    resume_generator();
    fmt::print("== the department systems answer over HTTP at {} (simulated, state in {}) ==\n", departments_url_,
               (fs::path(options_.data) / "simulators").string());
    if (auto r = create_users(engine); !r.ok()) return r;
    count_existing(engine);
    started_ = Steady::now();
    return {};
  }

  void listening(const std::string& url) {
    fmt::print("\n== banshi demo is running ==\n");
    fmt::print("console:  {}/\n", url);
    fmt::print("API:      {}/api/v1   (docs/api/README.md)\n", url);
    fmt::print("clock:    {} simulated, {:.0f}× real time; Ctrl-C stops, `tools/demo.sh` again resumes\n",
               sim_text(now_), options_.speed);
    if (!passwords_.empty()) {
      fmt::print("\nlogins (passwords are generated and shown only this once):\n");
      for (const DemoUser& u : demo_users()) {
        auto it = passwords_.find(u.name);
        if (it == passwords_.end()) continue;
        fmt::print("  {:<18} {}  {}\n", u.name, it->second, u.label);
      }
    } else {
      fmt::print("\nusers exist from an earlier run (their passwords were printed then);\n"
                 "`banshi user passwd NAME --data {}` prints a new one, `--reset` starts over.\n",
                 options_.data);
    }
    fmt::print("\nTry: log in as dpf.nanguan (南关区 残联) — simulated staff work every other county, so\n"
               "南关区's tasks wait for you; as monitor, watch them turn due soon, overdue, escalated.\n\n");
    std::fflush(stdout);
  }

  void tick(Engine& engine) {
    now_ = engine.clock().now_ms();
    date_file_.save(now_);
    const double real_s = std::chrono::duration<double>(Steady::now() - started_).count();
    if (options_.run_for > 0 && real_s >= options_.run_for && !stopping_) {
      stopping_ = true;
      kill(getpid(), SIGTERM);
    }
    if (real_s >= next_application_s_) {
      submit(engine);
      next_application_s_ = real_s + options_.interval;
    }
    work_tasks(engine);
    if (real_s >= next_status_s_) {
      status(engine);
      next_status_s_ = real_s + 10;
    }
  }

  void stop(Engine& engine) {
    now_ = engine.clock().now_ms();
    date_file_.save(now_);
    fmt::print("\nstopping at {} simulated; {} applications submitted this run\n", sim_text(now_), submitted_);
    std::fflush(stdout);
  }

  void set_now(int64_t ms) { now_ = ms; }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  Result<void> deploy(Engine& engine) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(options_.workflows, ec)) {
      const auto ext = entry.path().extension();
      if (ext == ".bpmn" || ext == ".dmn") files.push_back(entry.path());
    }
    if (files.empty()) return Error{"no-workflows", fmt::format("no workflows found in '{}'", options_.workflows)};
    // Decisions first, so the processes that call them find them.
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      bool da = a.extension() == ".dmn", db = b.extension() == ".dmn";
      return da != db ? da : a < b;
    });
    fmt::print("== deploying {} workflow files ==\n", files.size());
    for (const fs::path& f : files) {
      const std::string xml = read_file(f);
      auto deployed = engine.deploy(f.filename().string(), xml, "demo");
      if (!deployed.ok()) return Error{"deploy", fmt::format("{} does not deploy:\n{}", f.string(), deployed.error().message)};
      for (const DeployedProcess& p : *deployed) {
        fmt::print("  {} version {}{}\n", p.process_id, p.version, p.new_version ? "" : " (unchanged)");
        processes_.insert(p.process_id);
      }
    }
    return {};
  }

  // Where the generator stopped: applicants already drawn are not drawn
  // again (each new issue is a new person), and holders who already had an
  // operation filed get no second one (their card may be changing meanwhile).
  void resume_generator() {
    const int64_t drawn = drawn_file_.load().value_or(0);
    for (int64_t i = 0; i < drawn; ++i) applicants_.next();
    drawn_ = drawn;
    std::ifstream in(holders_file_);
    for (std::string id; std::getline(in, id);) {
      if (!id.empty()) holders_used_.insert(id);
    }
  }

  // The next synthetic person the population registers, alive, with the
  // registered name: the data the department systems hold agree with the case.
  Applicant next_applicant() {
    for (;;) {
      Applicant a = applicants_.next();
      drawn_file_.save(++drawn_);
      auto person = connectors::sim::person_of(a.id_number);
      if (!person || person->deceased) continue;
      a.name = person->name;
      return a;
    }
  }

  // A holder of an active card issued earlier in this demo's data, who has
  // had no other operation filed; nullopt when there is none yet.
  std::optional<connectors::sim::CertificateView> pick_holder() {
    std::vector<connectors::sim::CertificateView> active;
    for (auto& c : departments_.certificates()) {
      if (c.status == "active" && !holders_used_.count(c.id_number)) active.push_back(std::move(c));
    }
    if (active.empty()) return std::nullopt;
    auto c = active[static_cast<size_t>(pick(0, static_cast<int>(active.size()) - 1))];
    holders_used_.insert(c.id_number);
    std::ofstream(holders_file_, std::ios::app) << c.id_number << "\n";
    return c;
  }

  Result<void> create_users(Engine& engine) {
    auto* auth = dynamic_cast<store::AuthStore*>(&engine.store());
    if (!auth) return Error{"no-auth-store", "the demo's store keeps no users"};
    auto existing = auth->users();
    if (!existing.ok()) return existing.error();
    if (!existing->empty()) return {};
    const auto users = demo_users();
    fmt::print("== creating {} users ", users.size());
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const DemoUser& u : users) {
      std::string password = api::generate_password();
      store::UserRecord rec;
      rec.name = u.name;
      rec.password_hash = api::hash_password(password);
      rec.roles = {u.role};
      rec.department = u.department;
      if (!u.region.empty()) rec.regions = {u.region};
      rec.created_at = rec.password_changed_at = now;
      if (auto r = auth->add_user(rec); !r.ok()) return r.error();
      passwords_[u.name] = password;
      fmt::print(".");
      std::fflush(stdout);
    }
    fmt::print(" ==\n");
    return {};
  }

  void count_existing(Engine& engine) {
    store::InstanceQuery q;
    q.limit = 1;
    auto found = engine.store().instances(q);
    if (found.ok() && !found->empty()) fmt::print("== resuming the earlier run's data ==\n");
  }


  // One synthetic application: mostly new certificates, the rest spread over
  // the other five operations for people who hold a card issued earlier in
  // this demo (the department registry's own records).
  void submit(Engine& engine) {
    static const char* kNew = "certificate-new-issue";
    static const char* kCategories[] = {"", "视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
    static const char* kLevels[] = {"", "一级", "二级", "三级", "四级"};
    // 申请编号: SQ, the simulated date and minute, and this run's count.
    const std::string stamp = iso_text(now_);
    const std::string key = fmt::format("SQ{}{}{}-{}{}-{:03}", stamp.substr(0, 4), stamp.substr(5, 2), stamp.substr(8, 2),
                                        stamp.substr(11, 2), stamp.substr(14, 2), ++submitted_ % 1000);
    json::object vars;
    vars["applicationId"] = key;
    std::string process = kNew;
    std::string what = "新办";
    Applicant a;
    const int roll = pick(1, 100);
    std::optional<connectors::sim::CertificateView> holder;
    if (roll > 60 && processes_.count("certificate-renewal")) holder = pick_holder();
    if (holder) {
      auto person = connectors::sim::person_of(holder->id_number);
      a.id_number = holder->id_number;
      a.name = person ? person->name : std::string();
      a.region = holder->region;
      a.phone = fmt::format("1{}{:09}", pick(3, 9), pick(0, 999'999'999));
      a.category = kCategories[holder->category];
      a.level = kLevels[holder->level];
      vars["certificateNumber"] = holder->number;
      vars["disability"] = json::object{{"category", a.category}, {"level", a.level}};
      if (roll <= 70) {
        process = "certificate-renewal", what = "换领";
        vars["renewal"] = json::object{{"reason", chance(0.7) ? "expired" : "damaged"}};
      } else if (roll <= 78) {
        process = "certificate-replacement", what = "挂失补办";
      } else if (roll <= 86) {
        process = "certificate-transfer", what = "迁移";
        const auto& regions = demo_regions();
        std::string to = a.region;
        while (to == a.region) to = std::string(regions[static_cast<size_t>(pick(0, static_cast<int>(regions.size()) - 1))].code);
        vars["transfer"] = json::object{{"fromRegion", a.region}, {"toRegion", to}};
      } else if (roll <= 94) {
        process = "certificate-change", what = "等级变更";
      } else {
        process = "certificate-cancellation", what = "注销";
        vars["cancellation"] = json::object{{"reason", "not-meeting-standard"}};
      }
    } else {
      a = next_applicant();
    }
    if (!processes_.count(process)) return;
    json::object applicant;
    applicant["name"] = a.name;
    applicant["idNumber"] = a.id_number;
    applicant["phone"] = a.phone;
    applicant["region"] = a.region;
    vars["applicant"] = std::move(applicant);
    StartRequest req;
    req.process_id = process;
    req.business_key = key;
    req.variables = std::move(vars);
    auto id = engine.start_instance(req);
    if (!id.ok()) {
      fmt::print("{}  {} {} not started: {}\n", sim_text(now_), what, key, id.error().message);
      return;
    }
    fmt::print("{}  {} {} from {} {} ({}{}) in {}\n", sim_text(now_), what, key, mask_name(a.name),
               mask_id_number(a.id_number), a.category, a.level, a.region);
  }

  // Simulated staff: every county but 南关区 decides its tasks within hours
  // (a review now and then slips past its limit).
  void work_tasks(Engine& engine) {
    store::TaskQuery q;
    q.limit = 500;
    auto tasks = engine.store().tasks(q);
    if (!tasks.ok()) return;
    std::set<int64_t> open;
    for (const store::TaskRecord& t : *tasks) {
      open.insert(t.id);
      if (t.region == kHumanRegion) continue;
      auto it = plan_.find(t.id);
      if (it == plan_.end()) {
        int64_t delay = pick(1, 30) * kHour;
        if (t.element_id == "assess") delay = pick(24, 96) * kHour;
        if (t.element_id == "review") delay = chance(0.2) ? pick(11 * 24, 14 * 24) * kHour : pick(2, 72) * kHour;
        plan_[t.id] = std::max(t.created_at, now_) + delay;
        continue;
      }
      if (it->second > now_) continue;
      json::object vars = decide(t);
      auto done = engine.complete_task(t.id, vars, "");
      if (done.ok()) ++completed_;
      plan_.erase(it);
    }
    for (auto it = plan_.begin(); it != plan_.end();) it = open.count(it->first) ? std::next(it) : plan_.erase(it);
  }

  // The shipped forms (workflows/forms/<process>/<task>.json), by form key.
  void load_forms() {
    std::error_code ec;
    const fs::path dir = fs::path(options_.workflows) / "forms";
    for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      boost::system::error_code jec;
      json::value form = json::parse(read_file(entry.path()), jec);
      if (jec || !form.is_object()) continue;
      const json::value* key = form.as_object().if_contains("formKey");
      const json::value* fields = form.as_object().if_contains("fields");
      if (key && key->is_string() && fields && fields->is_array()) forms_[std::string(key->as_string())] = fields->as_array();
    }
  }

  // Sets a possibly dotted variable ("disability.level") in `vars`.
  static void set_path(json::object& vars, std::string_view id, json::value v) {
    size_t dot = id.find('.');
    if (dot == std::string_view::npos) {
      vars[id] = std::move(v);
      return;
    }
    json::value& inner = vars[id.substr(0, dot)];
    if (!inner.is_object()) inner = json::object{};
    set_path(inner.as_object(), id.substr(dot + 1), std::move(v));
  }

  // What the simulated staff enter: the form's always-visible fields, mostly
  // the favourable answer, now and then not.
  json::object fill_form(const json::array& fields) {
    json::object vars;
    for (const json::value& f : fields) {
      if (!f.is_object()) continue;
      const json::object& field = f.as_object();
      if (field.contains("visibleWhen")) continue;
      const json::value* id = field.if_contains("id");
      const json::value* type = field.if_contains("type");
      if (!id || !id->is_string() || !type || !type->is_string()) continue;
      const std::string t(type->as_string());
      const json::value* required = field.if_contains("required");
      const bool must = required && required->is_bool() && required->as_bool();
      const json::value* options = field.if_contains("options");
      const json::array* opts = options && options->is_array() && !options->as_array().empty() ? &options->as_array() : nullptr;
      auto option_value = [&](size_t i) {
        const json::value& o = (*opts)[i];
        return o.is_object() && o.as_object().contains("value") ? o.as_object().at("value") : o;
      };
      if (t == "boolean") {
        set_path(vars, id->as_string(), chance(0.9));
      } else if (t == "select" && opts) {
        set_path(vars, id->as_string(), option_value(static_cast<size_t>(pick(0, static_cast<int>(opts->size()) - 1))));
      } else if (t == "multiselect" && opts && must) {
        set_path(vars, id->as_string(), json::array{option_value(0)});
      } else if (t == "number" && must) {
        const json::value* min = field.if_contains("min");
        set_path(vars, id->as_string(), min && min->is_number() ? *min : json::value(1));
      } else if ((t == "date" || t == "month") && must) {
        const std::string day = iso_text(now_).substr(0, t == "date" ? 10 : 7);
        set_path(vars, id->as_string(), json::value(day));
      } else if ((t == "text" || t == "textarea") && must) {
        set_path(vars, id->as_string(), "经审查，符合规定。");
      }
    }
    return vars;
  }

  json::object decide(const store::TaskRecord& t) {
    auto form = forms_.find(t.form_key);
    if (form != forms_.end()) return fill_form(form->second);
    json::object vars;
    if (t.element_id == "accept") vars["accepted"] = chance(0.92);
    if (t.element_id == "assess") {
      vars["meetsStandard"] = chance(0.88);
      json::object disability;
      static const char* kCategories[] = {"视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
      static const char* kLevels[] = {"一级", "二级", "三级", "四级"};
      disability["category"] = kCategories[pick(0, 6)];
      disability["level"] = kLevels[pick(0, 3)];
      vars["disability"] = std::move(disability);
    }
    if (t.element_id == "review") vars["approved"] = chance(0.95);
    return vars;
  }

  void status(Engine& engine) {
    store::TaskQuery q;
    q.limit = 100000;
    auto tasks = engine.store().tasks(q);
    size_t open = 0, waiting_for_people = 0, late = 0;
    if (tasks.ok()) {
      open = tasks->size();
      for (const store::TaskRecord& t : *tasks) {
        if (t.region == kHumanRegion) ++waiting_for_people;
        if (t.due_at > 0 && t.due_at < now_) ++late;
      }
    }
    auto incidents = engine.store().incidents(0);
    const EngineMetrics& m = engine.metrics();
    fmt::print("{}  open tasks {} (南关区 waiting for people {}), past due {}; open incidents {}; "
               "simulated staff completed {}; {} commands, {} timers fired\n",
               sim_text(now_), open, waiting_for_people, late, incidents.ok() ? incidents->size() : 0, completed_,
               m.commands_applied.load(), m.timers_fired.load());
    std::fflush(stdout);
  }

  const LiveOptions& options_;
  SimDateFile date_file_;
  SimDateFile drawn_file_;
  fs::path holders_file_;
  connectors::sim::Simulator& departments_;
  std::string departments_url_;
  int64_t drawn_ = 0;
  std::set<std::string> holders_used_;
  std::mt19937_64 rng_;
  ApplicantGenerator applicants_;
  std::set<std::string> processes_;
  std::map<std::string, std::string> passwords_;
  std::map<std::string, json::array> forms_;
  std::map<int64_t, int64_t> plan_;  // task id → simulated time its simulated staff act
  Steady::time_point started_;
  double next_application_s_ = 1;
  double next_status_s_ = 5;
  int64_t now_ = 0;
  int submitted_ = 0;
  int completed_ = 0;
  bool stopping_ = false;
};

}  // namespace

int run_live_demo(const LiveOptions& options) {
  if (options.speed <= 0 || options.interval <= 0 || options.run_for < 0) {
    fmt::print(stderr, "banshi demo: --speed and --interval must be positive\n");
    return 2;
  }
  std::error_code ec;
  if (!fs::is_directory(options.workflows, ec)) {
    fmt::print(stderr, "banshi demo: no workflows found in '{}'\n", options.workflows);
    return 2;
  }
  fs::create_directories(options.data, ec);
  const fs::path db = fs::path(options.data) / "banshi.db";
  SimDateFile date_file(fs::path(options.data) / "simulated-date");
  const fs::path simulators_dir = fs::path(options.data) / "simulators";
  if (options.reset) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
    for (const char* file : {"simulated-date", "applicants-drawn", "holder-cases"}) fs::remove(fs::path(options.data) / file, ec);
    fs::remove_all(simulators_dir, ec);
    fmt::print("== --reset: starting with empty data in {} ==\n", options.data);
  }
  const int64_t start = date_file.load().value_or(*model::parse_date_time(kStart));

  serve::ServeOptions serve_options;
  serve_options.database = db.string();
  serve_options.listen = options.listen;
  if (fs::is_directory(options.console, ec)) {
    serve_options.console = options.console;
  } else {
    fmt::print("== no built console in '{}': the API runs without it ==\n", options.console);
  }
  serve_options.overrides = {{"clock.mode", "accelerated"},
                             {"clock.factor", fmt::format("{}", options.speed)},
                             {"clock.start", iso_text(start)}};
  const fs::path calendars = fs::path(options.workflows) / "calendars";
  if (fs::is_directory(calendars, ec)) serve_options.overrides.emplace_back("calendar.dir", calendars.string());

  // The stop signals go to run_serve's sigwait only: block them before any
  // thread (the department systems' server below) starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The department systems: the simulators, on the demo's clock, keeping
  // their registry in the data folder, served over HTTP on a loopback port;
  // serve reaches them through the HTTP connectors like real systems.
  std::atomic<Engine*> running_engine{nullptr};
  fs::create_directories(simulators_dir, ec);
  auto systems = DepartmentSystems::start(options.seed, simulators_dir.string(), [&running_engine, start] {
    Engine* e = running_engine.load();
    return e ? e->clock().now_ms() : start;
  });
  if (!systems.ok()) {
    fmt::print(stderr, "banshi demo: {}\n", systems.error().message);
    return 1;
  }
  for (auto& o : (*systems)->serve_overrides()) serve_options.overrides.push_back(std::move(o));

  spdlog::set_level(spdlog::level::warn);  // the demo narrates; the server's own log would repeat it
  LiveDemo demo(options, date_file, (*systems)->simulator(), (*systems)->url());
  demo.set_now(start);
  serve::ServeHooks hooks;
  hooks.on_start = [&](Engine& engine) {
    running_engine = &engine;
    return demo.start(engine);
  };
  hooks.on_listening = [&](Engine&, const std::string& url) { demo.listening(url); };
  hooks.on_tick = [&](Engine& engine) { demo.tick(engine); };
  hooks.tick = std::chrono::milliseconds(500);
  hooks.on_stop = [&](Engine& engine) { demo.stop(engine); };
  const int code = serve::run_serve(serve_options, hooks);
  running_engine = nullptr;  // serve has stopped the connectors and the engine; the systems go last
  (*systems)->stop();
  return code;
}

}  // namespace banshi::demo
