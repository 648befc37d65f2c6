#include <set>

#include "sql/binder.h"
#include "plan/shapes.h"

namespace sluice::sql {

Status Compiler::declare_ctes(const json& with) {
  if (with.value("recursive", false)) return error_at(with.value("location", -1), "WITH RECURSIVE is not supported");
  for (const auto& c : list_of(with, "ctes")) {
    const json& cte = node_body(c);
    std::string key = lower(cte.value("ctename", ""));
    int loc = cte.value("location", -1);
    if (cte_scopes_.back().count(key)) return error_at(loc, "WITH names '{}' twice", cte.value("ctename", ""));
    cte_scopes_.back()[key] = &cte;
  }
  return Status::ok();
}

const json* Compiler::find_cte(const std::string& key) const {
  for (auto it = cte_scopes_.rbegin(); it != cte_scopes_.rend(); ++it) {
    auto f = it->find(key);
    if (f != it->end()) return f->second;
  }
  return nullptr;
}

Result<Relation> Compiler::bind_cte(const json& cte, const std::string& key, int loc, const std::string& alias) {
  if (active_ctes_.count(key)) return error_at(loc, "WITH query '{}' refers to itself (WITH RECURSIVE is not supported)", key);
  active_ctes_.insert(key);
  auto r = bind_query(cte["ctequery"]);
  active_ctes_.erase(key);
  if (!r.is_ok()) return r.status();
  Relation rel = std::move(r.value());
  const json& names = list_of(cte, "aliascolnames");
  if (names.size() > rel.columns.size()) {
    return error_at(cte.value("location", -1), "WITH query '{}' has {} columns but {} names", cte.value("ctename", ""),
                    rel.columns.size(), names.size());
  }
  for (size_t i = 0; i < names.size(); ++i) rel.columns[i].name = string_value(names[i]);
  for (auto& c : rel.columns) c.qualifier = alias.empty() ? cte.value("ctename", "") : alias;
  rel.tvf.reset();
  return rel;
}

Result<Relation> Compiler::bind_query(const json& select_node) {
  const json& s = node_type(select_node) == "SelectStmt" ? node_body(select_node) : select_node;
  std::optional<CteScope> scope;
  if (s.contains("withClause")) {
    scope.emplace(this);
    RETURN_IF_ERROR(declare_ctes(s["withClause"]));
  }
  std::string op = s.value("op", "SETOP_NONE");
  if (op == "SETOP_UNION") {
    if (!s.value("all", false)) {
      return error_at(-1, "UNION (distinct) is not supported on streams; use UNION ALL");
    }
    ASSIGN_OR_RETURN(Relation l, bind_query(s["larg"]));
    ASSIGN_OR_RETURN(Relation r, bind_query(s["rarg"]));
    return union_all(std::move(l), std::move(r));
  }
  if (op != "SETOP_NONE") return error_at(-1, "{} is not supported on streams", op);
  if (s.contains("valuesLists")) return error_at(-1, "VALUES is not supported as a source; use a file or generator table");
  if (s.contains("sortClause")) return error_at(location_of(s["sortClause"][0]), "ORDER BY is not supported on a stream (sort in the sink's consumer)");
  if (s.contains("limitCount")) return error_at(location_of(s["limitCount"]), "LIMIT is not supported on a stream yet");
  if (s.contains("distinctClause")) return error_at(-1, "SELECT DISTINCT is not supported yet; use GROUP BY");
  if (!s.contains("fromClause")) return error_at(-1, "SELECT without FROM is not supported: a pipeline reads a source table");
  const json& from = s["fromClause"];
  if (from.size() > 1) {
    // FROM a, b, ... WHERE ...: inner joins, each taking the WHERE conjuncts it can bind.
    json rest = s;
    ASSIGN_OR_RETURN(Relation in, bind_comma_join(from, rest));
    return bind_select_list(rest, in);
  }
  if (const json* rank = rank_call_of(from[0])) return bind_rank(s, from[0], *rank);
  ASSIGN_OR_RETURN(Relation in, bind_from(from[0]));
  return bind_select_list(s, in);
}

Result<Relation> Compiler::bind_select_list(const json& s, const Relation& in) {
  bool has_agg = s.contains("groupClause") || s.contains("havingClause");
  for (const auto& t : list_of(s, "targetList")) has_agg = has_agg || contains_aggregate(t);
  if (contains_over(list_of(s, "targetList"))) {
    if (has_agg) {
      return error_at(-1, "OVER aggregates and GROUP BY/aggregates in one SELECT are not supported: aggregate in a "
                          "subquery, then apply OVER to its rows");
    }
    return bind_over(s, in);
  }
  if (has_agg) return bind_aggregate(s, in);
  return bind_projection(s, in);
}

Result<Relation> Compiler::bind_comma_join(const json& from, json& s) {
  std::vector<json> where;
  if (s.contains("whereClause")) conjuncts(s["whereClause"], where);
  std::vector<bool> used(where.size(), false);
  ASSIGN_OR_RETURN(Relation acc, bind_from(from[0]));
  for (size_t i = 1; i < from.size(); ++i) {
    ASSIGN_OR_RETURN(Relation next, bind_from(from[i]));
    Relation both;
    both.columns = acc.columns;
    both.columns.insert(both.columns.end(), next.columns.begin(), next.columns.end());
    RelationContext ctx;
    ctx.c = this;
    ctx.rel = &both;
    std::vector<json> conds;
    for (size_t j = 0; j < where.size(); ++j) {
      if (used[j] || contains_aggregate(where[j]) || !bind_expr(where[j], ctx).is_ok()) continue;
      conds.push_back(where[j]);
      used[j] = true;
    }
    ASSIGN_OR_RETURN(acc, join_relations(std::move(acc), std::move(next), JoinType::kInner, conds, location_of(from[i])));
  }
  std::vector<json> rest;
  for (size_t j = 0; j < where.size(); ++j) {
    if (!used[j]) rest.push_back(where[j]);
  }
  s.erase("whereClause");
  if (rest.size() == 1) s["whereClause"] = rest[0];
  if (rest.size() > 1) s["whereClause"] = json{{"BoolExpr", {{"boolop", "AND_EXPR"}, {"args", rest}}}};
  return acc;
}

Result<Relation> Compiler::bind_join(const json& b, int loc) {
  const std::string t = b.value("jointype", "JOIN_INNER");
  JoinType type;
  if (t == "JOIN_INNER") {
    type = JoinType::kInner;
  } else if (t == "JOIN_LEFT") {
    type = JoinType::kLeft;
  } else if (t == "JOIN_RIGHT") {
    type = JoinType::kRight;
  } else if (t == "JOIN_FULL") {
    type = JoinType::kFull;
  } else {
    return error_at(loc, "unsupported join type {}", t);
  }
  const bool natural = b.value("isNatural", false);
  if (is_temporal_table_function(b["rarg"])) {
    if (b.contains("usingClause") || natural) {
      return error_at(loc, "a temporal or lookup join needs ON (JOIN ... ON a.k = t.k), not USING or NATURAL");
    }
    return bind_temporal_join(b, type, loc);
  }
  ASSIGN_OR_RETURN(Relation l, bind_from(b["larg"]));
  ASSIGN_OR_RETURN(Relation r, bind_from(b["rarg"]));
  Relation out;
  // An interval join's bounds are exact durations: INTERVAL '1' MONTH has none.
  months_refused_in_ = "a join condition (an interval join's time bounds must be exact durations)";
  Result<Relation> joined = [&]() -> Result<Relation> {
    if (!b.contains("usingClause") && !natural) {
      std::vector<json> conds;
      if (b.contains("quals")) conjuncts(b["quals"], conds);
      return join_relations(std::move(l), std::move(r), type, conds, loc);
    }
    std::vector<std::string> names;
    if (natural) {
      // NATURAL: every column name both sides show (unqualified), in the left side's order.
      for (const auto& lc : l.columns) {
        if (lc.merged) continue;
        for (const auto& rc : r.columns) {
          if (!rc.merged && iequals(lc.name, rc.name)) {
            names.push_back(lc.name);
            break;
          }
        }
      }
    } else {
      for (const auto& n : list_of(b, "usingClause")) names.push_back(string_value(n));
    }
    return join_using(std::move(l), std::move(r), type, names, loc);
  }();
  months_refused_in_.clear();
  ASSIGN_OR_RETURN(out, std::move(joined));
  if (b.contains("alias")) {
    const std::string alias = b["alias"].value("aliasname", "");
    for (auto& c : out.columns) c.qualifier = alias;
  }
  return out;
}

Result<Relation> Compiler::join_using(Relation l, Relation r, JoinType type, const std::vector<std::string>& names,
                                      int loc) {
  if (names.empty()) return error_at(loc, "NATURAL JOIN: the two sides have no column name in common");
  // The one visible column of that name on a side (merged columns of an inner USING join
  // are not: its merged column is).
  auto find = [&](const Relation& rel, const std::string& name, const char* side) -> Result<int> {
    int found = -1;
    for (size_t i = 0; i < rel.columns.size(); ++i) {
      if (rel.columns[i].merged || !iequals(rel.columns[i].name, name)) continue;
      if (found >= 0) return error_at(loc, "column '{}' in USING is ambiguous on the {} side of the join", name, side);
      found = static_cast<int>(i);
    }
    if (found < 0) return error_at(loc, "column '{}' in USING is not a column of the {} side of the join", name, side);
    return found;
  };
  std::vector<JoinKeyPair> keys;
  std::vector<std::pair<int, int>> pairs;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(lower(name)).second) return error_at(loc, "column '{}' appears twice in USING", name);
    ASSIGN_OR_RETURN(int li, find(l, name, "left"));
    ASSIGN_OR_RETURN(int ri, find(r, name, "right"));
    const ScopeColumn& lc = l.columns[static_cast<size_t>(li)];
    const ScopeColumn& rc = r.columns[static_cast<size_t>(ri)];
    JoinKeyPair k;
    k.left = make_column_ref(li, lc.type, lc.name);
    k.right = make_column_ref(ri, rc.type, rc.name);
    keys.push_back(std::move(k));
    pairs.emplace_back(li, ri);
  }
  const size_t lw = l.columns.size();
  ASSIGN_OR_RETURN(Relation joined, join_relations(std::move(l), std::move(r), type, {}, loc, std::move(keys)));
  // [merged columns..., every column of the join] with the inputs' USING columns marked.
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {joined.node};
  const Schema& js = *joined.node->schema;
  std::vector<Field> fields;
  Relation out;
  for (size_t k = 0; k < pairs.size(); ++k) {
    const int li = pairs[k].first, ri = static_cast<int>(lw) + pairs[k].second;
    const ScopeColumn& lc = joined.columns[static_cast<size_t>(li)];
    const ScopeColumn& rc = joined.columns[static_cast<size_t>(ri)];
    ExprPtr lref = make_column_ref(li, lc.type, lc.name), rref = make_column_ref(ri, rc.type, rc.name);
    ExprPtr merged = type == JoinType::kRight ? rref : lref;
    if (type == JoinType::kFull) {
      auto c = make_coalesce({lref, rref});
      if (!c.is_ok()) return wrap(c.status(), loc);
      merged = c.value();
    }
    calc->projections.push_back(merged);
    fields.push_back({lc.name, merged->type(), true});
    out.columns.push_back({lc.name, "", merged->type()});
  }
  for (size_t i = 0; i < js.size(); ++i) {
    calc->projections.push_back(make_column_ref(static_cast<int>(i), js.field(i).type, js.field(i).name));
    fields.push_back(js.field(i));
    ScopeColumn c = joined.columns[i];
    for (const auto& [li, ri] : pairs) {
      if (static_cast<int>(i) == li || static_cast<int>(i) == static_cast<int>(lw) + ri) c.merged = true;
    }
    out.columns.push_back(c);
  }
  if (joined.node->rowtime >= 0) calc->rowtime = joined.node->rowtime + static_cast<int>(pairs.size());
  calc->schema = make_schema(fields);
  out.node = calc;
  return out;
}

