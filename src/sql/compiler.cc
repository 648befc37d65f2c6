#include "sql/compiler.h"

#include <pg_query.h>
#include <pthread.h>

#include <cstdlib>
#include <functional>

#include "sql/binder.h"
#include "sql/front_checks.h"

namespace sluice::sql {

Result<json> parse_tree(const std::string& text, const std::function<Status(int, const std::string&)>& where) {
  PgQueryParseResult r = pg_query_parse(text.c_str());
  if (r.error) {
    std::string message = r.error->message;
    // Bison's stack (10,000 entries) overflows on parentheses or calls nested that deep.
    if (message.rfind("memory exhausted", 0) == 0) {
      message = fmt::format("expression nested too deeply for the parser (more than {} levels of parentheses or "
                            "calls): split it, e.g. into a view",
                            kMaxNodeDepth);
    }
    Status s = where(r.error->cursorpos > 0 ? r.error->cursorpos - 1 : -1, message);
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
  return tree;
}

Result<LogicalJob> Compiler::run() {
  RETURN_IF_ERROR(check_sql_text(text_, file_));
  ASSIGN_OR_RETURN(json tree, parse_tree(text_, [this](int at, const std::string& message) {
                     return error_at(at, "syntax error: {}", message);
                   }));
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

Status Compiler::statement(const json& stmt) {
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

Result<ScalarBinding> Compiler::bind_scalar(const Schema& schema) {
  RETURN_IF_ERROR(check_sql_text(text_, file_));
  ASSIGN_OR_RETURN(json tree, parse_tree(text_, [this](int at, const std::string& message) {
                     return error_at(at, "syntax error: {}", message);
                   }));
  RETURN_IF_ERROR(check_parse_tree_depth(tree, text_, file_));
  const json& stmts = list_of(tree, "stmts");
  auto wrong = [&]() { return error_at(0, "expected one scalar expression (no aggregates, no list of items)"); };
  if (stmts.size() != 1) return wrong();
  const json& stmt = stmts[0]["stmt"];
  if (node_type(stmt) != "SelectStmt") return wrong();
  const json& select = node_body(stmt);
  const json& targets = list_of(select, "targetList");
  for (const char* clause : {"fromClause", "whereClause", "groupClause", "havingClause", "sortClause", "withClause",
                             "limitCount", "distinctClause", "valuesLists", "op"}) {
    if (select.contains(clause) && !(std::string(clause) == "op" && select[clause] == "SETOP_NONE")) return wrong();
  }
  if (targets.size() != 1 || is_star(targets[0])) return wrong();
  const json& target = targets[0];
  if (node_body(target).contains("name") || contains_aggregate(node_body(target)["val"])) return wrong();
  Relation rel;
  for (const Field& f : schema.fields()) rel.columns.push_back({f.name, "", f.type});
  RelationContext ctx;
  ctx.c = this;
  ctx.rel = &rel;
  ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(target)["val"], ctx));
  return ScalarBinding{std::move(e), output_name(target, 0)};
}

}  // namespace sluice::sql

namespace sluice {

using sql::Compiler;
using sql::lower;

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

// Runs `fn` on a thread with kCompilerStackBytes of stack (on the caller's stack when no
// thread can be started) and returns its result.
template <typename T>
Result<T> on_compiler_stack(const std::function<Result<T>()>& fn) {
  struct Call {
    const std::function<Result<T>()>* fn;
    std::optional<Result<T>> result;
  } call{&fn, std::nullopt};
  auto body = [](void* arg) -> void* {
    auto* c = static_cast<Call*>(arg);
    c->result.emplace((*c->fn)());
    return nullptr;
  };
  pthread_attr_t attr;
  pthread_t thread;
  bool started = pthread_attr_init(&attr) == 0;
  if (started) {
    started = pthread_attr_setstacksize(&attr, kCompilerStackBytes) == 0 &&
              pthread_create(&thread, &attr, body, &call) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!started) return fn();
  pthread_join(thread, nullptr);
  return std::move(*call.result);
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
  return on_compiler_stack<LogicalJob>([&] { return compile_here(text, file_name); });
}

namespace {

// Binds `prefix + text + suffix` (text on the prefix's line) with a Compiler named `name`
// on the compiler's stack; its errors "name:L:C: msg" become "line L column C: msg" of
// `text` itself (columns on the first line shifted by the prefix).
template <typename T>
Result<T> bind_embedded(const std::string& prefix, const std::string& text, const std::string& suffix,
                        const std::string& name, const std::function<Result<T>(Compiler&)>& bind) {
  const std::string wrapped = prefix + text + suffix;
  auto bound = on_compiler_stack<T>([&]() -> Result<T> {
    Compiler c(wrapped, name);
    try {
      return bind(c);
    } catch (const std::exception& e) {
      return internal_error("internal error while binding {} ({})", name, e.what());
    }
  });
  if (bound.is_ok()) return bound;
  std::string msg = bound.status().message();
  const std::string head = name + ":";
  if (msg.rfind(head, 0) == 0) {
    size_t a = msg.find(':', head.size()), b = a == std::string::npos ? a : msg.find(':', a + 1);
    if (b != std::string::npos) {
      int line = std::atoi(msg.substr(head.size(), a - head.size()).c_str());
      int column = std::atoi(msg.substr(a + 1, b - a - 1).c_str());
      if (line == 1) column = std::max(1, column - static_cast<int>(prefix.size()));
      std::string rest = msg.substr(b + 1);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      msg = fmt::format("line {} column {}: {}", line, column, rest);
    }
  }
  return Status(bound.status().code(), msg);
}

}  // namespace

Result<ScalarBinding> bind_scalar_sql(const std::string& text, const Schema& schema) {
  return bind_embedded<ScalarBinding>("SELECT ", text, "", "expr",
                                      [&](Compiler& c) { return c.bind_scalar(schema); });
}

Result<LogicalNodePtr> bind_match_recognize_sql(const std::string& arguments, const LogicalNodePtr& input) {
  return bind_embedded<LogicalNodePtr>("SELECT * FROM match_recognize(", arguments, ")", "match_recognize",
                                       [&](Compiler& c) { return c.bind_match_text(input); });
}

Result<LogicalNodePtr> bind_select_list_sql(const std::string& select_list, const LogicalNodePtr& input) {
  return bind_embedded<LogicalNodePtr>("SELECT ", select_list, " FROM input", "select",
                                       [&](Compiler& c) { return c.bind_select_list_text(input); });
}

}  // namespace sluice
