// `banshi init` and `banshi user ...`: the first admin and the user accounts,
// on the database `banshi serve` uses.
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "api/password.h"
#include "api/roles.h"
#include "serve/serve.h"
#include "store/auth_store.h"
#include "store/store.h"

namespace banshi::serve {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A store opened for these commands: both stores keep the users.
struct UserStore {
  std::unique_ptr<store::Store> owner;
  store::AuthStore* operator->() const { return dynamic_cast<store::AuthStore*>(owner.get()); }
  explicit operator bool() const { return owner != nullptr; }
};

// Opens and migrates the configured database (the SQLite file, or the
// PostgreSQL database of store.url); prints why not and sets `exit_code`.
UserStore open_store(const ServeOptions& options, const char* command, int& exit_code) {
  auto config = load_config(options);
  if (!config.ok()) {
    fmt::print(stderr, "banshi {}: {}\n", command, config.error().message);
    exit_code = kExitUsage;
    return {};
  }
  std::string location = config->store_url;
  if (location.empty()) {
    location = config->store_path;
    std::error_code ec;
    std::filesystem::path db(config->store_path);
    if (db.has_parent_path()) std::filesystem::create_directories(db.parent_path(), ec);
  }
  store::OpenOptions store_options;
  store_options.schema = config->store_schema;
  store_options.connections = 2;
  auto store = store::open_store(location, store_options);
  if (!store.ok()) {
    fmt::print(stderr, "banshi {}: {}\n", command, store.error().message);
    exit_code = kExitFailed;
    return {};
  }
  if (auto m = (*store)->migrate(); !m.ok()) {
    fmt::print(stderr, "banshi {}: {}\n", command, m.error().message);
    exit_code = kExitFailed;
    return {};
  }
  return UserStore{std::move(store).value()};
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

int run_init(const ServeOptions& options, const std::string& admin_name) {
  if (!valid_name(admin_name)) {
    fmt::print(stderr, "banshi init: the admin name must be 1 to 64 letters, digits, '.', '_' or '-'\n");
    return kExitUsage;
  }
  int code = kExitOk;
  auto store = open_store(options, "init", code);
  if (!store) return code;
  auto users = store->users();
  if (!users.ok()) {
    fmt::print(stderr, "banshi init: {}\n", users.error().message);
    return kExitFailed;
  }
  if (!users->empty()) {
    fmt::print(stderr, "banshi init: the database already has users; use `banshi user` to manage them\n");
    return kExitFailed;
  }
  std::string password = api::generate_password();
  store::UserRecord admin;
  admin.name = admin_name;
  admin.password_hash = api::hash_password(password);
  admin.roles = {"admin"};
  admin.created_at = admin.password_changed_at = now_ms();
  if (auto r = store->add_user(admin); !r.ok()) {
    fmt::print(stderr, "banshi init: {}\n", r.error().message);
    return kExitFailed;
  }
  fmt::print("created the database and the admin user '{}'\npassword: {}\n"
             "This password is shown only once; change it after the first login.\n",
             admin_name, password);
  return kExitOk;
}

int run_user_add(const ServeOptions& options, const UserOptions& u) {
  if (!valid_name(u.name)) {
    fmt::print(stderr, "banshi user add: the name must be 1 to 64 letters, digits, '.', '_' or '-'\n");
    return kExitUsage;
  }
  for (const std::string& role : u.roles) {
    if (!api::known_role(role)) {
      fmt::print(stderr, "banshi user add: unknown role '{}' (staff, supervisor, monitor, designer, admin)\n", role);
      return kExitUsage;
    }
  }
  if (!u.department.empty() && !api::valid_department(u.department)) {
    fmt::print(stderr, "banshi user add: a department is 1 to 32 characters of a-z, 0-9 and inner hyphens, such as civil-affairs\n");
    return kExitUsage;
  }
  for (const std::string& region : u.regions) {
    if (!api::valid_region(region)) {
      fmt::print(stderr, "banshi user add: '{}' is not a 6-digit region code\n", region);
      return kExitUsage;
    }
  }
  for (const std::string& role : u.roles) {
    if ((role == "staff" || role == "supervisor") && (u.department.empty() || u.regions.empty())) {
      fmt::print(stderr, "banshi user add: the {} role needs --department and --region\n", role);
      return kExitUsage;
    }
  }
  int code = kExitOk;
  auto store = open_store(options, "user add", code);
  if (!store) return code;
  std::string password = api::generate_password();
  store::UserRecord user;
  user.name = u.name;
  user.password_hash = api::hash_password(password);
  user.roles = u.roles;
  user.department = u.department;
  user.regions = u.regions;
  user.created_at = user.password_changed_at = now_ms();
  if (auto r = store->add_user(user); !r.ok()) {
    fmt::print(stderr, "banshi user add: {}\n", r.error().message);
    return kExitFailed;
  }
  fmt::print("created user '{}'\npassword: {}\n", u.name, password);
  return kExitOk;
}

int run_user_passwd(const ServeOptions& options, const std::string& name) {
  int code = kExitOk;
  auto store = open_store(options, "user passwd", code);
  if (!store) return code;
  auto user = store->user(name);
  if (!user.ok() || !*user) {
    fmt::print(stderr, "banshi user passwd: {}\n", user.ok() ? "there is no user " + name : user.error().message);
    return kExitFailed;
  }
  std::string password = api::generate_password();
  store::UserRecord updated = **user;
  updated.password_hash = api::hash_password(password);
  updated.password_changed_at = now_ms();
  if (auto r = store->update_user(updated); !r.ok()) {
    fmt::print(stderr, "banshi user passwd: {}\n", r.error().message);
    return kExitFailed;
  }
  (void)store->delete_sessions_of(name);
  (void)store->clear_login_failures(name);
  fmt::print("new password for '{}': {}\n", name, password);
  return kExitOk;
}

int run_user_list(const ServeOptions& options) {
  int code = kExitOk;
  auto store = open_store(options, "user list", code);
  if (!store) return code;
  auto users = store->users();
  if (!users.ok()) {
    fmt::print(stderr, "banshi user list: {}\n", users.error().message);
    return kExitFailed;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out.empty() ? std::string("-") : out;
  };
  fmt::print("{:<20} {:<28} {:<12} {:<24} {}\n", "name", "roles", "department", "regions", "state");
  for (const auto& u : *users) {
    fmt::print("{:<20} {:<28} {:<12} {:<24} {}\n", u.name, join(u.roles), u.department.empty() ? "-" : u.department,
               join(u.regions), u.disabled ? "disabled" : "active");
  }
  return kExitOk;
}

}  // namespace banshi::serve
