#include "cep/pattern.h"

#include <fmt/format.h>

#include <cctype>

namespace sluice::cep {

bool PatternNode::nullable() const {
  switch (kind) {
    case Kind::kVariable: return false;
    case Kind::kSequence:
      for (const auto& c : children) {
        if (!c.nullable()) return false;
      }
      return true;
    case Kind::kAlternation:
      for (const auto& c : children) {
        if (c.nullable()) return true;
      }
      return false;
    case Kind::kRepeat: return min == 0 || children[0].nullable();
  }
  return false;
}

int Pattern::find_variable(std::string_view name) const {
  for (size_t i = 0; i < variables.size(); ++i) {
    const std::string& v = variables[i];
    if (v.size() != name.size()) continue;
    bool same = true;
    for (size_t k = 0; same && k < v.size(); ++k) {
      same = std::toupper(static_cast<unsigned char>(v[k])) == std::toupper(static_cast<unsigned char>(name[k]));
    }
    if (same) return static_cast<int>(i);
  }
  return -1;
}

std::string Pattern::describe() const {
  std::string out;
  for (size_t i = 0; i < program.size(); ++i) {
    const Instruction& in = program[i];
    switch (in.op) {
      case Instruction::Op::kConsume:
        out += fmt::format("{}: {} -> {}\n", i, variables[static_cast<size_t>(in.variable)], in.x);
        break;
      case Instruction::Op::kSplit: out += fmt::format("{}: split {}, {}\n", i, in.x, in.y); break;
      case Instruction::Op::kJump: out += fmt::format("{}: jump {}\n", i, in.x); break;
      case Instruction::Op::kMatch: out += fmt::format("{}: match\n", i); break;
    }
  }
  return out;
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, Pattern& out, PatternError& error) : s_(text), out_(out), error_(error) {}

  bool parse(PatternNode& root) {
    skip_blanks();
    if (pos_ >= s_.size()) return fail(0, "the pattern is empty");
    if (!alternation(root, 0)) return false;
    skip_blanks();
    if (pos_ < s_.size()) {
      if (s_[pos_] == ')') return fail(pos_, "unbalanced ')'");
      return fail(pos_, fmt::format("unexpected '{}'", s_[pos_]));
    }
    return true;
  }

 private:
  static constexpr int kMaxDepth = 100;

  bool fail(size_t offset, std::string message) {
    error_.offset = static_cast<int>(offset);
    error_.message = std::move(message);
    return false;
  }

  void skip_blanks() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  bool alternation(PatternNode& out, int depth) {
    if (depth > kMaxDepth) return fail(pos_, "the pattern nests too deeply");
    PatternNode first;
    size_t start = pos_;
    if (!sequence(first, depth)) return false;
    skip_blanks();
    if (pos_ >= s_.size() || s_[pos_] != '|') {
      out = std::move(first);
      return true;
    }
    out = PatternNode();
    out.kind = PatternNode::Kind::kAlternation;
    out.offset = static_cast<int>(start);
    out.children.push_back(std::move(first));
    while (pos_ < s_.size() && s_[pos_] == '|') {
      ++pos_;
      PatternNode next;
      if (!sequence(next, depth)) return false;
      out.children.push_back(std::move(next));
      skip_blanks();
    }
    return true;
  }

  bool sequence(PatternNode& out, int depth) {
    std::vector<PatternNode> terms;
    size_t start = pos_;
    for (;;) {
      skip_blanks();
      if (pos_ >= s_.size() || s_[pos_] == '|' || s_[pos_] == ')') break;
      PatternNode t;
      if (!term(t, depth)) return false;
      terms.push_back(std::move(t));
    }
    if (terms.empty()) {
      return fail(pos_, pos_ < s_.size() && s_[pos_] == '|' ? "an alternative of '|' is empty"
                        : pos_ < s_.size()                  ? "empty group '()'"
                                                            : "the pattern ends where a variable was expected");
    }
    if (terms.size() == 1) {
      out = std::move(terms[0]);
      return true;
    }
    out = PatternNode();
    out.kind = PatternNode::Kind::kSequence;
    out.offset = static_cast<int>(start);
    out.children = std::move(terms);
    return true;
  }

