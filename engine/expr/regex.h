// expr/regex.h — internal: the regular expressions of matches(), replace()
// and split(), with XPath's syntax, flags and replacement rules, matched on
// characters (UTF-8), with bounded work. Kept apart so that the regex library
// stays out of the other files.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace banshi::expr {

// Sizes are bounded so that one evaluation cannot hold the engine for long;
// the matcher's own step and memory limits (regex.cc) bound the rest.
inline constexpr size_t kMaxRegexInput = 65536;
inline constexpr size_t kMaxRegexPattern = 1024;

struct RegexOutcome {
  std::optional<std::string> error;  // set when the pattern, flags, replacement or input are unusable
  bool matched = false;              // matches()
  std::string replaced;              // replace()
  std::vector<std::string> parts;    // split()
};

// `flags` are XPath's letters, in any order: i (case-insensitive, Unicode
// case folding), s (`.` matches a newline), m (`^` and `$` at line ends),
// x (whitespace outside character classes is removed from the pattern),
// q (the pattern is literal text; in replace(), so is the replacement).
RegexOutcome regex_search_bounded(const std::string& input, const std::string& pattern, const std::string& flags);
// XPath fn:replace: `$N` in the replacement is group N, `\$` and `\\` a
// dollar and a backslash; a pattern that matches the empty string is an
// error, and so is a result longer than `max_result` bytes.
RegexOutcome regex_replace_bounded(const std::string& input, const std::string& pattern,
                                   const std::string& replacement, const std::string& flags, size_t max_result);
// The pieces of `input` between the matches of `pattern` (FEEL split,
// XPath tokenize): a pattern that matches the empty string is an error.
RegexOutcome regex_split_bounded(const std::string& input, const std::string& pattern);

}  // namespace banshi::expr
