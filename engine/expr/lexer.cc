#include "expr/lexer.h"

#include <fmt/format.h>

#include "expr/ast.h"

namespace banshi::expr {

namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>, CompileError> run() {
    std::vector<Token> tokens;
    bool space = false;
    while (true) {
      if (!skip_space_and_comments(space)) return error_;
      Token token;
      token.pos = pos_;
      token.offset = offset_;
      token.space_before = space;
      space = false;
      if (offset_ >= text_.size()) {
        token.kind = TokenKind::kEnd;
        tokens.push_back(std::move(token));
        return tokens;
      }
      char c = text_[offset_];
      if (is_digit(c) || (c == '.' && offset_ + 1 < text_.size() && is_digit(text_[offset_ + 1]))) {
        token.kind = TokenKind::kNumber;
        lex_number(token.text);
      } else if (c == '"') {
        token.kind = TokenKind::kString;
        if (!lex_string(token.text)) return error_;
      } else if (is_name_start(c)) {
        token.kind = TokenKind::kName;
        if (!lex_name(token.text)) return error_;
      } else {
        token.kind = TokenKind::kSymbol;
        if (!lex_symbol(token.text)) return error_;
      }
      tokens.push_back(std::move(token));
    }
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_name_start(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '?' || u >= 0x80;
  }
  static bool is_name_part(char c) { return is_name_start(c) || is_digit(c) || c == '\''; }

  bool fail(SourcePos pos, std::string message) {
    error_ = CompileError{pos, std::move(message)};
    return false;
  }

  // Advances one code point, keeping line and column; false on invalid UTF-8.
  bool advance() {
    unsigned char c = static_cast<unsigned char>(text_[offset_]);
    size_t length = 1;
    if (c >= 0x80) {
      if ((c & 0xE0) == 0xC0 && c >= 0xC2) length = 2;
      else if ((c & 0xF0) == 0xE0) length = 3;
      else if ((c & 0xF8) == 0xF0 && c <= 0xF4) length = 4;
      else return fail(pos_, "the text is not valid UTF-8");
      if (offset_ + length > text_.size()) return fail(pos_, "the text is not valid UTF-8");
      for (size_t i = 1; i < length; ++i) {
        if ((static_cast<unsigned char>(text_[offset_ + i]) & 0xC0) != 0x80) {
          return fail(pos_, "the text is not valid UTF-8");
        }
      }
    }
    offset_ += length;
    if (c == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else {
      ++pos_.column;
    }
    return true;
  }

  bool skip_space_and_comments(bool& space) {
    while (offset_ < text_.size()) {
      char c = text_[offset_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        space = true;
        if (!advance()) return false;
      } else if (c == '/' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '/') {
        space = true;
        while (offset_ < text_.size() && text_[offset_] != '\n') {
          if (!advance()) return false;
        }
      } else if (c == '/' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '*') {
        space = true;
        SourcePos start = pos_;
        advance();
        advance();
        while (true) {
          if (offset_ >= text_.size()) return fail(start, "the comment is not closed with '*/'");
          if (text_[offset_] == '*' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '/') {
            advance();
            advance();
            break;
          }
          if (!advance()) return false;
        }
      } else if (static_cast<unsigned char>(c) == 0xC2 && offset_ + 1 < text_.size() &&
                 static_cast<unsigned char>(text_[offset_ + 1]) == 0xA0) {
        space = true;  // no-break space
        advance();
      } else if (static_cast<unsigned char>(c) == 0xE3 && offset_ + 2 < text_.size() &&
                 static_cast<unsigned char>(text_[offset_ + 1]) == 0x80 &&
                 static_cast<unsigned char>(text_[offset_ + 2]) == 0x80) {
        space = true;  // ideographic space, common in Chinese text
        advance();
      } else {
        break;
      }
    }
    return true;
  }

  void lex_number(std::string& out) {
    while (offset_ < text_.size() && is_digit(text_[offset_])) {
      out += text_[offset_];
      advance();
    }
    if (offset_ + 1 < text_.size() && text_[offset_] == '.' && is_digit(text_[offset_ + 1])) {
      out += '.';
      advance();
      while (offset_ < text_.size() && is_digit(text_[offset_])) {
        out += text_[offset_];
        advance();
      }
    }
    // An exponent: 1.23e4, 1e-7.
    if (offset_ < text_.size() && (text_[offset_] == 'e' || text_[offset_] == 'E')) {
      size_t digits_at = offset_ + 1;
      if (digits_at < text_.size() && (text_[digits_at] == '+' || text_[digits_at] == '-')) ++digits_at;
      if (digits_at < text_.size() && is_digit(text_[digits_at])) {
        while (offset_ < digits_at) {
          out += text_[offset_];
          advance();
        }
        while (offset_ < text_.size() && is_digit(text_[offset_])) {
          out += text_[offset_];
          advance();
        }
      }
    }
  }

  bool read_hex(size_t digits, uint32_t& out) {
    out = 0;
    for (size_t i = 0; i < digits; ++i) {
      if (offset_ >= text_.size()) return false;
      char h = text_[offset_];
      uint32_t v = 0;
      if (h >= '0' && h <= '9') v = static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v = static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v = static_cast<uint32_t>(h - 'A' + 10);
      else return false;
      out = out * 16 + v;
      advance();
    }
    return true;
  }

  bool lex_string(std::string& out) {
    SourcePos start = pos_;
    advance();  // opening quote
    while (true) {
      if (offset_ >= text_.size()) return fail(start, "the string is not closed with '\"'");
      char c = text_[offset_];
      if (c == '"') {
        advance();
        return true;
      }
      if (c == '\\') {
        SourcePos escape_pos = pos_;
        advance();
        if (offset_ >= text_.size()) return fail(start, "the string is not closed with '\"'");
        char e = text_[offset_];
        advance();
        switch (e) {
          case '"': out += '"'; break;
          case '\'': out += '\''; break;
          case '\\': out += '\\'; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'u': {
            uint32_t cp = 0;
            if (!read_hex(4, cp)) return fail(escape_pos, "'\\u' must be followed by four hex digits");
            if (cp >= 0xD800 && cp <= 0xDBFF && offset_ + 1 < text_.size() && text_[offset_] == '\\' &&
                text_[offset_ + 1] == 'u') {
              advance();
              advance();
              uint32_t low = 0;
              if (!read_hex(4, low) || low < 0xDC00 || low > 0xDFFF) {
                return fail(escape_pos, "the surrogate pair in '\\u' escapes is broken");
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
              return fail(escape_pos, "the surrogate pair in '\\u' escapes is broken");
            }
            append_utf8(out, cp);
            break;
          }
          case 'U': {
            uint32_t cp = 0;
            if (!read_hex(6, cp) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
              return fail(escape_pos, "'\\U' must be followed by six hex digits of a code point");
            }
            append_utf8(out, cp);
            break;
          }
          default: return fail(escape_pos, fmt::format("unknown escape '\\{}' in the string", e));
        }
        continue;
      }
      size_t before = offset_;
      if (!advance()) return false;
      out.append(text_.substr(before, offset_ - before));
    }
  }

  bool lex_name(std::string& out) {
    size_t before = offset_;
    while (offset_ < text_.size() && is_name_part(text_[offset_])) {
      // Full-width punctuation is not part of a name.
      if (!advance()) return false;
    }
    out.assign(text_.substr(before, offset_ - before));
    return true;
  }

  bool lex_symbol(std::string& out) {
    static constexpr std::string_view kTwoChar[] = {"..", "**", "!=", "<=", ">="};
    std::string_view rest = text_.substr(offset_);
    for (std::string_view symbol : kTwoChar) {
      if (rest.substr(0, 2) == symbol) {
        out.assign(symbol);
        advance();
        advance();
        return true;
      }
    }
    static constexpr std::string_view kOneChar = "()[]{},.:+-*/=<>@";
    char c = text_[offset_];
    if (kOneChar.find(c) == std::string_view::npos) {
      return fail(pos_, fmt::format("unexpected character '{}'", std::string(1, c)));
    }
    out.assign(1, c);
    advance();
    return true;
  }

  std::string_view text_;
  size_t offset_ = 0;
  SourcePos pos_;
  CompileError error_;
};

}  // namespace

Result<std::vector<Token>, CompileError> tokenize(std::string_view text) { return Lexer(text).run(); }

}  // namespace banshi::expr
