#include "sql/binder.h"
#include "plan/shapes.h"
#include "expr/aggregate_functions.h"

namespace sluice::sql {

struct Compiler::AggregateBinding : BindContext {
  Compiler* c = nullptr;
  const Relation* in = nullptr;  // FROM relation (possibly a TVF)
  bool windowed = false;
  int window_start_col = -1, window_end_col = -1;  // in `in`
  // Pre-projection over `in` (or the TVF input): keys, then aggregate arguments.
  std::vector<ExprPtr> pre;
  std::vector<std::string> pre_names;
  std::vector<const json*> key_nodes;  // in the SELECT being bound, which outlives this
  std::vector<int> key_refs;  // input column of each key when it is a plain column, else -1
  std::vector<AggregateSpec> aggs;
  std::vector<std::string> agg_sigs;
  size_t num_keys = 0;
  bool binding_aggregate_arg = false;
  int event_time_col = -1;  // in `in`: orders FIRST_VALUE/LAST_VALUE/ARRAY_AGG/STRING_AGG

  size_t output_offset() const { return windowed ? 2 : 0; }
  int agg_output(size_t a) const { return static_cast<int>(output_offset() + num_keys + a); }

  // Column reference in the post-aggregation select list / HAVING.
  Result<ExprPtr> column(const json& colref) override {
    ASSIGN_OR_RETURN(int i, c->resolve(*in, colref));
    if (windowed && i == window_start_col) return make_column_ref(0, TypeId::kTimestamp, "window_start");
    if (windowed && i == window_end_col) return make_column_ref(1, TypeId::kTimestamp, "window_end");
    for (size_t k = 0; k < key_refs.size(); ++k) {
      if (key_refs[k] == i) {
        return make_column_ref(static_cast<int>(output_offset() + k), in->columns[static_cast<size_t>(i)].type,
                               in->columns[static_cast<size_t>(i)].name);
      }
    }
    return c->error_at(location_of(colref),
                       "column '{}' must appear in the GROUP BY clause or be used in an aggregate function",
                       in->columns[static_cast<size_t>(i)].name);
  }

  std::optional<Result<ExprPtr>> intercept(const json& node) override {
    if (node_type(node) == "FuncCall") {
      const json& call = node_body(node);
      std::string name = func_name(call);
      if (is_aggregate_name(name) && !call.contains("over")) return bind_aggregate_call(call, name);
    }
    for (size_t k = 0; k < key_nodes.size(); ++k) {
      if (same_expression(*key_nodes[k], node)) {
        return Result<ExprPtr>(make_column_ref(static_cast<int>(output_offset() + k), pre[k]->type(), pre_names[k]));
      }
    }
    return std::nullopt;
  }

