// score(...), ingest_time() and decision_time() in a SELECT list (docs/scoring.md): each
// distinct score call becomes a kScore node under the projection, which appends the
// call's response, ingestion time and decision time as hidden columns; the select list then
// reads those columns in place of the calls.
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sql/binder.h"

namespace sluice::sql {

namespace {

bool is_scoring_name(const std::string& n) { return n == "score" || n == "ingest_time" || n == "decision_time"; }

// The arguments score() takes, by name; the first four may also be given by position.
const std::vector<std::string> kScoreArguments = {"url",          "body",     "timeout",          "fallback",
                                                  "max_in_flight", "batch_size", "ordered",         "max_attempts",
                                                  "backoff",      "breaker_failures", "breaker_cooldown", "dlq"};
constexpr size_t kPositionalScoreArguments = 4;

}  // namespace

bool Compiler::is_scoring_call(const json& n) {
  return node_type(n) == "FuncCall" && is_scoring_name(func_name(node_body(n))) && !node_body(n).contains("over");
}

bool Compiler::has_scoring_calls(const json& n) {
  std::vector<const json*> calls;
  collect_scoring_calls(n, calls);
  return !calls.empty();
}

void Compiler::collect_scoring_calls(const json& n, std::vector<const json*>& out) {
  walk_tree(n, [&](const json& v) {
    if (node_type(v) == "SubLink") return Walk::kSkip;  // a subquery's calls are its own
    if (is_scoring_call(v)) {
      out.push_back(&v);
      return Walk::kSkip;  // a call inside score()'s arguments is refused when they are bound
    }
    return Walk::kEnter;
  });
}

Result<Value> Compiler::constant_argument(const json& node, const std::string& what) {
  struct NoColumns : BindContext {
    Compiler* c;
    std::string what;
    Result<ExprPtr> column(const json& colref) override {
      return c->error_at(location_of(colref), "{} must be a constant, not a column", what);
    }
  } ctx;
  ctx.c = this;
  ctx.what = what;
  ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node, ctx));
  auto v = evaluate_constant(e);
  if (!v.is_ok()) return wrap(v.status(), location_of(node));
  return v.value();
}

Result<std::shared_ptr<const ScoringOptions>> Compiler::scoring_options(const json& call, const Relation& in,
                                                                        ExprPtr* body) {
  const json& b = node_body(call);
  const int loc = location_of(call);
  std::map<std::string, const json*> args;
  bool named_seen = false;
  size_t position = 0;
  for (const auto& a : list_of(b, "args")) {
    std::string name;
    const json* value = &a;
    if (node_type(a) == "NamedArgExpr") {
      name = lower(node_body(a).value("name", ""));
      value = &node_body(a)["arg"];
      named_seen = true;
      if (std::find(kScoreArguments.begin(), kScoreArguments.end(), name) == kScoreArguments.end()) {
        return error_at(location_of(a), "score(): unknown argument '{}' (arguments: {})", name,
                        fmt::join(kScoreArguments, ", "));
      }
    } else {
      if (named_seen) return error_at(location_of(a), "score(): positional arguments must come before named ones");
      if (position >= kPositionalScoreArguments) {
        return error_at(location_of(a), "score(): at most {} positional arguments (url, body, timeout, fallback)",
                        kPositionalScoreArguments);
      }
      name = kScoreArguments[position++];
    }
    if (args.count(name)) return error_at(location_of(a), "score(): argument '{}' given twice", name);
    args[name] = value;
  }
  auto options = std::make_shared<ScoringOptions>();
  auto arg = [&](const char* name) -> const json* {
    auto it = args.find(name);
    return it == args.end() ? nullptr : it->second;
  };
  if (!arg("url")) return error_at(loc, "score(): the url argument is required (url => 'http://host:port/path')");
  ASSIGN_OR_RETURN(Value url, constant_argument(*arg("url"), "score(): url"));
  if (url.type != TypeId::kString || url.is_null) {
    return error_at(location_of(*arg("url")), "score(): url must be a TEXT constant");
  }
  options->client.url = url.s;
  if (url.s.rfind("http://", 0) != 0 && url.s.rfind("https://", 0) != 0) {
    return error_at(location_of(*arg("url")), "score(): url '{}' must start with http:// or https://", url.s);
  }
  if (const json* body_arg = arg("body")) {
    RelationContext ctx;
    ctx.c = this;
    ctx.rel = &in;
    ASSIGN_OR_RETURN(*body, bind_expr(*body_arg, ctx));
    if ((*body)->type() != TypeId::kString) {
      return error_at(location_of(*body_arg), "score(): body must be TEXT holding JSON, not {}",
                      type_name((*body)->type()));
    }
  }
  auto interval = [&](const char* name, Micros* out) -> Status {
    if (const json* a = arg(name)) {
      ASSIGN_OR_RETURN(*out, constant_interval(*a, (std::string("score(): ") + name).c_str()));
      if (*out < 0) return error_at(location_of(*a), "score(): {} must not be negative", name);
    }
    return Status::ok();
  };
  auto integer = [&](const char* name, int* out, int min) -> Status {
    if (const json* a = arg(name)) {
      ASSIGN_OR_RETURN(Value v, constant_argument(*a, std::string("score(): ") + name));
      if (v.type != TypeId::kInt64 || v.is_null || v.i < min || v.i > 1'000'000) {
        return error_at(location_of(*a), "score(): {} must be an integer of at least {}", name, min);
      }
      *out = static_cast<int>(v.i);
    }
    return Status::ok();
  };
  RETURN_IF_ERROR(interval("timeout", &options->client.timeout_us));
  if (options->client.timeout_us == 0) return error_at(location_of(*arg("timeout")), "score(): timeout must be positive");
  RETURN_IF_ERROR(integer("max_in_flight", &options->max_in_flight, 1));
  RETURN_IF_ERROR(integer("batch_size", &options->batch_rows, 1));
  RETURN_IF_ERROR(integer("max_attempts", &options->client.retry.max_attempts, 1));
  RETURN_IF_ERROR(interval("backoff", &options->client.retry.initial_backoff_us));
  RETURN_IF_ERROR(integer("breaker_failures", &options->client.breaker.failure_threshold, 1));
  RETURN_IF_ERROR(interval("breaker_cooldown", &options->client.breaker.open_cooldown_us));
  options->client.max_connections = options->max_in_flight;
  if (const json* a = arg("ordered")) {
    ASSIGN_OR_RETURN(Value v, constant_argument(*a, "score(): ordered"));
    if (v.type != TypeId::kBool || v.is_null) return error_at(location_of(*a), "score(): ordered must be TRUE or FALSE");
    options->ordered = v.i != 0;
  }
  if (const json* a = arg("fallback")) {
    ASSIGN_OR_RETURN(Value v, constant_argument(*a, "score(): fallback"));
    if (!v.is_null) {
      switch (v.type) {
        case TypeId::kString:
          if (!nlohmann::json::accept(v.s)) {
            return error_at(location_of(*a), "score(): fallback must be JSON text (e.g. '{{\"score\": 0}}'), not '{}'",
                            v.s);
          }
          options->fallback = v.s;
          break;
        case TypeId::kInt64:
          options->fallback = std::to_string(v.i);
          break;
        case TypeId::kFloat64:
          options->fallback = nlohmann::json(v.d).dump();
          break;
        case TypeId::kBool:
          options->fallback = v.i ? "true" : "false";
          break;
        default:
          return error_at(location_of(*a), "score(): fallback must be JSON text, a number or a boolean, not {}",
                          type_name(v.type));
      }
    }
  }
  if (const json* a = arg("dlq")) {
    ASSIGN_OR_RETURN(Value v, constant_argument(*a, "score(): dlq"));
    if (v.type != TypeId::kString || v.is_null || v.s.empty()) {
      return error_at(location_of(*a), "score(): dlq must name a file (JSON lines, or SQLite when it ends in .db)");
    }
    if (options->fallback) {
      return error_at(location_of(*a), "score(): give either fallback (failed rows get it) or dlq (failed rows go "
                                       "there), not both");
    }
    options->dead_letter_path = v.s;
  }
  if (Status s = options->validate(); !s.is_ok()) return wrap(s, loc);
  return std::shared_ptr<const ScoringOptions>(std::move(options));
}