Result<Relation> Compiler::join_relations(Relation l, Relation r, JoinType type, const std::vector<json>& conds, int loc,
                                          std::vector<JoinKeyPair> keys) {
  Relation both;
  both.columns = l.columns;
  both.columns.insert(both.columns.end(), r.columns.begin(), r.columns.end());
  const size_t lw = l.columns.size();
  RelationContext ctx;
  ctx.c = this;
  ctx.rel = &both;
  // Which input an expression's columns come from: 0 left, 1 right, -1 both or none.
  auto side_of = [&](const ExprPtr& e) {
    int side = -1;
    for (int c : columns_used(e)) {
      const int s = static_cast<size_t>(c) < lw ? 0 : 1;
      if (side >= 0 && side != s) return -1;
      side = s;
    }
    return side;
  };
  std::vector<const json*> residual;
  for (const json& c : conds) {
    if (node_type(c) == "A_Expr") {
      const json& b = node_body(c);
      const std::string kind = b.value("kind", "");
      std::string op;
      for (const auto& n : list_of(b, "name")) op = string_value(n);
      if (b.contains("lexpr") && ((kind == "AEXPR_OP" && op == "=") || kind == "AEXPR_NOT_DISTINCT")) {
        ASSIGN_OR_RETURN(ExprPtr a, bind_expr(b["lexpr"], ctx));
        ASSIGN_OR_RETURN(ExprPtr z, bind_expr(b["rexpr"], ctx));
        const int sa = side_of(a), sz = side_of(z);
        if (sa >= 0 && sz >= 0 && sa != sz) {
          RelationContext lctx, rctx;
          lctx.c = rctx.c = this;
          lctx.rel = &l;
          rctx.rel = &r;
          const json& lx = sa == 0 ? b["lexpr"] : b["rexpr"];
          const json& rx = sa == 0 ? b["rexpr"] : b["lexpr"];
          JoinKeyPair k;
          ASSIGN_OR_RETURN(k.left, bind_expr(lx, lctx));
          ASSIGN_OR_RETURN(k.right, bind_expr(rx, rctx));
          k.null_safe = kind == "AEXPR_NOT_DISTINCT";
          keys.push_back(std::move(k));
          continue;
        }
      }
    }
    residual.push_back(&c);
  }
  // The residual is bound over the join's input layout, hidden key columns included.
  auto condition = [&](size_t left_extra, size_t right_extra) -> Result<ExprPtr> {
    Relation ext;
    ext.columns = l.columns;
    ext.columns.insert(ext.columns.end(), left_extra, ScopeColumn{"", "", TypeId::kNull});
    ext.columns.insert(ext.columns.end(), r.columns.begin(), r.columns.end());
    ext.columns.insert(ext.columns.end(), right_extra, ScopeColumn{"", "", TypeId::kNull});
    RelationContext ectx;
    ectx.c = this;
    ectx.rel = &ext;
    std::vector<ExprPtr> parts;
    for (const json* c : residual) {
      ASSIGN_OR_RETURN(ExprPtr e, bind_predicate(*c, ectx, "the join condition"));
      parts.push_back(e);
    }
    if (parts.empty()) return ExprPtr();
    if (parts.size() == 1) return parts[0];
    return make_and(parts);
  };
  auto node = make_join_node(type, l.node, r.node, keys, condition);
  if (!node.is_ok()) {
    // Errors of the residual carry their own position already.
    if (node.status().message().rfind(file_ + ":", 0) == 0) return node.status();
    return wrap(node.status(), loc);
  }
  Relation out;
  out.node = node.value();
  out.columns = std::move(both.columns);
  return out;
}