  // Binds an aggregate's argument or FILTER condition over the FROM relation.
  Result<ExprPtr> bind_input(const json& node, int loc) {
    if (c->contains_aggregate(node)) return c->error_at(loc, "aggregate calls cannot be nested");
    RelationContext inner;
    inner.c = c;
    inner.rel = in;
    ASSIGN_OR_RETURN(ExprPtr e, c->bind_expr(node, inner));
    if (windowed) {
      for (int used : columns_used(e)) {
        if (used == window_start_col || used == window_end_col) {
          return c->error_at(loc, "window_start/window_end cannot be aggregated");
        }
      }
    }
    return e;
  }
  // Index of `e` in the pre-projection, adding it unless an equal input is there already.
  int add_input(ExprPtr e, const std::string& sig) {
    std::string key = sig + "|" + type_name(e->type());
    for (size_t p = num_keys; p < pre.size(); ++p) {
      if (pre_sigs[p - num_keys] == key) return static_cast<int>(p);
    }
    pre.push_back(std::move(e));
    pre_names.push_back(fmt::format("agg_arg_{}", pre.size() - num_keys));
    pre_sigs.push_back(key);
    return static_cast<int>(pre.size()) - 1;
  }
  // A constant argument (percentile fraction, STRING_AGG separator).
  Result<Value> constant_arg(const json& node, int loc, const std::string& what) {
    RelationContext inner;
    inner.c = c;
    inner.rel = in;
    ASSIGN_OR_RETURN(ExprPtr e, c->bind_expr(node, inner));
    if (!is_constant(*e)) return c->error_at(loc, "{} must be a constant", what);
    auto v = evaluate_constant(e);
    if (!v.is_ok()) return c->error_at(loc, "{}: {}", what, v.status().message());
    return v.value();
  }
  // ARRAY_AGG/STRING_AGG are ordered by event time: ORDER BY may only say so.
  Status check_order(const json& order, const std::string& name, int loc) {
    if (order.size() == 1 && node_type(order[0]) == "SortBy") {
      const json& sb = node_body(order[0]);
      std::string dir = sb.value("sortby_dir", "SORTBY_DEFAULT");
      if ((dir == "SORTBY_DEFAULT" || dir == "SORTBY_ASC") && event_time_col >= 0 &&
          node_type(sb["node"]) == "ColumnRef") {
        auto idx = c->resolve(*in, sb["node"]);
        if (idx.is_ok() && idx.value() == event_time_col) return Status::ok();
      }
    }
    return c->error_at(loc,
                       "{}() is always ordered by event time (ties by arrival order); ORDER BY inside it may only "
                       "name the event-time column, ascending",
                       name);
  }

