// expr/decimal.h — FEEL numbers: decimal floating point with 34 significant
// digits, rounded half-even (the precision and rounding of IEEE 754 Decimal128).
//
// Contract
// - A Decimal is a plain value (trivially copyable). Representation is
//   canonical: trailing zeros of the coefficient are stripped, so equal
//   numbers have equal representations and operator== is numeric equality.
// - Operations that can fail (division by zero, exponent overflow) return
//   std::nullopt; nothing throws.
// - The exponent range is that of Decimal128 (adjusted exponent within
//   [-6143, 6144]); results below it underflow to zero.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace banshi::expr {

__extension__ typedef __int128 Int128;  // GCC/Clang builtin; 10^34 < 2^113 fits
__extension__ typedef unsigned __int128 UInt128;

enum class RoundingMode : uint8_t {
  kHalfEven,  // banker's rounding (FEEL decimal(), arithmetic)
  kHalfUp,    // away from zero on a tie
  kHalfDown,  // towards zero on a tie
  kUp,        // away from zero
  kDown,      // towards zero
  kCeiling,   // towards +infinity
  kFloor,     // towards -infinity
};

class Decimal {
 public:
  static constexpr int kPrecision = 34;

  Decimal() = default;  // zero
  static Decimal from_int(int64_t value);
  // FEEL / JSON number syntax: optional sign, digits, optional fraction and
  // exponent ("1.5", "-2", ".5", "1e3", "1E+40"). Rounds to 34 digits.
  static std::optional<Decimal> parse(std::string_view text);
  // The shortest decimal that round-trips to `value`; nullopt for NaN/inf.
  static std::optional<Decimal> from_double(double value);

  // Canonical text: plain notation ("0.3", "10", "-2") unless the number is
  // very large or small, then scientific ("1E+40", "1.5E-10").
  std::string to_string() const;
  double to_double() const;
  // The value when it is an integer within int64 range.
  std::optional<int64_t> to_int64() const;

  bool is_zero() const { return coefficient_ == 0; }
  bool is_negative() const { return coefficient_ < 0; }
  bool is_integer() const { return exponent_ >= 0; }
  int sign() const { return coefficient_ < 0 ? -1 : (coefficient_ > 0 ? 1 : 0); }

  Decimal negated() const;
  Decimal abs() const { return is_negative() ? negated() : *this; }

  static std::optional<Decimal> add(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> subtract(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> multiply(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> divide(const Decimal& a, const Decimal& b);
  // a - b * floor(a / b) (FEEL modulo: the result has the sign of b).
  static std::optional<Decimal> modulo(const Decimal& a, const Decimal& b);
  // Integer exponents are exact up to rounding; others go through double.
  static std::optional<Decimal> power(const Decimal& base, const Decimal& exponent);

  // Rounds to `scale` digits after the point (negative scales round to tens,
  // hundreds, ...).
  std::optional<Decimal> rounded(int32_t scale, RoundingMode mode) const;

  friend bool operator==(const Decimal&, const Decimal&) = default;
  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b);

  Int128 coefficient() const { return coefficient_; }
  int32_t exponent() const { return exponent_; }

 private:
  Decimal(Int128 coefficient, int32_t exponent) : coefficient_(coefficient), exponent_(exponent) {}
  friend struct DecimalAccess;

  Int128 coefficient_ = 0;  // |coefficient_| < 10^34, no trailing zeros
  int32_t exponent_ = 0;    // value = coefficient_ * 10^exponent_
};

}  // namespace banshi::expr
