#include "expr/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <memory>
#include <utility>

#include <fmt/format.h>

namespace banshi::expr {

namespace {

// The matcher backtracks, so a pattern such as `(a|aa)+$` takes exponential
// time on a long enough input that does not match. Rather than refusing
// such shapes up front (which also refuses useful patterns like
// `(\w+\s)+`), every search runs under PCRE2's limits: steps, backtracking
// depth and heap memory. PCRE2 counts steps afresh at each position where an
// unanchored search starts, so one evaluation's steps are shared out: a
// search may take kWorkBudget steps over all the positions it can start at
// (at least kMinStepsPerStart, at most kMaxStepsPerStart at each), and what
// a search may have used is taken off the budget of the searches after it
// (replace and split search again after each match). A search that reaches
// a limit gives an error, never a wrong answer; one evaluation does at most
// a few tens of millions of steps (a fraction of a second) whatever the
// pattern and input.
constexpr uint64_t kWorkBudget = 10'000'000;
constexpr uint64_t kMinStepsPerStart = 100;
constexpr uint64_t kMaxStepsPerStart = 1'000'000;
constexpr uint32_t kDepthLimit = 20'000;
constexpr uint32_t kHeapLimitKib = 8 * 1024;

struct CodeFree {
  void operator()(pcre2_code* p) const { pcre2_code_free(p); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* p) const { pcre2_match_data_free(p); }
};
struct MatchContextFree {
  void operator()(pcre2_match_context* p) const { pcre2_match_context_free(p); }
};
struct CompileContextFree {
  void operator()(pcre2_compile_context* p) const { pcre2_compile_context_free(p); }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof buffer);
  if (n < 0) return fmt::format("error {}", code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// XPath's x flag: whitespace is removed from the pattern except inside
// character classes; escapes and classes are read on what remains, so
// `\ [` is an escaped bracket.
std::string strip_whitespace(const std::string& p) {
  std::string out;
  out.reserve(p.size());
  bool in_class = false;
  bool escaped = false;  // the last character kept is a backslash that escapes the next
  for (char c : p) {
    if (!in_class && is_xml_space(c)) continue;
    out.push_back(c);
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '[') {
      in_class = true;
    } else if (c == ']') {
      in_class = false;
    }
  }
  return out;
}

// XPath escapes that PCRE2 reads otherwise: \i and \c (XML name
// characters; \c is a control character to PCRE2) and their negations.
char unsupported_escape(const std::string& p) {
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] != '\\') continue;
    char e = p[++i];
    if (e == 'i' || e == 'I' || e == 'c' || e == 'C') return e;
  }
  return 0;
}

// XPath's class subtraction (`[a-z-[aeiou]]`) has no equivalent here, and
// read as an ordinary class it would silently mean something else.
bool has_class_subtraction(const std::string& p) {
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (!in_class && p[i] == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ']' is a member
    } else if (in_class && p[i] == '-' && i + 1 < p.size() && p[i + 1] == '[') {
      return true;
    } else if (in_class && p[i] == ']') {
      in_class = false;
    }
  }
  return false;
}

