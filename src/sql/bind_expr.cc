#include "sql/binder.h"
#include "expr/aggregate_functions.h"

namespace sluice::sql {

Result<ExprPtr> Compiler::call(const std::string& name, std::vector<ExprPtr> args, int loc) {
  auto r = make_call(name, std::move(args));
  if (!r.is_ok()) return wrap(r.status(), loc);
  return r;
}

Result<ExprPtr> Compiler::literal(const json& c, int loc) {
  if (c.value("isnull", false)) return make_literal(Value::null());
  if (c.contains("ival")) return make_literal(Value::int64(c["ival"].value("ival", 0)));
  if (c.contains("fval")) {
    std::string f = c["fval"].value("fval", "0");
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(f.c_str(), &end, 10);
    if (*end == '\0' && errno == 0) return make_literal(Value::int64(v));
    return make_literal(Value::float64(std::strtod(f.c_str(), nullptr)));
  }
  if (c.contains("sval")) return make_literal(Value::string(c["sval"].value("sval", "")));
  if (c.contains("boolval")) return make_literal(Value::boolean(c["boolval"].value("boolval", false)));
  if (c.contains("bsval")) return error_at(loc, "bit-string literals are not supported");
  return make_literal(Value::int64(0));  // protobuf JSON omits zero values: {"ival": {}}
}

Result<ExprPtr> Compiler::bind_expr(const json& n, BindContext& ctx) {
  if (auto replaced = ctx.intercept(n)) return std::move(*replaced);
  const std::string& type = node_type(n);
  const json& b = node_body(n);
  int loc = location_of(n);
  if (type == "ColumnRef") return ctx.column(n);
  if (type == "A_Const") return literal(b, loc);
  if (type == "TypeCast") {
    // INTERVAL '1' MINUTE has no location of its own: its type name's is where it starts.
    if (loc < 0) loc = b["typeName"].value("location", -1);
    if (loc < 0) loc = location_of(b["arg"]);
    ASSIGN_OR_RETURN(ExprPtr arg, bind_expr(b["arg"], ctx));
    ASSIGN_OR_RETURN(TypeId t, type_of(b["typeName"], loc));
    if (t == TypeId::kInterval && b["typeName"].contains("typmods")) return qualified_interval(arg, b["typeName"], loc);
    auto c = make_cast(arg, t);
    if (!c.is_ok()) return wrap(c.status(), loc);
    // DATE is a TIMESTAMP at midnight UTC: the time of day is dropped, from text and
    // timestamps alike, so a GROUP BY ts::date makes one group per day.
    if (is_date_type(b["typeName"])) c = truncate_to_day(c.value());
    if (!c.is_ok()) return wrap(c.status(), loc);
    // Fold literal casts (INTERVAL '1 minute', TIMESTAMP '...') so bad literals fail here.
    if (literal_value(*arg)) {
      auto v = evaluate_constant(c.value());
      if (v.is_ok() && v.value().is_null && !literal_value(*arg)->is_null) {
        // `TIMESTAMP '...'` has no location of its own: point at the string.
        const int at = loc >= 0 ? loc : location_of(b["arg"]);
        if (t == TypeId::kInterval) {
          // Say why (e.g. months have no fixed length), as the qualified form does.
          auto why = parse_qualified_interval(literal_value(*arg)->to_string(), IntervalQualifier{});
          if (!why.is_ok()) return error_at(at, "{}", why.status().message());
        }
        const std::string text = literal_value(*arg)->to_string();
        const std::string reason = t == TypeId::kTimestamp ? timestamp_range_error(text) : std::string();
        return error_at(at, "invalid {} literal '{}'{}", type_name(t), text, reason.empty() ? "" : ": " + reason);
      }
      if (v.is_ok()) return make_literal(v.value());
    }
    return c;
  }
  if (type == "A_Expr") return bind_a_expr(b, ctx, loc);
  if (type == "BoolExpr") {
    std::vector<ExprPtr> args;
    for (const auto& a : b["args"]) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(a, ctx));
      if (e->type() != TypeId::kBool && e->type() != TypeId::kNull) {
        return error_at(location_of(a), "argument of {} must be BOOLEAN, not {}",
                        b["boolop"] == "AND_EXPR" ? "AND" : (b["boolop"] == "OR_EXPR" ? "OR" : "NOT"), type_name(e->type()));
      }
      args.push_back(e);
    }
    std::string op = b.value("boolop", "");
    Result<ExprPtr> r = op == "AND_EXPR" ? make_and(args) : op == "OR_EXPR" ? make_or(args) : make_not(args[0]);
    if (!r.is_ok()) return wrap(r.status(), loc);
    return r;
  }
  if (type == "NullTest") {
    ASSIGN_OR_RETURN(ExprPtr arg, bind_expr(b["arg"], ctx));
    return make_is_null(arg, b.value("nulltesttype", "") == "IS_NOT_NULL");
  }
  if (type == "BooleanTest") {
    ASSIGN_OR_RETURN(ExprPtr arg, bind_expr(b["arg"], ctx));
    std::string t = b.value("booltesttype", "");
    // IS TRUE: coalesce(arg = true, false), etc.
    bool want = t == "IS_TRUE" || t == "IS_NOT_TRUE";
    bool negate = t == "IS_NOT_TRUE" || t == "IS_NOT_FALSE";
    if (t == "IS_UNKNOWN" || t == "IS_NOT_UNKNOWN") return make_is_null(arg, t == "IS_NOT_UNKNOWN");
    ASSIGN_OR_RETURN(ExprPtr eq, call("=", {arg, make_literal(Value::boolean(want))}, loc));
    ASSIGN_OR_RETURN(ExprPtr c, make_coalesce({eq, make_literal(Value::boolean(false))}));
    if (!negate) return c;
    return make_not(c);
  }
  if (type == "CaseExpr") {
    ExprPtr subject;
    if (b.contains("arg")) {
 ASSIGN_OR_RETURN(subject, bind_expr(b["arg"], ctx));
}
    std::vector<std::pair<ExprPtr, ExprPtr>> whens;
    for (const auto& w : b["args"]) {
      const json& cw = node_body(w);
      ASSIGN_OR_RETURN(ExprPtr cond, bind_expr(cw["expr"], ctx));
      if (subject) {
 ASSIGN_OR_RETURN(cond, call("=", {subject, cond}, location_of(cw["expr"])));
}
      ASSIGN_OR_RETURN(ExprPtr res, bind_expr(cw["result"], ctx));
      whens.emplace_back(cond, res);
    }
    ExprPtr other;
    if (b.contains("defresult")) {
 ASSIGN_OR_RETURN(other, bind_expr(b["defresult"], ctx));
}
    auto r = make_case(whens, other);
    if (!r.is_ok()) return wrap(r.status(), loc);
    return r;
  }
  if (type == "CoalesceExpr") {
    std::vector<ExprPtr> args;
    for (const auto& a : b["args"]) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(a, ctx));
      args.push_back(e);
    }
    auto r = make_coalesce(args);
    if (!r.is_ok()) return wrap(r.status(), loc);
    return r;
  }
  if (type == "MinMaxExpr") {
    std::vector<ExprPtr> args;
    for (const auto& a : b["args"]) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(a, ctx));
      args.push_back(e);
    }
    return call(b.value("op", "") == "IS_GREATEST" ? "greatest" : "least", args, loc);
  }
  if (type == "FuncCall") {
    std::string name = func_name(b);
    if (b.contains("over")) {
      return error_at(loc, "window functions (OVER ...) are only allowed in the select list (apply a condition on "
                           "them in an outer query)");
    }
    if (is_aggregate_name(name)) {
      return error_at(loc, "aggregate function {}() is not allowed here", name);
    }
    if (b.contains("agg_filter") || b.value("agg_distinct", false) || b.contains("agg_order") ||
        b.value("agg_star", false)) {
      return error_at(loc, "{}() is not an aggregate function: FILTER, DISTINCT, ORDER BY and * apply to aggregates only",
                      name);
    }
    if (b.value("funcformat", "") == "COERCE_SQL_SYNTAX" && name == "timezone") {
      return error_at(loc, "AT TIME ZONE is not supported: TIMESTAMP values are UTC instants; convert time zones "
                           "before or after the pipeline");
    }
    if (is_processing_time_function(name)) {
      return error_at(loc, "{}() is not supported: it reads the processing-time clock, so results would depend on when "
                           "the job runs; use an event-time column (or window_start/window_end)",
                      name);
    }
    if (name == "score" || name == "ingest_time" || name == "decision_time") {
      return error_at(loc, "{}() is allowed only in the SELECT list of a query without GROUP BY (docs/scoring.md)",
                      name);
    }
    if (name == "tumble" || name == "hop" || name == "session") {
      return error_at(loc, "{}() is a table function: use it in FROM, e.g. FROM {}(t, ts, INTERVAL '1 minute')", name, name);
    }
    std::vector<ExprPtr> args;
    for (const auto& a : list_of(b, "args")) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(a, ctx));
      args.push_back(e);
    }
    if (name == "extract" || name == "date_part") name = "date_part";
    if (name == "btrim" && args.size() >= 1) name = "btrim";
    return call(name, args, loc);
  }
  if (type == "SQLValueFunction") {
    return error_at(loc, "CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP and the like are not supported: they read "
                         "the processing-time clock, so results would depend on when the job runs; use an event-time "
                         "column (or window_start/window_end)");
  }
  if (type == "SubLink") {
    std::string kind = b.value("subLinkType", "");
    if (kind == "EXPR_SUBLINK") {
      return error_at(loc, "scalar subqueries ((SELECT ...) inside an expression) are not supported");
    }
    if (kind == "EXISTS_SUBLINK") return error_at(loc, "EXISTS (SELECT ...) is not supported");
    if (kind == "ANY_SUBLINK") return error_at(loc, "IN (SELECT ...) is not supported; list the values: IN (1, 2, 3)");
    return error_at(loc, "subqueries inside expressions are not supported");
  }
  if (type == "ParamRef") return error_at(loc, "parameters ($1) are not supported");
  return error_at(loc, "unsupported expression {}", type);
}

