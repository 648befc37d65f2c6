#include "sql/front_checks.h"

#include <utility>
#include <vector>

namespace sluice {
namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

bool is_operator_char(char c) {
  switch (c) {
    case '+': case '-': case '*': case '/': case '%': case '^': case '|': case '<': case '>':
    case '=': case '~': case '!': case '@': case '#': case '&': case '?': case ':':
      return true;
    default:
      return false;
  }
}

template <typename... Args>
Status error_at(std::string_view text, const std::string& file, size_t offset, fmt::format_string<Args...> f,
                Args&&... args) {
  return invalid_argument("{}:{}: {}", file, text_position(text, static_cast<int>(offset)),
                          fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace

std::string text_position(std::string_view text, int offset) {
  int line = 1, col = 1;
  for (int i = 0; i < offset && i < static_cast<int>(text.size()); ++i) {
    const auto c = static_cast<unsigned char>(text[static_cast<size_t>(i)]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {  // UTF-8 continuation bytes do not start a character
      ++col;
    }
  }
  return fmt::format("{}:{}", line, col);
}

int skip_space_and_comments(std::string_view text, int offset) {
  size_t i = offset < 0 ? 0 : static_cast<size_t>(offset);
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      int depth = 0;  // PostgreSQL's block comments nest
      while (i < text.size()) {
        if (text.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (text.compare(i, 2, "*/") == 0) {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
    } else {
      break;
    }
  }
  return static_cast<int>(std::min(i, text.size()));
}

Status check_sql_text(std::string_view text, const std::string& file) {
  // One pass: characters, then tokens outside quotes and comments (operators per statement).
  enum class State { kCode, kSingle, kDouble, kLineComment, kBlockComment, kDollar };
  State state = State::kCode;
  int block_depth = 0;
  std::string_view dollar_tag;
  int operators = 0;
  size_t statement_start = 0;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\0') {
      return error_at(text, file, i,
                      "NUL byte in the SQL text (is this a binary file?); everything after it would be ignored");
    }
    const size_t n = utf8_length(text, i);
    if (n == 0) {
      return error_at(text, file, i, "invalid UTF-8 byte 0x{:02x}: the SQL file must be UTF-8 text",
                      static_cast<unsigned char>(c));
    }
    switch (state) {
      case State::kCode:
        if (c == '\'') {
          state = State::kSingle;
        } else if (c == '"') {
          state = State::kDouble;
        } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
          state = State::kLineComment;
        } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
          state = State::kBlockComment;
          block_depth = 1;
          ++i;
        } else if (c == '$') {
          size_t end = text.find('$', i + 1);
          std::string_view tag = end == std::string_view::npos ? std::string_view() : text.substr(i, end - i + 1);
          bool is_tag = !tag.empty();
          for (size_t k = 1; is_tag && k + 1 < tag.size(); ++k) {
            is_tag = std::isalnum(static_cast<unsigned char>(tag[k])) || tag[k] == '_';
          }
          if (is_tag) {
            state = State::kDollar;
            dollar_tag = tag;
            i += tag.size();
            continue;
          }
        } else if (c == ';') {
          operators = 0;
          statement_start = i + 1;
        } else if (is_operator_char(c)) {
          while (i + 1 < text.size() && is_operator_char(text[i + 1])) ++i;
          if (++operators > kMaxOperatorsPerStatement) {
            return error_at(text, file, skip_space_and_comments(text, static_cast<int>(statement_start)),
                            "statement too large: more than {} operators (split the expression)",
                            kMaxOperatorsPerStatement);
          }
        }
        break;
      case State::kSingle:
        if (c == '\'') state = State::kCode;  // '' (an escaped quote) reopens at once
        break;
      case State::kDouble:
        if (c == '"') state = State::kCode;
        break;
      case State::kLineComment:
        if (c == '\n') state = State::kCode;
        break;
      case State::kBlockComment:
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
          ++block_depth;
          ++i;
        } else if (c == '*' && i + 1 < text.size() && text[i + 1] == '/') {
          ++i;
          if (--block_depth == 0) state = State::kCode;
        }
        break;
      case State::kDollar:
        if (text.compare(i, dollar_tag.size(), dollar_tag) == 0) {
          i += dollar_tag.size();
          state = State::kCode;
          continue;
        }
        break;
    }
    i += n;
  }
  return Status::ok();
}

Status check_parse_tree_depth(const nlohmann::json& tree, std::string_view text, const std::string& file) {
  // Depth counts nodes ({"TypeName": {...}}: one key starting with a capital letter), except
  // the left operand of a binary operator that is itself one: a + b + c ... parses
  // left-deep, one level per operator, and the binder and evaluator walk such chains in a
  // loop (their length is bounded by kMaxOperatorsPerStatement instead).
  struct Item {
    const nlohmann::json* value;
    int depth;
    int location;              // of the nearest enclosing node that has one
    bool binary_operator_body;  // the body of {"A_Expr": {kind AEXPR_OP, lexpr, rexpr}}
  };
  auto is_binary_operator = [](const nlohmann::json& v) {
    if (!v.is_object() || v.size() != 1 || v.begin().key() != "A_Expr") return false;
    const nlohmann::json& b = v.begin().value();
    if (!b.is_object()) return false;
    auto kind = b.find("kind");
    return kind != b.end() && *kind == "AEXPR_OP" && b.contains("lexpr") && b.contains("rexpr");
  };
  std::vector<Item> stack{{&tree, 0, -1, false}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    const nlohmann::json& v = *it.value;
    if (v.is_array()) {
      for (const auto& e : v) stack.push_back({&e, it.depth, it.location, false});
      continue;
    }
    if (!v.is_object()) continue;
    int depth = it.depth;
    int location = it.location;
    if (v.size() == 1 && !v.begin().key().empty() && std::isupper(static_cast<unsigned char>(v.begin().key()[0]))) {
      ++depth;
      const nlohmann::json& body = v.begin().value();
      if (body.is_object()) {
        auto loc = body.find("location");
        if (loc != body.end() && loc->is_number_integer() && loc->get<int>() >= 0) location = loc->get<int>();
      }
      if (depth > kMaxNodeDepth) {
        return invalid_argument("{}:{}: expression nested too deeply (more than {} levels of parentheses, function "
                                "calls or subexpressions): split it, e.g. into a view",
                                file, text_position(text, location < 0 ? 0 : location), kMaxNodeDepth);
      }
      stack.push_back({&body, depth, location, is_binary_operator(v)});
      continue;
    }
    for (auto e = v.begin(); e != v.end(); ++e) {
      if (!e.value().is_structured()) continue;
      const bool chain_link = it.binary_operator_body && e.key() == "lexpr" && is_binary_operator(e.value());
      stack.push_back({&e.value(), chain_link ? depth - 1 : depth, location, false});
    }
  }
  return Status::ok();
}

}  // namespace sluice
