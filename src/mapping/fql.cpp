// FQL parser and evaluator. Semantics follow Segment's @segment/destination-subscriptions
// (parseFql + validate) condition by condition; the grammar is a proper precedence grammar (D9).
#include "mapping/fql.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "mapping/js_number.h"
#include "mapping/keys.h"

namespace sluice::mapping {

namespace {

// Where the compared value comes from.
enum class Base : uint8_t { kType, kEvent, kName, kUserId, kProperties, kTraits, kContext };

// Condition operators, after Segment's rewriting (`= null` -> not exists, `= 5` -> number
// equals...).
enum class Op : uint8_t {
  kStrEq,  // actual is a string equal to `str`
  kStrNe,  // not kStrEq (true for missing and non-string values)
  kNumEq,  // actual is a number equal to `num`
  kNumNe,  // actual is a number different from `num`
  kLt,     // actual is a number < num
  kLe,
  kGt,
  kGe,
  kContains,     // actual is a string containing `str`
  kNotContains,  // actual is a string not containing `str`
  kStartsWith,
  kNotStartsWith,
  kEndsWith,
  kNotEndsWith,
  kExists,  // actual is neither missing nor null
  kNotExists,
  kIsTrue,  // actual is the boolean true
  kIsFalse,
};

}  // namespace

struct FqlNode {
  enum class Kind : uint8_t { kAnd, kOr, kCondition };
  Kind kind = Kind::kCondition;
  std::vector<std::unique_ptr<FqlNode>> children;  // kAnd / kOr
  Base base = Base::kEvent;
  Op op = Op::kStrEq;
  std::vector<std::string> path;  // below properties/traits/context
  std::string str;
  double num = 0;
};

namespace {

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok : uint8_t {
  kEnd,
  kIdent,   // field names, true, false, contains, match
  kString,  // "..." (value unescaped)
  kNumber,  // [+-]digits[.digits]
  kNull,
  kAnd,
  kOr,
  kBang,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLParen,
  kRParen,
  kComma,
};

struct Token {
  Tok type = Tok::kEnd;
  size_t pos = 0;    // byte offset in the text
  std::string text;  // identifier (escapes resolved) / string value / number text
};

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isAlpha(c) || isDigit(c) || c == '_' || c == '-'; }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<FqlNode>> parse() {
    if (!advance()) return fail(std::move(error_));
    if (tok_.type == Tok::kEnd) return error(tok_.pos, "empty trigger");
    auto root = parseOr();
    if (!root) return fail(std::move(error_));
    if (tok_.type != Tok::kEnd) {
      if (tok_.type == Tok::kRParen) return error(tok_.pos, "unmatched ')'");
      return error(tok_.pos, "expected 'and', 'or' or the end of the trigger");
    }
    return root;
  }

