// expr/lexer.h — internal: splits FEEL text into tokens with 1-based
// line:column positions (columns count Unicode code points).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "expr/feel.h"

namespace banshi::expr {

enum class TokenKind : uint8_t { kNumber, kString, kName, kSymbol, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // numbers: digits; strings: decoded value; names and symbols: as written
  SourcePos pos;
  size_t offset = 0;  // byte offset in the source
  bool space_before = false;
};

Result<std::vector<Token>, CompileError> tokenize(std::string_view text);

}  // namespace banshi::expr
