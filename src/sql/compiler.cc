#include "sql/compiler.h"

#include <pg_query.h>
#include <pthread.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/time_util.h"
#include "connectors/registry.h"
#include "expr/aggregate_functions.h"
#include "sql/front_checks.h"
#include "sql/intervals.h"
#include "sql/join_binder.h"

namespace sluice {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Returns the single key of a node object ({"ColumnRef": {...}} -> "ColumnRef").
const std::string& node_type(const json& n) {
  static const std::string kEmpty;
  if (!n.is_object() || n.empty()) return kEmpty;
  return n.begin().key();
}
const json& node_body(const json& n) { return n.begin().value(); }

// b[key] when present, else an empty array; unlike json::value() it never copies (a copy
// per level of a nested expression made binding quadratic in memory).
const json& list_of(const json& b, const char* key) {
  static const json kEmpty = json::array();
  auto it = b.find(key);
  return it == b.end() ? kEmpty : *it;
}

int location_of(const json& n) {
  if (!n.is_object() || n.empty()) return -1;
  const json& b = node_body(n);
  if (b.is_object() && b.contains("location")) return b["location"].get<int>();
  return -1;
}

// Canonical text of an expression subtree (locations removed), to match GROUP BY items.
json strip_locations(const json& n) {
  if (n.is_object()) {
    json out = json::object();
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (it.key() != "location") out[it.key()] = strip_locations(it.value());
    }
    return out;
  }
  if (n.is_array()) {
    json out = json::array();
    for (const auto& e : n) out.push_back(strip_locations(e));
    return out;
  }
  return n;
}
std::string signature(const json& n) { return strip_locations(n).dump(); }

std::string string_value(const json& n) {
  // {"String": {"sval": "x"}}
  if (node_type(n) == "String") return node_body(n).value("sval", "");
  return "";
}

struct ScopeColumn {
  std::string name;
  std::string qualifier;
  TypeId type;
};

// A bound FROM item: a plan node plus the names its columns are known by.
struct Relation {
  LogicalNodePtr node;
  std::vector<ScopeColumn> columns;
  // Set when the relation is a TUMBLE/HOP table function: the relation it windows, so an
  // aggregation grouped by window_start/window_end can aggregate windows directly.
  struct Tvf {
    Relation* unused = nullptr;
    LogicalNodePtr input;
    WindowSpec window;
    int time_column = -1;
    int window_start = -1;
    int window_end = -1;
  };
  std::optional<Tvf> tvf;
};

class Compiler;

// How a ColumnRef (and, for aggregation, whole sub-expressions) turn into Exprs.
class BindContext {
 public:
  virtual ~BindContext() = default;
  virtual Result<ExprPtr> column(const json& colref) = 0;
  // Returns an Expr to use for this node instead of binding it normally (aggregates,
  // GROUP BY expressions), or nullopt.
  virtual std::optional<Result<ExprPtr>> intercept(const json& node) { return std::nullopt; }
  virtual bool allow_aggregates() const { return false; }
};

class Compiler {
 public:
  Compiler(const std::string& text, const std::string& file) : text_(text), file_(file) {}

  Result<LogicalJob> run() {
    RETURN_IF_ERROR(check_sql_text(text_, file_));
    PgQueryParseResult r = pg_query_parse(text_.c_str());
    if (r.error) {
      Status s = error_at(r.error->cursorpos > 0 ? r.error->cursorpos - 1 : -1, "syntax error: {}", r.error->message);
      pg_query_free_parse_result(r);
      return s;
    }
    json tree;
    try {
      tree = json::parse(r.parse_tree);
    } catch (const std::exception& e) {
      pg_query_free_parse_result(r);
      return internal_error("cannot read the parse tree: {}", e.what());
    }
    pg_query_free_parse_result(r);
    RETURN_IF_ERROR(check_parse_tree_depth(tree, text_, file_));
    if (!tree.contains("stmts")) return invalid_argument("{}: no statements", file_);
    for (const auto& raw : tree["stmts"]) {
      // The statement's own first token (its location includes the blank lines and
      // comments before it), for errors about the statement as a whole.
      stmt_location_ = skip_space_and_comments(text_, raw.value("stmt_location", 0));
      RETURN_IF_ERROR(statement(raw["stmt"]));
    }
    if (job_.pipelines.empty()) {
      return invalid_argument("{}: no INSERT INTO ... SELECT (or CREATE TABLE ... AS SELECT): nothing to run", file_);
    }
    return std::move(job_);
  }

  // "file:line:col" of byte offset `loc` (-1: the current statement).
  std::string position(int loc) const {
    if (loc < 0) loc = stmt_location_;
    return fmt::format("{}:{}", file_, text_position(text_, loc));
  }

