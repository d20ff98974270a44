#include "model/xml_document.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "model/load.h"

namespace banshi::model {
namespace {

Diagnostic make_error(std::string code, SourcePos pos, std::string message) {
  return Diagnostic{Severity::kError, std::move(code), pos, {}, std::move(message)};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Converts `in` from `from` to UTF-8 with iconv. On an invalid or incomplete
// sequence, returns the byte offset in `in` where conversion stopped.
Result<std::string, size_t> iconv_to_utf8(std::string_view in, const char* from) {
  iconv_t cd = iconv_open("UTF-8", from);
  if (cd == reinterpret_cast<iconv_t>(-1)) return size_t{0};
  std::string out;
  out.resize(in.size() * 2 + 16);
  // iconv's interface takes char** for the input although it does not write to it.
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  size_t produced = 0;
  while (src_left > 0) {
    char* dst = out.data() + produced;
    size_t dst_left = out.size() - produced;
    size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
    produced = out.size() - dst_left;
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    iconv_close(cd);
    return static_cast<size_t>(src - in.data());
  }
  iconv_close(cd);
  out.resize(produced);
  return out;
}

// Returns the offset of the first byte that is not valid UTF-8 or is a control
// character XML 1.0 forbids; npos when the text is clean.
size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0xFFFE || cp == 0xFFFF) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::vector<size_t> compute_line_starts(std::string_view text) {
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  return starts;
}

SourcePos position_in(std::string_view text, const std::vector<size_t>& line_starts, size_t offset) {
  offset = std::min(offset, text.size());
  auto it = std::upper_bound(line_starts.begin(), line_starts.end(), offset);
  size_t line_index = static_cast<size_t>(it - line_starts.begin()) - 1;
  size_t start = line_starts[line_index];
  uint32_t column = 1;
  for (size_t i = start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return SourcePos{static_cast<uint32_t>(line_index + 1), column};
}

// The encoding declared in "<?xml ... encoding='...'?>", lower-cased; empty if none.
std::string declared_encoding(std::string_view bytes) {
  if (bytes.substr(0, 5) != "<?xml") return {};
  size_t end = bytes.find("?>");
  if (end == std::string_view::npos || end > 512) return {};
  std::string_view decl = bytes.substr(0, end);
  size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return {};
  at += 8;
  while (at < decl.size() && (decl[at] == ' ' || decl[at] == '\t' || decl[at] == '\r' || decl[at] == '\n')) ++at;
  if (at >= decl.size() || decl[at] != '=') return {};
  ++at;
  while (at < decl.size() && (decl[at] == ' ' || decl[at] == '\t' || decl[at] == '\r' || decl[at] == '\n')) ++at;
  if (at >= decl.size() || (decl[at] != '"' && decl[at] != '\'')) return {};
  char quote = decl[at++];
  size_t close = decl.find(quote, at);
  if (close == std::string_view::npos) return {};
  return lower(decl.substr(at, close - at));
}

// Which iconv name an ASCII-compatible declared encoding maps to; nullptr for
// UTF-8 itself; "" when unsupported.
const char* iconv_name_for(const std::string& declared) {
  static const std::pair<const char*, const char*> kTable[] = {
      {"utf-8", nullptr},          {"utf8", nullptr},          {"us-ascii", nullptr},
      {"ascii", nullptr},          {"iso-8859-1", "ISO-8859-1"}, {"iso8859-1", "ISO-8859-1"},
      {"latin1", "ISO-8859-1"},    {"latin-1", "ISO-8859-1"},  {"iso_8859-1", "ISO-8859-1"},
      {"l1", "ISO-8859-1"},        {"windows-1252", "WINDOWS-1252"}, {"cp1252", "WINDOWS-1252"},
      {"iso-8859-15", "ISO-8859-15"}, {"gb18030", "GB18030"},  {"gbk", "GB18030"},
      {"gb2312", "GB18030"},       {"cp936", "GB18030"},
  };
  for (const auto& [name, iconv_name] : kTable) {
    if (declared == name) return iconv_name;
  }
  return "";
}

}  // namespace

Result<XmlDocument, Diagnostic> XmlDocument::load(std::string_view bytes, const LoadLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return make_error("BS004", {1, 1},
                      fmt::format("the document is {} bytes, over the limit of {} bytes", bytes.size(), limits.max_bytes));
  }
  if (bytes.empty()) return make_error("BS001", {1, 1}, "the document is empty");

