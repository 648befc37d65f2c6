#include "sql/binder.h"
#include "expr/aggregate_functions.h"

namespace sluice::sql {

bool Compiler::is_aggregate_name(const std::string& n) {
  if (AggregateFunctionRegistry::global().find(n)) return true;
  return n == "count" || n == "sum" || n == "min" || n == "max" || n == "avg" || n == "approx_count_distinct" ||
         n == "approx_percentile" || n == "percentile" || n == "first_value" || n == "last_value" ||
         n == "array_agg" || n == "string_agg" || n == "percentile_cont";
}

std::string Compiler::func_name(const json& call) {
  std::string name;
  for (const auto& n : call["funcname"]) name = lower(string_value(n));
  return name;
}

bool Compiler::is_processing_time_function(const std::string& name) {
  static const std::set<std::string> kNames = {"now", "current_timestamp", "current_date", "current_time",
                                               "localtimestamp", "localtime", "transaction_timestamp",
                                               "statement_timestamp", "clock_timestamp", "timeofday", "proctime",
                                               "current_row_timestamp"};
  return kNames.count(name) > 0;
}

bool Compiler::contains_aggregate(const json& n) {
  bool found = false;
  walk_tree(n, [&](const json& v) {
    // An aggregate inside a subquery belongs to the subquery, not to this SELECT.
    if (node_type(v) == "SubLink") return Walk::kSkip;
    if (node_type(v) == "FuncCall" && is_aggregate_name(func_name(node_body(v))) && !node_body(v).contains("over")) {
      found = true;
      return Walk::kStop;
    }
    return Walk::kEnter;
  });
  return found;
}

std::string Compiler::output_name(const json& target, size_t index) {
  const json& t = node_body(target);
  if (t.contains("name")) return t["name"].get<std::string>();
  const json& v = t["val"];
  const std::string& type = node_type(v);
  if (type == "ColumnRef") {
    const json& f = node_body(v)["fields"];
    return string_value(f.back());
  }
  if (type == "FuncCall") return func_name(node_body(v));
  if (type == "TypeCast") {
    const json& arg = node_body(v)["arg"];
    if (node_type(arg) == "ColumnRef") return string_value(node_body(arg)["fields"].back());
    std::string tn;
    for (const auto& n : node_body(v)["typeName"]["names"]) tn = string_value(n);
    return tn;
  }
  if (type == "CaseExpr") return "case";
  if (type == "CoalesceExpr") return "coalesce";
  return index == 0 ? "?column?" : fmt::format("?column?_{}", index);
}

bool Compiler::is_star(const json& target) {
  const json& v = node_body(target)["val"];
  if (node_type(v) != "ColumnRef") return false;
  const json& f = node_body(v)["fields"];
  return node_type(f.back()) == "A_Star";
}

Result<Relation> Compiler::bind_projection(const json& s, const Relation& original_in) {
  if (original_in.tvf && original_in.tvf->window.kind == WindowSpec::Kind::kSession) {
    return error_at(-1, "SESSION windows need an aggregation: GROUP BY window_start, window_end, ...");
  }
  // score(...) calls: scoring nodes (after the WHERE) under this projection (bind_score.cc).
  std::map<std::string, int> scored;
  Relation scored_in;
  const bool scoring = has_scoring_calls(s["targetList"]);
  if (scoring) {
    ASSIGN_OR_RETURN(scored_in, bind_scoring(s, original_in, &scored));
  }
  const Relation& in = scoring ? scored_in : original_in;
  RelationContext ctx;
  ctx.c = this;
  ctx.rel = &in;
  ctx.scored = &scored;
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kCalc;
  node->inputs = {in.node};
  if (!scoring && s.contains("whereClause")) {
    ASSIGN_OR_RETURN(node->filter, bind_predicate(s["whereClause"], ctx, "WHERE"));
  }
  std::vector<Field> fields;
  Relation out;
  bool passthrough = true;
  for (const auto& target : s["targetList"]) {
    if (is_star(target)) {
      const json& f = node_body(node_body(target)["val"])["fields"];
      std::string qual = f.size() == 2 ? string_value(f[0]) : "";
      for (size_t i = 0; i < in.columns.size(); ++i) {
        if (!qual.empty() && !iequals(in.columns[i].qualifier, qual)) continue;
        if (qual.empty() && in.columns[i].merged) continue;  // USING: the merged column stands for it
        if (in.columns[i].name.rfind('$', 0) == 0) continue;  // hidden (a scoring node's columns)
        if (static_cast<int>(i) == in.node->rowtime) node->rowtime = static_cast<int>(fields.size());
        if (i != fields.size()) passthrough = false;
        node->projections.push_back(make_column_ref(static_cast<int>(i), in.columns[i].type, in.columns[i].name));
        fields.push_back({in.columns[i].name, in.columns[i].type, true});
        out.columns.push_back({in.columns[i].name, "", in.columns[i].type});
      }
      continue;
    }
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(target)["val"], ctx));
    if (e->type() == TypeId::kNull) e = make_literal(Value::null(TypeId::kString));
    std::string name = output_name(target, fields.size());
    int ref = column_ref_index(*e);
    if (ref >= 0 && ref == in.node->rowtime) node->rowtime = static_cast<int>(fields.size());
    if (ref != static_cast<int>(fields.size())) passthrough = false;
    node->projections.push_back(e);
    fields.push_back({name, e->type(), true});
    out.columns.push_back({name, "", e->type()});
  }
  if (passthrough && fields.size() == in.node->schema->size()) {
    bool same_names = true;
    for (size_t i = 0; i < fields.size(); ++i) same_names = same_names && fields[i].name == in.node->schema->field(i).name;
    if (same_names) node->projections.clear();
  }
  node->schema = node->projections.empty() ? in.node->schema : make_schema(fields);
  if (node->projections.empty()) node->rowtime = in.node->rowtime;
  if (!node->filter && node->projections.empty()) {
    out.node = in.node;
  } else {
    out.node = node;
  }
  return out;
}

