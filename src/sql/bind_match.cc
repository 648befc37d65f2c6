// MATCH_RECOGNIZE as a table function in FROM (PostgreSQL's grammar has no MATCH_RECOGNIZE
// clause; named arguments carry its parts, docs/patterns.md):
//
//   match_recognize(input, partition_by => k | (k1, k2) | 'k1, k2', order_by => ts,
//                   pattern => 'A B+ C', define_a => <condition>, ...,
//                   measures => 'first(A.ts) AS start_ts, ...', within => INTERVAL ...,
//                   after_match => 'skip past last row', contiguity => 'strict',
//                   max_partial_matches => 10000)
//
// Output: the partition columns, then the measures. The plan is a kMatchRecognize node
// (cep/match_operator.h: partition keys, match_number, classifier, match_start, match_end,
// one column per aggregate the measures use) under a Calc computing the measures.
#include <pg_query.h>

#include <functional>

#include "cep/match_operator.h"
#include "sql/binder.h"

namespace sluice::sql {

namespace {

// Adds `shift` to every "location" of a parse tree taken from another text.
void shift_locations(json& n, int shift) {
  if (n.is_object()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (it.key() == "location" && it.value().is_number_integer() && it.value().get<int>() >= 0) {
        it.value() = it.value().get<int>() + shift;
      } else {
        shift_locations(it.value(), shift);
      }
    }
  } else if (n.is_array()) {
    for (auto& e : n) shift_locations(e, shift);
  }
}

// The string constant of a node, or nullopt.
std::optional<std::string> string_constant(const json& n) {
  if (node_type(n) != "A_Const") return std::nullopt;
  const json& b = node_body(n);
  if (!b.contains("sval")) return std::nullopt;
  return b["sval"].value("sval", "");
}

std::string collapse_blanks(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

// The parts of a MATCH_RECOGNIZE being bound.
struct MatchBuild {
  Compiler* c = nullptr;
  const Relation* in = nullptr;
  MatchRecognizeConfig config;
  std::vector<std::string> argument_keys;  // dedup of argument expressions (Expr::to_string)
  size_t key_count = 0;

  // The output column of aggregate (kind, variable, argument), added when new.
  int aggregate(cep::MeasureKind kind, int variable, int argument, TypeId type) {
    auto& aggs = config.matcher.aggregates;
    for (size_t i = 0; i < aggs.size(); ++i) {
      if (aggs[i].kind == kind && aggs[i].variable == variable && aggs[i].argument == argument) {
        return static_cast<int>(key_count + kMatchFixedColumns + i);
      }
    }
    aggs.push_back({kind, variable, argument, type});
    return static_cast<int>(key_count + kMatchFixedColumns + aggs.size() - 1);
  }
  int argument(const ExprPtr& e) {
    const std::string key = e->to_string();
    for (size_t i = 0; i < argument_keys.size(); ++i) {
      if (argument_keys[i] == key) return static_cast<int>(i);
    }
    argument_keys.push_back(key);
    config.arguments.push_back(e);
    return static_cast<int>(config.arguments.size() - 1);
  }
};

namespace {

// Column references of a DEFINE condition or of an aggregate's argument: the current row
// of the input. `variable` (>= 0) may qualify a column (A.amount); any other pattern
// variable may not (conditions read only the current row).
struct RowContext : BindContext {
  Compiler* c;
  const Relation* in;
  const cep::Pattern* pattern;
  int variable = -1;  // -1: any single variable may qualify (an aggregate's argument)
  int* seen_variable = nullptr;  // receives the variable that qualified a column
  const char* what;
  Result<ExprPtr> column(const json& colref) override {
    const json& fields = node_body(colref)["fields"];
    if (fields.size() == 2) {
      const std::string qualifier = string_value(fields[0]);
      const int v = pattern->find_variable(qualifier);
      if (v >= 0) {
        if (variable >= 0 && v != variable) {
          return c->error_at(location_of(colref),
                             "{} reads {}.{}, a row of another variable: a condition reads only the current row "
                             "(qualify it with {} or nothing)",
                             what, qualifier, string_value(fields[1]),
                             pattern->variables[static_cast<size_t>(variable)]);
        }
        if (seen_variable != nullptr) {
          if (*seen_variable >= 0 && *seen_variable != v) {
            return c->error_at(location_of(colref), "{} mixes the rows of two variables ({} and {})", what,
                               pattern->variables[static_cast<size_t>(*seen_variable)], qualifier);
          }
          *seen_variable = v;
        }
        json unqualified = colref;
        json& f = unqualified.begin().value()["fields"];
        f.erase(f.begin());
        ASSIGN_OR_RETURN(int i, c->resolve(*in, unqualified));
        const auto& col = in->columns[static_cast<size_t>(i)];
        return make_column_ref(i, col.type, col.name);
      }
    }
    ASSIGN_OR_RETURN(int i, c->resolve(*in, colref));
    const auto& col = in->columns[static_cast<size_t>(i)];
    return make_column_ref(i, col.type, col.name);
  }
};

// MEASURES: aggregates over the matched rows, match_number(), classifier(), the partition
// columns, and V.col / col standing for LAST(V.col) / LAST(col) (SQL:2016 ONE ROW PER MATCH).
struct MeasureContext : BindContext {
  MatchBuild* m;
  const cep::Pattern* pattern;

  Result<ExprPtr> column(const json& colref) override {
    const json& fields = node_body(colref)["fields"];
    const int loc = location_of(colref);
    if (fields.size() == 1) {
      const std::string name = string_value(fields[0]);
      for (size_t k = 0; k < m->config.partition_columns.size(); ++k) {
        const auto& col = m->in->columns[static_cast<size_t>(m->config.partition_columns[k])];
        if (iequals(col.name, name)) return make_column_ref(static_cast<int>(k), col.type, col.name);
      }
    }
    return last_of(colref, loc);
  }

  Result<ExprPtr> last_of(const json& arg, int loc) {
    return aggregate(cep::MeasureKind::kLast, &arg, loc, "a measure");
  }

  // The aggregate `kind` of `arg` (null: COUNT(*) of the whole match).
  Result<ExprPtr> aggregate(cep::MeasureKind kind, const json* arg, int loc, const char* what) {
    Compiler* c = m->c;
    int variable = -1;
    if (arg == nullptr) {
      const int col = m->aggregate(kind, -1, -1, TypeId::kNull);
      return make_column_ref(col, TypeId::kInt64, "count");
    }
    // COUNT(V.*): the rows of V.
    if (node_type(*arg) == "ColumnRef") {
      const json& fields = node_body(*arg)["fields"];
      if (fields.size() == 2 && node_type(fields[1]) == "A_Star") {
        variable = pattern->find_variable(string_value(fields[0]));
        if (variable < 0) {
          return c->error_at(loc, "{}.* names no variable of the pattern '{}'", string_value(fields[0]), pattern->text);
        }
        if (kind != cep::MeasureKind::kCount) return c->error_at(loc, "only COUNT takes V.*");
        const int col = m->aggregate(kind, variable, -1, TypeId::kNull);
        return make_column_ref(col, TypeId::kInt64, "count");
      }
    }
    RowContext ctx;
    ctx.c = c;
    ctx.in = m->in;
    ctx.pattern = pattern;
    ctx.seen_variable = &variable;
    ctx.what = what;
    ASSIGN_OR_RETURN(ExprPtr e, c->bind_expr(*arg, ctx));
    if (e->type() == TypeId::kNull) return c->error_at(loc, "the argument of {} has no type", cep::measure_kind_name(kind));
    const bool numeric = e->type() == TypeId::kInt64 || e->type() == TypeId::kFloat64;
    if (kind == cep::MeasureKind::kSum && !numeric && e->type() != TypeId::kInterval) {
      return c->error_at(loc, "SUM takes a number or an INTERVAL, not {}", type_name(e->type()));
    }
    if (kind == cep::MeasureKind::kAvg && !numeric) {
      return c->error_at(loc, "AVG takes a number, not {}", type_name(e->type()));
    }
    const int argument = m->argument(e);
    cep::MeasureAggregate a{kind, variable, argument, e->type()};
    const int col = m->aggregate(kind, variable, argument, e->type());
    return make_column_ref(col, a.result_type(), cep::measure_kind_name(kind));
  }

  std::optional<Result<ExprPtr>> intercept(const json& node) override {
    if (node_type(node) != "FuncCall") return std::nullopt;
    const json& call = node_body(node);
    const std::string name = Compiler::func_name(call);
    const int loc = call.value("location", -1);
    Compiler* c = m->c;
    static const std::map<std::string, cep::MeasureKind> kinds = {
        {"first", cep::MeasureKind::kFirst}, {"last", cep::MeasureKind::kLast}, {"count", cep::MeasureKind::kCount},
        {"sum", cep::MeasureKind::kSum},     {"min", cep::MeasureKind::kMin},   {"max", cep::MeasureKind::kMax},
        {"avg", cep::MeasureKind::kAvg}};
    const json& args = list_of(call, "args");
    if (name == "match_number" || name == "classifier") {
      if (!args.empty()) return c->error_at(loc, "{}() takes no arguments", name);
      const int col = static_cast<int>(m->key_count) + (name == "match_number" ? 0 : 1);
      return make_column_ref(col, name == "match_number" ? TypeId::kInt64 : TypeId::kString, name);
    }
    auto kind = kinds.find(name);
    if (kind == kinds.end()) {
      if (Compiler::is_aggregate_name(name)) {
        return c->error_at(loc, "{} is not a MATCH_RECOGNIZE measure (FIRST, LAST, COUNT, SUM, MIN, MAX, AVG)", name);
      }
      return std::nullopt;
    }
    if (call.contains("over") || call.value("agg_distinct", false) || call.contains("agg_filter") ||
        call.contains("agg_order")) {
      return c->error_at(loc, "{} in a measure takes no OVER, DISTINCT, FILTER or ORDER BY", name);
    }
    if (call.value("agg_star", false)) {
      if (kind->second != cep::MeasureKind::kCount) return c->error_at(loc, "{}(*) is not an aggregate", name);
      return aggregate(kind->second, nullptr, loc, "COUNT(*)");
    }
    if (args.size() != 1) return c->error_at(loc, "{} takes one argument in a measure", name);
    return aggregate(kind->second, &args[0], loc, "a measure");
  }
};

}  // namespace

Result<Relation> Compiler::bind_match_recognize(const Relation& in, const json& args, int loc, const std::string& alias,
                                                const std::string& input_name) {
  MatchBuild m;
  m.c = this;
  m.in = &in;
  MatchRecognizeConfig& cfg = m.config;
  cfg.input_schema = in.node->schema;
  // Named arguments.
  static const std::set<std::string> known = {"partition_by", "order_by",   "pattern",     "measures",
                                              "within",       "after_match", "contiguity", "max_partial_matches"};
  std::map<std::string, const json*> named;
  std::map<std::string, int> named_loc;
  std::vector<std::pair<std::string, const json*>> defines;
  std::vector<std::pair<std::string, const json*>> measure_args;  // measure_<name> => expr, in order
  for (const json& a : args) {
    if (node_type(a) != "NamedArgExpr") {
      return error_at(location_of(a),
                      "MATCH_RECOGNIZE takes the input table first, then named arguments (partition_by => ..., "
                      "pattern => '...', define_<variable> => <condition>, ...)");
    }
    const json& b = node_body(a);
    const std::string name = lower(b.value("name", ""));
    const int at = b.value("location", -1);
    if (named.count(name)) return error_at(at, "argument '{}' is given twice", name);
    if (name.rfind("define_", 0) == 0 && name.size() > 7) {
      defines.push_back({name.substr(7), &b["arg"]});
    } else if (name.rfind("measure_", 0) == 0 && name.size() > 8) {
      measure_args.push_back({b.value("name", "").substr(8), &b["arg"]});
    } else if (name.rfind("measures_", 0) == 0 && name.size() > 9) {
      measure_args.push_back({b.value("name", "").substr(9), &b["arg"]});
    } else if (!known.count(name)) {
      return error_at(at,
                      "unknown MATCH_RECOGNIZE argument '{}' (partition_by, order_by, pattern, define_<variable>, "
                      "measures, measure_<name>, within, after_match, contiguity, max_partial_matches)",
                      name);
    }
    named[name] = &b["arg"];
    named_loc[name] = at;
  }
  auto string_arg = [&](const char* name) -> Result<std::optional<std::string>> {
    auto it = named.find(name);
    if (it == named.end()) return std::optional<std::string>();
    auto s = string_constant(*it->second);
    if (!s) return error_at(location_of(*it->second), "{} must be a string constant", name);
    return s;
  };

  // PATTERN.
  auto pattern_it = named.find("pattern");
  if (pattern_it == named.end()) return error_at(loc, "MATCH_RECOGNIZE needs a pattern => '...' argument");
  auto pattern_text = string_constant(*pattern_it->second);
  if (!pattern_text) return error_at(location_of(*pattern_it->second), "pattern must be a string constant such as 'A B+'");
  {
    cep::PatternError e;
    if (!cep::compile_pattern(*pattern_text, cfg.matcher.pattern, e)) {
      // Inside the quotes: the literal's location is its opening quote.
      return error_at(location_of(*pattern_it->second) + 1 + e.offset, "pattern: {}", e.message);
    }
  }
  const cep::Pattern& pattern = cfg.matcher.pattern;

  // PARTITION BY and ORDER BY.
  auto add_key = [&](const json& colref) -> Status {
    if (node_type(colref) != "ColumnRef") {
      return error_at(location_of(colref), "partition_by takes columns: a column, (a, b) or 'a, b'");
    }
    ASSIGN_OR_RETURN(int i, resolve(in, colref));
    cfg.partition_columns.push_back(i);
    return Status::ok();
  };
  if (auto it = named.find("partition_by"); it != named.end()) {
    const json& p = *it->second;
    if (node_type(p) == "RowExpr") {
      for (const json& e : list_of(node_body(p), "args")) RETURN_IF_ERROR(add_key(e));
    } else if (auto s = string_constant(p)) {
      size_t start = 0;
      while (start <= s->size()) {
        size_t end = s->find(',', start);
        if (end == std::string::npos) end = s->size();
        std::string name = s->substr(start, end - start);
        name.erase(0, name.find_first_not_of(" \t\n"));
        name.erase(name.find_last_not_of(" \t\n") + 1);
        int found = -1;
        for (size_t c = 0; c < in.columns.size(); ++c) {
          if (iequals(in.columns[c].name, name)) found = static_cast<int>(c);
        }
        if (found < 0) return error_at(location_of(p), "partition_by: column '{}' not found", name);
        cfg.partition_columns.push_back(found);
        start = end + 1;
      }
    } else {
      RETURN_IF_ERROR(add_key(p));
    }
  }
  m.key_count = cfg.partition_columns.size();
  const int rowtime = in.node->rowtime;
  if (rowtime < 0) {
    return error_at(loc,
                    "MATCH_RECOGNIZE orders rows by event time: its input {} has none (declare event_time and "
                    "watermark_delay on the source table)",
                    input_name);
  }
  if (auto it = named.find("order_by"); it != named.end()) {
    if (node_type(*it->second) != "ColumnRef") return error_at(location_of(*it->second), "order_by must be a column");
    ASSIGN_OR_RETURN(int i, resolve(in, *it->second));
    if (i != rowtime) {
      return error_at(location_of(*it->second), "order_by must be the event-time column of {} ('{}'), not '{}'",
                      input_name, in.columns[static_cast<size_t>(rowtime)].name, in.columns[static_cast<size_t>(i)].name);
    }
  }
  cfg.time_column = rowtime;

  // DEFINE: one condition per variable; a variable without one matches every row.
  cfg.defines.assign(pattern.variables.size(), nullptr);
  for (const auto& [var, cond] : defines) {
    const int v = pattern.find_variable(var);
    if (v < 0) {
      std::string vars;
      for (const auto& x : pattern.variables) vars += (vars.empty() ? "" : ", ") + x;
      return error_at(named_loc["define_" + var], "define_{}: '{}' is not a variable of the pattern '{}' (variables: {})",
                      var, var, pattern.text, vars);
    }
    RowContext ctx;
    ctx.c = this;
    ctx.in = &in;
    ctx.pattern = &pattern;
    ctx.variable = v;
    const std::string what = "the condition of " + pattern.variables[static_cast<size_t>(v)];
    ctx.what = what.c_str();
    ASSIGN_OR_RETURN(ExprPtr e, bind_predicate(*cond, ctx, "DEFINE"));
    cfg.defines[static_cast<size_t>(v)] = e;
  }

  // WITHIN, AFTER MATCH SKIP, contiguity, the partial-match bound.
  if (auto it = named.find("within"); it != named.end()) {
    ASSIGN_OR_RETURN(cfg.matcher.within, constant_interval(*it->second, "within"));
    if (cfg.matcher.within <= 0) return error_at(location_of(*it->second), "within must be a positive INTERVAL");
  }
  ASSIGN_OR_RETURN(auto skip, string_arg("after_match"));
  if (skip) {
    std::string s = collapse_blanks(*skip);
    if (s.rfind("skip ", 0) != 0) s = "skip " + s;  // 'past last row' = 'skip past last row'
    const int at = location_of(*named["after_match"]);
    if (s == "skip past last row") {
      cfg.matcher.skip = cep::SkipKind::kPastLastRow;
    } else if (s == "skip to next row") {
      cfg.matcher.skip = cep::SkipKind::kToNextRow;
    } else if (s.rfind("skip to first ", 0) == 0 || s.rfind("skip to last ", 0) == 0 || s.rfind("skip to ", 0) == 0) {
      const bool first = s.rfind("skip to first ", 0) == 0;
      const bool last = s.rfind("skip to last ", 0) == 0;
      const std::string var = s.substr(first ? 14 : (last ? 13 : 8));
      cfg.matcher.skip = first ? cep::SkipKind::kToFirst : cep::SkipKind::kToLast;  // SKIP TO v = SKIP TO LAST v
      cfg.matcher.skip_variable = pattern.find_variable(var);
      if (cfg.matcher.skip_variable < 0) {
        return error_at(at, "after_match: '{}' is not a variable of the pattern '{}'", var, pattern.text);
      }
    } else {
      return error_at(at,
                      "after_match must be 'skip past last row', 'skip to next row', 'skip to first <variable>' or "
                      "'skip to last <variable>', not '{}'",
                      *skip);
    }
  }
  ASSIGN_OR_RETURN(auto contiguity, string_arg("contiguity"));
  if (contiguity) {
    const std::string s = collapse_blanks(*contiguity);
    if (s == "strict") {
      cfg.matcher.contiguity = cep::Contiguity::kStrict;
    } else if (s == "relaxed") {
      cfg.matcher.contiguity = cep::Contiguity::kRelaxed;
    } else {
      return error_at(location_of(*named["contiguity"]), "contiguity must be 'strict' or 'relaxed', not '{}'", *contiguity);
    }
  }
  if (auto it = named.find("max_partial_matches"); it != named.end()) {
    const json& n = *it->second;
    const bool integer = node_type(n) == "A_Const" && node_body(n).contains("ival");
    const int64_t v = integer ? node_body(n)["ival"].value("ival", 0) : 0;
    if (!integer || v < 1) return error_at(location_of(n), "max_partial_matches must be a positive integer");
    cfg.matcher.max_partial_matches = v;
  }

  // MEASURES: a select list in a string.
  std::vector<ExprPtr> measures;
  std::vector<std::string> names;
  MeasureContext mctx;
  mctx.m = &m;
  mctx.pattern = &pattern;
  if (auto it = named.find("measures"); it != named.end()) {
    auto text = string_constant(*it->second);
    if (!text) return error_at(location_of(*it->second), "measures must be a string: 'first(A.ts) AS start_ts, ...'");
    const std::string wrapped = "SELECT " + *text;
    // Positions inside the string map back to the SQL text (exact when it has no '' escapes).
    const int shift = location_of(*it->second) + 1 - 7;
    const int literal_at = location_of(*it->second);
    ASSIGN_OR_RETURN(json tree, parse_tree(wrapped, [&](int at, const std::string& message) {
                       return error_at(at >= 0 ? at + shift : literal_at, "measures: syntax error: {}", message);
                     }));
    shift_locations(tree, shift);
    const json& stmts = list_of(tree, "stmts");
    const json* select = stmts.size() == 1 ? &stmts[0]["stmt"] : nullptr;
    if (select == nullptr || node_type(*select) != "SelectStmt" || node_body(*select).contains("fromClause") ||
        node_body(*select).contains("whereClause")) {
      return error_at(location_of(*it->second), "measures must be a list of expressions: 'first(A.ts) AS start_ts, ...'");
    }
    const json& targets = list_of(node_body(*select), "targetList");
    for (size_t i = 0; i < targets.size(); ++i) {
      if (is_star(targets[i])) return error_at(location_of(targets[i]), "measures: '*' is not a measure");
      ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(targets[i])["val"], mctx));
      measures.push_back(e);
      names.push_back(output_name(targets[i], i));
    }
  }
  // measure_<name> => <expression>: one measure each, named by the argument.
  for (const auto& [name, arg] : measure_args) {
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(*arg, mctx));
    measures.push_back(e);
    names.push_back(name);
  }
  if (measures.empty()) {
    // Default measures: the match's number, last variable and time span.
    const size_t k = m.key_count;
    measures = {make_column_ref(static_cast<int>(k), TypeId::kInt64, "match_number"),
                make_column_ref(static_cast<int>(k + 1), TypeId::kString, "classifier"),
                make_column_ref(static_cast<int>(k + 2), TypeId::kTimestamp, "match_start"),
                make_column_ref(static_cast<int>(k + 3), TypeId::kTimestamp, "match_end")};
    names = {"match_number", "classifier", "match_start", "match_end"};
  }
  if (Status s = cep::validate(cfg.matcher); !s.is_ok()) return error_at(loc, "{}", s.message());

  // The plan: the match node, then the Calc of partition columns and measures.
  auto match = std::make_shared<LogicalNode>();
  match->kind = LogicalNode::Kind::kMatchRecognize;
  match->inputs = {in.node};
  match->key_columns = cfg.partition_columns;
  match->schema = match_output_schema(*in.node->schema, cfg.partition_columns, cfg.matcher.aggregates, false);
  cfg.output_schema = match->schema;
  match->match = std::make_shared<const MatchRecognizeConfig>(std::move(cfg));
  const MatchRecognizeConfig& bound = *match->match;

  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {match};
  std::vector<Field> fields;
  Relation r;
  const std::string q = alias.empty() ? "match_recognize" : alias;
  for (size_t k = 0; k < bound.partition_columns.size(); ++k) {
    const auto& col = in.columns[static_cast<size_t>(bound.partition_columns[k])];
    calc->projections.push_back(make_column_ref(static_cast<int>(k), col.type, col.name));
    fields.push_back({col.name, col.type, true});
    r.columns.push_back({col.name, q, col.type});
  }
  for (size_t i = 0; i < measures.size(); ++i) {
    calc->projections.push_back(measures[i]);
    fields.push_back({names[i], measures[i]->type(), true});
    r.columns.push_back({names[i], q, measures[i]->type()});
  }
  calc->schema = make_schema(fields);
  r.node = calc;
  return r;
}

