// api/rate_limit.h — a token bucket per client, for 429 Too Many Requests.
//
// Each client key (its credential, else its address) has a bucket holding at
// most `burst` tokens, refilled at `per_second`; a request takes one token or
// is refused. Buckets that have filled up again are forgotten when the table
// grows past `max_clients`, so memory stays bounded. per_second <= 0: every
// request is allowed.
// Threads: allow() may run on many threads at once (one mutex).
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace banshi::api {

class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, size_t max_clients = 100'000)
      : per_ms_(per_second / 1000.0), burst_(std::max(burst, 1.0)), max_clients_(max_clients) {}

  bool enabled() const { return per_ms_ > 0; }

  // Takes a token for `key` at `now_ms`; false when its bucket is empty.
  // `retry_after_ms` tells how long until the next token.
  bool allow(const std::string& key, int64_t now_ms, int64_t* retry_after_ms = nullptr) {
    if (!enabled()) return true;
    std::lock_guard lock(mu_);
    if (buckets_.size() >= max_clients_) forget_full(now_ms);
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now_ms});
    Bucket& b = it->second;
    if (!fresh) refill(b, now_ms);
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return true;
    }
    if (retry_after_ms) *retry_after_ms = static_cast<int64_t>((1.0 - b.tokens) / per_ms_) + 1;
    return false;
  }

  size_t clients() {
    std::lock_guard lock(mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at = 0;
  };
  void refill(Bucket& b, int64_t now_ms) const {
    if (now_ms > b.at) b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.at) * per_ms_);
    b.at = std::max(b.at, now_ms);
  }
  void forget_full(int64_t now_ms) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now_ms);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }

  double per_ms_;
  double burst_;
  size_t max_clients_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace banshi::api
