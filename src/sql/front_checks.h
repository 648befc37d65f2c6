// Checks on a job file before and right after parsing, so that input the parser or the
// binder cannot handle is refused with a positioned one-line error instead of a wrong
// result or a crash:
//  - the text must be UTF-8 without NUL bytes (libpg_query reads a C string, so a NUL
//    would silently end the file; invalid UTF-8 would break the parse tree's JSON);
//  - a statement may hold at most kMaxOperatorsPerStatement operators (libpg_query builds
//    and prints a left-deep chain such as a + b + c ... recursively);
//  - the parse tree may nest at most kMaxNodeDepth nodes (the binder and the expression
//    evaluator recurse once per level), not counting the left-deep levels of an operator
//    chain a + b + c ..., which they walk in a loop.
// Stateless functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

inline constexpr int kMaxOperatorsPerStatement = 50000;
inline constexpr int kMaxNodeDepth = 2000;

// "LINE:COLUMN" of a byte offset (1-based; the column counts characters, not bytes).
std::string text_position(std::string_view text, int offset);

// The first byte at or after `offset` that is not white space or inside a comment
// (libpg_query's statement locations include what precedes the statement).
int skip_space_and_comments(std::string_view text, int offset);

// NUL bytes, invalid UTF-8, operator chains too long to parse: "FILE:LINE:COL: ..." errors.
Status check_sql_text(std::string_view text, const std::string& file);

// The parse tree's nesting of nodes (operator chains' left operands not counted), measured
// without recursion; an error naming the position of the first node deeper than kMaxNodeDepth.
Status check_parse_tree_depth(const nlohmann::json& tree, std::string_view text, const std::string& file);

}  // namespace sluice