Result<Relation> Compiler::union_all(Relation l, Relation r) {
  auto node = make_union_node(l.node, r.node);
  if (!node.is_ok()) return error_at(-1, "UNION ALL {}", node.status().message());
  Relation out;
  out.node = node.value();
  for (const auto& f : out.node->schema->fields()) out.columns.push_back({f.name, "", f.type});
  return out;
}

Result<Relation> Compiler::bind_table_name(const std::string& name, int loc, const std::string& alias) {
  std::string key = lower(name);
  if (const json* cte = find_cte(key)) return bind_cte(*cte, key, loc, alias);
  auto v = views_.find(key);
  if (v != views_.end()) {
    ASSIGN_OR_RETURN(Relation r, bind_query(v->second));
    for (auto& c : r.columns) c.qualifier = alias.empty() ? view_names_[key] : alias;
    return r;
  }
  auto it = job_.tables.find(key);
  if (it == job_.tables.end()) {
    std::string known;
    for (const auto& [k, t] : job_.tables) known += (known.empty() ? "" : ", ") + t->name;
    for (const auto& [k, n] : view_names_) known += (known.empty() ? "" : ", ") + n;
    return error_at(loc, "unknown table '{}' (known: {})", name, known.empty() ? "none" : known);
  }
  const auto& t = it->second;
  if (!t->schema) return error_at(loc, "table {} has no columns and cannot be read; declare its columns", name);
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kSource;
  node->table = t;
  node->schema = t->schema;
  auto et = t->options.find("event_time");
  if (et != t->options.end()) {
    node->rowtime = t->schema->find(et->second);
    if (node->rowtime < 0) {
      return error_at(t->location, "table {}: event_time column '{}' is not a column of the table", t->name, et->second);
    }
  }
  Relation r;
  r.node = truncate_date_columns(node, key);
  for (const auto& f : t->schema->fields()) r.columns.push_back({f.name, alias.empty() ? t->name : alias, f.type});
  return r;
}

