#include "api/password.h"

#include <charconv>
#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace banshi::api {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr uint32_t kMaxIterations = 10'000'000;

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

bool unhex(std::string_view text, std::vector<unsigned char>& out) {
  if (text.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    auto r = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (r.ec != std::errc() || r.ptr != text.data() + i + 2) return false;
    out.push_back(static_cast<unsigned char>(value));
  }
  return true;
}

void random_bytes(unsigned char* data, size_t n) {
  if (RAND_bytes(data, static_cast<int>(n)) != 1) throw std::runtime_error("the random source failed");
}

std::vector<unsigned char> derive(std::string_view password, const std::vector<unsigned char>& salt,
                                  uint32_t iterations) {
  std::vector<unsigned char> key(kKeyBytes);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(key.size()), key.data()) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return key;
}

}  // namespace

std::string hash_password(std::string_view password, uint32_t iterations) {
  if (iterations == 0 || iterations > kMaxIterations) throw std::invalid_argument("iterations out of range");
  std::vector<unsigned char> salt(kSaltBytes);
  random_bytes(salt.data(), salt.size());
  std::vector<unsigned char> key = derive(password, salt, iterations);
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + hex(salt.data(), salt.size()) + "$" +
         hex(key.data(), key.size());
}

bool verify_password(std::string_view password, std::string_view stored) {
  // scheme$iterations$salt$key
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    size_t dollar = stored.find('$');
    if (dollar == std::string_view::npos) return false;
    parts[i] = stored.substr(0, dollar);
    stored.remove_prefix(dollar + 1);
  }
  parts[3] = stored;
  if (parts[0] != kScheme) return false;
  uint32_t iterations = 0;
  auto r = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (r.ec != std::errc() || r.ptr != parts[1].data() + parts[1].size()) return false;
  if (iterations == 0 || iterations > kMaxIterations) return false;
  std::vector<unsigned char> salt, expected;
  if (!unhex(parts[2], salt) || !unhex(parts[3], expected) || salt.empty() || expected.size() != kKeyBytes) {
    return false;
  }
  std::vector<unsigned char> key = derive(password, salt, iterations);
  return CRYPTO_memcmp(key.data(), expected.data(), kKeyBytes) == 0;
}

std::string random_token() {
  unsigned char bytes[32];
  random_bytes(bytes, sizeof bytes);
  return hex(bytes, sizeof bytes);
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return hex(digest, sizeof digest);
}

std::string generate_password() {
  // No 0/O, 1/l/I: the password is read off a terminal and typed.
  static constexpr std::string_view kAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  while (out.size() < 20) {
    unsigned char b = 0;
    random_bytes(&b, 1);
    // Rejection sampling keeps every character equally likely.
    if (b >= 256 - (256 % kAlphabet.size())) continue;
    out.push_back(kAlphabet[b % kAlphabet.size()]);
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace banshi::api
