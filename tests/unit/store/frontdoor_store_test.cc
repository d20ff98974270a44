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
