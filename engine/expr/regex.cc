// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex>
// when optimising with sanitizers (GCC bug 105562); it is silenced for this
// file only, which contains nothing but the std::regex calls.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "expr/regex.h"

#include <regex>
#include <vector>

#include <fmt/format.h>

namespace banshi::expr {

namespace {

// std::regex backtracks without a step limit, so two shapes that make it
// take exponential time on short inputs are refused before it sees them:
// - a quantifier right after a quantifier (`a**`; not valid in the XPath
//   syntax FEEL's matches() follows, where only a reluctant `?` may follow);
// - unbounded repetition of a group that itself repeats without bound
//   (`(a*)*`, `(a+b)+`): bounded counts such as `(\d{3}-)+` stay allowed.
// Returns the reason, or an empty string when the pattern is acceptable.
std::string backtracking_hazard(const std::string& p) {
  std::vector<bool> unbounded_inside{false};  // per open group, the outermost first
  bool after_quantifier = false;
  bool after_reluctant = false;
  bool group_just_closed_unbounded = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    size_t quantifier_end = 0;
    bool unbounded = false;
    if (c == '*' || c == '+' || c == '?') {
      quantifier_end = i + 1;
      unbounded = c != '?';
    } else if (c == '{') {
      size_t j = i + 1;
      size_t digits = 0;
      while (j < p.size() && p[j] >= '0' && p[j] <= '9') ++j, ++digits;
      bool open_ended = false;
      if (digits > 0 && j < p.size() && p[j] == ',') {
        ++j;
        size_t upper = 0;
        while (j < p.size() && p[j] >= '0' && p[j] <= '9') ++j, ++upper;
        open_ended = upper == 0;
      }
      if (digits > 0 && j < p.size() && p[j] == '}') {
        quantifier_end = j + 1;
        unbounded = open_ended;
      }
    }
    if (quantifier_end > 0) {
      if (after_quantifier) {
        if (c == '?' && !after_reluctant) {
          after_reluctant = true;  // reluctant: a*? a+? a?? a{2,3}?
          continue;
        }
        return "a quantifier follows a quantifier";
      }
      if (unbounded && group_just_closed_unbounded) {
        return "a group that repeats without bound is itself repeated without bound";
      }
      if (unbounded) unbounded_inside.back() = true;
      after_quantifier = true;
      after_reluctant = false;
      group_just_closed_unbounded = false;
      i = quantifier_end - 1;
      continue;
    }
    after_quantifier = false;
    after_reluctant = false;
    group_just_closed_unbounded = false;
    if (c == '\\') {
      if (i + 2 < p.size() && (p[i + 1] == 'p' || p[i + 1] == 'P') && p[i + 2] == '{') {
        size_t close = p.find('}', i + 3);
        i = close == std::string::npos ? p.size() : close;
      } else {
        ++i;
      }
    } else if (c == '[') {
      for (++i; i < p.size() && p[i] != ']'; ++i) {
        if (p[i] == '\\') ++i;
      }
    } else if (c == '(') {
      unbounded_inside.push_back(false);
    } else if (c == ')' && unbounded_inside.size() > 1) {
      bool inner = unbounded_inside.back();
      unbounded_inside.pop_back();
      unbounded_inside.back() = unbounded_inside.back() || inner;
      group_just_closed_unbounded = inner;
    }
  }
  return {};
}

std::optional<std::regex> make_regex(const std::string& pattern, const std::string& flags, RegexOutcome& out) {
  if (pattern.size() > kMaxRegexPattern) {
    out.error = fmt::format("the pattern is longer than {} bytes", kMaxRegexPattern);
    return std::nullopt;
  }
  if (std::string why = backtracking_hazard(pattern); !why.empty()) {
    out.error = "the pattern is refused: " + why + " (its matching time could grow exponentially)";
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

RegexOutcome regex_split_bounded(const std::string& input, const std::string& pattern) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = make_regex(pattern, "", out);
  if (!re) return out;
  try {
    if (std::regex_match(std::string(), *re)) {
      out.error = "the delimiter pattern matches the empty string";
      return out;
    }
    size_t start = 0;
    for (auto it = std::sregex_iterator(input.begin(), input.end(), *re); it != std::sregex_iterator(); ++it) {
      const size_t at = static_cast<size_t>(it->position(0));
      if (it->length(0) == 0) continue;
      out.parts.push_back(input.substr(start, at - start));
      start = at + static_cast<size_t>(it->length(0));
    }
    out.parts.push_back(input.substr(start));
  } catch (const std::regex_error&) {
    out.error = "the pattern is too complex for the input";
  }
  return out;
}

}  // namespace banshi::expr