 private:
  // 1-based column (in characters) of a byte offset.
  size_t column(size_t pos) const {
    size_t col = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++col;
    }
    // A position inside a multi-byte character counts as that character.
    if (pos < text_.size() && (static_cast<unsigned char>(text_[pos]) & 0xC0) == 0x80) --col;
    return col;
  }

  tl::unexpected<Error> error(size_t pos, std::string_view problem) {
    return fail(ErrorCode::kInvalidArgument,
                "column " + std::to_string(column(pos)) + ": " + std::string(problem));
  }

  // Sets error_ and returns false, for use inside the lexer.
  bool lexError(size_t pos, std::string_view problem) {
    error_ = error(pos, problem).value();
    return false;
  }

  std::nullptr_t parseError(size_t pos, std::string_view problem) {
    error_ = error(pos, problem).value();
    return nullptr;
  }

  bool advance() {
    while (i_ < text_.size() &&
           (text_[i_] == ' ' || text_[i_] == '\t' || text_[i_] == '\n' || text_[i_] == '\r')) {
      ++i_;
    }
    tok_ = Token{};
    tok_.pos = i_;
    if (i_ >= text_.size()) {
      tok_.type = Tok::kEnd;
      return true;
    }
    char c = text_[i_];
    switch (c) {
      case '(':
        tok_.type = Tok::kLParen;
        ++i_;
        return true;
      case ')':
        tok_.type = Tok::kRParen;
        ++i_;
        return true;
      case ',':
        tok_.type = Tok::kComma;
        ++i_;
        return true;
      case '=':
        tok_.type = Tok::kEq;
        ++i_;
        return true;
      case '!':
        ++i_;
        if (i_ < text_.size() && text_[i_] == '=') {
          ++i_;
          tok_.type = Tok::kNe;
        } else {
          tok_.type = Tok::kBang;
        }
        return true;
      case '<':
      case '>': {
        ++i_;
        bool eq = i_ < text_.size() && text_[i_] == '=';
        if (eq) ++i_;
        tok_.type = c == '<' ? (eq ? Tok::kLe : Tok::kLt) : (eq ? Tok::kGe : Tok::kGt);
        return true;
      }
      case '"':
        return lexString();
      case '\'':
        return lexError(i_, "single-quoted strings are not supported; use double quotes");
      default:
        break;
    }
    if (isDigit(c) || c == '-' || c == '+') return lexNumber();
    if (isAlpha(c) || c == '_' || c == '\\') return lexIdent();
    if (static_cast<unsigned char>(c) >= 0x80) return lexError(i_, "unexpected character");
    return lexError(i_, std::string("unexpected character '") + c + "'");
  }

  bool lexString() {
    size_t start = i_;
    ++i_;
    std::string value;
    while (true) {
      if (i_ >= text_.size()) return lexError(start, "unterminated string");
      char c = text_[i_];
      if (c == '"') {
        ++i_;
        break;
      }
      if (c == '\\') {
        if (i_ + 1 < text_.size() && (text_[i_ + 1] == '"' || text_[i_ + 1] == '\\')) {
          value += text_[i_ + 1];
          i_ += 2;
          continue;
        }
        return lexError(i_, "unknown escape in string; only \\\" and \\\\ are allowed");
      }
      value += c;
      ++i_;
    }
    tok_.type = Tok::kString;
    tok_.text = std::move(value);
    return true;
  }

  bool lexNumber() {
    size_t start = i_;
    if (text_[i_] == '-' || text_[i_] == '+') ++i_;
    size_t digits = i_;
    while (i_ < text_.size() && isDigit(text_[i_])) ++i_;
    if (i_ == digits) return lexError(start, "expected a number");
    if (i_ < text_.size() && text_[i_] == '.') {
      ++i_;
      size_t frac = i_;
      while (i_ < text_.size() && isDigit(text_[i_])) ++i_;
      if (i_ == frac) return lexError(start, "expected digits after the decimal point");
    }
    if (i_ < text_.size() && (isAlpha(text_[i_]) || text_[i_] == '.' || text_[i_] == '_')) {
      return lexError(start, "malformed number");
    }
    tok_.type = Tok::kNumber;
    tok_.text = std::string(text_.substr(start, i_ - start));
    return true;
  }

  // Identifiers: segments of [A-Za-z0-9_-] (a backslash escapes any character), joined by dots.
  bool lexIdent() {
    std::string value;
    bool raw_keyword = true;  // no escapes and no dots: may be a keyword
    while (true) {
      size_t seg_start = i_;
      while (i_ < text_.size()) {
        char c = text_[i_];
        if (c == '\\') {
          if (i_ + 1 >= text_.size()) return lexError(i_, "expected a character after '\\'");
          raw_keyword = false;
          value += '\x01';  // marks an escaped character for splitField()
          value += text_[i_ + 1];
          i_ += 2;
        } else if (isIdentChar(c)) {
          value += c;
          ++i_;
        } else {
          break;
        }
      }
      if (i_ == seg_start) return lexError(i_, "expected a field name after '.'");
      if (i_ < text_.size() && text_[i_] == '.') {
        raw_keyword = false;
        value += '.';
        ++i_;
        continue;
      }
      break;
    }
    if (raw_keyword) {
      if (value == "and") {
        tok_.type = Tok::kAnd;
        return true;
      }
      if (value == "or") {
        tok_.type = Tok::kOr;
        return true;
      }
      if (value == "null") {
        tok_.type = Tok::kNull;
        return true;
      }
    }
    tok_.type = Tok::kIdent;
    tok_.text = std::move(value);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Grammar:  or := and ('or' and)* ; and := unary ('and' unary)* ;
  //           unary := '!' function | function | '(' or ')' | field op literal

  std::unique_ptr<FqlNode> parseOr() {
    auto first = parseAnd();
    if (!first || tok_.type != Tok::kOr) return first;
    auto node = std::make_unique<FqlNode>();
    node->kind = FqlNode::Kind::kOr;
    node->children.push_back(std::move(first));
    while (tok_.type == Tok::kOr) {
      if (!advance()) return nullptr;
      auto next = parseAnd();
      if (!next) return nullptr;
      node->children.push_back(std::move(next));
    }
    return node;
  }

  std::unique_ptr<FqlNode> parseAnd() {
    auto first = parseUnary();
    if (!first || tok_.type != Tok::kAnd) return first;
    auto node = std::make_unique<FqlNode>();
    node->kind = FqlNode::Kind::kAnd;
    node->children.push_back(std::move(first));
    while (tok_.type == Tok::kAnd) {
      if (!advance()) return nullptr;
      auto next = parseUnary();
      if (!next) return nullptr;
      node->children.push_back(std::move(next));
    }
    return node;
  }

  static bool isFunctionName(const Token& t) {
    return t.type == Tok::kIdent && (t.text == "contains" || t.text == "match");
  }

  std::unique_ptr<FqlNode> parseUnary() {
    if (++depth_ > kMaxDepth) return parseError(tok_.pos, "too deeply nested");
    struct DepthGuard {
      int& d;
      ~DepthGuard() { --d; }
    } guard{depth_};
    if (tok_.type == Tok::kBang) {
      size_t bang = tok_.pos;
      if (!advance()) return nullptr;
      if (!isFunctionName(tok_) || peekChar() != '(') {
        return parseError(bang, "'!' may only precede contains( or match(");
      }
      return parseFunction(true);
    }
    if (tok_.type == Tok::kLParen) {
      size_t open = tok_.pos;
      if (!advance()) return nullptr;
      if (tok_.type == Tok::kRParen) return parseError(tok_.pos, "empty parentheses");
      auto inner = parseOr();
      if (!inner) return nullptr;
      if (tok_.type != Tok::kRParen) {
        if (tok_.type == Tok::kEnd) return parseError(open, "unclosed '('");
        return parseError(tok_.pos, "expected ')', 'and' or 'or'");
      }
      if (!advance()) return nullptr;
      return inner;
    }
    if (tok_.type == Tok::kIdent) {
      if (isFunctionName(tok_) && peekChar() == '(') return parseFunction(false);
      return parseComparison();
    }
    return parseError(tok_.pos, tok_.type == Tok::kEnd ? "expected a condition at the end"
                                                       : "expected a condition");
  }

  // The next non-blank character after the current token.
  char peekChar() const {
    size_t j = i_;
    while (j < text_.size() && (text_[j] == ' ' || text_[j] == '\t')) ++j;
    return j < text_.size() ? text_[j] : '\0';
  }

  struct Field {
    Base base;
    std::vector<std::string> path;
  };

  // Splits a field identifier into its base and path; nullopt-like false with error_ on failure.
  bool splitField(const Token& t, Field& out, bool allow_type) {
    // Segment splits paths on '.', '[' and ']' (escaped characters included) and drops empties.
    std::vector<std::string> parts;
    std::string cur;
    for (size_t k = 0; k < t.text.size(); ++k) {
      char c = t.text[k];
      if (c == '\x01') {
        c = t.text[++k];
        if (c == '.' || c == '[' || c == ']') {
          if (!cur.empty()) parts.push_back(std::move(cur));
          cur.clear();
          continue;
        }
        cur += c;
      } else if (c == '.') {
        if (!cur.empty()) parts.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) parts.push_back(std::move(cur));
    std::string shown;
    for (char c : t.text) {
      if (c != '\x01') shown += c;
    }
    if (parts.empty()) return lexError(t.pos, "unsupported field '" + shown + "'");
    const std::string& head = parts[0];
    const std::string unsupported = "unsupported field '" + shown +
                                    "'; use type, event, name, userId, properties.*, traits.* or "
                                    "context.*";
    auto simple = [&](Base b) {
      if (parts.size() != 1) return lexError(t.pos, unsupported);
      out.base = b;
      return true;
    };
    auto nested = [&](Base b) {
      if (parts.size() < 2) {
        return lexError(t.pos, "'" + head + "' needs a property, as in " + head + ".name");
      }
      out.base = b;
      out.path.assign(parts.begin() + 1, parts.end());
      return true;
    };
    if (head == "type" && allow_type) return simple(Base::kType);
    if (head == "event") return simple(Base::kEvent);
    if (head == "name") return simple(Base::kName);
    if (head == "userId") return simple(Base::kUserId);
    if (head == "properties") return nested(Base::kProperties);
    if (head == "traits") return nested(Base::kTraits);
    if (head == "context") return nested(Base::kContext);
    return lexError(t.pos, unsupported);
  }

  std::unique_ptr<FqlNode> parseFunction(bool negate) {
    bool is_match = tok_.text == "match";
    std::string fname = tok_.text;
    if (!advance()) return nullptr;  // name
    if (!advance()) return nullptr;  // '('
    if (tok_.type != Tok::kIdent) return parseError(tok_.pos, fname + "() expects a field first");
    Field field;
    // Segment's contains()/match() do not accept `type`.
    if (!splitField(tok_, field, false)) return nullptr;
    if (!advance()) return nullptr;
    if (tok_.type != Tok::kComma) return parseError(tok_.pos, "expected ','");
    if (!advance()) return nullptr;
    if (tok_.type != Tok::kString) {
      return parseError(tok_.pos, fname + "() expects a double-quoted string second");
    }
    auto node = std::make_unique<FqlNode>();
    node->base = field.base;
    node->path = std::move(field.path);
    if (!is_match) {
      node->op = negate ? Op::kNotContains : Op::kContains;
      node->str = tok_.text;
    } else {
      const std::string& p = tok_.text;
      // Segment understands "prefix*" and "*suffix" only; other patterns are rejected (D9).
      if (!p.empty() && p.back() == '*' && p.find('*') == p.size() - 1) {
        node->op = negate ? Op::kNotStartsWith : Op::kStartsWith;
        node->str = p.substr(0, p.size() - 1);
      } else if (!p.empty() && p.front() == '*' && p.find('*', 1) == std::string::npos) {
        node->op = negate ? Op::kNotEndsWith : Op::kEndsWith;
        node->str = p.substr(1);
      } else {
        return parseError(tok_.pos,
                          "match() supports \"prefix*\" or \"*suffix\" patterns with one '*'");
      }
    }
    if (!advance()) return nullptr;
    if (tok_.type != Tok::kRParen) return parseError(tok_.pos, "expected ')'");
    if (!advance()) return nullptr;
    return node;
  }

  std::unique_ptr<FqlNode> parseComparison() {
    Field field;
    if (!splitField(tok_, field, true)) return nullptr;
    if (!advance()) return nullptr;
    Tok op = tok_.type;
    size_t op_pos = tok_.pos;
    if (op != Tok::kEq && op != Tok::kNe && op != Tok::kLt && op != Tok::kLe && op != Tok::kGt &&
        op != Tok::kGe) {
      return parseError(op_pos, "expected an operator (=, !=, <, <=, >, >=)");
    }
    if (!advance()) return nullptr;
    const Token lit = tok_;
    enum class Lit { kString, kNumber, kTrue, kFalse, kNull } kind;
    if (lit.type == Tok::kString) {
      kind = Lit::kString;
    } else if (lit.type == Tok::kNumber) {
      kind = Lit::kNumber;
    } else if (lit.type == Tok::kNull) {
      kind = Lit::kNull;
    } else if (lit.type == Tok::kIdent && lit.text == "true") {
      kind = Lit::kTrue;
    } else if (lit.type == Tok::kIdent && lit.text == "false") {
      kind = Lit::kFalse;
    } else {
      return parseError(lit.pos, "expected a value: a \"string\", a number, true, false or null");
    }
    if (!advance()) return nullptr;

    auto node = std::make_unique<FqlNode>();
    node->base = field.base;
    node->path = std::move(field.path);
    double number = kind == Lit::kNumber ? jsStringToNumber(lit.text) : 0;
    // String(value) as Segment computes it.
    std::string as_string;
    switch (kind) {
      case Lit::kString:
        as_string = lit.text;
        break;
      case Lit::kNumber:
        as_string = jsNumberToString(number);
        break;
      case Lit::kTrue:
        as_string = "true";
        break;
      case Lit::kFalse:
        as_string = "false";
        break;
      case Lit::kNull:
        as_string = "null";
        break;
    }
    bool nested = field.base == Base::kProperties || field.base == Base::kTraits ||
                  field.base == Base::kContext;
    bool null_checks = nested || field.base == Base::kName || field.base == Base::kUserId;
    bool bool_checks = nested || field.base == Base::kUserId;

    if (op == Tok::kEq || op == Tok::kNe) {
      bool eq = op == Tok::kEq;
      if (kind == Lit::kNull && null_checks) {
        node->op = eq ? Op::kNotExists : Op::kExists;
      } else if (eq && kind == Lit::kTrue && bool_checks) {
        node->op = Op::kIsTrue;
      } else if (eq && kind == Lit::kFalse && bool_checks) {
        node->op = Op::kIsFalse;
      } else if (kind == Lit::kNumber && nested) {
        node->op = eq ? Op::kNumEq : Op::kNumNe;
        node->num = number;
      } else {
        node->op = eq ? Op::kStrEq : Op::kStrNe;
        node->str = std::move(as_string);
      }
      return node;
    }
    // Ordering comparisons: the actual value must be a number; Segment converts the literal with
    // Number(). A literal that is not a number could never match, so it is rejected (D9).
    double bound = kind == Lit::kNumber   ? number
                   : kind == Lit::kString ? jsStringToNumber(lit.text)
                                          : std::nan("");
    if (std::isnan(bound)) return parseError(lit.pos, "this comparison needs a number");
    node->num = bound;
    node->op = op == Tok::kLt   ? Op::kLt
               : op == Tok::kLe ? Op::kLe
               : op == Tok::kGt ? Op::kGt
                                : Op::kGe;
    return node;
  }

  static constexpr int kMaxDepth = 200;
  std::string_view text_;
  size_t i_ = 0;
  Token tok_;
  Error error_;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

// JavaScript truthiness of a JSON value.
bool isFalsy(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      return true;
    case simdjson::dom::element_type::BOOL:
      return !e.get_bool().value_unsafe();
    case simdjson::dom::element_type::STRING:
      return e.get_string().value_unsafe().empty();
    case simdjson::dom::element_type::INT64:
      return e.get_int64().value_unsafe() == 0;
    case simdjson::dom::element_type::UINT64:
      return e.get_uint64().value_unsafe() == 0;
    case simdjson::dom::element_type::DOUBLE:
      return e.get_double().value_unsafe() == 0;
    default:
      return false;
  }
}

bool parseArrayIndex(std::string_view key, size_t& index) {
  if (key.empty() || key.size() > 15) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  size_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  index = v;
  return true;
}

// Segment's get(): `path.reduce((o, k) => o && o[k], base)`. A falsy intermediate value is the
// result itself. Returns false for undefined.
bool lookup(simdjson::dom::element base, const std::vector<std::string>& path,
            simdjson::dom::element& out) {
  simdjson::dom::element cur = base;
  for (const std::string& key : path) {
    if (isFalsy(cur)) break;
    if (cur.is_object()) {
      auto r = cur.get_object().value_unsafe().at_key(key);
      if (r.error()) return false;
      cur = r.value_unsafe();
    } else if (cur.is_array()) {
      size_t index;
      if (!parseArrayIndex(key, index)) return false;
      auto r = cur.get_array().value_unsafe().at(index);
      if (r.error()) return false;
      cur = r.value_unsafe();
    } else {
      return false;
    }
  }
  out = cur;
  return true;
}

bool asNumber(simdjson::dom::element e, double& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      out = static_cast<double>(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:
      out = static_cast<double>(e.get_uint64().value_unsafe());
      return true;
    case simdjson::dom::element_type::DOUBLE:
      out = e.get_double().value_unsafe();
      return true;
    default:
      return false;
  }
}

// The key of each Base in the event.
constexpr std::string_view kBaseKeys[] = {"type",       "event",  "name",   "userId",
                                          "properties", "traits", "context"};
static_assert(std::size(kBaseKeys) == static_cast<size_t>(Base::kContext) + 1);

bool evalCondition(const FqlNode& n, const simdjson::dom::element* fields, const bool* present_in) {
  // Resolve the actual value: `present` false means undefined.
  size_t base = static_cast<size_t>(n.base);
  simdjson::dom::element actual = fields[base];
  bool present = present_in[base];
  if (present && !n.path.empty()) present = lookup(actual, n.path, actual);
  std::string_view s;
  bool is_string = present && actual.is_string();
  if (is_string) s = actual.get_string().value_unsafe();
  double num = 0;
  bool is_number = present && asNumber(actual, num);
  switch (n.op) {
    case Op::kStrEq:
      return is_string && s == n.str;
    case Op::kStrNe:
      return !(is_string && s == n.str);
    case Op::kNumEq:
      return is_number && num == n.num;
    case Op::kNumNe:
      return is_number && num != n.num;
    case Op::kLt:
      return is_number && num < n.num;
    case Op::kLe:
      return is_number && num <= n.num;
    case Op::kGt:
      return is_number && num > n.num;
    case Op::kGe:
      return is_number && num >= n.num;
    case Op::kContains:
      return is_string && s.find(n.str) != std::string_view::npos;
    case Op::kNotContains:
      return is_string && s.find(n.str) == std::string_view::npos;
    case Op::kStartsWith:
      return is_string && s.starts_with(n.str);
    case Op::kNotStartsWith:
      return is_string && !s.starts_with(n.str);
    case Op::kEndsWith:
      return is_string && s.ends_with(n.str);
    case Op::kNotEndsWith:
      return is_string && !s.ends_with(n.str);
    case Op::kExists:
      return present && !actual.is_null();
    case Op::kNotExists:
      return !present || actual.is_null();
    case Op::kIsTrue:
      return present && actual.is_bool() && actual.get_bool().value_unsafe();
    case Op::kIsFalse:
      return present && actual.is_bool() && !actual.get_bool().value_unsafe();
  }
  return false;
}

bool evalNode(const FqlNode& n, const simdjson::dom::element* fields, const bool* present) {
  switch (n.kind) {
    case FqlNode::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!evalNode(*c, fields, present)) return false;
      }
      return true;
    case FqlNode::Kind::kOr:
      for (const auto& c : n.children) {
        if (evalNode(*c, fields, present)) return true;
      }
      return false;
    case FqlNode::Kind::kCondition:
      return evalCondition(n, fields, present);
  }
  return false;
}

}  // namespace

Result<Trigger> Trigger::parse(std::string_view text) {
  Parser parser(text);
  auto root = parser.parse();
  if (!root) return fail(std::move(root.error()));
  Trigger t;
  t.text_ = std::string(text);
  t.root_ = std::move(*root);
  return t;
}

TriggerEvent::TriggerEvent(simdjson::dom::element event) {
  simdjson::dom::object object;
  if (event.get_object().get(object)) return;
  for (auto member : object) {
    for (size_t i = 0; i < kFields; ++i) {
      if (sameKey(member.key, kBaseKeys[i])) {
        if (!present_[i]) {  // the first occurrence, as a lookup finds it
          present_[i] = true;
          fields_[i] = member.value;
        }
        break;
      }
    }
  }
}

bool Trigger::matches(simdjson::dom::element event) const { return matches(TriggerEvent(event)); }

bool Trigger::matches(const TriggerEvent& event) const {
  return root_ && evalNode(*root_, event.fields_, event.present_);
}

Trigger::Trigger(Trigger&&) noexcept = default;
Trigger& Trigger::operator=(Trigger&&) noexcept = default;
Trigger::~Trigger() = default;

}  // namespace sluice::mapping
