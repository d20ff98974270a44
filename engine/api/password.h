// api/password.h — password hashes and random tokens (OpenSSL).
//
// Contract
// - hash_password() derives PBKDF2-HMAC-SHA256 with a fresh random 16-byte
//   salt and returns a self-describing text:
//     pbkdf2-sha256$<iterations>$<salt, hex>$<derived key, hex>
//   so the parameters travel with the hash and can be raised later without
//   invalidating stored hashes. The same password hashed twice gives two
//   different texts.
// - verify_password() recomputes with the stored parameters and compares in
//   constant time; a malformed hash verifies nothing.
// - random_token() is 32 bytes (256 bits) from RAND_bytes, hex; sha256_hex()
//   is how tokens are stored.
// - generate_password() is 20 characters from an unambiguous alphabet
//   (about 110 bits), for `banshi init` and `banshi user add`.
// Failures of the random source are exceptions (they mean the system is
// broken, not that the input was wrong).
// Threads: every function may run on many threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace banshi::api {

inline constexpr uint32_t kDefaultPasswordIterations = 310'000;

std::string hash_password(std::string_view password, uint32_t iterations = kDefaultPasswordIterations);
bool verify_password(std::string_view password, std::string_view stored_hash);

std::string random_token();
std::string sha256_hex(std::string_view text);
std::string generate_password();
// Constant-time equality of two texts (the length is not hidden).
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace banshi::api
