// tasks() against a brute-force filter over a few hundred tasks.
#include <algorithm>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "test_util.h"

namespace banshi::store {
namespace {

using testing::deploy_one;
using testing::new_instance;

constexpr int kTasks = 300;

const std::vector<std::string> kGroups = {"clerks", "managers", "auditors", "archive", "legal"};
const std::vector<std::string> kUsers = {"ana", "ben", "chen", "dana"};
const std::vector<std::string> kRegions = {"220102", "220103", "2202", "110101", "11", ""};

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool matches(const TaskRecord& t, const TaskQuery& q) {
  if (!q.assignee.empty() && t.assignee != q.assignee) return false;
  if (q.unassigned_only && !t.assignee.empty()) return false;
  bool group = std::any_of(q.candidate_groups.begin(), q.candidate_groups.end(),
                           [&](const std::string& g) { return contains(t.candidate_groups, g); });
  bool user = !q.candidate_user.empty() && contains(t.candidate_users, q.candidate_user);
  if (!q.candidate_groups.empty() && !q.candidate_user.empty()) {
    if (!group && !user) return false;
  } else if (!q.candidate_groups.empty()) {
    if (!group) return false;
  } else if (!q.candidate_user.empty()) {
    if (!user) return false;
  }
  if (!q.regions.empty() && std::none_of(q.regions.begin(), q.regions.end(), [&](const std::string& r) {
        return t.region.compare(0, r.size(), r) == 0;
      })) {
    return false;
  }
  if (!q.process_id.empty() && t.process_id != q.process_id) return false;
  if (q.due_before != 0 && !(t.due_at > 0 && t.due_at < q.due_before)) return false;
  if (q.sla_state >= 0 && t.sla_state != q.sla_state) return false;
  return true;
}

std::vector<int64_t> expected_ids(std::vector<TaskRecord> all, const TaskQuery& q) {
  std::erase_if(all, [&](const TaskRecord& t) { return !matches(t, q); });
  auto less = [&](const TaskRecord& a, const TaskRecord& b) {
    switch (q.sort) {
      case TaskQuery::Sort::kCreated:
        if (a.created_at != b.created_at) return q.descending ? a.created_at > b.created_at : a.created_at < b.created_at;
        return q.descending ? a.id > b.id : a.id < b.id;
      case TaskQuery::Sort::kDue:
        if ((a.due_at == 0) != (b.due_at == 0)) return b.due_at == 0;
        if (a.due_at != b.due_at) return q.descending ? a.due_at > b.due_at : a.due_at < b.due_at;
        return q.descending ? a.id > b.id : a.id < b.id;
      case TaskQuery::Sort::kPriority:
        if (a.priority != b.priority) return q.descending ? a.priority > b.priority : a.priority < b.priority;
        if (a.created_at != b.created_at) return a.created_at < b.created_at;
        return a.id < b.id;
    }
    return false;
  };
  std::sort(all.begin(), all.end(), less);
  std::vector<int64_t> ids;
  size_t limit = std::min<size_t>(q.limit, 1000);
  for (size_t i = q.offset; i < all.size() && ids.size() < limit; ++i) ids.push_back(all[i].id);
  return ids;
}

// Every open task, page by page.
void read_all(Store& store, std::vector<TaskRecord>& all) {
  TaskQuery everything;
  everything.limit = 1000;
  for (;;) {
    auto page = store.tasks(everything);
    ASSERT_TRUE(page.ok());
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < everything.limit) break;
    everything.offset += everything.limit;
  }
}

class TaskQueryTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
    int64_t p = deploy_one(*store_, "p");
    int64_t q = deploy_one(*store_, "q");
    std::mt19937 random(1234);
    auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
    WriteBatch b;
    for (int i = 0; i < kTasks; ++i) {
      InstanceId id = i + 1;
      bool second = i % 3 == 0;
      b.instances.push_back(new_instance(id, second ? q : p, second ? "q" : "p"));
      TaskRecord t;
      t.instance_id = id;
      t.key = 1;
      t.process_id = second ? "q" : "p";
      t.element_id = "task";
      t.name = "Task " + std::to_string(i);
      for (int g = static_cast<int>(random() % 3); g > 0; --g) t.candidate_groups.push_back(pick(kGroups));
      if (random() % 3 == 0) t.candidate_users.push_back(pick(kUsers));
      if (random() % 4 == 0) t.assignee = pick(kUsers);
      t.region = pick(kRegions);
      t.priority = static_cast<int32_t>(random() % 5) * 25;
      t.created_at = 1000 + static_cast<int64_t>(random() % 100);  // many ties: the id decides
      t.due_at = random() % 4 == 0 ? 0 : 5000 + static_cast<int64_t>(random() % 1000);
      t.sla_state = static_cast<uint8_t>(random() % 4);
      t.payload = "{}";
      b.tasks_added.push_back(t);
    }
    ASSERT_TRUE(store_->write(b).ok());
    ASSERT_NO_FATAL_FAILURE(read_all(*store_, all_));
    ASSERT_EQ(all_.size(), static_cast<size_t>(kTasks));
  }

  // Returns how many tasks the query found.
  size_t check(const TaskQuery& q, const std::string& what) {
    auto found = store_->tasks(q);
    EXPECT_TRUE(found.ok()) << what << ": " << found.error().message;
    if (!found.ok()) return 0;
    std::vector<int64_t> ids;
    for (const auto& t : *found) ids.push_back(t.id);
    EXPECT_EQ(ids, expected_ids(all_, q)) << what;
    return ids.size();
  }

  testing::TestDatabase db_{GetParam()};
  std::unique_ptr<Store> store_;
  std::vector<TaskRecord> all_;
};
BANSHI_BOTH_STORES(TaskQueryTest);