  auto utf8 = std::make_shared<std::string>();
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  auto starts_with = [&](std::initializer_list<unsigned char> prefix) {
    if (bytes.size() < prefix.size()) return false;
    size_t i = 0;
    for (unsigned char c : prefix) {
      if (u[i++] != c) return false;
    }
    return true;
  };

  const char* utf16 = nullptr;
  if (starts_with({0x00, 0x00, 0xFE, 0xFF}) || starts_with({0xFF, 0xFE, 0x00, 0x00})) {
    return make_error("BS007", {1, 1}, "UTF-32 documents are not supported; save the file as UTF-8");
  }
  if (starts_with({0xFF, 0xFE}) || starts_with({0xFE, 0xFF})) {
    utf16 = "UTF-16";
  } else if (starts_with({0x3C, 0x00, 0x3F, 0x00})) {
    utf16 = "UTF-16LE";
  } else if (starts_with({0x00, 0x3C, 0x00, 0x3F})) {
    utf16 = "UTF-16BE";
  }

  if (utf16 != nullptr) {
    auto converted = iconv_to_utf8(bytes, utf16);
    if (!converted.ok()) {
      return make_error("BS007", {1, 1},
                        fmt::format("invalid UTF-16 byte sequence at byte offset {}", converted.error()));
    }
    *utf8 = std::move(converted).value();
    if (utf8->size() >= 3 && utf8->compare(0, 3, "\xEF\xBB\xBF") == 0) utf8->erase(0, 3);
  } else {
    std::string_view body = bytes;
    if (starts_with({0xEF, 0xBB, 0xBF})) body.remove_prefix(3);
    std::string declared = declared_encoding(body);
    const char* from = declared.empty() ? nullptr : iconv_name_for(declared);
    if (from != nullptr && *from == '\0') {
      if (declared.rfind("utf-16", 0) == 0) {
        return make_error("BS007", {1, 1}, "the document declares UTF-16 but is not UTF-16 encoded");
      }
      return make_error("BS007", {1, 1},
                        fmt::format("unsupported encoding '{}'; use UTF-8, UTF-16, ISO-8859-1 or GB18030", declared));
    }
    if (from == nullptr) {
      utf8->assign(body);
    } else {
      auto converted = iconv_to_utf8(body, from);
      if (!converted.ok()) {
        auto raw_starts = compute_line_starts(body);
        return make_error("BS007", position_in(body, raw_starts, converted.error()),
                          fmt::format("invalid byte sequence for the declared encoding '{}'", declared));
      }
      *utf8 = std::move(converted).value();
    }
  }

  XmlDocument doc;
  doc.line_starts_ = compute_line_starts(*utf8);
  if (size_t bad = find_invalid_utf8(*utf8); bad != std::string_view::npos) {
    return make_error("BS007", position_in(*utf8, doc.line_starts_, bad),
                      "invalid character: the text is not valid UTF-8 or holds a control character XML forbids");
  }

  doc.doc_ = std::make_unique<pugi::xml_document>();
  unsigned options = pugi::parse_default | pugi::parse_doctype;
  pugi::xml_parse_result parsed =
      doc.doc_->load_buffer(utf8->data(), utf8->size(), options, pugi::encoding_utf8);
  doc.utf8_ = utf8;
  if (!parsed) {
    return make_error("BS001", doc.pos_at(static_cast<size_t>(parsed.offset)),
                      fmt::format("malformed XML: {}", parsed.description()));
  }

  // Walk once, without recursion: refuse DTDs, over-deep nesting, too many
  // elements and oversized attributes before anything else looks at the tree.
  size_t elements = 0;
  std::vector<std::pair<pugi::xml_node, size_t>> stack;
  for (pugi::xml_node child = doc.doc_->first_child(); child; child = child.next_sibling()) {
    stack.emplace_back(child, 1);
  }
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (node.type() == pugi::node_doctype) {
      return make_error("BS006", doc.pos(node),
                        "document type declarations (DTDs) are not allowed: they can define entities");
    }
    if (node.type() != pugi::node_element) continue;
    if (++elements > limits.max_elements) {
      return make_error("BS004", doc.pos(node),
                        fmt::format("the document has more than {} elements", limits.max_elements));
    }
    if (depth > limits.max_depth) {
      return make_error("BS005", doc.pos(node),
                        fmt::format("elements are nested more than {} levels deep", limits.max_depth));
    }
    for (pugi::xml_attribute a : node.attributes()) {
      if (std::strlen(a.value()) > limits.max_attribute_bytes) {
        return make_error("BS004", doc.attribute_pos(node, a.name()),
                          fmt::format("attribute '{}' is longer than {} bytes", a.name(), limits.max_attribute_bytes));
      }
    }
    for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
      stack.emplace_back(child, depth + 1);
    }
  }
  if (!doc.doc_->document_element()) return make_error("BS001", {1, 1}, "the document has no root element");
  return doc;
}