  template <typename... Args>
  Status error_at(int loc, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{}: {}", position(loc), fmt::format(f, std::forward<Args>(args)...)));
  }
  Status wrap(const Status& s, int loc) const {
    if (s.is_ok()) return s;
    return error_at(loc, "{}", s.message());
  }

  // ------------------------------------------------------------------ statements

  Status statement(const json& stmt) {
    const std::string& type = node_type(stmt);
    const json& body = node_body(stmt);
    if (type == "CreateStmt") return create_table(body);
    if (type == "CreateTableAsStmt") return create_table_as(body);
    if (type == "ViewStmt") return create_view(body);
    if (type == "InsertStmt") return insert(body);
    if (type == "VariableSetStmt") return set(body);
    if (type == "SelectStmt") {
      return error_at(-1, "a bare SELECT has no destination: write INSERT INTO <sink table> SELECT ...");
    }
    return error_at(-1, "unsupported statement {} (supported: CREATE TABLE, CREATE VIEW, INSERT INTO ... SELECT, SET)",
                    type);
  }

  Result<TypeId> type_of(const json& type_name, int loc) {
    const json& tn = node_type(type_name) == "TypeName" ? node_body(type_name) : type_name;
    std::string name;
    for (const auto& n : tn["names"]) name = string_value(n);
    if (tn.contains("arrayBounds")) return error_at(loc, "array types are not supported yet");
    auto t = type_from_sql_name(name);
    if (!t.is_ok()) return error_at(loc, "{}", t.status().message());
    return t.value();
  }

  static bool is_date_type(const json& type_name) {
    const json& tn = node_type(type_name) == "TypeName" ? node_body(type_name) : type_name;
    std::string name;
    for (const auto& n : tn["names"]) name = string_value(n);
    return lower(name) == "date";
  }
  static Result<ExprPtr> truncate_to_day(ExprPtr timestamp) {
    return make_call("date_trunc", {make_literal(Value::string("day")), std::move(timestamp)});
  }

  // `where`, when given, receives the position of each option (planning errors cite it).
  Result<std::map<std::string, std::string>> options_of(const json& options,
                                                        std::map<std::string, std::string>* where = nullptr) {
    std::map<std::string, std::string> out;
    if (!options.is_array()) return out;
    for (const auto& o : options) {
      const json& d = node_body(o);
      std::string name = lower(d.value("defname", ""));
      // `sink.parallelism = '2'` parses as namespace "sink", name "parallelism": the option
      // is the dotted whole (dropping the namespace would set another option silently).
      // Deeper names need quotes: "properties.security.protocol" = 'SASL_SSL'.
      if (d.contains("defnamespace")) name = lower(d.value("defnamespace", "")) + "." + name;
      int loc = d.value("location", -1);
      if (!d.contains("arg")) return error_at(loc, "option '{}' needs a value: {} = '...'", name, name);
      const json& arg = d["arg"];
      const std::string& t = node_type(arg);
      const json& b = node_body(arg);
      std::string value;
      if (t == "String") {
        value = b.value("sval", "");
      } else if (t == "Integer") {
        value = std::to_string(b.value("ival", 0));
      } else if (t == "Float") {
        value = b.value("fval", "0");
      } else if (t == "Boolean") {
        value = b.value("boolval", false) ? "true" : "false";
      } else if (t == "TypeName") {
        for (const auto& n : b["names"]) value = string_value(n);
      } else {
        return error_at(loc, "option '{}': use a quoted string value, e.g. {} = '...'", name, name);
      }
      if (out.count(name)) return error_at(loc, "option '{}' given twice", name);
      out[name] = value;
      if (where) (*where)[name] = position(loc);
    }
    return out;
  }

  Status add_table(std::shared_ptr<TableDef> t, int loc) {
    std::string key = lower(t->name);
    if (job_.tables.count(key) || views_.count(key)) return error_at(loc, "table or view '{}' already exists", t->name);
    if (!t->options.count("connector")) {
      return error_at(loc, "table {}: missing option 'connector' (available: {})", t->name,
                      connector_names());
    }
    job_.tables[key] = std::move(t);
    return Status::ok();
  }