TEST_P(TaskQueryTest, EachFilterAlone) {
  TaskQuery q;
  q.limit = 1000;
  check(q, "no filter");
  for (const auto& user : kUsers) {
    TaskQuery a = q;
    a.assignee = user;
    check(a, "assignee " + user);
    TaskQuery c = q;
    c.candidate_user = user;
    check(c, "candidate user " + user);
  }
  TaskQuery groups = q;
  groups.candidate_groups = {"clerks"};
  check(groups, "one group");
  groups.candidate_groups = {"legal", "auditors"};
  check(groups, "any of two groups");
  groups.candidate_groups = {"nobody"};
  check(groups, "unknown group");
  TaskQuery regions = q;
  regions.regions = {"2201"};
  check(regions, "region 2201");
  regions.regions = {"22", "110101"};
  check(regions, "regions 22 and 110101");
  regions.regions = {"220102"};
  check(regions, "exact region");
  TaskQuery process = q;
  process.process_id = "q";
  check(process, "process q");
  TaskQuery due = q;
  due.due_before = 5500;
  check(due, "due before");
  for (int sla = 0; sla < 4; ++sla) {
    TaskQuery s = q;
    s.sla_state = sla;
    check(s, "sla " + std::to_string(sla));
  }
  TaskQuery unassigned = q;
  unassigned.unassigned_only = true;
  check(unassigned, "unassigned");
}

TEST_P(TaskQueryTest, RegionPrefixMatchesLongerCodes) {
  TaskQuery q;
  q.limit = 1000;
  q.regions = {"2201"};
  auto found = store_->tasks(q);
  ASSERT_TRUE(found.ok());
  ASSERT_FALSE(found->empty());
  for (const auto& t : *found) EXPECT_TRUE(t.region == "220102" || t.region == "220103") << t.region;
}