  bool term(PatternNode& out, int depth) {
    size_t start = pos_;
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      skip_blanks();
      if (pos_ < s_.size() && s_[pos_] == ')') return fail(start, "empty group '()'");
      if (!alternation(out, depth + 1)) return false;
      skip_blanks();
      if (pos_ >= s_.size() || s_[pos_] != ')') return fail(start, "unbalanced '(': missing ')'");
      ++pos_;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string name;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
        name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(s_[pos_]))));
        ++pos_;
      }
      int v = out_.find_variable(name);
      if (v < 0) {
        if (out_.variables.size() >= kMaxVariables) {
          return fail(start, fmt::format("more than {} pattern variables", kMaxVariables));
        }
        v = static_cast<int>(out_.variables.size());
        out_.variables.push_back(name);
      }
      out = PatternNode();
      out.kind = PatternNode::Kind::kVariable;
      out.variable = v;
      out.offset = static_cast<int>(start);
    } else if (c == '*' || c == '+' || c == '?' || c == '{') {
      return fail(pos_, fmt::format("quantifier '{}' follows nothing: put it after a variable or a group", c));
    } else if (c == '^' || c == '$') {
      return fail(pos_, fmt::format("anchor '{}' is not supported (a stream has no partition end)", c));
    } else {
      return fail(pos_, fmt::format("unexpected '{}': expected a pattern variable or '('", c));
    }
    // Quantifiers (one per term; "A**" is refused as SQL does).
    size_t qpos = pos_;
    if (pos_ >= s_.size()) return true;
    c = s_[pos_];
    int min = 1, max = 1;
    if (c == '*') {
      min = 0, max = -1, ++pos_;
    } else if (c == '+') {
      min = 1, max = -1, ++pos_;
    } else if (c == '?') {
      min = 0, max = 1, ++pos_;
    } else if (c == '{') {
      ++pos_;
      if (!bounds(qpos, min, max)) return false;
    } else {
      return true;
    }
    bool reluctant = false;
    if (pos_ < s_.size() && s_[pos_] == '?') {
      reluctant = true;
      ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '+' || s_[pos_] == '{' || s_[pos_] == '?')) {
      return fail(pos_, "two quantifiers in a row: group the first, as in (A+)*");
    }
    if (max == 0) return fail(qpos, "quantifier {0} matches nothing");
    if (out.nullable()) {
      return fail(qpos, "a quantifier applies to a sub-pattern that can match no rows; make the inner part consume a row");
    }
    if (min == 1 && max == 1) return true;  // {1} / {1,1}
    PatternNode rep;
    rep.kind = PatternNode::Kind::kRepeat;
    rep.min = min;
    rep.max = max;
    rep.reluctant = reluctant;
    rep.offset = static_cast<int>(qpos);
    rep.children.push_back(std::move(out));
    out = std::move(rep);
    return true;
  }

  // After '{': "n}", "n,}", "n,m}", ",m}".
  bool bounds(size_t qpos, int& min, int& max) {
    auto number = [&](int& v) -> int {  // 1 read, 0 none, -1 error
      skip_blanks();
      size_t start = pos_;
      int64_t n = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        n = n * 10 + (s_[pos_] - '0');
        if (n > kMaxQuantifierBound) {
          fail(start, fmt::format("quantifier bound is larger than {}", kMaxQuantifierBound));
          return -1;
        }
        ++pos_;
      }
      if (pos_ == start) return 0;
      v = static_cast<int>(n);
      skip_blanks();
      return 1;
    };
    int lo = 0, hi = -1;
    int got_lo = number(lo);
    if (got_lo < 0) return false;
    if (pos_ < s_.size() && s_[pos_] == '}') {
      if (got_lo == 0) return fail(qpos, "empty quantifier '{}': expected {n}, {n,}, {n,m} or {,m}");
      ++pos_;
      min = max = lo;
      return true;
    }
    if (pos_ >= s_.size() || s_[pos_] != ',') {
      return fail(pos_ < s_.size() ? pos_ : qpos, "bad quantifier: expected {n}, {n,}, {n,m} or {,m}");
    }
    ++pos_;
    int got_hi = number(hi);
    if (got_hi < 0) return false;
    if (pos_ >= s_.size() || s_[pos_] != '}') {
      return fail(pos_ < s_.size() ? pos_ : qpos, "bad quantifier: expected {n}, {n,}, {n,m} or {,m}");
    }
    ++pos_;
    if (got_hi == 0 && got_lo == 0) return fail(qpos, "bad quantifier {,}: give a bound");
    min = got_lo ? lo : 0;
    max = got_hi ? hi : -1;
    if (max >= 0 && max < min) return fail(qpos, fmt::format("bad quantifier: upper bound {} is below lower bound {}", max, min));
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  Pattern& out_;
  PatternError& error_;
};

class Compiler {
 public:
  Compiler(std::vector<Instruction>& code, PatternError& error) : code_(code), error_(error) {}

