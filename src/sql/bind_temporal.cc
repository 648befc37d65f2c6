// Temporal and lookup joins (docs/sql.md "Temporal joins"): the right side of a JOIN or LEFT
// JOIN is a table function PostgreSQL's grammar parses (it has no FOR SYSTEM_TIME AS OF):
//
//   FROM orders o JOIN versioned(rates, o.ts) AS r ON o.currency = r.currency
//   FROM orders o LEFT JOIN lookup(customers, refresh => INTERVAL '1' MINUTE) AS c ON o.cid = c.id
//
// Keys and residual are found as for any join (join_relations); the join node is then
// marked temporal and checked: the table must be a table (not a view), keyed by its PRIMARY
// KEY (versioned: the keys must cover it) and, for versioned(), have an event-time column;
// the second argument must be the stream's event-time column.
#include "plan/shapes.h"
#include "sql/binder.h"

namespace sluice::sql {

namespace {

const json* temporal_call(const json& item) {
  if (node_type(item) != "RangeFunction") return nullptr;
  const json& fns = node_body(item)["functions"];
  if (fns.empty()) return nullptr;
  const json& fn = fns[0]["List"]["items"][0];
  if (node_type(fn) != "FuncCall") return nullptr;
  std::string name;
  for (const auto& n : node_body(fn)["funcname"]) name = lower(string_value(n));
  return name == "versioned" || name == "lookup" ? &fn : nullptr;
}

}  // namespace

bool Compiler::is_temporal_table_function(const json& item) { return temporal_call(item) != nullptr; }

Result<Relation> Compiler::bind_temporal_join(const json& b, JoinType type, int loc) {
  const json& rarg = b["rarg"];
  const json& call = node_body(*temporal_call(rarg));
  std::string name;
  for (const auto& n : call["funcname"]) name = lower(string_value(n));
  const bool versioned = name == "versioned";
  const int call_loc = call.value("location", loc);
  if (type != JoinType::kInner && type != JoinType::kLeft) {
    return error_at(loc, "a join with {}() is INNER or LEFT, not {}", name, join_type_name(type));
  }
  // Positional and named arguments.
  std::vector<const json*> positional;
  std::map<std::string, const json*> named;
  for (const auto& a : list_of(call, "args")) {
    if (node_type(a) == "NamedArgExpr") {
      const json& na = node_body(a);
      const std::string key = lower(na.value("name", ""));
      if (named.count(key)) return error_at(na.value("location", call_loc), "argument '{}' given twice", key);
      named[key] = &na["arg"];
    } else {
      if (!named.empty()) return error_at(location_of(a), "positional arguments of {}() come before named ones", name);
      positional.push_back(&a);
    }
  }
  if (versioned && (positional.size() != 2 || !named.empty())) {
    return error_at(call_loc, "versioned() takes (table, time_column): the versioned table and the event-time column "
                    "of the stream it is joined to, e.g. versioned(rates, o.ts)");
  }
  if (!versioned && positional.size() != 1) {
    return error_at(call_loc, "lookup() takes the table, then named options: lookup(table, refresh => INTERVAL "
                    "'1' MINUTE) or lookup(table, cache => 'partial', cache_ttl => ..., cache_max_rows => ...)");
  }
  const json& table_arg = *positional[0];
  if (node_type(table_arg) != "ColumnRef" || node_body(table_arg)["fields"].size() != 1) {
    return error_at(location_of(table_arg), "the first argument of {}() must be a table name", name);
  }
  const std::string table = string_value(node_body(table_arg)["fields"][0]);
  const int table_loc = location_of(table_arg);
  const std::string key = lower(table);
  if (find_cte(key) || views_.count(key)) {
    return error_at(table_loc, "{}() reads a table, not the view or WITH query '{}'", name, table);
  }
  auto def = job_.tables.find(key);
  if (def == job_.tables.end()) return bind_table_name(table, table_loc, "").status();  // the unknown-table error
  const TableDef& t = *def->second;
  if (table_primary_key(t).empty()) {
    return error_at(table_loc, "{} table {} has no PRIMARY KEY: declare the key its rows are {} by, e.g. "
                    "PRIMARY KEY ({}) in its CREATE TABLE",
                    versioned ? "versioned" : "lookup", t.name, versioned ? "versioned" : "looked up",
                    t.schema && t.schema->size() > 0 ? t.schema->field(0).name : "id");
  }
  ASSIGN_OR_RETURN(Relation l, bind_from(b["larg"]));
  const std::string alias = node_body(rarg).contains("alias") ? node_body(rarg)["alias"].value("aliasname", "") : "";
  ASSIGN_OR_RETURN(Relation r, bind_table_name(table, table_loc, alias));
  if (versioned && r.node->rowtime < 0) {
    return error_at(table_loc, "versioned table {} has no time attribute: set event_time = '<column>' in its WITH "
                    "options (each row is a version valid from that time)", t.name);
  }
  int probe_time = -1;
  if (versioned) {
    const json& time_arg = *positional[1];
    const int time_loc = location_of(time_arg);
    if (node_type(time_arg) != "ColumnRef") {
      return error_at(time_loc, "the second argument of versioned() must be the stream's event-time column");
    }
    if (l.node->rowtime < 0) {
      return error_at(time_loc, "the stream joined to versioned({}) has no event time: set event_time on its source",
                      t.name);
    }
    ASSIGN_OR_RETURN(probe_time, resolve(l, time_arg));
    if (probe_time != l.node->rowtime) {
      return error_at(time_loc, "versioned() joins AS OF the stream's event-time column '{}', not '{}'",
                      l.columns[static_cast<size_t>(l.node->rowtime)].name,
                      l.columns[static_cast<size_t>(probe_time)].name);
    }
  }
  LookupJoinOptions options;
  for (const auto& [option, value] : named) {
    const int at = location_of(*value);
    if (option == "refresh" || option == "cache_ttl") {
      ASSIGN_OR_RETURN(Micros d, constant_interval(*value, option == "refresh" ? "refresh" : "cache_ttl"));
      if (d <= 0) return error_at(at, "{} must be positive", option);
      (option == "refresh" ? options.refresh : options.cache_ttl) = d;
    } else if (option == "cache" || option == "cache_max_rows") {
      struct NoColumns : BindContext {
        Compiler* c;
        Result<ExprPtr> column(const json& colref) override {
          return c->error_at(location_of(colref), "lookup() options are constants, not columns");
        }
      } ctx;
      ctx.c = this;
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(*value, ctx));
      auto v = evaluate_constant(e);
      if (!v.is_ok()) return wrap(v.status(), at);
      if (option == "cache") {
        const std::string mode = e->type() == TypeId::kString && !v.value().is_null ? lower(v.value().s) : "";
        if (mode != "all" && mode != "partial") {
          return error_at(at, "cache must be 'all' (the whole table, reloaded every refresh) or 'partial' (rows "
                          "fetched per key)");
        }
        if (mode == "partial") {
          return error_at(at, "cache => 'partial' (rows fetched per key) is not supported yet: the whole table is "
                          "cached (cache => 'all') and reloaded every refresh");
        }
      } else {
        if (e->type() != TypeId::kInt64 || v.value().is_null || v.value().i <= 0) {
          return error_at(at, "cache_max_rows must be a positive integer");
        }
        options.cache_max_rows = static_cast<size_t>(v.value().i);
      }
    } else {
      return error_at(at, "unknown lookup() option '{}' (options: refresh, cache, cache_ttl, cache_max_rows)", option);
    }
  }
  if (!versioned) {
    if (options.partial && options.refresh > 0) {
      return error_at(call_loc, "refresh is for cache => 'all'; a partial cache expires keys with cache_ttl");
    }
    if (!options.partial && (options.cache_ttl > 0 || options.cache_max_rows > 0)) {
      return error_at(call_loc, "cache_ttl and cache_max_rows need cache => 'partial'");
    }
    if (options.partial && options.cache_max_rows == 0) options.cache_max_rows = 100000;
  }
  std::vector<json> conds;
  if (b.contains("quals")) conjuncts(b["quals"], conds);
  ASSIGN_OR_RETURN(Relation out, join_relations(l, r, type, conds, loc));
  TemporalJoinShape shape;
  shape.versioned = versioned;
  shape.table = def->second;
  shape.table_node = r.node;
  shape.lookup = options;
  auto node = make_temporal_join_node(out.node, l.node->rowtime, shape);
  if (!node.is_ok()) return wrap(node.status(), loc);
  out.node = node.value();
  return out;
}

}  // namespace sluice::sql
