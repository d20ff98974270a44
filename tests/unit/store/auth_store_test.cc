// The users, sessions, tokens, failed logins and audit trail of both stores.
#include <gtest/gtest.h>

#include "store/audit_chain.h"
#include "store/sqlite/sqlite_store.h"
#include "test_util.h"

namespace banshi::store {
namespace {

// The AuthStore contract, run on both stores.
class AuthStoreTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
    auth_ = dynamic_cast<AuthStore*>(store_.get());
    ASSERT_NE(auth_, nullptr);
  }
  AuthStore* store() { return auth_; }

  testing::TestDatabase db_{GetParam()};
  std::unique_ptr<Store> store_;
  AuthStore* auth_ = nullptr;
};
BANSHI_BOTH_STORES(AuthStoreTest);

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

TEST_P(AuthStoreTest, UsersAreAddedReadUpdatedAndUnique) {
  AuthStore* s = store();
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

TEST_P(AuthStoreTest, SessionsLiveUntilDeleted) {
  AuthStore* s = store();
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

TEST_P(AuthStoreTest, TokensAndLoginFailures) {
  AuthStore* s = store();
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

TEST_P(AuthStoreTest, AuditIsNewestFirstAndFiltered) {
  AuthStore* s = store();
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

TEST_P(AuthStoreTest, AuditRowsCannotBeChanged) {
  AuthStore* s = store();
  ASSERT_TRUE(s->append_audit(AuditRecord{0, 10, "wang", "login", "", "", ""}).ok());
  // Not even a connection of its own, outside the store, may change them.
  EXPECT_FALSE(db_.exec("DELETE FROM audit"));
  EXPECT_FALSE(db_.exec("UPDATE audit SET actor = 'x'"));
  AuditQuery all;
  ASSERT_EQ(s->audit(all)->size(), 1u);
  EXPECT_EQ(s->audit(all)->front().actor, "wang");
}

TEST_P(AuthStoreTest, AuditedChangesCommitWithTheirRowsOrNotAtAll) {
  AuthStore* s = store();
  auto rows = [](const std::string& action) { return std::vector<AuditRecord>{AuditRecord{0, 10, "root", action, "", "", ""}}; };
  auto actions = [&] {
    std::vector<std::string> out;
    auto all = s->audit(AuditQuery{});
    for (const AuditRecord& r : all.value()) out.push_back(r.action);
    return out;
  };
  // Two writes and their row, together.
  ASSERT_TRUE(s->audited(
                   [&]() -> Result<void> {
                     if (auto r = s->add_user(sample_user("wang")); !r.ok()) return r;
                     return s->add_session(SessionRecord{"h1", "wang", "c1", "", 10, 10});
                   },
                   rows("user-add"))
                  .ok());
  EXPECT_TRUE(s->user("wang")->has_value());
  EXPECT_TRUE(s->session("h1")->has_value());
  EXPECT_EQ(actions(), std::vector<std::string>{"user-add"});

  // The second write fails: the first is undone and no row is written.
  auto dup = s->audited(
      [&]() -> Result<void> {
        if (auto r = s->add_user(sample_user("li")); !r.ok()) return r;
        return s->add_user(sample_user("wang"));
      },
      rows("user-add-twice"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "duplicate");
  EXPECT_FALSE(s->user("li")->has_value());
  EXPECT_EQ(actions(), std::vector<std::string>{"user-add"});

  // The change gives up after writing: nothing of it stays.
  auto gave_up = s->audited(
      [&]() -> Result<void> {
        if (auto r = s->delete_sessions_of("wang"); !r.ok()) return r.error();
        return Error{"store", "the disk is full"};
      },
      rows("password-change"));
  ASSERT_FALSE(gave_up.ok());
  EXPECT_TRUE(s->session("h1")->has_value());
  EXPECT_EQ(actions(), std::vector<std::string>{"user-add"});

  // The row cannot be written: the change is undone with it.
  const bool sqlite = db_.backend() == testing::Backend::kSqlite;
  std::string error;
  ASSERT_TRUE(db_.exec(sqlite ? "CREATE TRIGGER refuse_row BEFORE INSERT ON audit WHEN NEW.action = 'refused' "
                                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                              : "CREATE FUNCTION " + db_.schema() + ".refuse_row() RETURNS trigger AS $$ BEGIN "
                                "IF NEW.action = 'refused' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END "
                                "$$ LANGUAGE plpgsql; CREATE TRIGGER refuse_row BEFORE INSERT ON " + db_.schema() +
                                ".audit FOR EACH ROW EXECUTE FUNCTION " + db_.schema() + ".refuse_row()",
                       &error))
      << error;
  auto refused = s->audited([&] { return s->delete_session("h1"); }, rows("refused"));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(s->session("h1")->has_value());
  EXPECT_EQ(actions(), std::vector<std::string>{"user-add"});

  // The joined transaction ended: the store's own calls commit on their own again.
  ASSERT_TRUE(s->delete_session("h1").ok());
  EXPECT_FALSE(s->session("h1")->has_value());
  auto chain = s->audit_chain(0, 10);
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 1u);
  EXPECT_EQ(chain->front().hash, audit_row_hash(chain->front(), chain->front().prev_hash));
}

}  // namespace
}  // namespace banshi::store