Result<Relation> Compiler::bind_match_recognize_call(const json& call, const std::string& alias) {
  const json& args = list_of(call, "args");
  const int loc = call.value("location", -1);
  if (args.empty() || node_type(args[0]) != "ColumnRef" || node_body(args[0])["fields"].size() != 1) {
    return error_at(args.empty() ? loc : location_of(args[0]),
                    "the first argument of MATCH_RECOGNIZE must be a table or view name");
  }
  const std::string table = string_value(node_body(args[0])["fields"][0]);
  ASSIGN_OR_RETURN(Relation in, bind_table_name(table, location_of(args[0]), ""));
  json rest = json::array();
  for (size_t i = 1; i < args.size(); ++i) rest.push_back(args[i]);
  return bind_match_recognize(in, rest, loc, alias, table);
}

Result<LogicalNodePtr> Compiler::bind_match_text(const LogicalNodePtr& input) {
  const char* expected = "expected the named arguments of match_recognize(...)";
  ASSIGN_OR_RETURN(json select, embedded_select(expected));
  const json* call = nullptr;
  const json& from = list_of(select, "fromClause");
  if (from.size() == 1 && node_type(from[0]) == "RangeFunction") {
    const json& fn = node_body(from[0])["functions"][0]["List"]["items"][0];
    if (node_type(fn) == "FuncCall") call = &node_body(fn);
  }
  if (call == nullptr) return error_at(0, "{}", expected);
  ASSIGN_OR_RETURN(Relation r, bind_match_recognize(relation_over(input), list_of(*call, "args"),
                                                    call->value("location", -1), "", "the stream"));
  return r.node;
}

}  // namespace sluice::sql