  Status create_table(const json& b) {
    auto t = std::make_shared<TableDef>();
    t->name = b["relation"].value("relname", "");
    t->location = b["relation"].value("location", -1);
    t->where = position(t->location);
    ASSIGN_OR_RETURN(t->options, options_of(list_of(b, "options"), &t->option_where));
    std::vector<Field> fields;
    std::vector<int> date_columns;
    for (const auto& elt : list_of(b, "tableElts")) {
      const std::string& type = node_type(elt);
      const json& e = node_body(elt);
      if (type == "ColumnDef") {
        int loc = e.value("location", -1);
        Field f;
        f.name = e.value("colname", "");
        ASSIGN_OR_RETURN(f.type, type_of(e["typeName"], loc));
        if (f.type == TypeId::kInterval && e["typeName"].contains("typmods")) {
          ASSIGN_OR_RETURN(IntervalQualifier q, interval_qualifier_of(e["typeName"], loc));
          if (!qualifier_reads_like_plain_interval(q)) {
            return error_at(loc, "column '{}': INTERVAL qualifiers other than ... SECOND are not supported on table columns "
                            "(input text is read as a plain INTERVAL); declare it INTERVAL", f.name);
          }
        }
        for (const auto& c : list_of(e, "constraints")) {
          std::string ct = node_body(c).value("contype", "");
          if (ct == "CONSTR_NOTNULL") f.nullable = false;
          if (ct == "CONSTR_PRIMARY") {
            t->has_primary_key_constraint = true;
            t->primary_key.push_back(f.name);
            f.nullable = false;
          }
        }
        for (const auto& g : fields) {
          if (iequals(g.name, f.name)) return error_at(loc, "column '{}' declared twice", f.name);
        }
        if (is_date_type(e["typeName"])) date_columns.push_back(static_cast<int>(fields.size()));
        fields.push_back(f);
      } else if (type == "Constraint" && e.value("contype", "") == "CONSTR_PRIMARY") {
        t->has_primary_key_constraint = true;
        for (const auto& k : list_of(e, "keys")) t->primary_key.push_back(string_value(k));
      } else {
        return error_at(location_of(elt), "unsupported table element {}", type);
      }
    }
    if (!fields.empty()) t->schema = make_schema(fields);
    if (!date_columns.empty()) date_columns_[lower(t->name)] = date_columns;
    return add_table(std::move(t), b["relation"].value("location", -1));
  }

  Status create_table_as(const json& b) {
    const json& into = b["into"];
    auto t = std::make_shared<TableDef>();
    t->name = into["rel"].value("relname", "");
    int loc = into["rel"].value("location", -1);
    t->location = loc;
    t->where = position(loc);
    ASSIGN_OR_RETURN(t->options, options_of(list_of(into, "options"), &t->option_where));
    RETURN_IF_ERROR(add_table(t, loc));
    return add_pipeline(t->name, loc, b["query"], json());
  }

  Status create_view(const json& b) {
    std::string name = b["view"].value("relname", "");
    int loc = b["view"].value("location", -1);
    std::string key = lower(name);
    if (job_.tables.count(key) || views_.count(key)) return error_at(loc, "table or view '{}' already exists", name);
    // Bind now to report errors at the CREATE VIEW; bind again at each use.
    ASSIGN_OR_RETURN(Relation r, bind_query(b["query"]));
    (void)r;
    views_[key] = b["query"];
    view_names_[key] = name;
    return Status::ok();
  }

  Status set(const json& b) {
    std::string name = lower(b.value("name", ""));
    std::string value;
    for (const auto& a : list_of(b, "args")) {
      const json& c = node_body(a);
      if (c.contains("sval")) value = c["sval"].value("sval", "");
      else if (c.contains("ival")) value = std::to_string(c["ival"].value("ival", 0));
      else if (c.contains("fval")) value = c["fval"].value("fval", "");
      else if (c.contains("boolval")) value = c["boolval"].value("boolval", false) ? "true" : "false";
    }
    Status applied = apply_setting(job_.settings, name, value);
    if (!applied.is_ok()) return error_at(-1, "{}", applied.message());
    return Status::ok();
  }

  Status insert(const json& b) {
    std::string name = b["relation"].value("relname", "");
    int loc = b["relation"].value("location", -1);
    if (!b.contains("selectStmt")) return error_at(loc, "INSERT needs a SELECT (INSERT ... VALUES is not supported)");
    std::optional<CteScope> scope;  // WITH x AS (...) INSERT INTO ... SELECT ... FROM x
    if (b.contains("withClause")) {
      scope.emplace(this);
      RETURN_IF_ERROR(declare_ctes(b["withClause"]));
    }
    return add_pipeline(name, loc, b["selectStmt"], b.value("cols", json()));
  }