Result<json> Compiler::embedded_select(const char* expected) {
  ASSIGN_OR_RETURN(json tree, parse_tree(text_, [&](int at, const std::string& message) {
                     return error_at(at, "syntax error: {}", message);
                   }));
  const json& stmts = list_of(tree, "stmts");
  if (stmts.size() != 1 || node_type(stmts[0]["stmt"]) != "SelectStmt") return error_at(0, "{}", expected);
  return node_body(stmts[0]["stmt"]);
}

Relation Compiler::relation_over(const LogicalNodePtr& node) {
  Relation in;
  in.node = node;
  for (const Field& f : node->schema->fields()) in.columns.push_back({f.name, "", f.type});
  return in;
}

Result<LogicalNodePtr> Compiler::bind_select_list_text(const LogicalNodePtr& input) {
  const char* expected = "expected a select list (items separated by commas)";
  ASSIGN_OR_RETURN(json s, embedded_select(expected));
  const bool only_list = !s.contains("whereClause") && !s.contains("groupClause") && !s.contains("havingClause") &&
                         !s.contains("windowClause") && !s.contains("sortClause") && !s.contains("limitCount") &&
                         !s.contains("distinctClause") && list_of(s, "fromClause").size() == 1;
  if (!only_list || !s.contains("targetList")) return error_at(0, "{}", expected);
  for (const auto& target : s["targetList"]) {
    const json& v = node_body(target)["val"];
    if (contains_aggregate(v)) {
      return error_at(location_of(v), "aggregates are not allowed in a select list here (use aggregate())");
    }
    if (contains_over(v)) return error_at(location_of(v), "OVER is not allowed in a select list here (use over())");
  }
  ASSIGN_OR_RETURN(Relation r, bind_projection(s, relation_over(input)));
  return r.node;
}

Result<ExprPtr> Compiler::bind_predicate(const json& n, BindContext& ctx, const char* clause) {
  ASSIGN_OR_RETURN(ExprPtr e, bind_expr(n, ctx));
  if (e->type() != TypeId::kBool && e->type() != TypeId::kNull) {
    return error_at(location_of(n), "{} must be a boolean condition, not {}", clause, type_name(e->type()));
  }
  return e;
}

}  // namespace sluice::sql
