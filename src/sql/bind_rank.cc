#include "sql/binder.h"

namespace sluice::sql {

const json* Compiler::rank_call_of(const json& from_item) {
  if (node_type(from_item) != "RangeSubselect") return nullptr;
  const json& sub = node_body(node_body(from_item)["subquery"]);
  if (!sub.contains("targetList")) return nullptr;
  for (const auto& t : sub["targetList"]) {  // by reference: the pointer returned must stay valid
    const json& v = node_body(t)["val"];
    if (node_type(v) == "FuncCall" && node_body(v).contains("over") && func_name(node_body(v)) == "row_number") {
      return &t;
    }
  }
  return nullptr;
}

void Compiler::conjuncts(const json& n, std::vector<json>& out) {
  if (node_type(n) == "BoolExpr" && node_body(n).value("boolop", "") == "AND_EXPR") {
    for (const auto& a : node_body(n)["args"]) conjuncts(a, out);
  } else {
    out.push_back(n);
  }
}

bool Compiler::rank_bound(const json& n, const std::string& rank_name, RankRange* range) {
  auto is_rank = [&](const json& x) {
    return node_type(x) == "ColumnRef" && iequals(string_value(node_body(x)["fields"].back()), rank_name);
  };
  auto int_const = [](const json& x, int64_t* v) {
    if (node_type(x) != "A_Const" || !node_body(x).contains("ival")) return false;
    *v = node_body(x)["ival"].value("ival", 0);  // {"ival": {}} is 0 (protobuf JSON omits zeros)
    return true;
  };
  if (node_type(n) != "A_Expr") return false;
  const json& b = node_body(n);
  std::string kind = b.value("kind", "");
  std::string op;
  for (const auto& o : list_of(b, "name")) op = string_value(o);
  int64_t v = 0;
  auto clamp_lo = [&](int64_t x) { range->lo = std::max(range->lo, x); };
  auto clamp_hi = [&](int64_t x) { range->hi = std::min(range->hi, x); };
  if (kind == "AEXPR_OP" && b.contains("lexpr") && b.contains("rexpr")) {
    bool rank_left = is_rank(b["lexpr"]) && int_const(b["rexpr"], &v);
    bool rank_right = !rank_left && is_rank(b["rexpr"]) && int_const(b["lexpr"], &v);
    if (!rank_left && !rank_right) return false;
    if (rank_right) {  // N op rn  ==  rn op' N
      op = op == "<" ? ">" : op == ">" ? "<" : op == "<=" ? ">=" : op == ">=" ? "<=" : op;
    }
    if (v == std::numeric_limits<int64_t>::min() || v == std::numeric_limits<int64_t>::max()) return false;
    if (op == "=") {
      clamp_lo(v);
      clamp_hi(v);
    } else if (op == "<") {
      clamp_hi(v - 1);
    } else if (op == "<=") {
      clamp_hi(v);
    } else if (op == ">") {
      clamp_lo(v + 1);
    } else if (op == ">=") {
      clamp_lo(v);
    } else {
      return false;
    }
    return true;
  }
  if (kind == "AEXPR_BETWEEN" && is_rank(b["lexpr"])) {
    const json& items = node_body(b["rexpr"])["items"];
    int64_t lo = 0, hi = 0;
    if (!int_const(items[0], &lo) || !int_const(items[1], &hi)) return false;
    clamp_lo(lo);
    clamp_hi(hi);
    return true;
  }
  return false;
}

Result<Relation> Compiler::bind_rank(const json& outer, const json& from_item, const json& rank_target) {
  const json& sub_node = node_body(from_item)["subquery"];
  const json& inner = node_body(sub_node);
  std::string alias = node_body(from_item).contains("alias") ? node_body(from_item)["alias"].value("aliasname", "") : "";
  const json& call = node_body(node_body(rank_target)["val"]);
  int loc = call.value("location", -1);
  std::string rank_name = node_body(rank_target).value("name", "row_number");
  if (inner.contains("groupClause") || contains_aggregate(list_of(inner, "targetList"))) {
    return error_at(loc, "ROW_NUMBER over an aggregation: compute the aggregation in a subquery or view first");
  }
  if (!inner.contains("fromClause") || inner["fromClause"].size() != 1) {
    return error_at(loc, "ROW_NUMBER needs a single table, view or subquery in FROM");
  }
  ASSIGN_OR_RETURN(Relation in, bind_from(inner["fromClause"][0]));
  RelationContext ctx;
  ctx.c = this;
  ctx.rel = &in;
  ExprPtr where;
  if (inner.contains("whereClause")) {
    ASSIGN_OR_RETURN(where, bind_predicate(inner["whereClause"], ctx, "WHERE"));
  }

  // Outer WHERE: the rank bound, plus any other conditions applied after ranking.
  if (!outer.contains("whereClause")) {
    return error_at(loc, "ROW_NUMBER needs a bound in the outer query: WHERE {} <= N (top-N) or {} = 1 (deduplication)",
                    rank_name, rank_name);
  }
  // Every bound on the rank narrows one range: its top is the operator's N; a bottom
  // above 1 (rn = 3, rn BETWEEN 2 AND 5, rn > 1) stays a filter on rn over the top-N
  // changelog, which is exact because each retraction and its replacement carry the same
  // rank (a row moving into or out of the range is a -D or +I at a kept rank).
  std::vector<json> parts;
  conjuncts(outer["whereClause"], parts);
  RankRange range;
  json rest = json::array();
  for (const auto& c : parts) {
    RankRange one;
    if (!rank_bound(c, rank_name, &one)) {
      rest.push_back(c);
      continue;
    }
    range.lo = std::max(range.lo, one.lo);
    range.hi = std::min(range.hi, one.hi);
    if (one.lo > 1) rest.push_back(c);
  }
  const int where_loc = location_of(outer["whereClause"]);
  if (range.hi == std::numeric_limits<int64_t>::max()) {
    return error_at(where_loc,
                    "ROW_NUMBER needs an upper bound on {} in the outer query: WHERE {} <= N (top-N), {} = N, {} BETWEEN "
                    "a AND b, or {} = 1 (deduplication)",
                    rank_name, rank_name, rank_name, rank_name, rank_name);
  }
  if (range.hi < range.lo || range.hi < 1) {
    return error_at(where_loc, "the conditions on {} select no rank (from {} to {})", rank_name, range.lo, range.hi);
  }
  const int64_t limit = range.hi;
  if (limit > 100000) return error_at(where_loc, "top-N limit {} is too large (at most 100000)", limit);

  // Pre-projection: [visible..., partition..., order..., (window end)].
  std::vector<ExprPtr> pre;
  std::vector<Field> pre_fields;
  std::vector<std::string> visible_names;
  for (const auto& t : inner["targetList"]) {
    if (&t == &rank_target) continue;
    if (is_star(t)) {
      for (size_t i = 0; i < in.columns.size(); ++i) {
        pre.push_back(make_column_ref(static_cast<int>(i), in.columns[i].type, in.columns[i].name));
        pre_fields.push_back({in.columns[i].name, in.columns[i].type, true});
      }
      continue;
    }
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(t)["val"], ctx));
    pre.push_back(e);
    pre_fields.push_back({output_name(t, pre_fields.size()), e->type(), true});
  }
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kTopN;
  node->visible_columns = pre.size();
  node->limit = limit;
  const json& over = call["over"];
  // Window of an insert-only windowed aggregation underneath: rank per window, emit once.
  const LogicalNode* post = in.node.get();
  const LogicalNode* agg = (post->kind == LogicalNode::Kind::kCalc && !post->filter && !post->inputs.empty())
                               ? post->inputs[0].get()
                               : nullptr;
  bool over_window_agg = agg && agg->kind == LogicalNode::Kind::kAggregate && agg->windowed;
  // Rows of a TUMBLE/HOP table function ranked per window: a window top-N too (emitted
  // when the window closes; the planner sends late rows to the late-data output).
  const bool over_window_tvf = in.tvf && in.tvf->window.kind != WindowSpec::Kind::kSession &&
                               in.node->kind == LogicalNode::Kind::kWindowAssign;
  ExprPtr window_end;
  for (const auto& p : list_of(over, "partitionClause")) {
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(p, ctx));
    int ref = column_ref_index(*e);
    if (over_window_tvf && ref == in.tvf->window_end) window_end = e;
    if (over_window_tvf && ref == in.tvf->window_start && !window_end) {
      ASSIGN_OR_RETURN(window_end, make_call("+", {e, make_literal(Value::interval(in.tvf->window.size))}));
    }
    if (over_window_agg && ref >= 0) {
      int src = column_ref_index(*post->projections[static_cast<size_t>(ref)]);
      if (src == 1) window_end = e;
      if (src == 0 && !window_end) {
        ASSIGN_OR_RETURN(window_end, make_call("+", {e, make_literal(Value::interval(agg->window.size))}));
      }
    }
    node->partition_columns.push_back(static_cast<int>(pre.size()));
    pre.push_back(e);
    pre_fields.push_back({fmt::format("partition_{}", node->partition_columns.size()), e->type(), true});
  }
  if (!over.contains("orderClause")) return error_at(loc, "ROW_NUMBER needs ORDER BY inside OVER (...)");
  for (const auto& o : over["orderClause"]) {
    const json& sb = node_body(o);
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(sb["node"], ctx));
    bool desc = sb.value("sortby_dir", "") == "SORTBY_DESC";
    std::string nulls = sb.value("sortby_nulls", "SORTBY_NULLS_DEFAULT");
    node->order_columns.push_back(static_cast<int>(pre.size()));
    node->descending.push_back(desc);
    // PostgreSQL: NULLs sort as the largest value by default.
    node->nulls_first.push_back(nulls == "SORTBY_NULLS_FIRST" || (nulls == "SORTBY_NULLS_DEFAULT" && desc));
    pre.push_back(e);
    pre_fields.push_back({fmt::format("order_{}", node->order_columns.size()), e->type(), true});
  }
  if (window_end) {
    node->window_end_column = static_cast<int>(pre.size());
    pre.push_back(window_end);
    pre_fields.push_back({"window_end", TypeId::kTimestamp, true});
  }
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {in.node};
  calc->filter = where;
  calc->projections = pre;
  calc->schema = make_schema(pre_fields);
  node->inputs = {calc};
  std::vector<Field> out_fields(pre_fields.begin(), pre_fields.begin() + static_cast<long>(node->visible_columns));
  out_fields.push_back({rank_name, TypeId::kInt64, false});
  node->schema = make_schema(out_fields);

  Relation ranked;
  ranked.node = node;
  for (const auto& f : out_fields) ranked.columns.push_back({f.name, alias, f.type});
  // The outer select runs over the ranked rows with the remaining conditions.
  json outer_rest = outer;
  outer_rest.erase("whereClause");
  if (rest.size() == 1) {
    outer_rest["whereClause"] = rest[0];
  } else if (rest.size() > 1) {
    outer_rest["whereClause"] = json{{"BoolExpr", {{"boolop", "AND_EXPR"}, {"args", rest}}}};
  }
  if (outer_rest.contains("groupClause") || contains_aggregate(list_of(outer_rest, "targetList"))) {
    return bind_aggregate(outer_rest, ranked);
  }
  return bind_projection(outer_rest, ranked);
}

}  // namespace sluice::sql
