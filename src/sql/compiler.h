// SQL front end: parses a job file with libpg_query (PostgreSQL's own grammar) and binds it
// into a LogicalJob: tables (CREATE TABLE ... WITH (...)), views, SET settings, and one
// pipeline per INSERT INTO ... SELECT (or CREATE TABLE ... AS SELECT).
//
// Every error is one line that starts with "FILE:LINE:COLUMN:" and says what is wrong
// (syntax error, unknown table or column, type mismatch, unsupported construct).
// Stateless functions; safe to call from any thread.
#pragma once

#include <string>

#include "common/status.h"
#include "plan/logical_plan.h"

namespace sluice {

Result<LogicalJob> compile_sql(const std::string& text, const std::string& file_name);

// One SQL scalar expression (`price * 2 > 10 AND page LIKE '/p/%'`) bound over `schema`'s
// columns: column i of the result's references is schema column i. `name` is the name SQL
// gives the expression as a select item. Errors say "line L column C: ..." of `text`;
// aggregates, several items and whole queries are refused.
struct ScalarBinding {
  ExprPtr expr;
  std::string name;
};
Result<ScalarBinding> bind_scalar_sql(const std::string& text, const Schema& schema);

// MATCH_RECOGNIZE over `input` for the C++ API: `arguments` are the named arguments of
// SQL's match_recognize(...) table function as text (pattern => 'A B', define_a => x > 1,
// ...; docs/patterns.md), bound with the same binder. Returns the Calc of partition columns
// and measures over the match node. Errors say "line L column C: ..." of `arguments`.
Result<LogicalNodePtr> bind_match_recognize_sql(const std::string& arguments, const LogicalNodePtr& input);

// A SELECT list over `input` for the C++ API (`a, score(url => ...) AS response, *`), bound
// as SQL's projection: the Calc (and the scoring nodes of score() calls) over `input`.
// Aggregates and OVER calls are refused (the builder has aggregate() and over()). Errors
// say "line L column C: ..." of `select_list`.
Result<LogicalNodePtr> bind_select_list_sql(const std::string& select_list, const LogicalNodePtr& input);

// Planning errors about a table ("table out: ...", from the planner and the connectors)
// get the position of that table's CREATE TABLE: "FILE:LINE:COLUMN: table out: ...". Other
// statuses are returned unchanged.
Status locate_table_error(const Status& status, const LogicalJob& job, const std::string& text,
                          const std::string& file_name);

}  // namespace sluice
