// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex>
// when optimising with sanitizers (GCC bug 105562); it is silenced for this
// file only, which contains nothing but the std::regex calls.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "expr/regex.h"

#include <regex>

#include <fmt/format.h>

namespace banshi::expr {

namespace {

std::optional<std::regex> make_regex(const std::string& pattern, const std::string& flags, RegexOutcome& out) {
  if (pattern.size() > kMaxRegexPattern) {
    out.error = fmt::format("the pattern is longer than {} bytes", kMaxRegexPattern);
    return std::nullopt;
  }
  auto options = std::regex::ECMAScript;
  for (char f : flags) {
    if (f == 'i') {
      options |= std::regex::icase;
    } else if (f != 's' && f != 'm' && f != 'x') {
      out.error = fmt::format("unknown flag '{}'", std::string(1, f));
      return std::nullopt;
    }
  }
  try {
    return std::regex(pattern, options);
  } catch (const std::regex_error&) {
    out.error = "the pattern is not a valid regular expression";
    return std::nullopt;
  }
}

bool input_too_long(const std::string& input, RegexOutcome& out) {
  if (input.size() <= kMaxRegexInput) return false;
  out.error = fmt::format("the input is longer than {} bytes", kMaxRegexInput);
  return true;
}

}  // namespace

RegexOutcome regex_search_bounded(const std::string& input, const std::string& pattern, const std::string& flags) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = make_regex(pattern, flags, out);
  if (!re) return out;
  try {
    out.matched = std::regex_search(input, *re);
  } catch (const std::regex_error&) {
    out.error = "the pattern is too complex for the input";
  }
  return out;
}

RegexOutcome regex_replace_bounded(const std::string& input, const std::string& pattern,
                                   const std::string& replacement, const std::string& flags) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = make_regex(pattern, flags, out);
  if (!re) return out;
  try {
    out.replaced = std::regex_replace(input, *re, replacement);
  } catch (const std::regex_error&) {
    out.error = "the pattern is too complex for the input";
  }
  return out;
}

}  // namespace banshi::expr
