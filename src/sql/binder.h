// The SQL binder's internals, shared by the files that implement it (src/sql/*.cc).
//
// compile_sql (compiler.h) parses a job with libpg_query and hands the JSON parse tree to a
// Compiler, which binds it statement by statement into a LogicalJob. The class is split by
// responsibility across files: statements.cc (CREATE TABLE/VIEW, SET, INSERT, sinks),
// bind_from.cc (FROM items: tables, views, CTEs, joins, UNION ALL, window table functions),
// bind_select.cc (projections and predicates), bind_aggregate.cc (GROUP BY and windowed
// aggregation), bind_rank.cc (ROW_NUMBER top-N), bind_over.cc (OVER aggregates), bind_expr.cc
// (scalar expressions). The
// logical-plan shapes themselves (aggregate, join, ...) are built by src/plan/shapes.h, which
// the C++ API calls too. One Compiler per compile_sql call; not thread-safe.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time_util.h"
#include "expr/expr.h"
#include "plan/logical_plan.h"
#include "plan/shapes.h"
#include "sql/compiler.h"
#include "sql/front_checks.h"
#include "sql/intervals.h"

namespace sluice::sql {

using json = nlohmann::json;

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Returns the single key of a node object ({"ColumnRef": {...}} -> "ColumnRef").
inline const std::string& node_type(const json& n) {
  static const std::string kEmpty;
  if (!n.is_object() || n.empty()) return kEmpty;
  return n.begin().key();
}
inline const json& node_body(const json& n) { return n.begin().value(); }

// b[key] when present, else an empty array; unlike json::value() it never copies (a copy
// per level of a nested expression made binding quadratic in memory).
inline const json& list_of(const json& b, const char* key) {
  static const json kEmpty = json::array();
  auto it = b.find(key);
  return it == b.end() ? kEmpty : *it;
}

inline int location_of(const json& n) {
  if (!n.is_object() || n.empty()) return -1;
  const json& b = node_body(n);
  if (b.is_object() && b.contains("location")) return b["location"].get<int>();
  return -1;
}

// Visits every object and array in `n` (pre-order, in document order) without recursion:
// an operator chain a + b + c ... nests thousands of levels. `fn` says whether to enter a
// value's children, skip them, or end the walk.
enum class Walk { kEnter, kSkip, kStop };
inline void walk_tree(const json& n, const std::function<Walk(const json&)>& fn) {
  std::vector<const json*> pending{&n};
  std::vector<const json*> children;
  while (!pending.empty()) {
    const json* v = pending.back();
    pending.pop_back();
    const Walk w = fn(*v);
    if (w == Walk::kStop) return;
    if (w == Walk::kSkip) continue;
    children.clear();
    for (const auto& c : *v) {
      if (c.is_structured()) children.push_back(&c);
    }
    pending.insert(pending.end(), children.rbegin(), children.rend());
  }
}

// Canonical text of an expression subtree (locations removed), to match GROUP BY items.
inline json strip_locations(const json& n) {
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
inline std::string signature(const json& n) { return strip_locations(n).dump(); }

// Whether two subtrees are the same expression (signature(a) == signature(b)), compared
// without recursion and stopping at the first difference: the GROUP BY keys are compared
// with every level of an operator chain, which must not cost the chain's size each time.
inline bool same_expression(const json& a, const json& b) {
  std::vector<std::pair<const json*, const json*>> pending{{&a, &b}};
  while (!pending.empty()) {
    auto [x, y] = pending.back();
    pending.pop_back();
    if (x->type() != y->type()) return false;
    if (x->is_object()) {
      auto count = [](const json& o) { return o.size() - (o.contains("location") ? 1 : 0); };
      if (count(*x) != count(*y)) return false;
      for (auto it = x->begin(); it != x->end(); ++it) {
        if (it.key() == "location") continue;
        auto other = y->find(it.key());
        if (other == y->end()) return false;
        pending.emplace_back(&it.value(), &*other);
      }
    } else if (x->is_array()) {
      if (x->size() != y->size()) return false;
      for (size_t i = 0; i < x->size(); ++i) pending.emplace_back(&(*x)[i], &(*y)[i]);
    } else if (*x != *y) {
      return false;
    }
  }
  return true;
}

inline std::string string_value(const json& n) {
  // {"String": {"sval": "x"}}
  if (node_type(n) == "String") return node_body(n).value("sval", "");
  return "";
}

struct ScopeColumn {
  std::string name;
  std::string qualifier;
  TypeId type;
  // A join input's column merged by USING / NATURAL: reachable qualified (a.k), but an
  // unqualified name and `*` mean the merged column.
  bool merged = false;
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

// Parses `text` into its JSON parse tree; syntax errors are placed by `where` (the byte
// offset of the error in `text`).
Result<json> parse_tree(const std::string& text, const std::function<Status(int, const std::string&)>& where);

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

  Result<LogicalJob> run();
  // The text as `SELECT <one expression>`, bound over `schema`'s columns (bind_scalar_sql).
  Result<ScalarBinding> bind_scalar(const Schema& schema);

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

  Status statement(const json& stmt);
  Result<TypeId> type_of(const json& type_name, int loc);
  static bool is_date_type(const json& type_name);
  static Result<ExprPtr> truncate_to_day(ExprPtr timestamp);

  // `where`, when given, receives the position of each option (planning errors cite it).
  Result<std::map<std::string, std::string>> options_of(const json& options,
                                                        std::map<std::string, std::string>* where = nullptr);
  Status add_table(std::shared_ptr<TableDef> t, int loc);
  Status create_table(const json& b);
  Status create_table_as(const json& b);
  Status create_view(const json& b);
  Status set(const json& b);
  Status insert(const json& b);
  Status add_pipeline(const std::string& sink_name, int loc, const json& select, const json& cols);

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
  Status declare_ctes(const json& with);
  const json* find_cte(const std::string& key) const;
  Result<Relation> bind_cte(const json& cte, const std::string& key, int loc, const std::string& alias);
  Result<Relation> bind_query(const json& select_node);
  Result<Relation> bind_select_list(const json& s, const Relation& in);

  // ------------------------------------------------------------------ joins

  // FROM items joined left to right (inner); each join takes the conjuncts of the WHERE in
  // `s` that bind over its inputs (so equalities become join keys), the others stay.
  Result<Relation> bind_comma_join(const json& from, json& s);
  Result<Relation> bind_join(const json& b, int loc);

  // JOIN versioned(table, ts) / JOIN lookup(table, ...) (bind_temporal.cc).
  static bool is_temporal_table_function(const json& from_item);
  Result<Relation> bind_temporal_join(const json& b, JoinType type, int loc);

  // Joins two relations on `conds` (conjuncts): equalities between an expression of each
  // side become keys (plan/shapes.h), the rest the residual condition.
  Result<Relation> join_relations(Relation l, Relation r, JoinType type, const std::vector<json>& conds, int loc,
                                  std::vector<JoinKeyPair> keys = {});
  // JOIN ... USING (k, ...) / NATURAL JOIN: equi-join on the named columns, which the output
  // shows once (COALESCE of both sides for a FULL join), first.
  Result<Relation> join_using(Relation l, Relation r, JoinType type, const std::vector<std::string>& names, int loc);
  Result<Relation> union_all(Relation l, Relation r);
  Result<Relation> bind_table_name(const std::string& name, int loc, const std::string& alias);

  // Columns declared DATE hold midnights: a source's values are truncated to the day as
  // they are read. The event-time column is left as read, since the watermark was taken
  // from those values (truncating them would make rows late).
  LogicalNodePtr truncate_date_columns(const LogicalNodePtr& source, const std::string& table_key);
  Result<Relation> bind_from(const json& item);
  Result<Micros> constant_interval(const json& node, const char* what);
  Result<Relation> bind_table_function(const json& b);

  // MATCH_RECOGNIZE (bind_match.cc): the table function call, and its named arguments over
  // a bound input (the C++ API binds them over its own relation).
  Result<Relation> bind_match_recognize_call(const json& call, const std::string& alias);
  Result<Relation> bind_match_recognize(const Relation& in, const json& args, int loc, const std::string& alias,
                                        const std::string& input_name);
  // The text is `SELECT * FROM match_recognize(<named arguments>)`: binds them over `input`.
  Result<LogicalNodePtr> bind_match_text(const LogicalNodePtr& input);
  // The text is `SELECT <select list> FROM input`: binds the list over `input` as a
  // projection (score() calls included; aggregates and OVER refused).
  Result<LogicalNodePtr> bind_select_list_text(const LogicalNodePtr& input);
  // The C++ API's embedded SQL: the text's one SELECT statement (its SelectStmt body; else
  // the error `expected`), and a relation over the API's node (its fields, unqualified).
  Result<json> embedded_select(const char* expected);
  static Relation relation_over(const LogicalNodePtr& node);

  // Column lookup in a relation: "name" or "qualifier.name".
  Result<int> resolve(const Relation& rel, const json& colref);

  struct RelationContext : BindContext {
    Compiler* c;
    const Relation* rel;
    // score(...), ingest_time(), decision_time() calls (by signature) bound to the hidden
    // columns of their scoring nodes (bind_score.cc); null: none.
    const std::map<std::string, int>* scored = nullptr;
    Result<ExprPtr> column(const json& colref) override {
      ASSIGN_OR_RETURN(int i, c->resolve(*rel, colref));
      const auto& col = rel->columns[static_cast<size_t>(i)];
      return make_column_ref(i, col.type, col.name);
    }
    std::optional<Result<ExprPtr>> intercept(const json& node) override {
      if (!scored || !is_scoring_call(node)) return std::nullopt;
      auto it = scored->find(signature(node));
      if (it == scored->end()) return std::nullopt;
      const auto& col = rel->columns[static_cast<size_t>(it->second)];
      return Result<ExprPtr>(make_column_ref(it->second, col.type, col.name));
    }
  };
  static bool is_aggregate_name(const std::string& n);
  static std::string func_name(const json& call);
  static bool is_processing_time_function(const std::string& name);
  bool contains_aggregate(const json& n);
  std::string output_name(const json& target, size_t index);
  bool is_star(const json& target);
  Result<Relation> bind_projection(const json& s, const Relation& in);
  Result<ExprPtr> bind_predicate(const json& n, BindContext& ctx, const char* clause);

  // ------------------------------------------------------------------ scoring (bind_score.cc)

  static bool is_scoring_call(const json& n);  // score(...), ingest_time(), decision_time()
  static bool has_scoring_calls(const json& n);
  static void collect_scoring_calls(const json& n, std::vector<const json*>& out);
  Result<Value> constant_argument(const json& node, const std::string& what);
  Result<std::shared_ptr<const ScoringOptions>> scoring_options(const json& call, const Relation& in, ExprPtr* body);
  // The WHERE of `s` and a kScore node per distinct score call over `in`; `columns` maps each
  // call's signature (and ingest_time()/decision_time()) to its hidden column.
  Result<Relation> bind_scoring(const json& s, const Relation& in, std::map<std::string, int>* columns);

  // ------------------------------------------------------------------ top-N / dedup

  // The ROW_NUMBER() OVER (...) select item of a FROM subquery, if any.
  const json* rank_call_of(const json& from_item);

  // Splits an AND tree into its conjuncts.
  static void conjuncts(const json& n, std::vector<json>& out);

  // The rank range a conjunct allows: rn = N, rn < N, rn <= N, rn > N, rn >= N (either side),
  // rn BETWEEN a AND b. False when the conjunct is not such a bound on `rank_name`.
  struct RankRange {
    int64_t lo = 1;
    int64_t hi = std::numeric_limits<int64_t>::max();
  };
  static bool rank_bound(const json& n, const std::string& rank_name, RankRange* range);

  // SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) AS rn FROM t)
  // WHERE rn <= N [AND ...]: Top-N (N = 1 with an ascending event-time order is dedup).
  Result<Relation> bind_rank(const json& outer, const json& from_item, const json& rank_target);

  // ------------------------------------------------------------------ aggregation

  struct AggregateBinding;
  static std::vector<int> columns_used(const ExprPtr& e);
  Result<Relation> bind_aggregate(const json& s, const Relation& in);

  // One aggregate call bound over `in` alone, as GROUP BY binds it (same names, argument
  // checks, DISTINCT and FILTER): its spec (input and filter unset) and its argument and
  // FILTER condition over `in` (null when absent). For OVER aggregates.
  struct BoundAggregate {
    AggregateSpec spec;
    ExprPtr argument;
    ExprPtr filter;
  };
  Result<BoundAggregate> bind_aggregate_call_over(const json& call, const Relation& in);

  // ------------------------------------------------------------------ OVER aggregates

  // Whether a select list item calls a window function (FuncCall with OVER), outside
  // subqueries.
  static bool contains_over(const json& n);
  // SELECT ..., agg(x) OVER (PARTITION BY ... ORDER BY rowtime <frame>) ... [WINDOW w AS
  // (...)]: one Over node per distinct window (plan/over_shape.h), then the select list
  // (bind_over.cc).
  Result<Relation> bind_over(const json& s, const Relation& in);

  // ------------------------------------------------------------------ expressions

  Result<ExprPtr> call(const std::string& name, std::vector<ExprPtr> args, int loc);
  Result<ExprPtr> literal(const json& c, int loc);
  Result<ExprPtr> bind_expr(const json& n, BindContext& ctx);

  // The typmods of a TypeName ([range mask] or [range mask, precision] for INTERVAL).
  Result<IntervalQualifier> interval_qualifier_of(const json& type_name, int loc);

  // INTERVAL '1:30' HOUR TO MINUTE, CAST('90' AS INTERVAL MINUTE): folded here, so a bad
  // literal fails at planning time.
  Result<ExprPtr> qualified_interval(const ExprPtr& arg, const json& type_name, int loc);
  Result<ExprPtr> bind_a_expr(const json& b, BindContext& ctx, int loc);
  // A binary operator (`b` an A_Expr body) and the left-deep chain below it, without recursion.
  Result<ExprPtr> bind_operator_chain(const json& b, BindContext& ctx, int loc);

  // Intervals with months (INTERVAL '1' MONTH, '1 year 2 days'::interval) are not values:
  // they exist only as a constant added to or subtracted from a TIMESTAMP, bound as
  // add_months(ts, n) [+ the exact part]. Anywhere else the INTERVAL cast refuses them.
  struct MonthInterval {
    CalendarInterval value;
    std::string text;
    int loc = -1;
  };
  // `n` when it is such a constant (a cast of a string to INTERVAL with months), else nullopt.
  Result<std::optional<MonthInterval>> month_interval(const json& n);
  Result<ExprPtr> add_month_interval(ExprPtr timestamp, const MonthInterval& m, bool subtract);
  // Set while binding where every interval must be an exact duration (a join condition):
  // says where, for the error.
  std::string months_refused_in_;

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

}  // namespace sluice::sql