Result<IntervalQualifier> Compiler::interval_qualifier_of(const json& type_name, int loc) {
  std::vector<int64_t> mods;
  for (const auto& m : type_name["typmods"]) {
    if (node_type(m) != "A_Const") return error_at(loc, "unsupported INTERVAL type modifier");
    const json& c = node_body(m);
    mods.push_back(c.contains("ival") ? c["ival"].value("ival", 0) : 0);
  }
  auto q = interval_qualifier_from_typmods(mods);
  if (!q.is_ok()) return error_at(loc, "{}", q.status().message());
  return q.value();
}

Result<ExprPtr> Compiler::qualified_interval(const ExprPtr& arg, const json& type_name, int loc) {
  ASSIGN_OR_RETURN(IntervalQualifier q, interval_qualifier_of(type_name, loc));
  const Value* v = literal_value(*arg);
  if (v && v->is_null) return make_literal(Value::null(TypeId::kInterval));
  if (!v || v->type != TypeId::kString) {
    return error_at(loc,
                    "an INTERVAL qualifier (MINUTE, HOUR TO MINUTE, ...) applies to a quoted constant such as "
                    "INTERVAL '5' MINUTE; for a number column write col * INTERVAL '1' MINUTE");
  }
  auto micros = parse_qualified_interval(v->s, q);
  if (!micros.is_ok()) return error_at(loc, "{}", micros.status().message());
  return make_literal(Value::interval(micros.value()));
}

