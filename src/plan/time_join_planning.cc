#include "plan/time_join_planning.h"

#include <algorithm>

namespace sluice {
namespace {

// `e` as column + constant offset: a column reference, or `x + c`, `c + x`, `x - c` of such
// with c a constant INTERVAL.
bool linear_time(const Expr& e, int* column, Micros* offset) {
  const int ref = column_ref_index(e);
  if (ref >= 0) {
    *column = ref;
    *offset = 0;
    return true;
  }
  const std::string& op = call_name(e);
  if (op != "+" && op != "-") return false;
  const auto args = e.children();
  if (args.size() != 2) return false;
  auto constant = [](const ExprPtr& x, Micros* v) {
    if (x->type() != TypeId::kInterval || !is_constant(*x)) return false;
    auto value = evaluate_constant(x);
    if (!value.is_ok() || value.value().is_null) return false;
    *v = value.value().i;
    return true;
  };
  Micros c = 0;
  if (constant(args[1], &c) && linear_time(*args[0], column, offset)) {
    if (op == "+") return !__builtin_add_overflow(*offset, c, offset);
    return !__builtin_sub_overflow(*offset, c, offset);
  }
  if (op == "+" && constant(args[0], &c) && linear_time(*args[1], column, offset)) {
    return !__builtin_add_overflow(*offset, c, offset);
  }
  return false;
}

void conjuncts(const ExprPtr& e, std::vector<ExprPtr>& out) {
  if (!e) return;
  if (e->kind() == Expr::Kind::kAnd) {
    for (const auto& c : e->children()) conjuncts(c, out);
    return;
  }
  out.push_back(e);
}

// Tightens `b` with conjunct `e` when it compares the two time columns (output indexes
// `lt`, `rt`). Times are integer microseconds, so a strict bound is the next integer.
void tighten(const Expr& e, int lt, int rt, IntervalBounds& b) {
  const std::string& op = call_name(e);
  if (op != "=" && op != "<" && op != "<=" && op != ">" && op != ">=") return;
  const auto args = e.children();
  if (args.size() != 2) return;
  int ca = -1, cb = -1;
  Micros oa = 0, ob = 0;
  if (!linear_time(*args[0], &ca, &oa) || !linear_time(*args[1], &cb, &ob)) return;
  // Normalize to `right - left REL k`: -2 <, -1 <=, 0 =, 1 >=, 2 >.
  int rel = op == "=" ? 0 : op == "<" ? -2 : op == "<=" ? -1 : op == ">=" ? 1 : 2;
  Micros k = 0;
  if (ca == lt && cb == rt) {  // l + oa OP r + ob  <=>  r - l MIRROR(OP) oa - ob
    if (__builtin_sub_overflow(oa, ob, &k)) return;
    rel = -rel;
  } else if (ca == rt && cb == lt) {  // r + oa OP l + ob  <=>  r - l OP ob - oa
    if (__builtin_sub_overflow(ob, oa, &k)) return;
  } else {
    return;
  }
  if (k == kMinWatermark || k == kMaxWatermark) return;
  if (rel >= 0) b.lower = std::max(b.lower, rel == 2 ? k + 1 : k);
  if (rel <= 0) b.upper = std::min(b.upper, rel == -2 ? k - 1 : k);
}

// Where column `column` of `node` comes from, when it is the window_start or window_end of
// a TUMBLE/HOP window table function or windowed aggregation (through projections).
struct WindowColumn {
  const LogicalNode* windowed = nullptr;
  bool end = false;
};
std::optional<WindowColumn> trace_window_column(const LogicalNode& node, int column) {
  switch (node.kind) {
    case LogicalNode::Kind::kCalc: {
      if (node.projections.empty()) return trace_window_column(*node.inputs[0], column);
      if (column < 0 || static_cast<size_t>(column) >= node.projections.size()) return std::nullopt;
      const int ref = column_ref_index(*node.projections[static_cast<size_t>(column)]);
      if (ref < 0) return std::nullopt;
      return trace_window_column(*node.inputs[0], ref);
    }
    case LogicalNode::Kind::kWindowAssign: {
      const int n = static_cast<int>(node.inputs[0]->schema->size());
      if (column != n && column != n + 1) return std::nullopt;
      return WindowColumn{&node, column == n + 1};
    }
    case LogicalNode::Kind::kAggregate: {
      if (!node.windowed || (column != 0 && column != 1)) return std::nullopt;
      return WindowColumn{&node, column == 1};
    }
    default: return std::nullopt;
  }
}

bool same_window(const WindowSpec& a, const WindowSpec& b) {
  return a.kind == b.kind && a.size == b.size && a.slide == b.slide && a.offset == b.offset;
}

}  // namespace

std::optional<IntervalBounds> find_interval_bounds(const LogicalNode& join, const std::vector<int>& left_times,
                                                   const std::vector<int>& right_times) {
  std::vector<ExprPtr> parts;
  conjuncts(join.join_condition, parts);
  const int lw = static_cast<int>(join.inputs[0]->schema->size());
  std::optional<IntervalBounds> one_sided;
  for (int l : left_times) {
    for (int r : right_times) {
      IntervalBounds b;
      b.left_time = l;
      b.right_time = r;
      for (size_t k = 0; k < join.left_keys.size(); ++k) {
        if (join.left_keys[k] == l && join.right_keys[k] == r) b.lower = b.upper = 0;
      }
      for (const auto& p : parts) tighten(*p, l, lw + r, b);
      const bool lower = b.lower != kMinWatermark, upper = b.upper != kMaxWatermark;
      if (lower && upper) return b;
      if ((lower || upper) && !one_sided) one_sided = b;
    }
  }
  return one_sided;
}

std::optional<WindowJoinShape> find_window_join(const LogicalNode& join) {
  if (join.inputs.size() != 2) return std::nullopt;
  std::optional<WindowColumn> start[2], end[2];
  int end_column[2] = {-1, -1}, start_column[2] = {-1, -1};
  for (size_t k = 0; k < join.left_keys.size(); ++k) {
    auto l = trace_window_column(*join.inputs[0], join.left_keys[k]);
    auto r = trace_window_column(*join.inputs[1], join.right_keys[k]);
    if (!l || !r || l->end != r->end) continue;
    if (l->end) {
      end[0] = l;
      end[1] = r;
      end_column[0] = join.left_keys[k];
      end_column[1] = join.right_keys[k];
    } else {
      start[0] = l;
      start[1] = r;
      start_column[0] = join.left_keys[k];
      start_column[1] = join.right_keys[k];
    }
  }
  if (!start[0] || !end[0]) return std::nullopt;
  WindowJoinShape shape;
  const WindowSpec* spec[2] = {nullptr, nullptr};
  for (int side = 0; side < 2; ++side) {
    // window_start and window_end of the same windowing.
    if (start[side]->windowed != end[side]->windowed) return std::nullopt;
    const LogicalNode& w = *end[side]->windowed;
    spec[side] = &w.window;
    (side == 0 ? shape.left_tvf : shape.right_tvf) = w.kind == LogicalNode::Kind::kWindowAssign;
  }
  if (spec[0]->kind == WindowSpec::Kind::kSession || !same_window(*spec[0], *spec[1])) return std::nullopt;
  shape.window = *spec[0];
  shape.left_window_start = start_column[0];
  shape.right_window_start = start_column[1];
  shape.left_window_end = end_column[0];
  shape.right_window_end = end_column[1];
  return shape;
}

}  // namespace sluice
