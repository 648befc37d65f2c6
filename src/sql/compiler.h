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

// Planning errors about a table ("table out: ...", from the planner and the connectors)
// get the position of that table's CREATE TABLE: "FILE:LINE:COLUMN: table out: ...". Other
// statuses are returned unchanged.
Status locate_table_error(const Status& status, const LogicalJob& job, const std::string& text,
                          const std::string& file_name);

}  // namespace sluice