namespace {
bool is_binary_operator(const json& n) {
  if (node_type(n) != "A_Expr") return false;
  const json& b = node_body(n);
  auto kind = b.find("kind");
  return kind != b.end() && *kind == "AEXPR_OP" && b.contains("lexpr") && b.contains("rexpr");
}
}  // namespace

Result<ExprPtr> Compiler::bind_operator_chain(const json& top, BindContext& ctx, int top_loc) {
  // a + b + c ... parses left-deep, one level per operator: walk down the left operands in
  // a loop and bind upwards, so that a chain of thousands of terms takes no stack per term
  // (check_parse_tree_depth does not count these levels either).
  struct Level {
    const json* body;
    int loc;
  };
  auto op_of = [](const json& b) {
    std::string op;
    for (const auto& n : list_of(b, "name")) op = string_value(n);
    if (op == "!=") op = "<>";
    if (op == "~~") op = "like";
    return op;
  };
  std::vector<Level> levels{{&top, top_loc}};
  ExprPtr acc;
  size_t pending = 0;  // levels still to bind, from the innermost: levels[pending - 1] ... levels[0]
  for (;;) {
    const json& left = (*levels.back().body)["lexpr"];
    if (!is_binary_operator(left)) {
      pending = levels.size();
      ASSIGN_OR_RETURN(std::optional<MonthInterval> months, month_interval(left));
      if (months && op_of(*levels.back().body) == "+") {  // INTERVAL '1' MONTH + ts
        ASSIGN_OR_RETURN(ExprPtr ts, bind_expr((*levels.back().body)["rexpr"], ctx));
        ASSIGN_OR_RETURN(acc, add_month_interval(std::move(ts), *months, false));
        --pending;
      } else {
        ASSIGN_OR_RETURN(acc, bind_expr(left, ctx));
      }
      break;
    }
    // A left operand may itself be a GROUP BY key or the like (GROUP BY a + b).
    if (auto replaced = ctx.intercept(left)) {
      ASSIGN_OR_RETURN(acc, std::move(*replaced));
      pending = levels.size();
      break;
    }
    levels.push_back({&node_body(left), location_of(left)});
  }
  for (size_t k = pending; k-- > 0;) {
    const json& b = *levels[k].body;
    const std::string op = op_of(b);
    if (op == "+" || op == "-") {  // ts + INTERVAL '1' MONTH, ts - INTERVAL '1-2' YEAR TO MONTH
      ASSIGN_OR_RETURN(std::optional<MonthInterval> months, month_interval(b["rexpr"]));
      if (months) {
        ASSIGN_OR_RETURN(acc, add_month_interval(std::move(acc), *months, op == "-"));
        continue;
      }
    }
    ASSIGN_OR_RETURN(ExprPtr r, bind_expr(b["rexpr"], ctx));
    ASSIGN_OR_RETURN(acc, call(op, {acc, r}, levels[k].loc));
  }
  return acc;
}

