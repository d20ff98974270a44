#include "frontdoor/multipart.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

namespace banshi::frontdoor {

namespace {

constexpr std::string_view kCrlf = "\r\n";

Error bad(std::string sentence) { return Error{"bad-multipart", std::move(sentence)}; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 bchars (space allowed, but not last).
bool boundary_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// A header value may hold UTF-8 (browsers send file names so), never a control character.
bool clean_value(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

// `value; a=b; c="d"`: the value and its parameters (names lower case).
// nullopt when the syntax is bad or a parameter repeats.
struct Parameters {
  std::string value;
  std::map<std::string, std::string> params;
};

std::optional<Parameters> parse_parameters(std::string_view text) {
  Parameters out;
  size_t semi = text.find(';');
  out.value = lowered(trim(text.substr(0, semi)));
  if (out.value.empty()) return std::nullopt;
  size_t i = semi == std::string_view::npos ? text.size() : semi + 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i == text.size()) break;  // a trailing ';'
    size_t name_start = i;
    while (i < text.size() && token_char(text[i])) ++i;
    std::string name = lowered(text.substr(name_start, i - name_start));
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (name.empty() || i == text.size() || text[i] != '=') return std::nullopt;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) c = text[i++];
        value.push_back(c);
      }
      if (!closed) return std::nullopt;
    } else {
      size_t start = i;
      while (i < text.size() && token_char(text[i])) ++i;
      value = std::string(text.substr(start, i - start));
      if (value.empty()) return std::nullopt;
    }
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i < text.size()) {
      if (text[i] != ';') return std::nullopt;
      ++i;
    }
    if (!out.params.emplace(std::move(name), std::move(value)).second) return std::nullopt;
  }
  return out;
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  if (!clean_value(content_type)) return bad("The Content-Type holds a control character.");
  auto parsed = parse_parameters(content_type);
  if (!parsed || parsed->value != "multipart/form-data") {
    return bad("The Content-Type must be multipart/form-data with a boundary.");
  }
  auto b = parsed->params.find("boundary");
  if (b == parsed->params.end()) return bad("The multipart/form-data Content-Type names no boundary.");
  const std::string& boundary = b->second;
  if (boundary.empty() || boundary.size() > 70 || boundary.back() == ' ' ||
      !std::all_of(boundary.begin(), boundary.end(), boundary_char)) {
    return bad("The boundary must be 1 to 70 letters, digits or '()+_,-./:=? (not ending in a space).");
  }
  return boundary;
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                   const MultipartLimits& limits) {
  if (boundary.empty() || boundary.size() > 70) return bad("The boundary must be 1 to 70 characters.");
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next_delimiter = std::string(kCrlf) + delimiter;
  if (!body.starts_with(delimiter)) return bad("The body must open with the boundary (no preamble).");
  std::vector<MultipartPart> parts;
  std::set<std::string> names;
  size_t pos = delimiter.size();
  for (;;) {
    std::string_view after = body.substr(pos);
    if (after.starts_with("--")) {
      after.remove_prefix(2);
      if (!after.empty() && after != kCrlf) return bad("Nothing may follow the closing boundary.");
      break;
    }
    if (!after.starts_with(kCrlf)) {
      return bad(after.empty() ? "The body ends without the closing boundary."
                               : "A boundary must be followed by a line break or, at the end, by --.");
    }
    pos += 2;
    const size_t number = parts.size() + 1;
    if (parts.size() >= limits.max_parts) {
      return Error{"too-many-parts", fmt::format("A form may have at most {} parts.", limits.max_parts)};
    }

    // The part's headers, up to the blank line.
    MultipartPart part;
    bool disposition = false, typed = false;
    size_t lines = 0;
    const size_t header_start = pos;
    for (;;) {
      size_t eol = body.find(kCrlf, pos);
      if (eol == std::string_view::npos || eol - header_start > limits.max_header_bytes) {
        return bad(fmt::format("The headers of part {} do not end within {} bytes.", number, limits.max_header_bytes));
      }
      std::string_view line = body.substr(pos, eol - pos);
      pos = eol + 2;
      if (line.empty()) break;
      if (++lines > limits.max_headers) {
        return bad(fmt::format("Part {} has more than {} header lines.", number, limits.max_headers));
      }
      if (line.front() == ' ' || line.front() == '\t') {
        return bad(fmt::format("Part {} folds a header over lines, which multipart/form-data does not allow.", number));
      }
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0 ||
          !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), token_char)) {
        return bad(fmt::format("Part {} has a header line that is not 'Name: value'.", number));
      }
      std::string name = lowered(line.substr(0, colon));
      std::string_view value = trim(line.substr(colon + 1));
      if (!clean_value(value)) return bad(fmt::format("A header of part {} holds a control character.", number));
      if (name == "content-disposition") {
        if (disposition) return bad(fmt::format("Part {} has two Content-Disposition headers.", number));
        disposition = true;
        auto d = parse_parameters(value);
        if (!d || d->value != "form-data") {
          return bad(fmt::format("Part {} must have 'Content-Disposition: form-data; name=\"...\"'.", number));
        }
        auto n = d->params.find("name");
        if (n == d->params.end() || n->second.empty() || n->second.size() > 64) {
          return bad(fmt::format("Part {} needs a name of 1 to 64 characters in its Content-Disposition.", number));
        }
        part.name = n->second;
        if (auto f = d->params.find("filename"); f != d->params.end()) {
          if (f->second.size() > 255) return bad(fmt::format("The file name of part {} is longer than 255 bytes.", number));
          part.has_filename = true;
          part.filename = f->second;
        }
      } else if (name == "content-type") {
        if (typed) return bad(fmt::format("Part {} has two Content-Type headers.", number));
        typed = true;
        auto t = parse_parameters(value);
        if (!t || t->value.find('/') == std::string::npos) {
          return bad(fmt::format("Part {} has a Content-Type that is not a media type.", number));
        }
        part.content_type = t->value;
      } else if (name == "content-transfer-encoding") {
        // RFC 7578 4.7: senders must not use one; only the identity encodings are read.
        std::string enc = lowered(value);
        if (enc != "binary" && enc != "8bit" && enc != "7bit") {
          return bad(fmt::format("Part {} uses the transfer encoding '{}'; send the bytes as they are.", number, enc));
        }
      }
      // Other headers are read and ignored, as RFC 7578 says.
    }
    if (!disposition) return bad(fmt::format("Part {} has no Content-Disposition.", number));
    if (!names.insert(part.name).second) {
      return bad(fmt::format("Two parts are named '{}'; each field may come once.", part.name));
    }

    // The part's body, up to the next delimiter.
    size_t end = body.find(next_delimiter, pos);
    if (end == std::string_view::npos) {
      if (body.size() - pos > limits.max_part_bytes) {
        return Error{"too-large", fmt::format("Part {} is larger than {} bytes.", number, limits.max_part_bytes)};
      }
      return bad(fmt::format("Part {} is not closed by the boundary.", number));
    }
    if (end - pos > limits.max_part_bytes) {
      return Error{"too-large", fmt::format("Part {} is larger than {} bytes.", number, limits.max_part_bytes)};
    }
    part.body = body.substr(pos, end - pos);
    parts.push_back(std::move(part));
    pos = end + next_delimiter.size();
  }
  if (parts.empty()) return bad("The form holds no part.");
  return parts;
}

}  // namespace banshi::frontdoor
