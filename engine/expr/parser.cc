// Recursive-descent FEEL parser. Precedence, lowest first: if/for/some/every,
// or, and, comparison (= != < <= > >= between in instance of), + -, * /, **,
// unary -, postfix (path, filter, call), primary.
#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "expr/ast.h"
#include "expr/lexer.h"

namespace banshi::expr {

namespace {

constexpr std::array<std::string_view, 18> kKeywords = {
    "and", "or", "in", "between", "if", "then", "else", "for", "return",
    "some", "every", "satisfies", "instance", "of", "function", "true", "false", "null"};

constexpr std::array<std::string_view, 14> kTypeNames = {
    "years and months duration", "days and time duration", "date and time", "number", "string",
    "boolean", "date", "time", "list", "context", "range", "function", "Any", "null"};

bool is_keyword(std::string_view text) {
  return std::find(kKeywords.begin(), kKeywords.end(), text) != kKeywords.end();
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd: return "the end of the expression";
    case TokenKind::kString: return "a string";
    case TokenKind::kNumber: return fmt::format("'{}'", token.text);
    default: return fmt::format("'{}'", token.text);
  }
}

using NodePtr = std::unique_ptr<Node>;

// A name made only of plain words (no keywords, operators or punctuation)
// needs no special matching: the token stream spells it.
bool plain_name(std::string_view name) {
  if (name.empty()) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find(' ', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view word = name.substr(start, end - start);
    if (word.empty() || is_keyword(word)) return false;
    for (size_t i = 0; i < word.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(word[i]);
      bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '?' || c >= 0x80;
      bool digit = c >= '0' && c <= '9';
      if (!(letter || (i > 0 && (digit || c == '\'')))) return false;
    }
    start = end + 1;
  }
  return true;
}


class Parser {
 public:
  Parser(std::vector<Token> tokens, Mode mode, std::string_view text, const KnownNames* known, bool lenient_calls)
      : tokens_(std::move(tokens)), mode_(mode), text_(text), lenient_calls_(lenient_calls), known_(known) {}

  Result<NodePtr, CompileError> run() {
    NodePtr root = mode_ == Mode::kUnaryTests ? parse_unary_tests_root() : parse_top_expression();
    if (!root) return error_;
    return root;
  }

 private:
  // ---- token helpers -------------------------------------------------------
  const Token& peek(size_t ahead = 0) const {
    size_t index = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[index];
  }
  bool symbol_at(std::string_view s, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.kind == TokenKind::kSymbol && t.text == s;
  }
  bool keyword_at(std::string_view k, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.kind == TokenKind::kName && t.text == k;
  }
  bool at_end() const { return peek().kind == TokenKind::kEnd; }
  const Token& take() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  NodePtr fail(SourcePos pos, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = CompileError{pos, std::move(message)};
    }
    return nullptr;
  }
  NodePtr fail_here(std::string message) { return fail(peek().pos, std::move(message)); }
  // A call of a built-in with the wrong arguments: a compile error, or with
  // CompileOptions::call_errors_yield_null a null carrying the message.
  NodePtr call_error(SourcePos pos, std::string message) {
    if (!lenient_calls_) return fail(pos, std::move(message));
    return literal(Value::null(fmt::format("{}:{}: {}", pos.line, pos.column, message)), pos);
  }

