// Decimal arithmetic. Coefficients live in a 128-bit integer; intermediate
// results that may exceed it (products, aligned sums, scaled dividends) are
// computed exactly with Boost.Multiprecision's cpp_int and then rounded once.
#include "expr/decimal.h"

#include <array>
#include <charconv>
#include <cmath>
#include <vector>

#include <boost/multiprecision/cpp_int.hpp>

namespace banshi::expr {

using boost::multiprecision::cpp_int;

namespace {

constexpr int64_t kMaxAdjustedExponent = 6144;
constexpr int64_t kMinAdjustedExponent = -6143;

constexpr std::array<Int128, 39> make_pow10_128() {
  std::array<Int128, 39> table{};
  Int128 value = 1;
  for (size_t i = 0; i < table.size(); ++i) {
    table[i] = value;
    if (i + 1 < table.size()) value *= 10;
  }
  return table;
}
constexpr std::array<Int128, 39> kPow10 = make_pow10_128();

const cpp_int& big_pow10(int n) {
  static const std::vector<cpp_int> table = [] {
    std::vector<cpp_int> t(260);
    cpp_int value = 1;
    for (auto& entry : t) {
      entry = value;
      value *= 10;
    }
    return t;
  }();
  return table.at(static_cast<size_t>(n));
}

cpp_int to_big(Int128 value) {
  bool negative = value < 0;
  UInt128 magnitude = negative ? static_cast<UInt128>(-(value + 1)) + 1
                                         : static_cast<UInt128>(value);
  cpp_int result = static_cast<uint64_t>(magnitude >> 64);
  result <<= 64;
  result |= static_cast<uint64_t>(magnitude);
  return negative ? cpp_int(-result) : result;
}

// Only called with |value| < 2^127.
Int128 from_big(const cpp_int& value) {
  cpp_int magnitude = abs(value);
  uint64_t low = static_cast<uint64_t>(magnitude & cpp_int(UINT64_MAX));
  uint64_t high = static_cast<uint64_t>(magnitude >> 64);
  Int128 result = static_cast<Int128>((static_cast<UInt128>(high) << 64) | low);
  return value < 0 ? -result : result;
}

int digit_count(Int128 magnitude) {  // magnitude >= 0
  int digits = 1;
  while (digits < 39 && magnitude >= kPow10[static_cast<size_t>(digits)]) ++digits;
  return digits;
}

int digit_count(const cpp_int& magnitude) {  // magnitude > 0
  unsigned bits = boost::multiprecision::msb(magnitude) + 1;
  int digits = static_cast<int>(static_cast<double>(bits - 1) * 0.30102999566398) + 1;
  if (digits > 1) --digits;
  while (magnitude >= big_pow10(digits)) ++digits;
  return digits;
}

// Whether a truncated magnitude must be bumped by one unit. `half` compares the
// discarded remainder with half a unit (-1 below, 0 tie, +1 above).
bool round_away(RoundingMode mode, bool negative, bool quotient_odd, int half, bool inexact) {
  switch (mode) {
    case RoundingMode::kHalfEven: return half > 0 || (half == 0 && quotient_odd);
    case RoundingMode::kHalfUp: return half >= 0 && inexact;
    case RoundingMode::kHalfDown: return half > 0;
    case RoundingMode::kUp: return inexact;
    case RoundingMode::kDown: return false;
    case RoundingMode::kCeiling: return inexact && !negative;
    case RoundingMode::kFloor: return inexact && negative;
  }
  return false;
}

}  // namespace

// Builds canonical decimals from unbounded intermediates.
struct DecimalAccess {
  static std::optional<Decimal> make(Int128 coefficient, int64_t exponent,
                                     RoundingMode mode = RoundingMode::kHalfEven) {
    if (coefficient == 0) return Decimal();
    bool negative = coefficient < 0;
    // |coefficient| < 2^127 here, so negation is safe.
    Int128 magnitude = negative ? -coefficient : coefficient;
    int digits = digit_count(magnitude);
    if (digits > Decimal::kPrecision) {
      int drop = digits - Decimal::kPrecision;
      Int128 divisor = kPow10[static_cast<size_t>(drop)];
      Int128 quotient = magnitude / divisor;
      Int128 remainder = magnitude % divisor;
      Int128 twice = remainder * 2;
      int half = twice < divisor ? -1 : (twice == divisor ? 0 : 1);
      if (round_away(mode, negative, (quotient & 1) != 0, half, remainder != 0)) ++quotient;
      if (quotient == kPow10[Decimal::kPrecision]) {
        quotient /= 10;
        ++drop;
      }
      magnitude = quotient;
      exponent += drop;
      digits = digit_count(magnitude);
    }
    while (magnitude % 10 == 0) {
      magnitude /= 10;
      ++exponent;
      --digits;
    }
    int64_t adjusted = exponent + digits - 1;
    if (adjusted > kMaxAdjustedExponent) return std::nullopt;
    if (adjusted < kMinAdjustedExponent) return Decimal();
    return Decimal(negative ? -magnitude : magnitude, static_cast<int32_t>(exponent));
  }

