// Row patterns of MATCH_RECOGNIZE: the regular expression over pattern variables, parsed
// into a tree and compiled into a priority-ordered NFA program (a Pike VM: consume,
// split, jump, match), which the matcher (cep/matcher.h) runs per partition.
//
// Syntax (SQL:2016 row pattern, without anchors, PERMUTE and exclusions):
//   alternation := sequence ('|' sequence)*
//   sequence    := term+                      (terms separated by blanks)
//   term        := primary quantifier?
//   primary     := VARIABLE | '(' alternation ')'
//   quantifier  := ('*' | '+' | '?' | '{n}' | '{n,}' | '{n,m}' | '{,m}') '?'?
// A trailing '?' makes the quantifier reluctant (fewest rows first); otherwise greedy.
// Variable names are identifiers, case-insensitive (kept upper case). Alternatives are
// preferred left to right. A pattern, and any quantified sub-pattern, must consume at
// least one row: `A*` alone or `(A?)+` are refused, which keeps the preference order of
// backtracking and of the NFA identical (no empty loop iterations).
//
// Errors carry the 0-based byte offset in the pattern text (PatternError) so the SQL
// front end can point at the offending character.
//
// Immutable after compile(); shared read-only by every operator instance.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::cep {

// The largest bound of a quantifier and the largest compiled program: {n,m} is expanded
// into copies of its sub-pattern, so both limit memory and the work per row.
inline constexpr int kMaxQuantifierBound = 1000;
inline constexpr size_t kMaxProgramSize = 10000;
// Variables are tracked as bits of a 64-bit mask per row.
inline constexpr size_t kMaxVariables = 64;

struct PatternNode {
  enum class Kind { kVariable, kSequence, kAlternation, kRepeat };
  Kind kind = Kind::kVariable;
  int variable = -1;                  // kVariable: index into Pattern::variables
  std::vector<PatternNode> children;  // kSequence / kAlternation: 2+; kRepeat: 1
  int min = 1;                        // kRepeat
  int max = 1;                        // kRepeat; -1: unbounded
  bool reluctant = false;             // kRepeat
  int offset = 0;                     // byte offset in the pattern text

  bool nullable() const;  // can match without consuming a row
};

struct Instruction {
  enum class Op : uint8_t { kConsume, kSplit, kJump, kMatch };
  Op op = Op::kMatch;
  int variable = -1;  // kConsume
  int x = -1;         // kConsume: next; kSplit: preferred branch; kJump: target
  int y = -1;         // kSplit: other branch
};

struct Pattern {
  std::string text;
  std::vector<std::string> variables;  // upper case, in order of first appearance
  PatternNode root;
  std::vector<Instruction> program;    // compiled from root; starts at 0
  uint64_t first_variables = 0;        // bits of the variables a match can start with

  int find_variable(std::string_view name) const;  // case-insensitive; -1 when absent
  std::string describe() const;                    // the program, for tests and EXPLAIN
};

// A parse or compile error: message plus the byte offset it points at.
struct PatternError {
  std::string message;
  int offset = 0;
};

// Parses and compiles `text`. On failure returns false and fills `error`.
bool compile_pattern(std::string_view text, Pattern& out, PatternError& error);

// Convenience for callers without positions: the error as "pattern 'x': at offset n: msg".
Result<Pattern> compile_pattern(std::string_view text);

}  // namespace sluice::cep