Result<std::optional<Compiler::MonthInterval>> Compiler::month_interval(const json& n) {
  const std::optional<MonthInterval> none;
  if (node_type(n) != "TypeCast") return none;
  const json& b = node_body(n);
  if (!b.contains("arg") || !b.contains("typeName") || node_type(b["arg"]) != "A_Const") {
    return none;
  }
  const json& c = node_body(b["arg"]);
  if (!c.contains("sval")) return none;
  std::string type;
  for (const auto& name : list_of(b["typeName"], "names")) type = string_value(name);
  if (lower(type) != "interval") return none;
  // Where bind_expr places errors about the cast (INTERVAL '1' MONTH: at INTERVAL).
  int loc = b.value("location", -1);
  if (loc < 0) loc = b["typeName"].value("location", -1);
  if (loc < 0) loc = location_of(b["arg"]);
  IntervalQualifier q;
  if (b["typeName"].contains("typmods")) {
    ASSIGN_OR_RETURN(q, interval_qualifier_of(b["typeName"], loc));
  }
  MonthInterval m;
  m.text = c["sval"].value("sval", "");
  m.loc = loc;
  auto parsed = parse_calendar_interval(m.text, q);
  if (!parsed.is_ok() || parsed.value().months == 0) return none;  // the cast reports it
  m.value = parsed.value();
  return std::optional<MonthInterval>(std::move(m));
}