Result<Relation> Compiler::bind_scoring(const json& s, const Relation& in, std::map<std::string, int>* columns) {
  std::vector<const json*> calls;
  for (const auto& t : list_of(s, "targetList")) collect_scoring_calls(t, calls);
  Relation base = in;
  // The WHERE applies first: rows it drops are never scored.
  if (s.contains("whereClause")) {
    RelationContext ctx;
    ctx.c = this;
    ctx.rel = &in;
    auto filter = std::make_shared<LogicalNode>();
    filter->kind = LogicalNode::Kind::kCalc;
    filter->inputs = {in.node};
    ASSIGN_OR_RETURN(filter->filter, bind_predicate(s["whereClause"], ctx, "WHERE"));
    filter->schema = in.node->schema;
    filter->rowtime = in.node->rowtime;
    base.node = filter;
  }
  const size_t row_columns = in.columns.size();
  std::vector<int> time_columns;  // ingest, decision columns of the first score call
  int scores = 0;
  for (const json* call : calls) {
    if (func_name(node_body(*call)) != "score") continue;
    const std::string sig = signature(*call);
    if (columns->count(sig)) continue;
    ExprPtr body;
    ASSIGN_OR_RETURN(auto options, scoring_options(*call, base, &body));
    auto node = std::make_shared<LogicalNode>();
    node->kind = LogicalNode::Kind::kScore;
    node->inputs = {base.node};
    node->scoring = options;
    node->scoring_body = body;
    node->scoring_row_columns = row_columns;
    const std::string k = std::to_string(scores++);
    node->schema = scoring_output_schema(*base.node->schema, "$score" + k, "$ingest" + k, "$decision" + k);
    node->rowtime = base.node->rowtime;
    const int first = static_cast<int>(base.columns.size());
    (*columns)[sig] = first;
    if (time_columns.empty()) time_columns = {first + 1, first + 2};
    base.columns.push_back({"$score" + k, "", TypeId::kString});
    base.columns.push_back({"$ingest" + k, "", TypeId::kTimestamp});
    base.columns.push_back({"$decision" + k, "", TypeId::kTimestamp});
    base.node = node;
  }
  for (const json* call : calls) {
    const std::string name = func_name(node_body(*call));
    if (name == "score") continue;
    const int loc = location_of(*call);
    if (scores == 0) {
      return error_at(loc, "{}() is the time of a score(...) call: use it in a SELECT list with score(...)", name);
    }
    if (scores > 1) {
      return error_at(loc, "{}() is ambiguous in a SELECT list with several score(...) calls: score in separate "
                           "queries", name);
    }
    if (!list_of(node_body(*call), "args").empty()) return error_at(loc, "{}() takes no arguments", name);
    (*columns)[signature(*call)] = name == "ingest_time" ? time_columns[0] : time_columns[1];
  }
  return base;
}

}  // namespace sluice::sql