TEST_P(TaskQueryTest, CombinationsSortsAndPages) {
  std::mt19937 random(99);
  int nonempty = 0;
  for (int round = 0; round < 200; ++round) {
    TaskQuery q;
    if (random() % 5 == 0) q.assignee = kUsers[random() % kUsers.size()];
    if (random() % 2 == 0) {
      for (int g = 1 + static_cast<int>(random() % 2); g > 0; --g) q.candidate_groups.push_back(kGroups[random() % kGroups.size()]);
    }
    if (random() % 3 == 0) q.candidate_user = kUsers[random() % kUsers.size()];
    if (random() % 3 == 0) q.regions.push_back(kRegions[random() % (kRegions.size() - 1)].substr(0, 2 + random() % 3));
    if (random() % 4 == 0) q.process_id = random() % 2 == 0 ? "p" : "q";
    if (random() % 3 == 0) q.due_before = 5000 + static_cast<int64_t>(random() % 1200);
    if (random() % 4 == 0) q.sla_state = static_cast<int>(random() % 4);
    q.unassigned_only = random() % 4 == 0;
    q.sort = static_cast<TaskQuery::Sort>(random() % 3);
    q.descending = random() % 2 == 0;
    q.offset = random() % 3 == 0 ? random() % 40 : 0;
    q.limit = 1 + random() % 60;
    if (check(q, "round " + std::to_string(round)) > 0) ++nonempty;
  }
  EXPECT_GT(nonempty, 60);  // the rounds test something
}

TEST_P(TaskQueryTest, PagesCoverEverythingOnce) {
  for (auto sort : {TaskQuery::Sort::kCreated, TaskQuery::Sort::kDue, TaskQuery::Sort::kPriority}) {
    std::vector<int64_t> seen;
    TaskQuery q;
    q.sort = sort;
    q.limit = 37;
    for (;;) {
      auto page = store_->tasks(q);
      ASSERT_TRUE(page.ok());
      for (const auto& t : *page) seen.push_back(t.id);
      if (page->size() < q.limit) break;
      q.offset += q.limit;
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
    EXPECT_EQ(seen.size(), static_cast<size_t>(kTasks));
  }
}

TEST_P(TaskQueryTest, LimitIsCappedAndDueSortPutsUndatedLast) {
  TaskQuery huge;
  huge.limit = 1000000;
  EXPECT_EQ(store_->tasks(huge)->size(), static_cast<size_t>(kTasks));
  TaskQuery due;
  due.sort = TaskQuery::Sort::kDue;
  due.descending = true;
  due.limit = 1000;
  auto found = store_->tasks(due);
  ASSERT_TRUE(found.ok());
  EXPECT_NE(found->front().due_at, 0);
  EXPECT_EQ(found->back().due_at, 0);
}

// Who may see what (TaskQuery::Visibility), against the rule written out in
// C++. The data is shaped so that both ways the SQLite store answers are
// used: one department and one region hold more than its small-set bound
// (the open tasks are walked in page order), others hold a few tasks (those
// are read through an index and sorted).
bool visible(const TaskRecord& t, const TaskQuery::Visibility& v) {
  auto in = [&](const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return t.region.compare(0, p.size(), p) == 0; });
  };
  bool group = !v.department.empty() &&
               std::any_of(t.candidate_groups.begin(), t.candidate_groups.end(), [&](const std::string& g) {
                 return g == v.department || g.rfind(v.department + "-", 0) == 0;
               });
  bool mine = !v.user.empty() && (t.assignee == v.user || contains(t.candidate_users, v.user));
  bool offered = v.groups_only ? group : group || mine;
  bool escalated = t.sla_state == TaskQuery::Visibility::kEscalatedState ||
                   t.sla_state == TaskQuery::Visibility::kBreachedState;
  bool work = offered && in(v.work_regions) && (v.see_escalated || !escalated || (!v.user.empty() && t.assignee == v.user));
  if (!v.monitor) return work;
  return work || v.monitor_regions.empty() || in(v.monitor_regions);
}

class TaskVisibilityTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  static constexpr int kMany = 1500;

  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
    int64_t p = deploy_one(*store_, "p");
    std::mt19937 random(77);
    // Weighted picks: most tasks are the civil federation's, in one district.
    const std::vector<std::string> groups = {"dpf-county", "dpf-county", "dpf-county", "dpf-city", "mca-county",
                                             "mca-county", "tax", "hrss-county"};
    const std::vector<std::string> regions = {"220102", "220102", "220102", "220102", "220103",
                                              "220103", "220402", "110101"};
    WriteBatch b;
    for (int i = 0; i < kMany; ++i) {
      InstanceId id = i + 1;
      b.instances.push_back(new_instance(id, p, "p"));
      TaskRecord t;
      t.instance_id = id;
      t.key = 1;
      t.process_id = "p";
      t.element_id = "task";
      t.name = "Task " + std::to_string(i);
      // The rare groups and regions are rarer still.
      std::string g = groups[random() % groups.size()];
      if ((g == "tax" || g == "hrss-county") && random() % 8 != 0) g = "dpf-county";
      t.candidate_groups.push_back(g);
      if (random() % 10 == 0) t.candidate_groups.push_back(groups[random() % groups.size()]);
      if (random() % 12 == 0) t.candidate_users.push_back(kUsers[random() % kUsers.size()]);
      if (random() % 6 == 0) t.assignee = kUsers[random() % kUsers.size()];
      t.region = regions[random() % regions.size()];
      if (t.region == "110101" && random() % 8 != 0) t.region = "220102";
      t.priority = static_cast<int32_t>(random() % 3) * 25;
      t.created_at = 1000 + static_cast<int64_t>(random() % 400);
      t.sla_state = static_cast<uint8_t>(random() % 4);
      t.payload = "{}";
      b.tasks_added.push_back(t);
    }
    ASSERT_TRUE(store_->write(b).ok());
    ASSERT_NO_FATAL_FAILURE(read_all(*store_, all_));
    ASSERT_EQ(all_.size(), static_cast<size_t>(kMany));
  }

  size_t count(const std::function<bool(const TaskRecord&)>& pred) const {
    return static_cast<size_t>(std::count_if(all_.begin(), all_.end(), pred));
  }

  testing::TestDatabase db_{GetParam()};
  std::unique_ptr<Store> store_;
  std::vector<TaskRecord> all_;
};
BANSHI_BOTH_STORES(TaskVisibilityTest);