  Status add_pipeline(const std::string& sink_name, int loc, const json& select, const json& cols) {
    auto it = job_.tables.find(lower(sink_name));
    if (it == job_.tables.end()) {
      return error_at(loc, "unknown table '{}': declare it with CREATE TABLE {} (...) WITH (connector = ...)", sink_name,
                      sink_name);
    }
    auto sink = it->second;
    if (!sink->options.count("connector")) return error_at(loc, "table {} has no connector", sink_name);
    ASSIGN_OR_RETURN(Relation q, bind_query(select));
    Pipeline p;
    p.sink_table = sink->name;
    p.sink = sink;
    p.location = loc;
    const Schema& qs = *q.node->schema;
    if (!sink->schema) {
      // Inferred sink columns: the query's, by name.
      std::vector<Field> fields;
      std::set<std::string> seen;
      for (size_t i = 0; i < qs.size(); ++i) {
        Field f = qs.field(i);
        f.nullable = true;
        if (!seen.insert(lower(f.name)).second) {
          return error_at(loc, "the query gives two columns named '{}': alias one of them (AS ...) so table {} can be inferred",
                          f.name, sink_name);
        }
        fields.push_back(f);
      }
      p.sink_schema = make_schema(fields);
      // Remember the inferred schema so a second INSERT into the same table must match it.
      auto updated = std::make_shared<TableDef>(*sink);
      updated->schema = p.sink_schema;
      job_.tables[lower(sink_name)] = updated;
      p.sink = updated;
      p.query = q.node;
      job_.pipelines.push_back(std::move(p));
      return Status::ok();
    }
    const Schema& ss = *sink->schema;
    // Which query column feeds each sink column (-1: NULL).
    std::vector<int> source(ss.size(), -1);
    if (cols.is_array() && !cols.empty()) {
      if (cols.size() != qs.size()) {
        return error_at(loc, "INSERT INTO {} lists {} columns but the query produces {}", sink_name, cols.size(), qs.size());
      }
      for (size_t i = 0; i < cols.size(); ++i) {
        std::string c = node_body(cols[i]).value("name", "");
        int idx = ss.find(c);
        if (idx < 0) return error_at(location_of(cols[i]), "table {} has no column '{}'", sink_name, c);
        source[static_cast<size_t>(idx)] = static_cast<int>(i);
      }
    } else {
      if (qs.size() != ss.size()) {
        return error_at(loc, "table {} has {} columns {} but the query produces {} {}", sink_name, ss.size(),
                        ss.to_string(), qs.size(), qs.to_string());
      }
      for (size_t i = 0; i < ss.size(); ++i) source[i] = static_cast<int>(i);
    }
    std::vector<ExprPtr> casts;
    bool identity = true;
    auto date_it = date_columns_.find(lower(sink_name));
    const std::vector<int>* sink_dates = date_it == date_columns_.end() ? nullptr : &date_it->second;
    bool truncates_dates = false;
    for (size_t i = 0; i < ss.size(); ++i) {
      TypeId want = ss.field(i).type;
      if (source[i] < 0) {
        casts.push_back(make_literal(Value::null(want)));
        identity = false;
        continue;
      }
      TypeId have = qs.field(static_cast<size_t>(source[i])).type;
      ExprPtr e = make_column_ref(source[i], have, qs.field(static_cast<size_t>(source[i])).name);
      if (have != want) {
        bool assignable = have == TypeId::kNull || implicitly_castable(have, want) ||
                          (is_numeric(have) && is_numeric(want)) || want == TypeId::kString;
        if (!assignable) {
          return error_at(loc, "column {} '{}' of table {} is {} but the query gives {} ('{}'); add a CAST", i + 1,
                          ss.field(i).name, sink_name, type_name(want), type_name(have),
                          qs.field(static_cast<size_t>(source[i])).name);
        }
        auto c = make_cast(e, want);
        if (!c.is_ok()) return error_at(loc, "{}", c.status().message());
        e = c.value();
        identity = false;
      }
      if (sink_dates && std::find(sink_dates->begin(), sink_dates->end(), static_cast<int>(i)) != sink_dates->end()) {
        auto day = truncate_to_day(e);  // a DATE column of the sink holds midnights
        if (!day.is_ok()) return error_at(loc, "{}", day.status().message());
        e = day.value();
        identity = false;
        truncates_dates = true;
      }
      if (source[i] != static_cast<int>(i)) identity = false;
      casts.push_back(e);
    }
    p.sink_schema = sink->schema;
    if (identity) {
      p.query = q.node;
    } else if (truncates_dates) {
      // compose_calc substitutes only column references and casts: keep a Calc of its own.
      auto calc = std::make_shared<LogicalNode>();
      calc->kind = LogicalNode::Kind::kCalc;
      calc->inputs = {q.node};
      calc->projections = casts;
      calc->schema = sink->schema;
      p.query = calc;
    } else {
      p.query = compose_calc(q.node, casts, sink->schema);
    }
    job_.pipelines.push_back(std::move(p));
    return Status::ok();
  }


  // ------------------------------------------------------------------ queries