SourcePos XmlDocument::pos_at(size_t offset) const { return position_in(*utf8_, line_starts_, offset); }

SourcePos XmlDocument::pos(pugi::xml_node node) const {
  ptrdiff_t offset = node.offset_debug();
  if (offset < 0) return {};
  size_t at = static_cast<size_t>(offset);
  // offset_debug() points at the name; step back to the '<' (or '<!' for a doctype).
  while (at > 0 && (*utf8_)[at] != '<') --at;
  return pos_at(at);
}

SourcePos XmlDocument::attribute_pos(pugi::xml_node node, std::string_view qualified_name) const {
  ptrdiff_t offset = node.offset_debug();
  if (offset < 0) return {};
  std::string_view text = *utf8_;
  size_t at = static_cast<size_t>(offset);
  // Scan the start tag, skipping quoted values, for ` name = "`.
  while (at < text.size() && text[at] != '>') {
    char c = text[at];
    if (c == '"' || c == '\'') {
      size_t close = text.find(c, at + 1);
      if (close == std::string_view::npos) break;
      at = close + 1;
      continue;
    }
    bool boundary = at > 0 && std::isspace(static_cast<unsigned char>(text[at - 1]));
    if (boundary && text.compare(at, qualified_name.size(), qualified_name) == 0) {
      size_t p = at + qualified_name.size();
      while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
      if (p < text.size() && text[p] == '=') {
        ++p;
        while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) return pos_at(p + 1);
      }
    }
    ++at;
  }
  return pos(node);
}

SourcePos XmlDocument::text_pos(pugi::xml_node node) const {
  ptrdiff_t offset = node.offset_debug();
  if (offset < 0) return {};
  std::string_view text = *utf8_;
  size_t at = static_cast<size_t>(offset);
  while (at < text.size() && text[at] != '>') {
    if (text[at] == '"' || text[at] == '\'') {
      size_t close = text.find(text[at], at + 1);
      if (close == std::string_view::npos) break;
      at = close;
    }
    ++at;
  }
  if (at < text.size()) ++at;
  // Skip a CDATA opener so the column points at the first character of the text.
  if (text.compare(at, 9, "<![CDATA[") == 0) at += 9;
  return pos_at(at);
}

void NamespaceScope::push(pugi::xml_node element) {
  marks_.push_back(bindings_.size());
  for (pugi::xml_attribute a : element.attributes()) {
    std::string_view name = a.name();
    if (name == "xmlns") {
      bindings_.emplace_back(std::string_view{}, a.value());
    } else if (name.rfind("xmlns:", 0) == 0) {
      bindings_.emplace_back(name.substr(6), a.value());
    }
  }
}

void NamespaceScope::pop() {
  bindings_.resize(marks_.back());
  marks_.pop_back();
}

std::string_view NamespaceScope::lookup(std::string_view prefix) const {
  if (prefix == "xml") return "http://www.w3.org/XML/1998/namespace";
  for (auto it = bindings_.rbegin(); it != bindings_.rend(); ++it) {
    if (it->first == prefix) return it->second;
  }
  return {};
}

NamespaceScope::Name NamespaceScope::element_name(pugi::xml_node element) const {
  std::string_view name = element.name();
  size_t colon = name.find(':');
  if (colon == std::string_view::npos) return Name{lookup({}), name, true};
  std::string_view ns = lookup(name.substr(0, colon));
  return Name{ns, name.substr(colon + 1), !ns.empty()};
}

NamespaceScope::Name NamespaceScope::attribute_name(pugi::xml_attribute attribute) const {
  std::string_view name = attribute.name();
  size_t colon = name.find(':');
  if (colon == std::string_view::npos) return Name{{}, name, true};
  std::string_view prefix = name.substr(0, colon);
  if (prefix == "xmlns") return Name{"http://www.w3.org/2000/xmlns/", name.substr(colon + 1), true};
  std::string_view ns = lookup(prefix);
  return Name{ns, name.substr(colon + 1), !ns.empty()};
}

}  // namespace banshi::model
