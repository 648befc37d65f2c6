// Internal state behind the C++ pipeline handles (include/sluice/pipeline.h).
//
// A Stream is a Block: an open SELECT block — a FROM relation, WHERE conditions and an
// optional select list — so that consecutive calls fold into one block exactly as one SQL
// SELECT does, and a call that cannot extend the block nests it (a subquery). Relation
// mirrors the SQL binder's Relation (src/sql/compiler.cc): a plan node, the names its
// columns are known by, and for TUMBLE/HOP/SESSION the windowed input.
// Blocks are immutable once built; every Stream method makes a new one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/expression_internal.h"
#include "plan/logical_plan.h"

namespace sluice::api::internal {

struct RelationColumn {
  std::string name;  // what col("...") matches (case-insensitive)
  TypeId type = TypeId::kNull;
  ExprPtr ref;       // what a reference binds to
};

struct Relation {
  LogicalNodePtr node;
  std::vector<RelationColumn> columns;
  struct Window {
    LogicalNodePtr input;  // the relation the window function wraps
    WindowSpec window;
    int time_column = -1;
    int window_start = -1;
    int window_end = -1;
  };
  std::optional<Window> tvf;
  // The output of an aggregation: `node` is the Aggregate, `columns` its named outputs
  // ([window_start, window_end,] keys..., one per aggregate call). WHERE on it is HAVING;
  // it always materializes into a Calc (the select list).
  bool aggregated = false;
};

struct PipelineState {
  LogicalJob job;
  Status first_error;
  void record(const Status& s) {
    if (first_error.is_ok() && !s.is_ok()) first_error = s;
  }
};

struct Block {
  std::shared_ptr<PipelineState> pipeline;
  Status error;  // when not ok, nothing else is meaningful
  Relation from;
  std::vector<ExprPtr> where;  // conditions, ANDed
  bool has_select = false;
  std::vector<ExprPtr> select;
  std::vector<std::string> names;
};

struct KeyedBlock {
  std::shared_ptr<const Block> block;
  std::vector<Expression> keys;
};

}  // namespace sluice::api::internal