  static std::optional<Decimal> make(const cpp_int& coefficient, int64_t exponent,
                                     RoundingMode mode = RoundingMode::kHalfEven) {
    if (coefficient == 0) return Decimal();
    bool negative = coefficient < 0;
    cpp_int magnitude = abs(coefficient);
    int digits = digit_count(magnitude);
    if (digits > Decimal::kPrecision) {
      int drop = digits - Decimal::kPrecision;
      cpp_int quotient, remainder;
      const cpp_int& divisor = big_pow10(drop);
      boost::multiprecision::divide_qr(magnitude, divisor, quotient, remainder);
      cpp_int twice = remainder * 2;
      int half = twice < divisor ? -1 : (twice == divisor ? 0 : 1);
      if (round_away(mode, negative, bit_test(quotient, 0), half, remainder != 0)) ++quotient;
      magnitude = quotient;
      exponent += drop;
    }
    Int128 small = from_big(magnitude);
    return make(negative ? -small : small, exponent, mode);
  }

  static const Int128& coefficient(const Decimal& d) { return d.coefficient_; }
};

Decimal Decimal::from_int(int64_t value) { return *DecimalAccess::make(Int128(value), 0); }

std::optional<Decimal> Decimal::parse(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  int64_t exponent = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (digits.empty() && c == '0') {
        if (seen_point) --exponent;
        continue;
      }
      if (digits.size() < 200) {
        digits.push_back(c);
        if (seen_point) --exponent;
      } else if (!seen_point) {
        ++exponent;  // excess integer digits only scale the number
      }
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return std::nullopt;
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E') return std::nullopt;
    ++i;
    bool exponent_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      exponent_negative = text[i] == '-';
      ++i;
    }
    if (i == text.size()) return std::nullopt;
    int64_t written = 0;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      if (written < 1'000'000) written = written * 10 + (text[i] - '0');
    }
    exponent += exponent_negative ? -written : written;
  }
  if (digits.empty()) return Decimal();
  if (digits.size() <= 36) {
    Int128 coefficient = 0;
    for (char c : digits) coefficient = coefficient * 10 + (c - '0');
    return DecimalAccess::make(negative ? -coefficient : coefficient, exponent);
  }
  cpp_int coefficient(digits);
  if (negative) coefficient = -coefficient;
  return DecimalAccess::make(coefficient, exponent);
}

std::optional<Decimal> Decimal::from_double(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return std::nullopt;
  return parse(std::string_view(buffer, static_cast<size_t>(end - buffer)));
}

