// The front door's documents on both stores.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/frontdoor_store.h"
#include "test_util.h"

namespace banshi::store {
namespace {

class FrontDoorStoreTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
    front_ = dynamic_cast<FrontDoorStore*>(store_.get());
    ASSERT_NE(front_, nullptr);
  }

  static DocumentRecord document(const std::string& key, int n) {
    DocumentRecord d;
    d.business_key = key;
    d.material = "photos";
    d.media_type = "image/png";
    d.size = 100 + n;
    d.stored_name = "file-" + std::to_string(n) + ".png";
    d.sha256 = std::string(64, 'a');
    d.uploaded_by = "window";
    d.uploaded_at = 1000 + n;
    return d;
  }

  testing::TestDatabase db_{GetParam()};
  std::unique_ptr<Store> store_;
  FrontDoorStore* front_ = nullptr;
};
BANSHI_BOTH_STORES(FrontDoorStoreTest);

// Uploads to one case at once (from several threads or nodes): the case
// holds no more documents than its limit, and every refusal says so.
TEST_P(FrontDoorStoreTest, ACaseHoldsNoMoreDocumentsThanItsLimitWhenUploadsRace) {
  constexpr int kLimit = 3;
  constexpr int kUploads = 8;
  std::atomic<int> ready{0};
  std::vector<Result<int64_t>> results(kUploads, Error{"unset", ""});
  std::vector<std::thread> threads;
  for (int i = 0; i < kUploads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kUploads) std::this_thread::yield();
      results[static_cast<size_t>(i)] = front_->add_document(document("K-1", i), kLimit);
    });
  }
  for (auto& t : threads) t.join();
  int added = 0;
  for (const auto& r : results) {
    if (r.ok()) {
      ++added;
    } else {
      EXPECT_EQ(r.error().code, "limit-reached") << r.error().message;
    }
  }
  EXPECT_EQ(added, kLimit);
  auto held = front_->documents("K-1");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->size(), static_cast<size_t>(kLimit));
  // Another case has a limit of its own.
  EXPECT_TRUE(front_->add_document(document("K-2", 0), kLimit).ok());
  auto refused = front_->add_document(document("K-1", 99), kLimit);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "limit-reached");
}

// Code requests for one phone at once (on several threads or nodes): one
// code is stored, the others are refused as too soon; the hourly cap and the
// minimum interval hold, and a removed code counts towards neither.
// Checks of different people for one phone at once (from several threads or
// nodes): no more are recorded than the day allows, and the count is the
// store's, so every node sees it.
TEST_P(FrontDoorStoreTest, APhoneChecksNoMorePeopleADayThanAllowedWhenRequestsRace) {
  constexpr int kRequests = 8;
  constexpr int kPerDay = 3;
  std::atomic<int> ready{0};
  std::vector<Result<IdentityCheckAdmission>> results(kRequests, Error{"unset", ""});
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kRequests) std::this_thread::yield();
      results[static_cast<size_t>(i)] =
          front_->admit_identity_check("phone-1", "person-" + std::to_string(i), "2026-12-02", kPerDay);
    });
  }
  for (auto& t : threads) t.join();
  int recorded = 0;
  std::vector<std::string> admitted;
  for (int i = 0; i < kRequests; ++i) {
    const auto& r = results[static_cast<size_t>(i)];
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (*r == IdentityCheckAdmission::kRecorded) {
      ++recorded;
      admitted.push_back("person-" + std::to_string(i));
    } else {
      EXPECT_EQ(*r, IdentityCheckAdmission::kDayFull);
    }
  }
  EXPECT_EQ(recorded, kPerDay);
  // A person checked already today is no new check, even with the day full.
  EXPECT_EQ(*front_->admit_identity_check("phone-1", admitted[0], "2026-12-02", kPerDay),
            IdentityCheckAdmission::kAlreadyToday);
  EXPECT_EQ(*front_->admit_identity_check("phone-1", "person-new", "2026-12-02", kPerDay),
            IdentityCheckAdmission::kDayFull);
  // Another phone has its own count.
  EXPECT_EQ(*front_->admit_identity_check("phone-2", "person-new", "2026-12-02", kPerDay),
            IdentityCheckAdmission::kRecorded);
  // A check taken back frees its place.
  ASSERT_TRUE(front_->forget_identity_check("phone-1", admitted[1], "2026-12-02").ok());
  EXPECT_EQ(*front_->admit_identity_check("phone-1", "person-new", "2026-12-02", kPerDay),
            IdentityCheckAdmission::kRecorded);
  EXPECT_EQ(*front_->admit_identity_check("phone-1", "person-newer", "2026-12-02", kPerDay),
            IdentityCheckAdmission::kDayFull);
  // The next day counts afresh; a store opened again (another node) sees the same count.
  EXPECT_EQ(*front_->admit_identity_check("phone-1", "person-newer", "2026-12-03", kPerDay),
            IdentityCheckAdmission::kRecorded);
  auto again = db_.open();
  ASSERT_NE(again, nullptr);
  auto* other_node = dynamic_cast<FrontDoorStore*>(again.get());
  ASSERT_NE(other_node, nullptr);
  EXPECT_EQ(*other_node->admit_identity_check("phone-1", "person-newer", "2026-12-03", kPerDay),
            IdentityCheckAdmission::kAlreadyToday);
  EXPECT_EQ(*other_node->admit_identity_check("phone-1", admitted[0], "2026-12-03", kPerDay),
            IdentityCheckAdmission::kRecorded);
}