  // WITH name [(columns)] AS (query), ...: names visible while the statement is bound, each
  // bound at every use like a view (a CTE read twice is computed twice).
  struct CteScope {
    Compiler* c;
    explicit CteScope(Compiler* compiler) : c(compiler) { c->cte_scopes_.emplace_back(); }
    ~CteScope() { c->cte_scopes_.pop_back(); }
    CteScope(const CteScope&) = delete;
    CteScope& operator=(const CteScope&) = delete;
  };
  Status declare_ctes(const json& with) {
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
  const json* find_cte(const std::string& key) const {
    for (auto it = cte_scopes_.rbegin(); it != cte_scopes_.rend(); ++it) {
      auto f = it->find(key);
      if (f != it->end()) return f->second;
    }
    return nullptr;
  }
  Result<Relation> bind_cte(const json& cte, const std::string& key, int loc, const std::string& alias) {
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

  Result<Relation> bind_query(const json& select_node) {
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
    if (s.contains("windowClause")) return error_at(-1, "WINDOW clauses are not supported yet");
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

  Result<Relation> bind_select_list(const json& s, const Relation& in) {
    bool has_agg = s.contains("groupClause") || s.contains("havingClause");
    for (const auto& t : list_of(s, "targetList")) has_agg = has_agg || contains_aggregate(t);
    if (has_agg) return bind_aggregate(s, in);
    return bind_projection(s, in);
  }

  // ------------------------------------------------------------------ joins

  // FROM items joined left to right (inner); each join takes the conjuncts of the WHERE in
  // `s` that bind over its inputs (so equalities become join keys), the others stay.
  Result<Relation> bind_comma_join(const json& from, json& s) {
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

  Result<Relation> bind_join(const json& b, int loc) {
    if (b.contains("usingClause") || b.value("isNatural", false)) {
      return error_at(loc, "JOIN ... USING and NATURAL JOIN are not supported; write JOIN ... ON a.k = b.k");
    }
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
    ASSIGN_OR_RETURN(Relation l, bind_from(b["larg"]));
    ASSIGN_OR_RETURN(Relation r, bind_from(b["rarg"]));
    std::vector<json> conds;
    if (b.contains("quals")) conjuncts(b["quals"], conds);
    ASSIGN_OR_RETURN(Relation out, join_relations(std::move(l), std::move(r), type, conds, loc));
    if (b.contains("alias")) {
      const std::string alias = b["alias"].value("aliasname", "");
      for (auto& c : out.columns) c.qualifier = alias;
    }
    return out;
  }

  // Joins two relations on `conds` (conjuncts): equalities between an expression of each
  // side become keys (sql/join_binder.h), the rest the residual condition.
  Result<Relation> join_relations(Relation l, Relation r, JoinType type, const std::vector<json>& conds, int loc) {
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
    std::vector<JoinKeyPair> keys;
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

  Result<Relation> union_all(Relation l, Relation r) {
    const Schema& a = *l.node->schema;
    const Schema& b = *r.node->schema;
    if (a.size() != b.size()) {
      return error_at(-1, "UNION ALL inputs have {} and {} columns", a.size(), b.size());
    }
    std::vector<Field> fields;
    std::vector<ExprPtr> la, rb;
    bool cast_l = false, cast_r = false;
    for (size_t i = 0; i < a.size(); ++i) {
      TypeId t = a.field(i).type == b.field(i).type ? a.field(i).type : common_type(a.field(i).type, b.field(i).type);
      if (t == TypeId::kNull) {
        return error_at(-1, "UNION ALL column {} has types {} and {}", i + 1, type_name(a.field(i).type),
                        type_name(b.field(i).type));
      }
      fields.push_back({a.field(i).name, t, true});
      auto side = [&](const Schema& s, std::vector<ExprPtr>& out, bool& cast) -> Status {
        ExprPtr e = make_column_ref(static_cast<int>(i), s.field(i).type, s.field(i).name);
        if (s.field(i).type != t) {
          ASSIGN_OR_RETURN(e, make_cast(e, t));
          cast = true;
        }
        out.push_back(e);
        return Status::ok();
      };
      RETURN_IF_ERROR(side(a, la, cast_l));
      RETURN_IF_ERROR(side(b, rb, cast_r));
    }
    SchemaPtr schema = make_schema(fields);
    auto node = std::make_shared<LogicalNode>();
    node->kind = LogicalNode::Kind::kUnion;
    node->schema = schema;
    node->inputs = {cast_l ? compose_calc(l.node, la, schema) : l.node, cast_r ? compose_calc(r.node, rb, schema) : r.node};
    node->rowtime = (l.node->rowtime == r.node->rowtime) ? l.node->rowtime : -1;
    Relation out;
    out.node = node;
    for (const auto& f : fields) out.columns.push_back({f.name, "", f.type});
    return out;
  }

  Result<Relation> bind_table_name(const std::string& name, int loc, const std::string& alias) {
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

  // Columns declared DATE hold midnights: a source's values are truncated to the day as
  // they are read. The event-time column is left as read, since the watermark was taken
  // from those values (truncating them would make rows late).
  LogicalNodePtr truncate_date_columns(const LogicalNodePtr& source, const std::string& table_key) {
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

  Result<Relation> bind_from(const json& item) {
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

  Result<Micros> constant_interval(const json& node, const char* what) {
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

  Result<Relation> bind_table_function(const json& b) {
    const json& fn = b["functions"][0]["List"]["items"][0];
    if (node_type(fn) != "FuncCall") return error_at(location_of(fn), "unsupported table function");
    const json& call = node_body(fn);
    int loc = call.value("location", -1);
    std::string name;
    for (const auto& n : call["funcname"]) name = lower(string_value(n));
    if (name != "tumble" && name != "hop" && name != "session") {
      return error_at(loc, "unknown table function '{}' (supported: TUMBLE, HOP, SESSION)", name);
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

  // Column lookup in a relation: "name" or "qualifier.name".
  Result<int> resolve(const Relation& rel, const json& colref) {
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

  struct RelationContext : BindContext {
    Compiler* c;
    const Relation* rel;
    Result<ExprPtr> column(const json& colref) override {
      ASSIGN_OR_RETURN(int i, c->resolve(*rel, colref));
      const auto& col = rel->columns[static_cast<size_t>(i)];
      return make_column_ref(i, col.type, col.name);
    }
  };

  static bool is_aggregate_name(const std::string& n) {
    if (AggregateFunctionRegistry::global().find(n)) return true;
    return n == "count" || n == "sum" || n == "min" || n == "max" || n == "avg" || n == "approx_count_distinct" ||
           n == "approx_percentile" || n == "percentile" || n == "first_value" || n == "last_value" ||
           n == "array_agg" || n == "string_agg" || n == "percentile_cont";
  }
  static std::string func_name(const json& call) {
    std::string name;
    for (const auto& n : call["funcname"]) name = lower(string_value(n));
    return name;
  }
  static bool is_processing_time_function(const std::string& name) {
    static const std::set<std::string> kNames = {"now", "current_timestamp", "current_date", "current_time",
                                                 "localtimestamp", "localtime", "transaction_timestamp",
                                                 "statement_timestamp", "clock_timestamp", "timeofday", "proctime",
                                                 "current_row_timestamp"};
    return kNames.count(name) > 0;
  }
  bool contains_aggregate(const json& n) {
    // An aggregate inside a subquery belongs to the subquery, not to this SELECT.
    if (node_type(n) == "SubLink") return false;
    if (n.is_object()) {
      if (node_type(n) == "FuncCall" && is_aggregate_name(func_name(node_body(n))) && !node_body(n).contains("over")) {
        return true;
      }
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (contains_aggregate(it.value())) return true;
      }
    } else if (n.is_array()) {
      for (const auto& e : n) {
        if (contains_aggregate(e)) return true;
      }
    }
    return false;
  }

  std::string output_name(const json& target, size_t index) {
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

  bool is_star(const json& target) {
    const json& v = node_body(target)["val"];
    if (node_type(v) != "ColumnRef") return false;
    const json& f = node_body(v)["fields"];
    return node_type(f.back()) == "A_Star";
  }

  Result<Relation> bind_projection(const json& s, const Relation& in) {
    if (in.tvf && in.tvf->window.kind == WindowSpec::Kind::kSession) {
      return error_at(-1, "SESSION windows need an aggregation: GROUP BY window_start, window_end, ...");
    }
    RelationContext ctx;
    ctx.c = this;
    ctx.rel = &in;
    auto node = std::make_shared<LogicalNode>();
    node->kind = LogicalNode::Kind::kCalc;
    node->inputs = {in.node};
    if (s.contains("whereClause")) {
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

  Result<ExprPtr> bind_predicate(const json& n, BindContext& ctx, const char* clause) {
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(n, ctx));
    if (e->type() != TypeId::kBool && e->type() != TypeId::kNull) {
      return error_at(location_of(n), "{} must be a boolean condition, not {}", clause, type_name(e->type()));
    }
    return e;
  }


  // ------------------------------------------------------------------ top-N / dedup

  // The ROW_NUMBER() OVER (...) select item of a FROM subquery, if any.
  const json* rank_call_of(const json& from_item) {
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

  // Splits an AND tree into its conjuncts.
  static void conjuncts(const json& n, std::vector<json>& out) {
    if (node_type(n) == "BoolExpr" && node_body(n).value("boolop", "") == "AND_EXPR") {
      for (const auto& a : node_body(n)["args"]) conjuncts(a, out);
    } else {
      out.push_back(n);
    }
  }

  // The rank range a conjunct allows: rn = N, rn < N, rn <= N, rn > N, rn >= N (either side),
  // rn BETWEEN a AND b. False when the conjunct is not such a bound on `rank_name`.
  struct RankRange {
    int64_t lo = 1;
    int64_t hi = std::numeric_limits<int64_t>::max();
  };
  static bool rank_bound(const json& n, const std::string& rank_name, RankRange* range) {
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

  // SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) AS rn FROM t)
  // WHERE rn <= N [AND ...]: Top-N (N = 1 with an ascending event-time order is dedup).
  Result<Relation> bind_rank(const json& outer, const json& from_item, const json& rank_target) {
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

  // ------------------------------------------------------------------ aggregation

  struct AggregateBinding : BindContext {
    Compiler* c = nullptr;
    const Relation* in = nullptr;  // FROM relation (possibly a TVF)
    bool windowed = false;
    int window_start_col = -1, window_end_col = -1;  // in `in`
    // Pre-projection over `in` (or the TVF input): keys, then aggregate arguments.
    std::vector<ExprPtr> pre;
    std::vector<std::string> pre_names;
    std::vector<std::string> key_sigs;
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
      std::string sig = signature(node);
      for (size_t k = 0; k < key_sigs.size(); ++k) {
        if (key_sigs[k] == sig) {
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

  static void collect_columns(const ExprPtr& e, std::vector<int>& out) {
    int i = column_ref_index(*e);
    if (i >= 0) out.push_back(i);
    for (const auto& c : e->children()) collect_columns(c, out);
  }
  static std::vector<int> columns_used(const ExprPtr& e) {
    std::vector<int> out;
    collect_columns(e, out);
    return out;
  }

  Result<Relation> bind_aggregate(const json& s, const Relation& in) {
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
      ab.key_sigs.push_back(signature(*node));
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
    LogicalNodePtr base = ab.windowed ? in.tvf->input : in.node;
    int base_rowtime = base->rowtime;
    auto pre = std::make_shared<LogicalNode>();
    pre->kind = LogicalNode::Kind::kCalc;
    pre->inputs = {base};
    pre->filter = where;
    pre->projections = ab.pre;
    std::vector<Field> pre_fields;
    for (size_t i = 0; i < ab.pre.size(); ++i) pre_fields.push_back({ab.pre_names[i], ab.pre[i]->type(), true});
    int time_col = -1;
    if (ab.windowed) {
      const auto& tc = in.columns[static_cast<size_t>(in.tvf->time_column)];
      pre->projections.push_back(make_column_ref(in.tvf->time_column, TypeId::kTimestamp, tc.name));
      pre_fields.push_back({tc.name, TypeId::kTimestamp, true});
      time_col = static_cast<int>(pre_fields.size()) - 1;
      if (base_rowtime == in.tvf->time_column) pre->rowtime = time_col;
    }
    // Aggregates ordered by event time read it from the pre-projection: the window's time
    // column, else the input's rowtime; without one they follow arrival order.
    int order_col = time_col;
    bool needs_order = false;
    for (const auto& a : ab.aggs) needs_order = needs_order || agg_kind_is_ordered(a.kind);
    if (needs_order && !ab.windowed && base_rowtime >= 0) {
      const Field& tf = base->schema->field(static_cast<size_t>(base_rowtime));
      pre->projections.push_back(make_column_ref(base_rowtime, tf.type, tf.name));
      pre_fields.push_back({tf.name, tf.type, true});
      order_col = static_cast<int>(pre_fields.size()) - 1;
    }
    for (auto& a : ab.aggs) {
      if (agg_kind_is_ordered(a.kind)) a.time_input = order_col;
    }
    if (pre->projections.empty()) {
      // COUNT(*) with no keys: project a constant so batches keep their row count.
      pre->projections.push_back(make_literal(Value::boolean(true)));
      pre_fields.push_back({"_", TypeId::kBool, true});
    }
    pre->schema = make_schema(pre_fields);

    auto agg = std::make_shared<LogicalNode>();
    agg->kind = LogicalNode::Kind::kAggregate;
    agg->inputs = {pre};
    agg->windowed = ab.windowed;
    if (ab.windowed) {
      agg->window = in.tvf->window;
      agg->time_column = time_col;
    }
    for (size_t k = 0; k < ab.num_keys; ++k) agg->key_columns.push_back(static_cast<int>(k));
    agg->aggregates = ab.aggs;
    std::vector<Field> agg_fields;
    if (ab.windowed) {
      agg_fields.push_back({"window_start", TypeId::kTimestamp, false});
      agg_fields.push_back({"window_end", TypeId::kTimestamp, false});
    }
    for (size_t k = 0; k < ab.num_keys; ++k) agg_fields.push_back(pre_fields[k]);
    for (size_t a = 0; a < ab.aggs.size(); ++a) {
      agg_fields.push_back({fmt::format("agg_{}", a), ab.aggs[a].result_type, true});
    }
    agg->schema = make_schema(agg_fields);

    auto calc = std::make_shared<LogicalNode>();
    calc->kind = LogicalNode::Kind::kCalc;
    calc->inputs = {agg};
    calc->filter = having;
    calc->projections = post;
    calc->schema = make_schema(fields);
    out.node = calc;
    return out;
  }

  // ------------------------------------------------------------------ expressions

  Result<ExprPtr> call(const std::string& name, std::vector<ExprPtr> args, int loc) {
    auto r = make_call(name, std::move(args));
    if (!r.is_ok()) return wrap(r.status(), loc);
    return r;
  }

  Result<ExprPtr> literal(const json& c, int loc) {
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

  Result<ExprPtr> bind_expr(const json& n, BindContext& ctx) {
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
      if (b.contains("over")) return error_at(loc, "window functions (OVER ...) are not supported yet");
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

  // The typmods of a TypeName ([range mask] or [range mask, precision] for INTERVAL).
  Result<IntervalQualifier> interval_qualifier_of(const json& type_name, int loc) {
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

  // INTERVAL '1:30' HOUR TO MINUTE, CAST('90' AS INTERVAL MINUTE): folded here, so a bad
  // literal fails at planning time.
  Result<ExprPtr> qualified_interval(const ExprPtr& arg, const json& type_name, int loc) {
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

  Result<ExprPtr> bind_a_expr(const json& b, BindContext& ctx, int loc) {
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
      ASSIGN_OR_RETURN(ExprPtr l, side("lexpr"));
      ASSIGN_OR_RETURN(ExprPtr r, side("rexpr"));
      if (op == "!=") op = "<>";
      if (op == "~~") op = "like";
      return call(op, {l, r}, loc);
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

 private:
  const std::string& text_;
  std::string file_;
  int stmt_location_ = 0;
  LogicalJob job_;
  std::map<std::string, json> views_;
  std::map<std::string, std::string> view_names_;
  std::map<std::string, std::vector<int>> date_columns_;  // by lower-case table name: columns declared DATE
  std::vector<std::map<std::string, const json*>> cte_scopes_;  // WITH names, innermost last
  std::set<std::string> active_ctes_;                           // WITH queries being bound
};

}  // namespace

namespace {

Result<LogicalJob> compile_here(const std::string& text, const std::string& file_name) {
  Compiler c(text, file_name);
  try {
    return c.run();
  } catch (const std::exception& e) {
    // A parse-tree shape the binder does not expect is a bug, but never a crash.
    return internal_error("{}: internal error while binding the SQL ({}); please report it with the job file",
                          file_name, e.what());
  }
}

// libpg_query and the binder recurse once per level of an expression; the front checks
// bound the levels, and this stack (reserved, touched only as deep as it is used) holds
// them whatever the caller's stack size or sanitizer frame overhead.
constexpr size_t kCompilerStackBytes = size_t{64} << 20;

struct CompileCall {
  const std::string* text;
  const std::string* file_name;
  std::optional<Result<LogicalJob>> result;
};

void* compile_thread(void* arg) {
  auto* call = static_cast<CompileCall*>(arg);
  call->result.emplace(compile_here(*call->text, *call->file_name));
  return nullptr;
}

}  // namespace

Status locate_table_error(const Status& status, const LogicalJob& job, const std::string& text,
                          const std::string& file_name) {
  const std::string& m = status.message();
  if (status.is_ok() || m.rfind("table ", 0) != 0) return status;
  size_t colon = m.find(':', 6);
  if (colon == std::string::npos) return status;
  auto it = job.tables.find(lower(m.substr(6, colon - 6)));
  if (it == job.tables.end() || it->second->location < 0) return status;
  return Status(status.code(), fmt::format("{}:{}: {}", file_name, text_position(text, it->second->location), m));
}

Result<LogicalJob> compile_sql(const std::string& text, const std::string& file_name) {
  CompileCall call{&text, &file_name, std::nullopt};
  pthread_attr_t attr;
  pthread_t thread;
  bool started = pthread_attr_init(&attr) == 0;
  if (started) {
    started = pthread_attr_setstacksize(&attr, kCompilerStackBytes) == 0 &&
              pthread_create(&thread, &attr, compile_thread, &call) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!started) return compile_here(text, file_name);  // no thread: the caller's stack
  pthread_join(thread, nullptr);
  return std::move(*call.result);
}

}  // namespace sluice