  NodePtr make(NodeKind kind, SourcePos pos) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->pos = pos;
    return node;
  }
  // Appends children and keeps the tree height bounded so that evaluation and
  // destruction recurse at most kMaxNestingDepth frames deep.
  NodePtr finish(NodePtr node) {
    uint32_t height = 0;
    for (const auto& child : node->children) {
      if (child) height = std::max(height, child->height);
    }
    node->height = height + 1;
    if (node->height > kMaxNestingDepth) {
      return fail(node->pos, fmt::format("the expression is nested too deeply (more than {} levels)",
                                         kMaxNestingDepth));
    }
    return node;
  }
  NodePtr literal(Value value, SourcePos pos) {
    auto node = make(NodeKind::kLiteral, pos);
    node->literal = std::move(value);
    return node;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) { ++parser.depth_; }
    ~DepthGuard() { --parser.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool too_deep() const { return parser.depth_ > kMaxNestingDepth; }
    Parser& parser;
  };
  NodePtr fail_too_deep() {
    return fail_here(fmt::format("the expression is nested too deeply (more than {} levels)", kMaxNestingDepth));
  }

  // ---- entry points --------------------------------------------------------
  NodePtr parse_top_expression() {
    if (at_end()) return fail_here("the expression is empty");
    NodePtr e = parse_expression();
    if (!e) return nullptr;
    if (!at_end()) return fail_here(fmt::format("unexpected {} after the end of the expression", describe(peek())));
    return e;
  }

  NodePtr parse_unary_tests_root() {
    if (at_end()) return fail_here("the unary tests are empty (write '-' to match anything)");
    SourcePos start = peek().pos;
    if (symbol_at("-") && peek(1).kind == TokenKind::kEnd) {
      take();
      return make(NodeKind::kTestAny, start);
    }
    if (keyword_at("not") && symbol_at("(", 1)) {
      size_t saved = pos_;
      take();
      take();
      NodePtr tests = parse_test_list(start, /*full_expressions=*/true, ")");
      if (!tests) return nullptr;
      if (symbol_at(")") && peek(1).kind == TokenKind::kEnd) {
        take();
        auto negation = make(NodeKind::kTestNot, start);
        negation->children.push_back(std::move(tests));
        return finish(std::move(negation));
      }
      pos_ = saved;  // not(...) was only the start of a longer test
    }
    NodePtr tests = parse_test_list(start, /*full_expressions=*/true, "");
    if (!tests) return nullptr;
    if (!at_end()) return fail_here(fmt::format("expected ',' or the end of the tests, found {}", describe(peek())));
    return tests;
  }

  // Comma-separated positive unary tests, up to `closer` (not consumed) or the end.
  NodePtr parse_test_list(SourcePos pos, bool full_expressions, std::string_view closer) {
    auto list = make(NodeKind::kTestList, pos);
    while (true) {
      NodePtr test = parse_positive_test(full_expressions);
      if (!test) return nullptr;
      list->children.push_back(std::move(test));
      if (!symbol_at(",")) break;
      take();
    }
    if (!closer.empty() && !symbol_at(closer)) {
      return fail_here(fmt::format("expected '{}' after the tests, found {}", closer, describe(peek())));
    }
    return finish(std::move(list));
  }

  NodePtr parse_positive_test(bool full_expressions) {
    DepthGuard guard(*this);
    if (guard.too_deep()) return fail_too_deep();
    const Token& t = peek();
    SourcePos pos = t.pos;
    static constexpr std::pair<std::string_view, BinaryOp> kOps[] = {
        {"<", BinaryOp::kLt}, {"<=", BinaryOp::kLe}, {">", BinaryOp::kGt},
        {">=", BinaryOp::kGe}, {"=", BinaryOp::kEq}, {"!=", BinaryOp::kNe}};
    if (t.kind == TokenKind::kSymbol) {
      for (const auto& [text, op] : kOps) {
        if (t.text == text) {
          take();
          NodePtr endpoint = parse_additive();
          if (!endpoint) return nullptr;
          auto test = make(NodeKind::kTestCompare, pos);
          test->op = op;
          test->children.push_back(std::move(endpoint));
          return finish(std::move(test));
        }
      }
    }
    int questions_before = question_marks_;
    NodePtr value = full_expressions ? parse_expression() : parse_additive();
    if (!value) return nullptr;
    auto test = make(NodeKind::kTestExpr, pos);
    test->flag_a = question_marks_ != questions_before;
    test->children.push_back(std::move(value));
    return finish(std::move(test));
  }

  // ---- expressions ---------------------------------------------------------
  NodePtr parse_expression() {
    DepthGuard guard(*this);
    if (guard.too_deep()) return fail_too_deep();
    return parse_or();
  }

  NodePtr parse_or() {
    NodePtr lhs = parse_and();
    while (lhs && keyword_at("or")) {
      SourcePos pos = take().pos;
      NodePtr rhs = parse_and();
      if (!rhs) return nullptr;
      auto node = make(NodeKind::kOr, pos);
      node->children.push_back(std::move(lhs));
      node->children.push_back(std::move(rhs));
      lhs = finish(std::move(node));
    }
    return lhs;
  }

  NodePtr parse_and() {
    NodePtr lhs = parse_comparison();
    while (lhs && keyword_at("and")) {
      SourcePos pos = take().pos;
      NodePtr rhs = parse_comparison();
      if (!rhs) return nullptr;
      auto node = make(NodeKind::kAnd, pos);
      node->children.push_back(std::move(lhs));
      node->children.push_back(std::move(rhs));
      lhs = finish(std::move(node));
    }
    return lhs;
  }

  NodePtr parse_comparison() {
    NodePtr lhs = parse_additive();
    while (lhs) {
      const Token& t = peek();
      SourcePos pos = t.pos;
      std::optional<BinaryOp> op;
      if (t.kind == TokenKind::kSymbol) {
        if (t.text == "=") op = BinaryOp::kEq;
        else if (t.text == "!=") op = BinaryOp::kNe;
        else if (t.text == "<") op = BinaryOp::kLt;
        else if (t.text == "<=") op = BinaryOp::kLe;
        else if (t.text == ">") op = BinaryOp::kGt;
        else if (t.text == ">=") op = BinaryOp::kGe;
      }
      if (op) {
        take();
        NodePtr rhs = parse_additive();
        if (!rhs) return nullptr;
        auto node = make(NodeKind::kBinary, pos);
        node->op = *op;
        node->children.push_back(std::move(lhs));
        node->children.push_back(std::move(rhs));
        lhs = finish(std::move(node));
      } else if (keyword_at("between")) {
        take();
        NodePtr low = parse_additive();
        if (!low) return nullptr;
        if (!keyword_at("and")) return fail_here("expected 'and' between the bounds of 'between'");
        take();
        NodePtr high = parse_additive();
        if (!high) return nullptr;
        auto node = make(NodeKind::kBetween, pos);
        node->children.push_back(std::move(lhs));
        node->children.push_back(std::move(low));
        node->children.push_back(std::move(high));
        lhs = finish(std::move(node));
      } else if (keyword_at("in")) {
        take();
        NodePtr tests = parse_in_tests();
        if (!tests) return nullptr;
        auto node = make(NodeKind::kIn, pos);
        node->children.push_back(std::move(lhs));
        node->children.push_back(std::move(tests));
        lhs = finish(std::move(node));
      } else if (keyword_at("instance") && keyword_at("of", 1)) {
        take();
        take();
        auto type = read_type(0);
        if (!type) return nullptr;
        auto node = make(NodeKind::kInstanceOf, pos);
        node->name = type->name;
        node->type = std::move(type);
        node->children.push_back(std::move(lhs));
        lhs = finish(std::move(node));
      } else {
        break;
      }
    }
    return lhs;
  }

  // A type: a name, or list<T>, range<T>, context<k: T, ...>,
  // function<T, ...> -> R. Null after a compile error.
  std::shared_ptr<TypeSpec> read_type(int depth) {
    if (depth > 32) {
      fail_here("the type is nested too deeply");
      return nullptr;
    }
    auto type = std::make_shared<TypeSpec>();
    type->name = read_type_name();
    if (type->name.empty()) {
      fail_here("expected a type name after 'instance of'");
      return nullptr;
    }
    const bool generic = type->name == "list" || type->name == "range" || type->name == "context" ||
                         type->name == "function";
    if (!generic || !symbol_at("<")) return type;
    take();
    type->composite = true;
    auto expect = [&](std::string_view symbol, std::string_view what) {
      if (symbol_at(symbol)) {
        take();
        return true;
      }
      fail_here(fmt::format("expected '{}' {} in the type '{}<...>'", symbol, what, type->name));
      return false;
    };
    if (type->name == "list" || type->name == "range") {
      auto inner = read_type(depth + 1);
      if (!inner) return nullptr;
      type->members.push_back(std::move(*inner));
      if (!expect(">", "after the element type")) return nullptr;
      return type;
    }
    if (type->name == "context") {
      do {
        std::string key;
        while (peek().kind == TokenKind::kName || peek().kind == TokenKind::kString) {
          key += (key.empty() ? "" : " ") + take().text;
        }
        if (key.empty()) {
          fail_here("expected an entry name in the type 'context<...>'");
          return nullptr;
        }
        if (!expect(":", "after the entry name")) return nullptr;
        auto inner = read_type(depth + 1);
        if (!inner) return nullptr;
        type->keys.push_back(std::move(key));
        type->members.push_back(std::move(*inner));
      } while (symbol_at(",") && (take(), true));
      if (!expect(">", "after the entries")) return nullptr;
      return type;
    }
    // function<T, ...> -> R
    if (!symbol_at(">")) {
      do {
        auto inner = read_type(depth + 1);
        if (!inner) return nullptr;
        type->members.push_back(std::move(*inner));
      } while (symbol_at(",") && (take(), true));
    }
    if (!expect(">", "after the parameter types")) return nullptr;
    if (!expect("-", "(of '->') before the result type") || !expect(">", "(of '->') before the result type")) {
      return nullptr;
    }
    auto result = read_type(depth + 1);
    if (!result) return nullptr;
    type->members.push_back(std::move(*result));
    return type;
  }

  std::string read_type_name() {
    for (std::string_view type : kTypeNames) {
      size_t words = static_cast<size_t>(std::count(type.begin(), type.end(), ' ')) + 1;
      std::string joined;
      bool ok = true;
      for (size_t i = 0; i < words && ok; ++i) {
        if (peek(i).kind != TokenKind::kName) ok = false;
        else joined += (i ? " " : "") + peek(i).text;
      }
      if (ok && joined == type) {
        for (size_t i = 0; i < words; ++i) take();
        return std::string(type);
      }
    }
    if (peek().kind == TokenKind::kName) return take().text;
    return {};
  }

  // The right side of 'in': one positive unary test or a parenthesised list.
  NodePtr parse_in_tests() {
    SourcePos pos = peek().pos;
    if (symbol_at("(")) {
      size_t saved = pos_;
      take();
      NodePtr first = parse_positive_test(false);
      if (!first) return nullptr;
      if (!symbol_at(",") && !symbol_at(")")) {
        // An open range "(a..b]" or a parenthesised expression: reparse as one value.
        pos_ = saved;
        auto list = make(NodeKind::kTestList, pos);
        NodePtr test = parse_positive_test(false);
        if (!test) return nullptr;
        list->children.push_back(std::move(test));
        return finish(std::move(list));
      }
      auto list = make(NodeKind::kTestList, pos);
      list->children.push_back(std::move(first));
      while (symbol_at(",")) {
        take();
        NodePtr test = parse_positive_test(false);
        if (!test) return nullptr;
        list->children.push_back(std::move(test));
      }
      if (!symbol_at(")")) return fail_here("expected ')' after the tests of 'in'");
      take();
      return finish(std::move(list));
    }
    auto list = make(NodeKind::kTestList, pos);
    NodePtr test = parse_positive_test(false);
    if (!test) return nullptr;
    list->children.push_back(std::move(test));
    return finish(std::move(list));
  }

  NodePtr parse_binary_level(int level) {
    // level 0: + -, level 1: * /, level 2: **
    NodePtr lhs = level == 2 ? parse_unary() : parse_binary_level(level + 1);
    while (lhs) {
      const Token& t = peek();
      if (t.kind != TokenKind::kSymbol) break;
      std::optional<BinaryOp> op;
      if (level == 0 && t.text == "+") op = BinaryOp::kAdd;
      if (level == 0 && t.text == "-") op = BinaryOp::kSubtract;
      if (level == 1 && t.text == "*") op = BinaryOp::kMultiply;
      if (level == 1 && t.text == "/") op = BinaryOp::kDivide;
      if (level == 2 && t.text == "**") op = BinaryOp::kPower;
      if (!op) break;
      SourcePos pos = take().pos;
      NodePtr rhs = level == 2 ? parse_unary() : parse_binary_level(level + 1);
      if (!rhs) return nullptr;
      auto node = make(NodeKind::kBinary, pos);
      node->op = *op;
      node->children.push_back(std::move(lhs));
      node->children.push_back(std::move(rhs));
      lhs = finish(std::move(node));
    }
    return lhs;
  }
  NodePtr parse_additive() { return parse_binary_level(0); }

  NodePtr parse_unary() {
    DepthGuard guard(*this);
    if (guard.too_deep()) return fail_too_deep();
    if (symbol_at("-")) {
      SourcePos pos = take().pos;
      NodePtr operand = parse_unary();
      if (!operand) return nullptr;
      if (operand->kind == NodeKind::kLiteral && operand->literal.is_number()) {
        operand->literal = Value::number(operand->literal.as_number().negated());
        operand->pos = pos;
        return operand;
      }
      auto node = make(NodeKind::kNegate, pos);
      node->children.push_back(std::move(operand));
      return finish(std::move(node));
    }
    return parse_postfix();
  }

  NodePtr parse_postfix() {
    NodePtr node = parse_primary();
    while (node) {
      if (symbol_at(".")) {
        take();
        auto path = make(NodeKind::kPath, peek().pos);
        path->name = match_special_name();
        if (path->name.empty()) {
          if (peek().kind != TokenKind::kName) return fail_here("expected a name after '.'");
          path->name = read_words();
        }
        path->children.push_back(std::move(node));
        node = finish(std::move(path));
      } else if (symbol_at("[") && !in_range_end_) {
        SourcePos pos = take().pos;
        NodePtr filter = parse_expression();
        if (!filter) return nullptr;
        if (!symbol_at("]")) return fail_here("expected ']' after the filter");
        take();
        auto f = make(NodeKind::kFilter, pos);
        f->children.push_back(std::move(node));
        f->children.push_back(std::move(filter));
        node = finish(std::move(f));
      } else if (symbol_at("(")) {
        SourcePos pos = peek().pos;
        node = parse_invocation(std::move(node), pos);
      } else {
        break;
      }
    }
    return node;
  }

  // A name of one or more words ("applicant", "Applicant Age"): consecutive
  // name tokens that are not keywords.
  std::string read_words() {
    std::string name = take().text;
    while (peek().kind == TokenKind::kName && !is_keyword(peek().text) && !symbol_at("(", 1)) {
      name += " " + take().text;
    }
    return name;
  }

  // Longest run of name tokens that spells a built-in function followed by '('.
  const Builtin* match_builtin(size_t& words) {
    for (size_t count = 5; count >= 1; --count) {
      std::string joined;
      bool ok = true;
      for (size_t i = 0; i < count && ok; ++i) {
        if (peek(i).kind != TokenKind::kName) ok = false;
        else joined += (i ? " " : "") + peek(i).text;
      }
      if (!ok || !symbol_at("(", count)) continue;
      if (const Builtin* builtin = find_builtin(joined)) {
        words = count;
        return builtin;
      }
    }
    return nullptr;
  }

  NodePtr parse_primary() {
    const Token& t = peek();
    SourcePos pos = t.pos;
    switch (t.kind) {
      case TokenKind::kEnd: return fail_here("the expression ends too early");
      case TokenKind::kNumber: {
        auto number = Decimal::parse(take().text);
        if (!number) return fail(pos, "the number is out of range");
        return literal(Value::number(*number), pos);
      }
      case TokenKind::kString: return literal(Value::string(take().text), pos);
      case TokenKind::kName: return parse_name_primary();
      case TokenKind::kSymbol: break;
    }
    if (t.text == "(") {
      take();
      NodePtr inner = parse_expression();
      if (!inner) return nullptr;
      if (symbol_at("..")) return parse_range_rest(std::move(inner), pos, /*start_included=*/false);
      if (!symbol_at(")")) {
        return fail_here(fmt::format("expected ')' to close the '(' at {}:{}, found {}", pos.line, pos.column,
                                     describe(peek())));
      }
      take();
      return inner;
    }
    if (t.text == "]") {
      take();
      NodePtr start = parse_expression();
      if (!start) return nullptr;
      if (!symbol_at("..")) return fail_here("expected '..' in the range");
      return parse_range_rest(std::move(start), pos, false);
    }
    if (t.text == "[") {
      take();
      auto list = make(NodeKind::kList, pos);
      if (symbol_at("]")) {
        take();
        return finish(std::move(list));
      }
      NodePtr first = parse_expression();
      if (!first) return nullptr;
      if (symbol_at("..")) return parse_range_rest(std::move(first), pos, true);
      list->children.push_back(std::move(first));
      while (symbol_at(",")) {
        take();
        NodePtr item = parse_expression();
        if (!item) return nullptr;
        list->children.push_back(std::move(item));
      }
      if (!symbol_at("]")) {
        return fail_here(fmt::format("expected ',' or ']' in the list that starts at {}:{}, found {}", pos.line,
                                     pos.column, describe(peek())));
      }
      take();
      return finish(std::move(list));
    }
    if (t.text == "{") return parse_context();
    static constexpr std::pair<std::string_view, BinaryOp> kRangeOps[] = {
        {"<", BinaryOp::kLt}, {"<=", BinaryOp::kLe}, {">", BinaryOp::kGt},
        {">=", BinaryOp::kGe}, {"=", BinaryOp::kEq}, {"!=", BinaryOp::kNe}};
    for (const auto& [text, op] : kRangeOps) {
      if (t.text == text) {
        take();
        NodePtr endpoint = parse_additive();
        if (!endpoint) return nullptr;
        auto range = make(NodeKind::kOpenRange, pos);
        range->op = op;
        range->children.push_back(std::move(endpoint));
        return finish(std::move(range));
      }
    }
    if (t.text == "@") {
      take();
      if (peek().kind != TokenKind::kString) return fail_here("expected a string after '@'");
      std::string text = take().text;
      Value value = parse_temporal_literal(text);
      if (value.is_null()) {
        return fail(pos, fmt::format("@\"{}\" is not a valid date, time, date and time or duration", text));
      }
      return literal(std::move(value), pos);
    }
    return fail_here(fmt::format("unexpected {}", describe(t)));
  }

  static Value parse_temporal_literal(std::string_view text) {
    if (!text.empty() && (text[0] == 'P' || (text.size() > 1 && text[0] == '-' && text[1] == 'P'))) {
      if (auto ym = YearsMonthsDuration::parse(text)) return Value::duration(*ym);
      if (auto dt = DaysTimeDuration::parse(text)) return Value::duration(*dt);
      return Value();
    }
    if (text.find('T') != std::string_view::npos) {
      if (auto dt = DateTime::parse(text)) return Value::date_time(*dt);
      return Value();
    }
    if (auto d = Date::parse(text)) return Value::date(*d);
    if (auto t = Time::parse(text)) return Value::time(*t);
    return Value();
  }

  NodePtr parse_range_rest(NodePtr start, SourcePos pos, bool start_included) {
    take();  // ..
    // In "]1..2[" the closing '[' must not be read as a filter on 2.
    bool saved_range_end = in_range_end_;
    in_range_end_ = true;
    NodePtr end = parse_expression();
    in_range_end_ = saved_range_end;
    if (!end) return nullptr;
    bool end_included;
    if (symbol_at("]")) end_included = true;
    else if (symbol_at(")") || symbol_at("[")) end_included = false;
    else return fail_here("expected ']' or ')' to close the range");
    take();
    auto range = make(NodeKind::kRange, pos);
    range->flag_a = start_included;
    range->flag_b = end_included;
    range->children.push_back(std::move(start));
    range->children.push_back(std::move(end));
    return finish(std::move(range));
  }

  NodePtr parse_context() {
    SourcePos pos = take().pos;
    auto context = make(NodeKind::kContext, pos);
    if (symbol_at("}")) {
      take();
      return finish(std::move(context));
    }
    while (true) {
      std::string key;
      SourcePos key_pos = peek().pos;
      if (peek().kind == TokenKind::kString) {
        key = take().text;
      } else if (peek().kind == TokenKind::kName) {
        key = take().text;
        while (true) {
          if (peek().kind == TokenKind::kName) {
            key += " " + take().text;
            continue;
          }
          // The additional name symbols ('foo+bar', 'a.b/c-d') join the parts
          // they touch, with no space on either side.
          const Token& symbol = peek();
          bool joins = symbol.kind == TokenKind::kSymbol && !symbol.space_before &&
                       (symbol.text == "+" || symbol.text == "-" || symbol.text == "*" || symbol.text == "/" ||
                        symbol.text == "." || symbol.text == "'") &&
                       peek(1).kind == TokenKind::kName && !peek(1).space_before;
          if (!joins) break;
          key += take().text;
          key += take().text;
        }
      } else {
        return fail_here(fmt::format("expected a name or a string as a context key, found {}", describe(peek())));
      }
      if (std::find(context->names.begin(), context->names.end(), key) != context->names.end()) {
        return fail(key_pos, fmt::format("the context has the key '{}' twice", key));
      }
      if (!symbol_at(":")) return fail_here(fmt::format("expected ':' after the context key '{}'", key));
      take();
      declared_.insert(key);
      NodePtr value = parse_expression();
      if (!value) return nullptr;
      context->names.push_back(std::move(key));
      context->children.push_back(std::move(value));
      if (symbol_at(",")) {
        take();
        continue;
      }
      if (symbol_at("}")) {
        take();
        return finish(std::move(context));
      }
      return fail_here(fmt::format("expected ',' or '}}' in the context that starts at {}:{}, found {}", pos.line,
                                   pos.column, describe(peek())));
    }
  }

  NodePtr parse_name_primary() {
    const Token& t = peek();
    SourcePos pos = t.pos;
    if (t.text == "true" || t.text == "false") return literal(Value::boolean(take().text == "true"), pos);
    if (t.text == "null") {
      take();
      return literal(Value(), pos);
    }
    if (t.text == "if") return parse_if();
    if (t.text == "for") return parse_iteration(NodeKind::kFor, "return");
    if (t.text == "some") return parse_iteration(NodeKind::kSome, "satisfies");
    if (t.text == "every") return parse_iteration(NodeKind::kEvery, "satisfies");
    if (t.text == "function") return parse_function_definition();
    if (std::string special = match_special_name(); !special.empty()) {
      auto node = make(NodeKind::kName, pos);
      node->name = std::move(special);
      if (symbol_at("(")) return parse_invocation(std::move(node), peek().pos);
      return node;
    }
    if (is_keyword(t.text)) return fail_here(fmt::format("unexpected '{}'", t.text));
    size_t words = 0;
    const Builtin* builtin = match_builtin(words);
    if (builtin && !declared_at(words)) {
      for (size_t i = 0; i < words; ++i) take();
      return parse_call(builtin, pos);
    }
    std::string name = read_words();
    // read_words() stops before a word followed by '(': the last word of a function's name.
    if (peek().kind == TokenKind::kName && !is_keyword(peek().text) && symbol_at("(", 1)) {
      name += " " + take().text;
    }
    if (symbol_at("(")) {
      if (!declared(name)) return fail(pos, fmt::format("unknown function '{}'", name));
      auto callee = make(NodeKind::kName, pos);
      callee->name = std::move(name);
      return parse_invocation(std::move(callee), peek().pos);
    }
    if (name == "?") ++question_marks_;
    auto node = make(NodeKind::kName, pos);
    node->name = std::move(name);
    return node;
  }

  NodePtr parse_call(const Builtin* builtin, SourcePos pos) {
    take();  // (
    auto call = make(NodeKind::kCall, pos);
    call->builtin = builtin;
    std::vector<std::pair<std::string, NodePtr>> named;
    bool positional = false;
    if (!symbol_at(")")) {
      while (true) {
        size_t words = 0;
        while (peek(words).kind == TokenKind::kName) ++words;
        if (words > 0 && symbol_at(":", words)) {
          SourcePos name_pos = peek().pos;
          std::string name = take().text;
          for (size_t i = 1; i < words; ++i) name += " " + take().text;
          take();  // :
          if (positional) return fail(name_pos, "named and positional arguments cannot be mixed");
          NodePtr arg = parse_expression();
          if (!arg) return nullptr;
          named.emplace_back(std::move(name), std::move(arg));
        } else {
          if (!named.empty()) return fail_here("named and positional arguments cannot be mixed");
          positional = true;
          NodePtr arg = parse_expression();
          if (!arg) return nullptr;
          call->children.push_back(std::move(arg));
        }
        if (symbol_at(",")) {
          take();
          continue;
        }
        if (symbol_at(")")) break;
        return fail_here(fmt::format("expected ')' after the arguments of '{}'", builtin->name));
      }
    }
    take();  // )
    if (!named.empty()) {
      for (auto& [name, arg] : named) {
        const auto& params = std::find(builtin->params.begin(), builtin->params.end(), named.front().first) !=
                                     builtin->params.end()
                                 ? builtin->params
                                 : builtin->other_params;
        auto it = std::find(params.begin(), params.end(), name);
        if (it == params.end()) {
          return call_error(arg->pos, fmt::format("'{}' has no parameter named '{}'", builtin->name, name));
        }
        size_t index = static_cast<size_t>(it - params.begin());
        if (call->children.size() <= index) call->children.resize(index + 1);
        if (call->children[index]) {
          return call_error(arg->pos, fmt::format("the argument '{}' is given twice", name));
        }
        call->children[index] = std::move(arg);
      }
      for (auto& child : call->children) {
        if (!child) child = literal(Value(), pos);
      }
    }
    int count = static_cast<int>(call->children.size());
    if (count < builtin->min_args || (builtin->max_args >= 0 && count > builtin->max_args)) {
      std::string expected = builtin->max_args < 0 ? fmt::format("at least {}", builtin->min_args)
                             : builtin->min_args == builtin->max_args
                                 ? fmt::format("{}", builtin->min_args)
                                 : fmt::format("{} to {}", builtin->min_args, builtin->max_args);
      return call_error(pos, fmt::format("'{}' takes {} argument{}, not {}", builtin->name, expected,
                                   builtin->max_args == 1 ? "" : "s", count));
    }
    return finish(std::move(call));
  }

  // Whether the next `words` name tokens spell a name the expression declares
  // (a context entry, a parameter, a known name), which hides a built-in.
  bool declared_at(size_t words) const {
    std::string joined;
    for (size_t i = 0; i < words; ++i) joined += (i ? " " : "") + peek(i).text;
    return declared_.contains(joined);  // local names only: known names never hide built-ins
  }
  bool declared(std::string_view name) const {
    return declared_.find(name) != declared_.end() || (known_ && known_->callable(name));
  }

  // A known name that contains keywords, operators or punctuation ("Date-Time",
  // "values in a list"), written exactly at the current token and ending at a
  // token boundary; consumes its tokens. Empty when none matches.
  std::string match_special_name() {
    if (!known_ || peek().kind != TokenKind::kName) return {};
    const std::vector<std::string>* candidates = known_->special(peek().text);
    if (!candidates) return {};
    size_t offset = peek().offset;
    for (const auto& name : *candidates) {
      if (text_.substr(offset).substr(0, name.size()) != name) continue;
      size_t end = offset + name.size();
      size_t count = 0;
      while (peek(count).kind != TokenKind::kEnd && peek(count).offset < end) ++count;
      // The next token must start right at the end of the name (or after a
      // space), so that the name does not stop inside a token ("Date" in "Dates").
      const Token& next = peek(count);
      bool boundary = next.kind == TokenKind::kEnd ? end <= text_.size() : (next.offset == end || next.space_before);
      if (next.kind != TokenKind::kEnd && next.space_before && next.offset != end) {
        char c = text_[end];
        boundary = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/';
      }
      if (next.kind == TokenKind::kEnd && end < text_.size()) {
        char c = text_[end];
        boundary = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/';
      }
      if (count == 0 || !boundary) continue;
      for (size_t i = 0; i < count; ++i) take();
      return name;
    }
    return {};
  }

  // Arguments of a call: positional (empty name) or named, up to ')'.
  bool parse_arguments(std::vector<std::pair<std::string, NodePtr>>& args, std::string_view callee) {
    take();  // (
    bool positional = false;
    bool named = false;
    if (symbol_at(")")) {
      take();
      return true;
    }
    while (true) {
      size_t words = 0;
      while (peek(words).kind == TokenKind::kName) ++words;
      if (words > 0 && symbol_at(":", words)) {
        SourcePos name_pos = peek().pos;
        std::string name = take().text;
        for (size_t i = 1; i < words; ++i) name += " " + take().text;
        take();  // :
        if (positional) return fail(name_pos, "named and positional arguments cannot be mixed") != nullptr;
        named = true;
        NodePtr arg = parse_expression();
        if (!arg) return false;
        args.emplace_back(std::move(name), std::move(arg));
      } else {
        if (named) return fail_here("named and positional arguments cannot be mixed") != nullptr;
        positional = true;
        NodePtr arg = parse_expression();
        if (!arg) return false;
        args.emplace_back(std::string(), std::move(arg));
      }
      if (symbol_at(",")) {
        take();
        continue;
      }
      if (symbol_at(")")) break;
      return fail_here(fmt::format("expected ')' after the arguments of '{}'", callee)) != nullptr;
    }
    take();  // )
    return true;
  }

  // A call of a function value: children[0] is the callee, then the
  // arguments; names[i] names argument i (all empty: positional).
  NodePtr parse_invocation(NodePtr callee, SourcePos pos) {
    std::string callee_name = callee->kind == NodeKind::kName ? callee->name : std::string("the function");
    std::vector<std::pair<std::string, NodePtr>> args;
    if (!parse_arguments(args, callee_name)) return nullptr;
    auto call = make(NodeKind::kCall, pos);
    call->children.push_back(std::move(callee));
    bool named = false;
    for (auto& [name, arg] : args) {
      if (!name.empty()) {
        if (std::find(call->names.begin(), call->names.end(), name) != call->names.end()) {
          return fail(arg->pos, fmt::format("the argument '{}' is given twice", name));
        }
        named = true;
      }
      call->names.push_back(name);
      call->children.push_back(std::move(arg));
    }
    if (!named) call->names.clear();
    return finish(std::move(call));
  }

  // function(a, b: number) body
  NodePtr parse_function_definition() {
    SourcePos pos = take().pos;
    if (!symbol_at("(")) return fail_here("expected '(' after 'function'");
    take();
    auto node = make(NodeKind::kFunction, pos);
    while (!symbol_at(")")) {
      if (peek().kind != TokenKind::kName || is_keyword(peek().text)) {
        return fail_here(fmt::format("expected a parameter name, found {}", describe(peek())));
      }
      std::string name = take().text;
      while (peek().kind == TokenKind::kName && !is_keyword(peek().text)) name += " " + take().text;
      if (std::find(node->names.begin(), node->names.end(), name) != node->names.end()) {
        return fail_here(fmt::format("the parameter '{}' is named twice", name));
      }
      if (symbol_at(":")) {
        take();
        if (!skip_type()) return nullptr;
      }
      node->names.push_back(name);
      declared_.insert(std::move(name));
      if (symbol_at(",")) {
        take();
        continue;
      }
      if (!symbol_at(")")) return fail_here(fmt::format("expected ',' or ')' after a parameter, found {}", describe(peek())));
    }
    take();  // )
    if (keyword_at("external")) return fail_here("external functions are not supported");
    NodePtr body = parse_expression();
    if (!body) return nullptr;
    node->children.push_back(std::move(body));
    return finish(std::move(node));
  }

  // A parameter's type: a name of words, list<T>, context<a: T, ...>, function<T> -> T.
  bool skip_type() {
    if (peek().kind != TokenKind::kName) return fail_here("expected a type name") != nullptr;
    while (peek().kind == TokenKind::kName && !is_keyword(peek().text)) take();
    if (keyword_at("function") || keyword_at("null")) take();
    if (symbol_at("<")) {
      int depth = 0;
      while (!at_end()) {
        if (symbol_at("<")) ++depth;
        if (symbol_at(">")) --depth;
        take();
        if (depth == 0) break;
      }
      if (depth != 0) return fail_here("the type is not closed with '>'") != nullptr;
      if (symbol_at("-") && symbol_at(">", 1)) {
        take();
        take();
        return skip_type();
      }
    }
    return true;
  }

  NodePtr parse_if() {
    SourcePos pos = take().pos;
    NodePtr condition = parse_expression();
    if (!condition) return nullptr;
    if (!keyword_at("then")) return fail_here("expected 'then' after the condition of 'if'");
    take();
    NodePtr then_branch = parse_expression();
    if (!then_branch) return nullptr;
    if (!keyword_at("else")) return fail_here("expected 'else' after the 'then' branch of 'if'");
    take();
    NodePtr else_branch = parse_expression();
    if (!else_branch) return nullptr;
    auto node = make(NodeKind::kIf, pos);
    node->children.push_back(std::move(condition));
    node->children.push_back(std::move(then_branch));
    node->children.push_back(std::move(else_branch));
    return finish(std::move(node));
  }

  NodePtr parse_iteration(NodeKind kind, std::string_view body_keyword) {
    const Token& head = take();
    SourcePos pos = head.pos;
    std::string construct = head.text;
    auto node = make(kind, pos);
    while (true) {
      if (peek().kind != TokenKind::kName || is_keyword(peek().text)) {
        return fail_here(fmt::format("expected a variable name after '{}'", construct));
      }
      std::string name = take().text;
      while (peek().kind == TokenKind::kName && !is_keyword(peek().text)) name += " " + take().text;
      if (!keyword_at("in")) return fail_here(fmt::format("expected 'in' after the variable '{}'", name));
      take();
      SourcePos domain_pos = peek().pos;
      NodePtr domain = parse_expression();
      if (!domain) return nullptr;
      if (symbol_at("..")) {
        take();
        NodePtr end = parse_expression();
        if (!end) return nullptr;
        auto range = make(NodeKind::kIterRange, domain_pos);
        range->children.push_back(std::move(domain));
        range->children.push_back(std::move(end));
        domain = finish(std::move(range));
        if (!domain) return nullptr;
      }
      node->names.push_back(std::move(name));
      node->children.push_back(std::move(domain));
      if (symbol_at(",")) {
        take();
        continue;
      }
      break;
    }
    if (!keyword_at(body_keyword)) {
      return fail_here(fmt::format("expected '{}' after the iteration contexts of '{}'", body_keyword, construct));
    }
    take();
    NodePtr body = parse_expression();
    if (!body) return nullptr;
    node->children.push_back(std::move(body));
    return finish(std::move(node));
  }

  std::vector<Token> tokens_;
  Mode mode_;
  std::string_view text_;
  bool lenient_calls_ = false;
  const KnownNames* known_ = nullptr;
  std::set<std::string, std::less<>> declared_;  // names this expression declares (may be called, hide built-ins)
  size_t pos_ = 0;
  uint32_t depth_ = 0;
  int question_marks_ = 0;
  bool in_range_end_ = false;
  bool failed_ = false;
  CompileError error_;
};

}  // namespace

KnownNames::KnownNames(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    // A known name that is also a built-in does not hide it (an item
    // component called "date" must not break date(...)).
    if (!find_builtin(name)) callable_.insert(name);
    if (plain_name(name)) continue;
    auto tokens = tokenize(name);
    if (!tokens.ok() || tokens->empty() || tokens->front().kind != TokenKind::kName) continue;
    auto& list = special_[tokens->front().text];
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  }
  for (auto& [word, list] : special_) {
    std::sort(list.begin(), list.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }
}

Result<std::unique_ptr<Node>, CompileError> parse(std::string_view text, Mode mode, const KnownNames* known_names,
                                                  bool lenient_calls) {
  auto tokens = tokenize(text);
  if (!tokens.ok()) return tokens.error();
  return Parser(std::move(tokens).value(), mode, text, known_names, lenient_calls).run();
}

}  // namespace banshi::expr