TEST_P(FrontDoorStoreTest, OneCodeIsStoredWhenRequestsForAPhoneRace) {
  constexpr int64_t kMinute = 60'000;
  auto code = [](int64_t at) {
    OneTimeCodeRecord c;
    c.phone_hash = "phone-1";
    c.code_hash = "salt$hash";
    c.created_at = at;
    c.expires_at = at + 5 * kMinute;
    return c;
  };
  constexpr int kRequests = 8;
  std::atomic<int> ready{0};
  std::vector<Result<CodeAdmission>> results(kRequests, Error{"unset", ""});
  std::vector<std::thread> threads;
  const int64_t t0 = 1'000'000'000;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kRequests) std::this_thread::yield();
      results[static_cast<size_t>(i)] = front_->add_code(code(t0), kMinute, 5, 10);
    });
  }
  for (auto& t : threads) t.join();
  int stored = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (r->id > 0) {
      ++stored;
    } else {
      EXPECT_EQ(r->last_sent_at, t0);
      EXPECT_FALSE(r->hour_full);
    }
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(front_->codes("phone-1", 0)->size(), 1u);

  // A minute apart, five an hour; a code removed (not sent) does not count.
  auto later = front_->add_code(code(t0 + kMinute), kMinute, 5, 10);
  ASSERT_TRUE(later.ok() && later->id > 0);
  ASSERT_TRUE(front_->remove_code(later->id).ok());
  for (int i = 1; i <= 4; ++i) {
    auto r = front_->add_code(code(t0 + i * kMinute), kMinute, 5, 10);
    ASSERT_TRUE(r.ok() && r->id > 0) << i;
  }
  auto full = front_->add_code(code(t0 + 5 * kMinute), kMinute, 5, 10);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->id, 0);
  EXPECT_TRUE(full->hour_full);
  // Another phone has limits of its own.
  OneTimeCodeRecord other = code(t0 + 5 * kMinute);
  other.phone_hash = "phone-2";
  EXPECT_GT(front_->add_code(other, kMinute, 5, 10)->id, 0);
  // An hour after the first, the first no longer counts.
  EXPECT_GT(front_->add_code(code(t0 + 60 * kMinute + 1), kMinute, 5, 10)->id, 0);

  // A day allows `per_day`, whatever the hours allow; the oldest of the day
  // stops counting 24 hours after it was sent.
  auto day_code = [&](int64_t at) {
    OneTimeCodeRecord c = code(at);
    c.phone_hash = "phone-3";
    return front_->add_code(c, kMinute, 5, 3);
  };
  const int64_t hour = 60 * kMinute;
  for (int i = 0; i < 3; ++i) ASSERT_GT(day_code(t0 + i * hour)->id, 0) << i;
  auto day_full = day_code(t0 + 3 * hour);
  ASSERT_TRUE(day_full.ok());
  EXPECT_EQ(day_full->id, 0);
  EXPECT_TRUE(day_full->day_full);
  EXPECT_FALSE(day_full->hour_full);
  EXPECT_EQ(day_full->day_opens_at, t0 + 24 * hour + 1);
  EXPECT_EQ(day_code(t0 + 24 * hour)->id, 0);
  EXPECT_GT(day_code(t0 + 24 * hour + 1)->id, 0);
}

}  // namespace
}  // namespace banshi::store