LogicalNodePtr Compiler::truncate_date_columns(const LogicalNodePtr& source, const std::string& table_key) {
  auto d = date_columns_.find(table_key);
  if (d == date_columns_.end()) return source;
  const Schema& schema = *source->schema;
  std::vector<ExprPtr> projections;
  bool any = false;
  for (size_t i = 0; i < schema.size(); ++i) {
    ExprPtr e = make_column_ref(static_cast<int>(i), schema.field(i).type, schema.field(i).name);
    bool is_date = std::find(d->second.begin(), d->second.end(), static_cast<int>(i)) != d->second.end();
    if (is_date && static_cast<int>(i) != source->rowtime) {
      auto t = truncate_to_day(e);
      if (t.is_ok()) {
        e = t.value();
        any = true;
      }
    }
    projections.push_back(e);
  }
  if (!any) return source;
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {source};
  calc->projections = std::move(projections);
  calc->schema = source->schema;
  calc->rowtime = source->rowtime;
  return calc;
}

Result<Relation> Compiler::bind_from(const json& item) {
  const std::string& type = node_type(item);
  const json& b = node_body(item);
  if (type == "RangeVar") {
    std::string alias = b.contains("alias") ? b["alias"].value("aliasname", "") : "";
    return bind_table_name(b.value("relname", ""), b.value("location", -1), alias);
  }
  if (type == "RangeSubselect") {
    ASSIGN_OR_RETURN(Relation r, bind_query(b["subquery"]));
    std::string alias = b.contains("alias") ? b["alias"].value("aliasname", "") : "";
    for (auto& c : r.columns) c.qualifier = alias;
    r.tvf.reset();
    return r;
  }
  if (type == "RangeFunction") return bind_table_function(b);
  if (type == "JoinExpr") return bind_join(b, location_of(item));
  return error_at(location_of(item), "unsupported FROM item {}", type);
}