  Result<ExprPtr> bind_aggregate_call(const json& call, const std::string& name) {
    int loc = call.value("location", -1);
    json args = call.value("args", json::array());
    if (call.value("agg_within_group", false)) {
      // percentile_cont(p) WITHIN GROUP (ORDER BY x) (PostgreSQL) = PERCENTILE(x, p).
      if (name != "percentile_cont") {
        return c->error_at(loc, "WITHIN GROUP is only supported for percentile_cont; use PERCENTILE(x, p) or APPROX_PERCENTILE(x, p)");
      }
      const json order = call.value("agg_order", json::array());
      if (args.size() != 1 || order.size() != 1 || node_type(order[0]) != "SortBy") {
        return c->error_at(loc, "percentile_cont takes one fraction and WITHIN GROUP (ORDER BY value)");
      }
      std::string dir = node_body(order[0]).value("sortby_dir", "SORTBY_DEFAULT");
      if (dir != "SORTBY_DEFAULT" && dir != "SORTBY_ASC") {
        return c->error_at(loc, "percentile_cont(p) WITHIN GROUP (ORDER BY x DESC) is not supported; use 1 - p");
      }
      args = json::array({node_body(order[0])["node"], args[0]});
    } else if (name == "percentile_cont") {
      return c->error_at(loc, "percentile_cont needs WITHIN GROUP (ORDER BY value); or use PERCENTILE(value, p)");
    } else if (call.contains("agg_order")) {
      if (name != "array_agg" && name != "string_agg") return c->error_at(loc, "ORDER BY inside {}() is not supported", name);
      RETURN_IF_ERROR(check_order(call["agg_order"], name, loc));
    }
    AggregateSpec spec;
    spec.distinct = call.value("agg_distinct", false);
    if (call.value("agg_star", false)) {
      if (name != "count") return c->error_at(loc, "{}(*) is not valid; only COUNT(*)", name);
      spec.kind = AggKind::kCountStar;
    } else if (const AggregateFunctionDef* udaf = AggregateFunctionRegistry::global().find(name)) {
      // A C++ user-defined aggregate: one argument, cast like a function argument.
      if (args.size() != 1) return c->error_at(loc, "{} takes one argument", name);
      if (spec.distinct) return c->error_at(loc, "{}(DISTINCT ...) is not supported for user aggregates", name);
      spec.kind = AggKind::kUser;
      spec.user = udaf;
      ASSIGN_OR_RETURN(ExprPtr arg, bind_input(args[0], loc));
      if (arg->type() == TypeId::kNull) {
        arg = make_literal(Value::null(udaf->arg_type));
      } else if (arg->type() != udaf->arg_type) {
        if (!implicitly_castable(arg->type(), udaf->arg_type)) {
          return c->error_at(loc, "{}({}) does not exist: it takes {}", name, type_name(arg->type()),
                             type_name(udaf->arg_type));
        }
        auto cast = make_cast(arg, udaf->arg_type);
        if (!cast.is_ok()) return c->error_at(loc, "{}: {}", name, cast.status().message());
        arg = cast.value();
      }
      spec.input_type = udaf->arg_type;
      spec.input = add_input(arg, signature(args[0]));
    } else {
      spec.kind = name == "count"                   ? AggKind::kCount
                  : name == "sum"                   ? AggKind::kSum
                  : name == "min"                   ? AggKind::kMin
                  : name == "max"                   ? AggKind::kMax
                  : name == "avg"                   ? AggKind::kAvg
                  : name == "approx_count_distinct" ? AggKind::kApproxCountDistinct
                  : name == "approx_percentile"     ? AggKind::kApproxPercentile
                  : name == "percentile"            ? AggKind::kPercentile
                  : name == "percentile_cont"       ? AggKind::kPercentile
                  : name == "first_value"           ? AggKind::kFirstValue
                  : name == "last_value"            ? AggKind::kLastValue
                  : name == "array_agg"             ? AggKind::kArrayAgg
                                                    : AggKind::kStringAgg;
      const bool two_args = spec.kind == AggKind::kApproxPercentile || spec.kind == AggKind::kPercentile ||
                            spec.kind == AggKind::kStringAgg;
      if (args.size() != (two_args ? 2u : 1u)) {
        return c->error_at(loc, "{} takes {}", name,
                           spec.kind == AggKind::kStringAgg ? "two arguments (value, separator)"
                           : two_args                       ? "two arguments (value, fraction)"
                                                            : "one argument");
      }
      if (spec.distinct) {
        switch (spec.kind) {
          case AggKind::kCount:
          case AggKind::kSum:
          case AggKind::kAvg: break;
          case AggKind::kMin:
          case AggKind::kMax:
          case AggKind::kApproxCountDistinct: spec.distinct = false; break;  // same result
          default: return c->error_at(loc, "{}(DISTINCT ...) is not supported", name);
        }
      }
      ASSIGN_OR_RETURN(ExprPtr arg, bind_input(args[0], loc));
      TypeId t = arg->type();
      if (t == TypeId::kNull) {
        t = spec.kind == AggKind::kStringAgg ? TypeId::kString : TypeId::kInt64;
        arg = make_literal(Value::null(t));
      }
      if ((spec.kind == AggKind::kSum || spec.kind == AggKind::kAvg) && !is_numeric(t) &&
          !(spec.kind == AggKind::kSum && t == TypeId::kInterval)) {
        return c->error_at(loc, "{} needs a numeric argument, not {}", name, type_name(t));
      }
      if ((spec.kind == AggKind::kApproxPercentile || spec.kind == AggKind::kPercentile) && !is_numeric(t)) {
        return c->error_at(loc, "{} needs a numeric argument, not {}", name, type_name(t));
      }
      if ((spec.kind == AggKind::kMin || spec.kind == AggKind::kMax) && t == TypeId::kBool) {
        return c->error_at(loc, "{} of BOOLEAN is not supported", name);
      }
      if (spec.kind == AggKind::kStringAgg && t != TypeId::kString) {
        auto cast = make_cast(arg, TypeId::kString);  // STRING_AGG of any type joins its text
        if (!cast.is_ok()) return c->error_at(loc, "{}: {}", name, cast.status().message());
        arg = cast.value();
        t = TypeId::kString;
      }
      spec.input_type = t;
      spec.input = add_input(arg, signature(args[0]));
      if (spec.kind == AggKind::kApproxPercentile || spec.kind == AggKind::kPercentile) {
        const std::string what = fmt::format("the fraction of {} (a number between 0 and 1)", name);
        ASSIGN_OR_RETURN(Value p, constant_arg(args[1], loc, what));
        if (p.is_null || !is_numeric(p.type)) return c->error_at(loc, "{} must be a constant", what);
        spec.fraction = p.type == TypeId::kFloat64 ? p.d : static_cast<double>(p.i);
        if (!(spec.fraction >= 0 && spec.fraction <= 1)) {
          return c->error_at(loc, "{} is out of range: {}", what, spec.fraction);
        }
      }
      if (spec.kind == AggKind::kStringAgg) {
        const char* what = "the separator of string_agg (a TEXT constant)";
        ASSIGN_OR_RETURN(Value sep, constant_arg(args[1], loc, what));
        if (!sep.is_null && sep.type != TypeId::kString) return c->error_at(loc, "{} must be TEXT", what);
        spec.separator = sep.is_null ? "" : sep.s;  // NULL: no separator (PostgreSQL)
      }
    }
    if (call.contains("agg_filter")) {
      // FILTER (WHERE cond): a BOOLEAN column of the pre-projection; rows where it is not
      // TRUE are skipped by this aggregate only.
      const json& f = call["agg_filter"];
      if (c->contains_aggregate(f)) return c->error_at(loc, "aggregate calls cannot be nested");
      ASSIGN_OR_RETURN(ExprPtr cond, bind_input(f, loc));
      if (cond->type() == TypeId::kNull) cond = make_literal(Value::null(TypeId::kBool));
      if (cond->type() != TypeId::kBool) {
        return c->error_at(location_of(f), "FILTER must be a boolean condition, not {}", type_name(cond->type()));
      }
      spec.filter = add_input(cond, "filter " + signature(f));
    }
    spec.result_type = spec.kind == AggKind::kUser ? spec.user->return_type
                                                  : aggregate_result_type(spec.kind, spec.input_type);
    std::string full = fmt::format("{}|{}|{}|{}|{}|{}", static_cast<int>(spec.kind), spec.distinct, spec.input,
                                   spec.filter, spec.fraction, spec.separator);
    for (size_t a = 0; a < aggs.size(); ++a) {
      if (agg_sigs[a] == full) return make_column_ref(agg_output(a), aggs[a].result_type, name);
    }
    aggs.push_back(spec);
    agg_sigs.push_back(full);
    return make_column_ref(agg_output(aggs.size() - 1), spec.result_type, name);
  }

