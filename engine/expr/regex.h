// expr/regex.h — internal: bounded regular expressions for matches() and
// replace(). Kept apart so that std::regex stays out of the other files.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace banshi::expr {

// std::regex backtracks recursively; bounding the sizes keeps it from
// exhausting the stack or running for long on hostile patterns.
inline constexpr size_t kMaxRegexInput = 4096;
inline constexpr size_t kMaxRegexPattern = 256;

struct RegexOutcome {
  std::optional<std::string> error;  // set when the pattern, flags or input are unusable
  bool matched = false;              // regex_search result
  std::string replaced;              // regex_replace result
  std::vector<std::string> parts;    // regex_split result
};

// `flags` uses the XPath letters; only "i" changes matching ("s", "m", "x" are accepted).
RegexOutcome regex_search_bounded(const std::string& input, const std::string& pattern, const std::string& flags);
RegexOutcome regex_replace_bounded(const std::string& input, const std::string& pattern,
                                   const std::string& replacement, const std::string& flags);
// The pieces of `input` between the matches of `pattern` (FEEL split,
// XPath tokenize): a pattern that matches the empty string is an error.
RegexOutcome regex_split_bounded(const std::string& input, const std::string& pattern);

}  // namespace banshi::expr