// A department named in Chinese: its groups ("民政-县级") are its own on
// both stores (SQLite's substr() counts characters, not bytes).
TEST_P(TaskVisibilityTest, ADepartmentNamedInChineseSeesItsGroupsTasks) {
  int64_t p = deploy_one(*store_, "q");
  WriteBatch b;
  const InstanceId id = kMany + 1;
  b.instances.push_back(new_instance(id, p, "q"));
  TaskRecord t;
  t.instance_id = id;
  t.key = 1;
  t.process_id = "q";
  t.element_id = "task";
  t.name = "民政 task";
  t.candidate_groups = {"民政-县级"};
  t.region = "220102";
  t.created_at = 5000;
  t.payload = "{}";
  b.tasks_added.push_back(t);
  ASSERT_TRUE(store_->write(b).ok());
  TaskQuery q;
  q.visible.active = true;
  q.visible.user = "zhou";
  q.visible.department = "民政";
  q.visible.work_regions = {"2201"};
  q.limit = 100;
  for (bool groups_only : {false, true}) {
    q.visible.groups_only = groups_only;
    auto found = store_->tasks(q);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_EQ(found->size(), 1u) << "groups only: " << groups_only;
    EXPECT_EQ(found->front().name, "民政 task");
  }
  q.visible.department = "民";  // a prefix of the name is another department
  auto other = store_->tasks(q);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST_P(TaskVisibilityTest, PagesHoldExactlyWhatTheCallerMaySee) {
  auto has_group_of = [](const std::string& dept) {
    return [dept](const TaskRecord& t) {
      return std::any_of(t.candidate_groups.begin(), t.candidate_groups.end(),
                         [&](const std::string& g) { return g == dept || g.rfind(dept + "-", 0) == 0; });
    };
  };
  auto in_region = [](const std::string& p) {
    return [p](const TaskRecord& t) { return t.region.compare(0, p.size(), p) == 0; };
  };
  // The shape the test relies on: large and small sets on both sides.
  ASSERT_GT(count(has_group_of("dpf")), 600u);
  ASSERT_LT(count(has_group_of("tax")), 200u);
  ASSERT_GT(count(has_group_of("tax")), 5u);
  ASSERT_GT(count(in_region("2201")), 600u);
  ASSERT_LT(count(in_region("1101")), 200u);
  ASSERT_GT(count(in_region("1101")), 5u);

  struct Caller {
    std::string user, department;
    std::vector<std::string> work_regions;
    bool see_escalated, groups_only, monitor;
    std::vector<std::string> monitor_regions;
  };
  const std::vector<std::string> none;
  const std::vector<Caller> callers = {
      {"ana", "dpf", {""}, false, false, false, none},                // big department, whole country
      {"ana", "dpf", {"2201"}, false, false, false, none},            // big department, big region
      {"ben", "dpf", {"1101"}, false, false, false, none},            // big department, small region
      {"ben", "dpf", {"2204", "1101"}, true, false, false, none},     // two small regions, supervisor
      {"chen", "tax", {"22"}, false, false, false, none},             // small department, big region
      {"chen", "tax", {"2201"}, false, true, false, none},            // small department, groups only
      {"dana", "hrss", {""}, true, false, false, none},               // small department everywhere
      {"dana", "", {"2201"}, false, false, false, none},              // no department: offers by name only
      {"ana", "mca", {"220103"}, false, false, false, none},          // middle-sized both
      {"ben", "dpf", {"2201"}, false, false, true, {"1101"}},         // staff and monitor
      {"", "", {}, false, false, true, {"2204"}},                     // a regional monitor
      {"chen", "tax", {"2201"}, false, false, true, {"1101"}},        // small department, monitor of a small region
      {"chen", "nobody", {"2201"}, false, false, false, none},        // a department with no tasks
  };
  std::mt19937 random(5);
  for (size_t i = 0; i < callers.size(); ++i) {
    const Caller& c = callers[i];
    TaskQuery q;
    q.visible.active = true;
    q.visible.user = c.user;
    q.visible.department = c.department;
    q.visible.work_regions = c.work_regions;
    q.visible.see_escalated = c.see_escalated;
    q.visible.groups_only = c.groups_only;
    q.visible.monitor = c.monitor;
    q.visible.monitor_regions = c.monitor_regions;
    std::vector<TaskRecord> expected;
    for (const auto& t : all_) {
      if (visible(t, q.visible)) expected.push_back(t);
    }
    for (int round = 0; round < 6; ++round) {
      TaskQuery r = q;
      r.sort = static_cast<TaskQuery::Sort>(round % 3);
      r.descending = round % 2 == 1;
      if (round >= 3) r.regions = {random() % 2 == 0 ? "2201" : "1101"};
      r.offset = round == 0 ? 0 : random() % 30;
      r.limit = round == 5 ? 1000 : 1 + random() % 60;
      std::vector<int64_t> want = expected_ids(expected, r);
      auto found = store_->tasks(r);
      ASSERT_TRUE(found.ok()) << found.error().message;
      std::vector<int64_t> ids;
      for (const auto& t : *found) ids.push_back(t.id);
      EXPECT_EQ(ids, want) << "caller " << i << " round " << round;
    }
    // Walking every page yields every visible task once.
    TaskQuery all = q;
    all.limit = 97;
    size_t seen = 0;
    for (;;) {
      auto page = store_->tasks(all);
      ASSERT_TRUE(page.ok());
      for (const auto& t : *page) EXPECT_TRUE(visible(t, q.visible)) << "caller " << i << " task " << t.id;
      seen += page->size();
      if (page->size() < all.limit) break;
      all.offset += all.limit;
    }
    EXPECT_EQ(seen, expected.size()) << "caller " << i;
  }
}

}  // namespace
}  // namespace banshi::store