  std::vector<std::string> pre_sigs;
};

std::vector<int> Compiler::columns_used(const ExprPtr& e) { return referenced_columns(e); }

Result<Relation> Compiler::bind_aggregate(const json& s, const Relation& in) {
  AggregateBinding ab;
  ab.c = this;
  ab.in = &in;
  const json& groups = list_of(s, "groupClause");
  // Windowed when grouping by the TVF's window_start or window_end.
  std::vector<const json*> key_nodes;
  bool groups_ws = false, groups_we = false;
  for (const auto& g : groups) {
    if (node_type(g) == "GroupingSet") return error_at(location_of(g), "GROUPING SETS/ROLLUP/CUBE are not supported");
    if (in.tvf && node_type(g) == "ColumnRef") {
      auto idx = resolve(in, g);
      if (!idx.is_ok()) return idx.status();
      if (idx.value() == in.tvf->window_start) {
        groups_ws = true;
        continue;
      }
      if (idx.value() == in.tvf->window_end) {
        groups_we = true;
        continue;
      }
    }
    key_nodes.push_back(&g);
  }
  ab.windowed = groups_ws || groups_we;
  if (in.tvf && in.tvf->window.kind == WindowSpec::Kind::kSession && !ab.windowed) {
    return error_at(-1, "SESSION windows need GROUP BY window_start and/or window_end");
  }
  if (ab.windowed) {
    ab.window_start_col = in.tvf->window_start;
    ab.window_end_col = in.tvf->window_end;
  }
  ab.event_time_col = ab.windowed ? in.tvf->time_column : in.node->rowtime;
  RelationContext plain;
  plain.c = this;
  plain.rel = &in;
  for (const json* g : key_nodes) {
    // GROUP BY 1 / GROUP BY alias are PostgreSQL extensions; resolve positional numbers.
    const json* node = g;
    if (node_type(*g) == "A_Const" && node_body(*g).contains("ival")) {
      int pos = node_body(*g)["ival"].value("ival", 0);
      const json& tl = s["targetList"];
      if (pos < 1 || pos > static_cast<int>(tl.size())) return error_at(location_of(*g), "GROUP BY position {} is not in the select list", pos);
      node = &node_body(tl[static_cast<size_t>(pos - 1)])["val"];
    }
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(*node, plain));
    if (ab.windowed) {
      for (int used : columns_used(e)) {
        if (used == ab.window_start_col || used == ab.window_end_col) {
          return error_at(location_of(*node), "group by window_start/window_end directly");
        }
      }
    }
    ab.key_nodes.push_back(node);
    ab.key_refs.push_back(column_ref_index(*e));
    ab.pre.push_back(e);
    ab.pre_names.push_back(output_name(json{{"ResTarget", {{"val", *node}}}}, ab.pre.size()));
  }
  ab.num_keys = ab.pre.size();
  // WHERE applies before aggregation, over the FROM relation.
  ExprPtr where;
  if (s.contains("whereClause")) {
    ASSIGN_OR_RETURN(where, bind_predicate(s["whereClause"], plain, "WHERE"));
    if (ab.windowed) {
      for (int used : columns_used(where)) {
        if (used == ab.window_start_col || used == ab.window_end_col) {
          return error_at(location_of(s["whereClause"]), "WHERE on window_start/window_end is not supported; use HAVING");
        }
      }
    }
  }
  // Select list and HAVING over the aggregate output.
  std::vector<ExprPtr> post;
  std::vector<Field> fields;
  Relation out;
  for (const auto& target : s["targetList"]) {
    if (is_star(target)) return error_at(location_of(target), "SELECT * cannot be used with GROUP BY");
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(target)["val"], ab));
    if (e->type() == TypeId::kNull) e = make_literal(Value::null(TypeId::kString));
    std::string name = output_name(target, fields.size());
    post.push_back(e);
    fields.push_back({name, e->type(), true});
    out.columns.push_back({name, "", e->type()});
  }
  ExprPtr having;
  if (s.contains("havingClause")) {
 ASSIGN_OR_RETURN(having, bind_predicate(s["havingClause"], ab, "HAVING"));
}

  // Plan: [filter] -> pre-projection [keys, agg args, (time)] -> aggregate -> post Calc.
  AggregateShape shape;
  shape.base = ab.windowed ? in.tvf->input : in.node;
  shape.filter = where;
  shape.inputs = ab.pre;
  shape.input_names = ab.pre_names;
  shape.num_keys = ab.num_keys;
  shape.aggregates = ab.aggs;
  shape.windowed = ab.windowed;
  if (ab.windowed) {
    shape.window = in.tvf->window;
    shape.window_time_column = in.tvf->time_column;
  }
  LogicalNodePtr agg = make_aggregate_node(std::move(shape));

  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {agg};
  calc->filter = having;
  calc->projections = post;
  calc->schema = make_schema(fields);
  out.node = calc;
  return out;
}

Result<Compiler::BoundAggregate> Compiler::bind_aggregate_call_over(const json& call, const Relation& in) {
  AggregateBinding ab;
  ab.c = this;
  ab.in = &in;
  ab.event_time_col = in.node->rowtime;
  ASSIGN_OR_RETURN(ExprPtr unused, ab.bind_aggregate_call(call, func_name(call)));
  BoundAggregate out;
  out.spec = ab.aggs.at(0);
  if (out.spec.input >= 0) out.argument = ab.pre[static_cast<size_t>(out.spec.input)];
  if (out.spec.filter >= 0) out.filter = ab.pre[static_cast<size_t>(out.spec.filter)];
  out.spec.input = -1;
  out.spec.filter = -1;
  return out;
}

}  // namespace sluice::sql