Result<Micros> Compiler::constant_interval(const json& node, const char* what) {
  struct NoColumns : BindContext {
    Compiler* c;
    const char* what;
    Result<ExprPtr> column(const json& colref) override {
      return c->error_at(location_of(colref), "{} must be a constant INTERVAL, not a column", what);
    }
  } ctx;
  ctx.c = this;
  ctx.what = what;
  ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node, ctx));
  int loc = location_of(node);
  if (e->type() == TypeId::kString) {
    auto c = make_cast(e, TypeId::kInterval);
    if (!c.is_ok()) return wrap(c.status(), loc);
    e = c.value();
  }
  if (e->type() != TypeId::kInterval) {
    return error_at(loc, "{} must be an INTERVAL (e.g. INTERVAL '1 minute'), got {}", what, type_name(e->type()));
  }
  auto v = evaluate_constant(e);
  if (!v.is_ok()) return wrap(v.status(), loc);
  if (v.value().is_null) return error_at(loc, "{} is NULL", what);
  return v.value().i;
}

Result<Relation> Compiler::bind_table_function(const json& b) {
  const json& fn = b["functions"][0]["List"]["items"][0];
  if (node_type(fn) != "FuncCall") return error_at(location_of(fn), "unsupported table function");
  const json& call = node_body(fn);
  int loc = call.value("location", -1);
  std::string name;
  for (const auto& n : call["funcname"]) name = lower(string_value(n));
  if (name == "versioned" || name == "lookup") {
    return error_at(loc, "{}() is the right side of a JOIN or LEFT JOIN: FROM s JOIN {}(t{}) AS v ON s.k = v.k", name,
                    name, name == "versioned" ? ", s.ts" : "");
  }
  if (name == "match_recognize") {
    return bind_match_recognize_call(call, b.contains("alias") ? b["alias"].value("aliasname", "") : "");
  }
  if (name != "tumble" && name != "hop" && name != "session") {
    return error_at(loc, "unknown table function '{}' (supported: TUMBLE, HOP, SESSION, MATCH_RECOGNIZE)", name);
  }
  const json& args = list_of(call, "args");
  size_t min_args = name == "hop" ? 4 : 3, max_args = name == "session" ? 3 : min_args + 1;
  if (args.size() < min_args || args.size() > max_args) {
    if (name == "session") return error_at(loc, "SESSION takes (table, time_column, gap), got {} arguments", args.size());
    return error_at(loc, "{} takes (table, time_column, {}[, offset]), got {} arguments", name == "tumble" ? "TUMBLE" : "HOP",
                    name == "tumble" ? "size" : "slide, size", args.size());
  }
  if (node_type(args[0]) != "ColumnRef" || node_body(args[0])["fields"].size() != 1) {
    return error_at(location_of(args[0]), "the first argument of {} must be a table or view name", name);
  }
  std::string table = string_value(node_body(args[0])["fields"][0]);
  std::string alias = b.contains("alias") ? b["alias"].value("aliasname", "") : "";
  ASSIGN_OR_RETURN(Relation in, bind_table_name(table, location_of(args[0]), ""));
  if (node_type(args[1]) != "ColumnRef") {
    return error_at(location_of(args[1]), "the second argument of {} must be a time column", name);
  }
  std::string col = string_value(node_body(args[1])["fields"].back());
  int time_col = -1;
  for (size_t i = 0; i < in.columns.size(); ++i) {
    if (iequals(in.columns[i].name, col)) time_col = static_cast<int>(i);
  }
  if (time_col < 0) return error_at(location_of(args[1]), "column '{}' not found in {}", col, table);
  if (in.columns[static_cast<size_t>(time_col)].type != TypeId::kTimestamp) {
    return error_at(location_of(args[1]), "time column '{}' must be TIMESTAMP, not {}", col,
                    type_name(in.columns[static_cast<size_t>(time_col)].type));
  }
  if (in.node->rowtime >= 0 && in.node->rowtime != time_col) {
    return error_at(location_of(args[1]), "{} on '{}', but the event-time column of {} is '{}'", name, col, table,
                    in.columns[static_cast<size_t>(in.node->rowtime)].name);
  }
  WindowSpec w;
  if (name == "session") {
    w.kind = WindowSpec::Kind::kSession;
    ASSIGN_OR_RETURN(w.size, constant_interval(args[2], "the session gap"));
    w.slide = w.size;
  } else if (name == "tumble") {
    w.kind = WindowSpec::Kind::kTumble;
    ASSIGN_OR_RETURN(w.size, constant_interval(args[2], "the window size"));
    w.slide = w.size;
    if (args.size() > 3) {
 ASSIGN_OR_RETURN(w.offset, constant_interval(args[3], "the window offset"));
}
  } else {
    w.kind = WindowSpec::Kind::kHop;
    ASSIGN_OR_RETURN(w.slide, constant_interval(args[2], "the hop slide"));
    ASSIGN_OR_RETURN(w.size, constant_interval(args[3], "the window size"));
    if (args.size() > 4) {
 ASSIGN_OR_RETURN(w.offset, constant_interval(args[4], "the window offset"));
}
  }
  if (Status valid = w.validate(); !valid.is_ok()) return error_at(loc, "{}", valid.message());
  Relation r;
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kWindowAssign;
  node->inputs = {in.node};
  node->window = w;
  node->time_column = time_col;
  node->rowtime = in.node->rowtime;
  std::vector<Field> fields = in.node->schema->fields();
  fields.push_back({"window_start", TypeId::kTimestamp, false});
  fields.push_back({"window_end", TypeId::kTimestamp, false});
  node->schema = make_schema(fields);
  r.node = node;
  std::string q = alias.empty() ? table : alias;
  for (const auto& c : in.columns) r.columns.push_back({c.name, q, c.type});
  r.columns.push_back({"window_start", q, TypeId::kTimestamp});
  r.columns.push_back({"window_end", q, TypeId::kTimestamp});
  Relation::Tvf tvf;
  tvf.input = in.node;
  tvf.window = w;
  tvf.time_column = time_col;
  tvf.window_start = static_cast<int>(in.columns.size());
  tvf.window_end = tvf.window_start + 1;
  r.tvf = tvf;
  return r;
}

Result<int> Compiler::resolve(const Relation& rel, const json& colref) {
  const json& fields = node_body(colref)["fields"];
  int loc = location_of(colref);
  std::string qual, name;
  if (fields.size() == 1) {
    name = string_value(fields[0]);
  } else if (fields.size() == 2) {
    qual = string_value(fields[0]);
    name = string_value(fields[1]);
  } else {
    return error_at(loc, "unsupported column reference");
  }
  if (name.empty()) return error_at(loc, "'*' is only allowed as a whole select item or in COUNT(*)");
  int found = -1;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const auto& c = rel.columns[i];
    if (!iequals(c.name, name)) continue;
    if (!qual.empty() && !iequals(c.qualifier, qual)) continue;
    if (qual.empty() && c.merged) continue;  // the USING column's merged copy is meant
    if (found >= 0) return error_at(loc, "column reference '{}' is ambiguous", name);
    found = static_cast<int>(i);
  }
  if (found < 0) {
    std::string known;
    for (const auto& c : rel.columns) known += (known.empty() ? "" : ", ") + c.name;
    return error_at(loc, "unknown column '{}{}' (columns: {})", qual.empty() ? "" : qual + ".", name, known);
  }
  return found;
}

}  // namespace sluice::sql