Result<ExprPtr> Compiler::add_month_interval(ExprPtr timestamp, const MonthInterval& m, bool subtract) {
  if (!months_refused_in_.empty()) {
    return error_at(m.loc,
                    "INTERVAL '{}': months and years have no fixed length, so they cannot be used in {}; write "
                    "days instead, e.g. INTERVAL '30' DAY",
                    m.text, months_refused_in_);
  }
  if (timestamp->type() != TypeId::kTimestamp) {
    if (!implicitly_castable(*timestamp, TypeId::kTimestamp)) {
      return error_at(m.loc,
                      "INTERVAL '{}': months and years have no fixed length, so such an interval can only be added "
                      "to or subtracted from a TIMESTAMP, not {}",
                      m.text, type_name(timestamp->type()));
    }
    auto cast = make_implicit_cast(std::move(timestamp), TypeId::kTimestamp);
    if (!cast.is_ok()) return wrap(cast.status(), m.loc);
    timestamp = cast.value();
  }
  // As PostgreSQL: the months first (clamped to the month's end), then days and time.
  const int64_t months = subtract ? -m.value.months : m.value.months;
  ASSIGN_OR_RETURN(ExprPtr moved, call("add_months", {std::move(timestamp), make_literal(Value::int64(months))}, m.loc));
  if (m.value.micros == 0) return moved;
  return call(subtract ? "-" : "+", {std::move(moved), make_literal(Value::interval(m.value.micros))}, m.loc);
}

Result<ExprPtr> Compiler::bind_a_expr(const json& b, BindContext& ctx, int loc) {
  std::string kind = b.value("kind", "");
  std::string op;
  for (const auto& n : list_of(b, "name")) op = string_value(n);
  auto side = [&](const char* key) -> Result<ExprPtr> { return bind_expr(b[key], ctx); };
  if (kind == "AEXPR_OP") {
    if (!b.contains("lexpr")) {
      ASSIGN_OR_RETURN(ExprPtr r, side("rexpr"));
      if (op == "-") return call("neg", {r}, loc);
      if (op == "+") return r;
      return error_at(loc, "unsupported prefix operator {}", op);
    }
    return bind_operator_chain(b, ctx, loc);
  }
  if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
    ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
    ASSIGN_OR_RETURN(ExprPtr r, side("rexpr"));
    bool negated = op.rfind("!", 0) == 0;
    ASSIGN_OR_RETURN(ExprPtr m, call(kind == "AEXPR_LIKE" ? "like" : "ilike", {l, r}, loc));
    if (!negated) return m;
    return make_not(m);
  }
  if (kind == "AEXPR_IN") {
    ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
    std::vector<ExprPtr> items;
    const json& list = b["rexpr"];
    const json& elems = node_type(list) == "List" ? node_body(list)["items"] : list;
    for (const auto& item : elems) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(item, ctx));
      items.push_back(e);
    }
    auto r = make_in_list(l, items, op == "<>");
    if (!r.is_ok()) return wrap(r.status(), loc);
    return r;
  }
  if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
    ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
    const json& items = node_body(b["rexpr"])["items"];
    ASSIGN_OR_RETURN(ExprPtr lo, bind_expr(items[0], ctx));
    ASSIGN_OR_RETURN(ExprPtr hi, bind_expr(items[1], ctx));
    ASSIGN_OR_RETURN(ExprPtr a, call(">=", {l, lo}, loc));
    ASSIGN_OR_RETURN(ExprPtr c, call("<=", {l, hi}, loc));
    ASSIGN_OR_RETURN(ExprPtr both, make_and({a, c}));
    if (kind == "AEXPR_BETWEEN") return both;
    return make_not(both);
  }
  if (kind == "AEXPR_NULLIF") {
    ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
    ASSIGN_OR_RETURN(ExprPtr r, side("rexpr"));
    return call("nullif", {l, r}, loc);
  }
  if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
    ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
    ASSIGN_OR_RETURN(ExprPtr r, side("rexpr"));
    // a IS DISTINCT FROM b: not (both null or (both non-null and equal))
    ASSIGN_OR_RETURN(ExprPtr eq, call("=", {l, r}, loc));
    ASSIGN_OR_RETURN(ExprPtr both_null, make_and({make_is_null(l, false), make_is_null(r, false)}));
    ASSIGN_OR_RETURN(ExprPtr same, make_coalesce({eq, both_null}));
    if (kind == "AEXPR_NOT_DISTINCT") return same;
    return make_not(same);
  }
  return error_at(loc, "unsupported operator form {}", kind);
}

}  // namespace sluice::sql
