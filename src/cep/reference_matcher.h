// Test-only brute-force model of MATCH_RECOGNIZE, independent of the NFA: for each row
// allowed to start a match (in order), a backtracking search over the pattern tree (not
// the compiled program) with the whole partition known finds the first match in
// preference order; the AFTER MATCH SKIP rule then chooses where the next search may
// start. Measures are computed from the matched rows themselves. Exponential in the worst
// case: for small random streams only.
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cep/matcher.h"
#include "types/record_batch.h"

namespace sluice::cep::reference {

struct Row {
  Micros time = 0;
  uint64_t variables = 0;
};

struct Match {
  size_t start = 0;
  std::vector<std::pair<size_t, int>> rows;  // (row, variable) in order
};

class ReferenceMatcher {
 public:
  explicit ReferenceMatcher(const MatcherConfig& c) : c_(c) {}

  std::vector<Match> run(const std::vector<Row>& rows) {
    rows_ = &rows;
    std::vector<Match> out;
    size_t resume = 0;
    for (size_t s = 0; s < rows.size(); ++s) {
      if (s < resume) continue;
      path_.clear();
      start_ = s;
      found_ = false;
      node(c_.pattern.root, s, [&](size_t) {
        found_ = true;
        best_ = path_;
        return true;
      });
      if (!found_) continue;
      Match m;
      m.start = s;
      m.rows = best_;
      size_t next = s + 1;
      if (c_.skip == SkipKind::kPastLastRow) next = best_.back().first + 1;
      if (c_.skip == SkipKind::kToFirst || c_.skip == SkipKind::kToLast) {
        long target = -1;
        for (const auto& [r, v] : best_) {
          if (v != c_.skip_variable) continue;
          if (c_.skip == SkipKind::kToLast || target < 0) target = static_cast<long>(r);
        }
        if (target > static_cast<long>(s)) next = static_cast<size_t>(target);
      }
      resume = next;
      out.push_back(std::move(m));
    }
    return out;
  }

 private:
  using Cont = std::function<bool(size_t)>;

  bool node(const PatternNode& n, size_t i, const Cont& k) {
    switch (n.kind) {
      case PatternNode::Kind::kVariable: return variable(n.variable, i, k);
      case PatternNode::Kind::kSequence: return sequence(n, 0, i, k);
      case PatternNode::Kind::kAlternation:
        for (const auto& c : n.children) {
          if (node(c, i, k)) return true;
        }
        return false;
      case PatternNode::Kind::kRepeat: return repeat(n, 0, i, k);
    }
    return false;
  }

  bool sequence(const PatternNode& n, size_t at, size_t i, const Cont& k) {
    if (at == n.children.size()) return k(i);
    return node(n.children[at], i, [&](size_t j) { return sequence(n, at + 1, j, k); });
  }

  bool repeat(const PatternNode& n, int count, size_t i, const Cont& k) {
    auto more = [&] { return node(n.children[0], i, [&](size_t j) { return repeat(n, count + 1, j, k); }); };
    if (count < n.min) return more();
    const bool can_more = n.max < 0 || count < n.max;
    if (!n.reluctant) {
      if (can_more && more()) return true;
      return k(i);
    }
    if (k(i)) return true;
    return can_more && more();
  }

  bool variable(int v, size_t i, const Cont& k) {
    const auto& rows = *rows_;
    size_t j = i;
    const bool may_skip = c_.contiguity == Contiguity::kRelaxed && !path_.empty();
    while (j < rows.size() && !((rows[j].variables >> v) & 1)) {
      if (!may_skip) return false;
      ++j;
    }
    if (j >= rows.size()) return false;
    if (c_.within > 0 && rows[j].time - rows[start_].time >= c_.within) return false;
    path_.push_back({j, v});
    if (k(j + 1)) return true;
    path_.pop_back();
    return false;
  }

  const MatcherConfig& c_;
  const std::vector<Row>* rows_ = nullptr;
  std::vector<std::pair<size_t, int>> path_, best_;
  size_t start_ = 0;
  bool found_ = false;
};

// The value of aggregate `a` over the match's rows (argument columns in `args`, one row per
// partition row), appended to `out`.
inline void reference_aggregate(const MeasureAggregate& a, const Match& m, const RecordBatch& args, Column& out) {
  std::vector<size_t> rows;
  for (const auto& [r, v] : m.rows) {
    if (a.variable < 0 || a.variable == v) rows.push_back(r);
  }
  if (a.argument < 0) {
    out.append_int(static_cast<int64_t>(rows.size()));
    return;
  }
  const Column& col = args.column(static_cast<size_t>(a.argument));
  switch (a.kind) {
    case MeasureKind::kFirst:
    case MeasureKind::kLast:
      if (rows.empty()) {
        out.append_null();
      } else {
        out.append_from(col, a.kind == MeasureKind::kFirst ? rows.front() : rows.back());
      }
      return;
    case MeasureKind::kCount: {
      int64_t n = 0;
      for (size_t r : rows) n += col.is_valid(r) ? 1 : 0;
      out.append_int(n);
      return;
    }
    case MeasureKind::kMin:
    case MeasureKind::kMax: {
      long best = -1;
      for (size_t r : rows) {
        if (col.is_null(r)) continue;
        if (best < 0) {
          best = static_cast<long>(r);
          continue;
        }
        int cmp = col.compare(r, col, static_cast<size_t>(best));
        if (a.kind == MeasureKind::kMin ? cmp < 0 : cmp > 0) best = static_cast<long>(r);
      }
      if (best < 0) {
        out.append_null();
      } else {
        out.append_from(col, static_cast<size_t>(best));
      }
      return;
    }
    case MeasureKind::kSum:
    case MeasureKind::kAvg: {
      double d = 0;
      int64_t i = 0, n = 0;
      for (size_t r : rows) {
        if (col.is_null(r)) continue;
        ++n;
        if (col.type() == TypeId::kFloat64) {
          d += col.double_at(r);
        } else {
          i += col.int_at(r);
          d += static_cast<double>(col.int_at(r));
        }
      }
      if (n == 0) {
        out.append_null();
      } else if (a.kind == MeasureKind::kAvg) {
        out.append_double(d / static_cast<double>(n));
      } else if (col.type() == TypeId::kFloat64) {
        out.append_double(d);
      } else {
        out.append_int(i);
      }
      return;
    }
  }
}

// Random patterns over A, B, C with every quantifier, greedy and reluctant.
inline std::string random_term(std::mt19937_64& rng, int depth);
inline std::string random_sequence(std::mt19937_64& rng, int depth) {
  std::string s;
  int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + random_term(rng, depth);
  return s;
}
inline std::string random_term(std::mt19937_64& rng, int depth) {
  static const char* quantifiers[] = {"", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "{0,2}", "{,2}",
                                      "*?", "+?", "??", "{1,3}?", "{2,}?"};
  std::string primary;
  if (depth < 2 && rng() % 5 == 0) {
    primary = "(" + random_sequence(rng, depth + 1);
    if (rng() % 2) primary += " | " + random_sequence(rng, depth + 1);
    primary += ")";
  } else {
    primary = std::string(1, static_cast<char>('A' + rng() % 3));
  }
  // Unbounded quantifiers only on single variables: nested loops make the reference
  // exponential on failing inputs.
  std::string q = quantifiers[rng() % (sizeof quantifiers / sizeof quantifiers[0])];
  if (primary.size() > 1 && (q.find('*') != std::string::npos || q.find('+') != std::string::npos ||
                             q.find(",}") != std::string::npos)) {
    q = "?";
  }
  return primary + q;
}

}  // namespace sluice::cep::reference
