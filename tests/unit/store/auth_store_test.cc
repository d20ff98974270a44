// The users, sessions, tokens, failed logins and audit trail of the SQLite store.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "test_util.h"

namespace banshi::store {
namespace {

std::unique_ptr<sqlite::SqliteStore> memory_store() {
  sqlite::SqliteOptions o;
  o.path = ":memory:";
  auto s = testing::open_store(o);
  if (s) {
    EXPECT_TRUE(s->migrate().ok());
  }
  return s;
}

UserRecord sample_user(const std::string& name) {
  UserRecord u;
  u.name = name;
  u.password_hash = "pbkdf2-sha256$1000$00$11";
  u.roles = {"staff", "designer"};
  u.department = "dpf";
  u.regions = {"220102"};
  u.created_at = 10;
  u.password_changed_at = 10;
  return u;
}

TEST(AuthStore, UsersAreAddedReadUpdatedAndUnique) {
  auto s = memory_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_user(sample_user("wang")).ok());
  auto dup = s->add_user(sample_user("wang"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "duplicate");
  auto got = s->user("wang");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->roles, (std::vector<std::string>{"staff", "designer"}));
  EXPECT_EQ((*got)->regions, (std::vector<std::string>{"220102"}));
  EXPECT_EQ((*got)->department, "dpf");
  UserRecord changed = **got;
  changed.disabled = true;
  changed.roles = {"monitor"};
  ASSERT_TRUE(s->update_user(changed).ok());
  EXPECT_TRUE((*s->user("wang"))->disabled);
  EXPECT_EQ((*s->user("wang"))->roles, std::vector<std::string>{"monitor"});
  auto missing = s->update_user(sample_user("nobody"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "not-found");
  EXPECT_FALSE(s->user("nobody")->has_value());
  ASSERT_TRUE(s->add_user(sample_user("li")).ok());
  auto all = s->users();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "li");
}

TEST(AuthStore, SessionsLiveUntilDeleted) {
  auto s = memory_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_user(sample_user("wang")).ok());
  ASSERT_TRUE(s->add_session(SessionRecord{"h1", "wang", "csrf", "127.0.0.1", 100, 100}).ok());
  ASSERT_TRUE(s->add_session(SessionRecord{"h2", "wang", "csrf2", "127.0.0.1", 100, 100}).ok());
  ASSERT_TRUE(s->touch_session("h1", 250).ok());
  auto got = s->session("h1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->last_seen_at, 250);
  EXPECT_EQ((*got)->csrf_token, "csrf");
  ASSERT_TRUE(s->delete_session("h1").ok());
  EXPECT_FALSE(s->session("h1")->has_value());
  EXPECT_EQ(s->delete_sessions_of("wang").value(), 1);
  EXPECT_FALSE(s->session("h2")->has_value());
}

TEST(AuthStore, TokensAndLoginFailures) {
  auto s = memory_store();
  ASSERT_TRUE(s);
  ApiTokenRecord t;
  t.name = "civil-affairs";
  t.token_hash = "abc";
  t.topics = {"civil-affairs.verify"};
  t.created_by = "admin";
  auto id = s->add_api_token(t);
  ASSERT_TRUE(id.ok());
  EXPECT_GT(*id, 0);
  EXPECT_EQ(s->add_api_token(t).error().code, "duplicate");
  auto got = s->api_token("abc");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->topics, std::vector<std::string>{"civil-affairs.verify"});
  EXPECT_FALSE(s->api_token("other")->has_value());

  for (int64_t at : {100, 200, 300}) ASSERT_TRUE(s->add_login_failure("ghost", at).ok());
  EXPECT_EQ(s->login_failures("ghost", 150).value(), (std::vector<int64_t>{200, 300}));
  ASSERT_TRUE(s->clear_login_failures("ghost").ok());
  EXPECT_TRUE(s->login_failures("ghost", 0)->empty());
}

TEST(AuthStore, AuditIsNewestFirstAndFiltered) {
  auto s = memory_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append_audit(AuditRecord{0, 10, "wang", "login", "", "127.0.0.1", ""}).ok());
  ASSERT_TRUE(s->append_audit(AuditRecord{0, 20, "wang", "claim", "task 1", "127.0.0.1", ""}).ok());
  ASSERT_TRUE(s->append_audit(AuditRecord{0, 30, "li", "login-failed", "", "10.0.0.2", ""}).ok());
  AuditQuery q;
  auto all = s->audit(q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].action, "login-failed");
  q.actor = "wang";
  EXPECT_EQ(s->audit(q)->size(), 2u);
  q.action = "claim";
  EXPECT_EQ(s->audit(q)->size(), 1u);
  q = AuditQuery{};
  q.since = 25;
  EXPECT_EQ(s->audit(q)->size(), 1u);
}

TEST(AuthStore, AuditRowsCannotBeChanged) {
  testing::TempDir dir;
  sqlite::SqliteOptions o;
  o.path = dir.file("audit.db");
  auto s = testing::open_store(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->migrate().ok());
  ASSERT_TRUE(s->append_audit(AuditRecord{0, 10, "wang", "login", "", "", ""}).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor = 'x'", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace
}  // namespace banshi::store