namespace {
std::string magnitude_digits(Int128 coefficient) {
  UInt128 magnitude = coefficient < 0 ? static_cast<UInt128>(-coefficient)
                                                : static_cast<UInt128>(coefficient);
  if (magnitude == 0) return "0";
  std::string out;
  while (magnitude > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  return std::string(out.rbegin(), out.rend());
}
}  // namespace

std::string Decimal::to_string() const {
  std::string digits = magnitude_digits(coefficient_);
  std::string out = is_negative() ? "-" : "";
  int64_t count = static_cast<int64_t>(digits.size());
  int64_t adjusted = exponent_ + count - 1;
  if (exponent_ >= 0 && adjusted < kPrecision) {
    out += digits;
    if (!is_zero()) out.append(static_cast<size_t>(exponent_), '0');
    return out;
  }
  if (exponent_ < 0 && adjusted >= -6) {
    int64_t integer_digits = count + exponent_;
    if (integer_digits > 0) {
      out += digits.substr(0, static_cast<size_t>(integer_digits));
      out += '.';
      out += digits.substr(static_cast<size_t>(integer_digits));
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-integer_digits), '0');
      out += digits;
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += adjusted < 0 ? "E-" : "E+";
  out += std::to_string(adjusted < 0 ? -adjusted : adjusted);
  return out;
}

double Decimal::to_double() const {
  std::string text = to_string();
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<int64_t> Decimal::to_int64() const {
  if (exponent_ < 0 || exponent_ > 18) return std::nullopt;
  cpp_int value = to_big(coefficient_) * big_pow10(exponent_);
  if (value > INT64_MAX || value < INT64_MIN) return std::nullopt;
  return static_cast<int64_t>(value);
}

Decimal Decimal::negated() const { return Decimal(-coefficient_, exponent_); }

std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
  if (a.sign() != b.sign()) return a.sign() <=> b.sign();
  if (a.is_zero()) return std::strong_ordering::equal;
  bool negative = a.is_negative();
  Int128 ma = negative ? -a.coefficient_ : a.coefficient_;
  Int128 mb = negative ? -b.coefficient_ : b.coefficient_;
  int64_t adjusted_a = a.exponent_ + digit_count(ma) - 1;
  int64_t adjusted_b = b.exponent_ + digit_count(mb) - 1;
  std::strong_ordering magnitude_order = std::strong_ordering::equal;
  if (adjusted_a != adjusted_b) {
    magnitude_order = adjusted_a <=> adjusted_b;
  } else {
    // Same adjusted exponent: the exponents differ by less than 34 digits.
    if (a.exponent_ > b.exponent_) ma *= kPow10[static_cast<size_t>(a.exponent_ - b.exponent_)];
    if (b.exponent_ > a.exponent_) mb *= kPow10[static_cast<size_t>(b.exponent_ - a.exponent_)];
    magnitude_order = ma <=> mb;
  }
  if (!negative) return magnitude_order;
  return 0 <=> magnitude_order;
}

std::optional<Decimal> Decimal::add(const Decimal& a, const Decimal& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  const Decimal& high = a.exponent_ >= b.exponent_ ? a : b;  // larger exponent
  const Decimal& low = a.exponent_ >= b.exponent_ ? b : a;
  int64_t shift = int64_t{high.exponent_} - low.exponent_;
  Int128 high_magnitude = high.coefficient_ < 0 ? -high.coefficient_ : high.coefficient_;
  if (shift + digit_count(high_magnitude) <= 37) {
    Int128 sum = high.coefficient_ * kPow10[static_cast<size_t>(shift)] + low.coefficient_;
    return DecimalAccess::make(sum, low.exponent_);
  }
  Int128 low_magnitude = low.coefficient_ < 0 ? -low.coefficient_ : low.coefficient_;
  int64_t adjusted_high = high.exponent_ + digit_count(high_magnitude) - 1;
  int64_t adjusted_low = low.exponent_ + digit_count(low_magnitude) - 1;
  if (adjusted_high - adjusted_low > 2 * kPrecision + 2) {
    // The smaller operand is below half a unit of the last kept digit; it
    // still decides directed rounding, which arithmetic here never uses.
    if (adjusted_high > adjusted_low) return high;
  }
  if (adjusted_low - adjusted_high > 2 * kPrecision + 2) return low;
  cpp_int sum = to_big(high.coefficient_) * big_pow10(static_cast<int>(shift)) + to_big(low.coefficient_);
  return DecimalAccess::make(sum, low.exponent_);
}

std::optional<Decimal> Decimal::subtract(const Decimal& a, const Decimal& b) { return add(a, b.negated()); }

std::optional<Decimal> Decimal::multiply(const Decimal& a, const Decimal& b) {
  if (a.is_zero() || b.is_zero()) return Decimal();
  int64_t exponent = int64_t{a.exponent_} + b.exponent_;
  Int128 ma = a.coefficient_ < 0 ? -a.coefficient_ : a.coefficient_;
  Int128 mb = b.coefficient_ < 0 ? -b.coefficient_ : b.coefficient_;
  if (digit_count(ma) + digit_count(mb) <= 38) {
    return DecimalAccess::make(a.coefficient_ * b.coefficient_, exponent);
  }
  return DecimalAccess::make(to_big(a.coefficient_) * to_big(b.coefficient_), exponent);
}

std::optional<Decimal> Decimal::divide(const Decimal& a, const Decimal& b) {
  if (b.is_zero()) return std::nullopt;
  if (a.is_zero()) return Decimal();
  Int128 ma = a.coefficient_ < 0 ? -a.coefficient_ : a.coefficient_;
  Int128 mb = b.coefficient_ < 0 ? -b.coefficient_ : b.coefficient_;
  // Scale the dividend so that the quotient has at least 36 digits, then keep
  // a sticky digit for the remainder so that half-even rounding is exact.
  int scale = kPrecision + 2 + digit_count(mb) - digit_count(ma);
  if (scale < 0) scale = 0;
  cpp_int quotient, remainder;
  boost::multiprecision::divide_qr(to_big(ma) * big_pow10(scale), to_big(mb), quotient, remainder);
  int64_t exponent = int64_t{a.exponent_} - b.exponent_ - scale;
  if (remainder != 0) {
    quotient = quotient * 10 + 1;
    --exponent;
  }
  if (a.is_negative() != b.is_negative()) quotient = -quotient;
  return DecimalAccess::make(quotient, exponent);
}

std::optional<Decimal> Decimal::modulo(const Decimal& a, const Decimal& b) {
  if (b.is_zero()) return std::nullopt;
  int64_t low = std::min(a.exponent_, b.exponent_);
  int64_t shift_a = a.exponent_ - low;
  int64_t shift_b = b.exponent_ - low;
  if (shift_a > 200 || shift_b > 200) {
    auto quotient = divide(a, b);
    if (!quotient) return std::nullopt;
    auto floored = quotient->rounded(0, RoundingMode::kFloor);
    if (!floored) return std::nullopt;
    auto product = multiply(b, *floored);
    if (!product) return std::nullopt;
    return subtract(a, *product);
  }
  cpp_int scaled_a = to_big(a.coefficient_) * big_pow10(static_cast<int>(shift_a));
  cpp_int scaled_b = to_big(b.coefficient_) * big_pow10(static_cast<int>(shift_b));
  cpp_int remainder = scaled_a % scaled_b;  // sign of the dividend
  if (remainder != 0 && ((remainder < 0) != (scaled_b < 0))) remainder += scaled_b;
  return DecimalAccess::make(remainder, low);
}

std::optional<Decimal> Decimal::power(const Decimal& base, const Decimal& exponent) {
  auto integral = exponent.to_int64();
  if (integral && *integral >= -999'999'999 && *integral <= 999'999'999) {
    int64_t n = *integral < 0 ? -*integral : *integral;
    Decimal result = from_int(1);
    Decimal factor = base;
    while (n > 0) {
      if (n & 1) {
        auto next = multiply(result, factor);
        // A huge power with a negative exponent underflows to zero.
        if (!next) return *integral < 0 ? std::optional<Decimal>(Decimal()) : std::nullopt;
        result = *next;
      }
      n >>= 1;
      if (n > 0) {
        auto squared = multiply(factor, factor);
        if (!squared) return *integral < 0 ? std::optional<Decimal>(Decimal()) : std::nullopt;
        factor = *squared;
      }
    }
    if (*integral < 0) return divide(from_int(1), result);
    return result;
  }
  double value = std::pow(base.to_double(), exponent.to_double());
  return from_double(value);
}

std::optional<Decimal> Decimal::rounded(int32_t scale, RoundingMode mode) const {
  if (is_zero() || int64_t{exponent_} >= -int64_t{scale}) return *this;
  int64_t drop = -int64_t{scale} - exponent_;  // > 0
  bool negative = is_negative();
  Int128 magnitude = negative ? -coefficient_ : coefficient_;
  Int128 quotient = 0;
  int half = -1;
  bool inexact = true;
  if (drop <= 36) {
    Int128 divisor = kPow10[static_cast<size_t>(drop)];
    quotient = magnitude / divisor;
    Int128 remainder = magnitude % divisor;
    Int128 twice = remainder * 2;
    half = twice < divisor ? -1 : (twice == divisor ? 0 : 1);
    inexact = remainder != 0;
  }
  if (round_away(mode, negative, (quotient & 1) != 0, half, inexact)) ++quotient;
  return DecimalAccess::make(negative ? -quotient : quotient, -int64_t{scale});
}

}  // namespace banshi::expr