class Regex {
 public:
  // The compiled pattern, or std::nullopt with `out.error` set.
  static std::optional<Regex> compile(const std::string& pattern, const std::string& flags, RegexOutcome& out) {
    if (pattern.size() > kMaxRegexPattern) {
      out.error = fmt::format("the pattern is longer than {} bytes", kMaxRegexPattern);
      return std::nullopt;
    }
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    bool strip = false;
    bool literal = false;
    for (char f : flags) {
      switch (f) {
        case 'i': options |= PCRE2_CASELESS; break;
        case 's': options |= PCRE2_DOTALL; break;
        case 'm': options |= PCRE2_MULTILINE; break;
        case 'x': strip = true; break;
        case 'q': literal = true; break;
        default:
          out.error = fmt::format("unknown flag '{}' (flags are i, s, m, x and q)", std::string(1, f));
          return std::nullopt;
      }
    }
    std::string text = pattern;
    if (literal) {
      // Only UTF and caseless go with a literal pattern; x does not apply.
      options = PCRE2_LITERAL | PCRE2_UTF | (options & PCRE2_CASELESS);
    } else {
      if (strip) text = strip_whitespace(text);
      if (has_class_subtraction(text)) {
        out.error = "character class subtraction ([a-z-[aeiou]]) is not supported; list the class's members instead";
        return std::nullopt;
      }
      if (char e = unsupported_escape(text)) {
        out.error = fmt::format("\\{} (XML name characters) is not supported", std::string(1, e));
        return std::nullopt;
      }
    }
    std::unique_ptr<pcre2_compile_context, CompileContextFree> context(pcre2_compile_context_create(nullptr));
    if (!context) {
      out.error = "out of memory";
      return std::nullopt;
    }
    pcre2_set_max_pattern_length(context.get(), kMaxRegexPattern);
    pcre2_set_newline(context.get(), PCRE2_NEWLINE_LF);  // `.`, `^` and `$` know \n only, whatever the build's default
    pcre2_set_parens_nest_limit(context.get(), 50);
    int code = 0;
    PCRE2_SIZE offset = 0;
    Regex r;
    r.literal_ = literal;
    r.code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), options, &code, &offset,
                                context.get()));
    if (!r.code_) {
      out.error = fmt::format("the pattern is not a valid regular expression: {} (at byte {})", pcre2_message(code),
                              offset + 1);
      return std::nullopt;
    }
    r.match_context_.reset(pcre2_match_context_create(nullptr));
    r.data_.reset(pcre2_match_data_create_from_pattern(r.code_.get(), nullptr));
    if (!r.match_context_ || !r.data_) {
      out.error = "out of memory";
      return std::nullopt;
    }
    pcre2_set_depth_limit(r.match_context_.get(), kDepthLimit);
    pcre2_set_heap_limit(r.match_context_.get(), kHeapLimitKib);
    uint32_t groups = 0;
    pcre2_pattern_info(r.code_.get(), PCRE2_INFO_CAPTURECOUNT, &groups);
    r.groups_ = groups;
    uint32_t all_options = 0;
    pcre2_pattern_info(r.code_.get(), PCRE2_INFO_ALLOPTIONS, &all_options);
    r.anchored_ = (all_options & PCRE2_ANCHORED) != 0;  // `^` outside multiline mode, for one
    return std::optional<Regex>(std::move(r));
  }

  // Searches `subject` from byte `start`: 1 for a match (see `begin`/`end`),
  // 0 for none, -1 with `out.error` set.
  int find(const std::string& subject, size_t start, uint32_t options, RegexOutcome& out) {
    // The positions this search may start at, and the steps each may take.
    const bool anchored = anchored_ || (options & PCRE2_ANCHORED) != 0;
    const uint64_t starts = anchored ? 1 : subject.size() - start + 1;
    const uint64_t per_start = std::clamp(budget_ / starts, kMinStepsPerStart, kMaxStepsPerStart);
    pcre2_set_match_limit(match_context_.get(), static_cast<uint32_t>(per_start));
    int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                         options | (checked_ ? PCRE2_NO_UTF_CHECK : 0), data_.get(), match_context_.get());
    // What it may have used: every start up to the match, or all of them.
    const uint64_t tried = anchored ? 1 : rc >= 0 ? begin() - start + 1 : starts;
    budget_ -= std::min(budget_, tried * per_start);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc >= 0) {
      checked_ = true;  // the subject was valid UTF-8; later searches in it need not check again
      return 1;
    }
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
      out.error = "the pattern needs too much work for this input (it backtracks too much); simplify it";
    } else if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
      out.error = "the input is not valid UTF-8";
    } else {
      out.error = fmt::format("matching failed: {}", pcre2_message(rc));
    }
    return -1;
  }

  size_t begin(uint32_t group = 0) const { return pcre2_get_ovector_pointer(data_.get())[2 * group]; }
  size_t end(uint32_t group = 0) const { return pcre2_get_ovector_pointer(data_.get())[2 * group + 1]; }
  // Whether group `n` took part in the last match.
  bool set(uint32_t n) const { return n <= groups_ && begin(n) != PCRE2_UNSET; }
  uint32_t groups() const { return groups_; }
  bool literal() const { return literal_; }
  // A fresh subject: its UTF-8 is checked on the next search.
  void new_subject() { checked_ = false; }

 private:
  Regex() = default;
  std::unique_ptr<pcre2_code, CodeFree> code_;
  std::unique_ptr<pcre2_match_context, MatchContextFree> match_context_;
  std::unique_ptr<pcre2_match_data, MatchDataFree> data_;
  uint32_t groups_ = 0;
  bool literal_ = false;
  bool anchored_ = false;
  bool checked_ = false;
  uint64_t budget_ = kWorkBudget;  // steps left for this evaluation's searches
};

bool input_too_long(const std::string& input, RegexOutcome& out) {
  if (input.size() <= kMaxRegexInput) return false;
  out.error = fmt::format("the input is longer than {} bytes", kMaxRegexInput);
  return true;
}

// XPath: replace() and tokenize() refuse a pattern that matches "".
bool matches_empty(Regex& re, RegexOutcome& out) {
  re.new_subject();
  int rc = re.find(std::string(), 0, 0, out);
  re.new_subject();
  return rc != 0;  // a match, or an error already in `out`
}

// The byte after the UTF-8 character that starts at `at`.
size_t next_character(const std::string& s, size_t at) {
  ++at;
  while (at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) ++at;
  return at;
}