  // Emits `node` so that it continues at the instruction emitted next.
  bool emit(const PatternNode& node) {
    if (code_.size() > kMaxProgramSize) return too_large(node);
    switch (node.kind) {
      case PatternNode::Kind::kVariable: {
        Instruction in;
        in.op = Instruction::Op::kConsume;
        in.variable = node.variable;
        in.x = here() + 1;
        code_.push_back(in);
        return true;
      }
      case PatternNode::Kind::kSequence:
        for (const auto& c : node.children) {
          if (!emit(c)) return false;
        }
        return true;
      case PatternNode::Kind::kAlternation: {
        // split L1, next; L1: a; jump end; next: split L2, ... last alternative falls through.
        std::vector<int> jumps;
        for (size_t i = 0; i < node.children.size(); ++i) {
          int split = -1;
          if (i + 1 < node.children.size()) split = add(Instruction::Op::kSplit);
          if (split >= 0) code_[static_cast<size_t>(split)].x = here();
          if (!emit(node.children[i])) return false;
          if (i + 1 < node.children.size()) {
            jumps.push_back(add(Instruction::Op::kJump));
            code_[static_cast<size_t>(split)].y = here();
          }
        }
        for (int j : jumps) code_[static_cast<size_t>(j)].x = here();
        return true;
      }
      case PatternNode::Kind::kRepeat: return emit_repeat(node);
    }
    return true;
  }

 private:
  int here() const { return static_cast<int>(code_.size()); }
  int add(Instruction::Op op) {
    Instruction in;
    in.op = op;
    code_.push_back(in);
    return here() - 1;
  }
  bool too_large(const PatternNode& node) {
    error_.offset = node.offset;
    error_.message = fmt::format("the pattern compiles to more than {} instructions: lower its quantifier bounds",
                                 kMaxProgramSize);
    return false;
  }
  // A split preferring `body` (greedy) or the exit (reluctant); returns its index. The
  // branch not yet known is filled by the caller.
  void set_split(int split, int body, int exit, bool reluctant) {
    Instruction& s = code_[static_cast<size_t>(split)];
    s.x = reluctant ? exit : body;
    s.y = reluctant ? body : exit;
  }

  bool emit_repeat(const PatternNode& node) {
    const PatternNode& body = node.children[0];
    // Mandatory copies; with no upper bound, the last one is the loop's body.
    const int copies = node.max < 0 && node.min > 0 ? node.min - 1 : node.min;
    for (int i = 0; i < copies; ++i) {
      if (!emit(body)) return false;
      if (code_.size() > kMaxProgramSize) return too_large(node);
    }
    if (node.max < 0) {
      if (node.min == 0) {
        // L: split B, E; B: body; jump L; E:
        int loop = add(Instruction::Op::kSplit);
        int b = here();
        if (!emit(body)) return false;
        int j = add(Instruction::Op::kJump);
        code_[static_cast<size_t>(j)].x = loop;
        set_split(loop, b, here(), node.reluctant);
      } else {
        // The last mandatory copy loops back: B: body; split B, E; E:
        int b = here();
        if (!emit(body)) return false;
        int split = add(Instruction::Op::kSplit);
        set_split(split, b, here(), node.reluctant);
      }
      return true;
    }
    // Optional copies nested: (body (body (...)?)?)? so each path is one way to count.
    std::vector<int> splits;
    for (int i = node.min; i < node.max; ++i) {
      splits.push_back(add(Instruction::Op::kSplit));
      if (!emit(body)) return false;
      if (code_.size() > kMaxProgramSize) return too_large(node);
    }
    int exit = here();
    for (int s : splits) set_split(s, s + 1, exit, node.reluctant);
    return true;
  }

  std::vector<Instruction>& code_;
  PatternError& error_;
};

}  // namespace

bool compile_pattern(std::string_view text, Pattern& out, PatternError& error) {
  out = Pattern();
  out.text = std::string(text);
  Parser parser(text, out, error);
  if (!parser.parse(out.root)) return false;
  if (out.root.nullable()) {
    error.offset = 0;
    error.message = "the pattern can match no rows: at least one variable must be mandatory";
    return false;
  }
  Compiler compiler(out.program, error);
  if (!compiler.emit(out.root)) return false;
  Instruction match;
  match.op = Instruction::Op::kMatch;
  out.program.push_back(match);
  // Variables a match can start with: the consume instructions reachable from 0 by
  // splits and jumps.
  std::vector<bool> seen(out.program.size(), false);
  std::vector<int> stack{0};
  while (!stack.empty()) {
    int pc = stack.back();
    stack.pop_back();
    if (seen[static_cast<size_t>(pc)]) continue;
    seen[static_cast<size_t>(pc)] = true;
    const Instruction& in = out.program[static_cast<size_t>(pc)];
    switch (in.op) {
      case Instruction::Op::kConsume: out.first_variables |= uint64_t{1} << in.variable; break;
      case Instruction::Op::kSplit:
        stack.push_back(in.y);
        stack.push_back(in.x);
        break;
      case Instruction::Op::kJump: stack.push_back(in.x); break;
      case Instruction::Op::kMatch: break;
    }
  }
  return true;
}

Result<Pattern> compile_pattern(std::string_view text) {
  Pattern p;
  PatternError e;
  if (!compile_pattern(text, p, e)) {
    return invalid_argument("pattern '{}': at offset {}: {}", text, e.offset, e.message);
  }
  return p;
}

}  // namespace sluice::cep