// Calls `each` for every non-overlapping match, left to right; an empty match
// (possible with lookarounds even when "" itself does not match) is not
// taken twice at the same place. Returns false with `out.error` set.
template <typename Each>
bool for_each_match(Regex& re, const std::string& input, RegexOutcome& out, Each&& each) {
  re.new_subject();
  size_t at = 0;
  uint32_t options = 0;
  while (at <= input.size()) {
    int rc = re.find(input, at, options, out);
    if (rc < 0) return false;
    if (rc == 0) {
      if (options == 0) break;
      // Nothing non-empty here: move one character on and search normally.
      if (at >= input.size()) break;
      at = next_character(input, at);
      options = 0;
      continue;
    }
    each();
    at = re.end();
    options = re.begin() == re.end() ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
  }
  return true;
}

// XPath's rules for a replacement: `\` only before `\` or `$`, `$` only
// before a digit. Checked before matching, so a wrong replacement is an
// error whether or not the pattern matches. Empty when it is fine.
std::string replacement_error(const std::string& replacement) {
  for (size_t i = 0; i < replacement.size(); ++i) {
    char c = replacement[i];
    if (c == '\\') {
      if (i + 1 < replacement.size() && (replacement[i + 1] == '\\' || replacement[i + 1] == '$')) {
        ++i;
        continue;
      }
      return "in the replacement, a backslash must be followed by \\ or $";
    }
    if (c == '$' && (i + 1 >= replacement.size() || replacement[i + 1] < '0' || replacement[i + 1] > '9')) {
      return "in the replacement, $ must be followed by a group number (write \\$ for a dollar sign)";
    }
  }
  return {};
}

// Appends the replacement (checked by replacement_error) for the current
// match: `$N` is group N (the longest run of digits that names a group; an
// absent group is ""), `\$` is `$`, `\\` is `\`.
void append_replacement(const Regex& re, const std::string& input, const std::string& replacement,
                        std::string& result) {
  if (re.literal()) {
    result += replacement;
    return;
  }
  for (size_t i = 0; i < replacement.size(); ++i) {
    char c = replacement[i];
    if (c == '\\') {
      result.push_back(replacement[++i]);
      continue;
    }
    if (c != '$') {
      result.push_back(c);
      continue;
    }
    uint32_t group = static_cast<uint32_t>(replacement[++i] - '0');
    while (i + 1 < replacement.size() && replacement[i + 1] >= '0' && replacement[i + 1] <= '9') {
      uint32_t longer = group * 10 + static_cast<uint32_t>(replacement[i + 1] - '0');
      if (longer > re.groups()) break;
      group = longer;
      ++i;
    }
    if (re.set(group)) result.append(input, re.begin(group), re.end(group) - re.begin(group));
  }
}

}  // namespace

RegexOutcome regex_search_bounded(const std::string& input, const std::string& pattern, const std::string& flags) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = Regex::compile(pattern, flags, out);
  if (!re) return out;
  int rc = re->find(input, 0, 0, out);
  out.matched = rc == 1;
  return out;
}

RegexOutcome regex_replace_bounded(const std::string& input, const std::string& pattern,
                                   const std::string& replacement, const std::string& flags, size_t max_result) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = Regex::compile(pattern, flags, out);
  if (!re) return out;
  if (!re->literal()) {
    if (std::string why = replacement_error(replacement); !why.empty()) {
      out.error = std::move(why);
      return out;
    }
  }
  if (matches_empty(*re, out)) {
    if (!out.error) out.error = "the pattern matches the empty string";
    return out;
  }
  std::string result;
  size_t copied = 0;
  bool ok = for_each_match(*re, input, out, [&] {
    if (out.error) return;
    result.append(input, copied, re->begin() - copied);
    append_replacement(*re, input, replacement, result);
    copied = re->end();
    // Checked as it grows: a long replacement for every match of a long
    // input would otherwise take gigabytes before the check at the end.
    if (result.size() > max_result) out.error = fmt::format("the result is longer than {} bytes", max_result);
  });
  if (!ok || out.error) {
    out.replaced.clear();
    return out;
  }
  result.append(input, copied, std::string::npos);
  if (result.size() > max_result) {
    out.error = fmt::format("the result is longer than {} bytes", max_result);
    return out;
  }
  out.replaced = std::move(result);
  return out;
}

RegexOutcome regex_split_bounded(const std::string& input, const std::string& pattern) {
  RegexOutcome out;
  if (input_too_long(input, out)) return out;
  auto re = Regex::compile(pattern, "", out);
  if (!re) return out;
  if (matches_empty(*re, out)) {
    if (!out.error) out.error = "the delimiter pattern matches the empty string";
    return out;
  }
  size_t start = 0;
  bool ok = for_each_match(*re, input, out, [&] {
    if (re->begin() == re->end()) return;  // an empty match splits nothing
    out.parts.push_back(input.substr(start, re->begin() - start));
    start = re->end();
  });
  if (!ok) {
    out.parts.clear();
    return out;
  }
  out.parts.push_back(input.substr(start));
  return out;
}

}  // namespace banshi::expr
