// SinkOperator: the last operator of a job's chain; writes batches to a SinkWriter.
//
// When the plan gives an order column (window_end for windowed aggregates) and the sink
// merges several upstream instances, rows are buffered and released in a canonical order:
// when the watermark reaches W, every buffered row with order value <= W is written,
// sorted by (order column, then all columns). Every instance emits a window's rows before
// forwarding a watermark past its end, so at that point all rows <= W have arrived: the
// file written is byte-identical whatever the parallelism, batch size or thread timing.
// Writers are flushed (committed) at most every flush_interval and at the end.
//
// In a checkpointing job the writer is transactional (SinkWriter::recover): snapshot()
// pre-commits the rows written since the previous checkpoint and saves the writer's
// transaction handle plus the rows still held for ordered release; once the checkpoint is
// durable, on_checkpoint_complete() commits. Rows therefore become visible once per
// checkpoint, exactly once for sinks whose writers implement two-phase commit.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "connectors/sink.h"
#include "runtime/operator.h"

namespace sluice {

class SinkOperatorSpec : public OperatorSpec {
 public:
  // `checkpointing`: whether the job checkpoints (EXPLAIN states the guarantee that holds).
  SinkOperatorSpec(std::string table, std::shared_ptr<SinkFactory> factory, SchemaPtr schema, int order_column,
                   bool checkpointing, Micros flush_interval)
      : table_(std::move(table)),
        factory_(std::move(factory)),
        schema_(std::move(schema)),
        order_column_(order_column),
        checkpointing_(checkpointing),
        flush_interval_(flush_interval) {}
  std::string kind() const override { return "sink"; }
  bool stateful() const override { return true; }
  std::string sink_table() const override { return table_; }
  SchemaPtr sink_schema() const override { return schema_; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;

  const std::string& table() const { return table_; }
  SinkFactory& factory() const { return *factory_; }
  const SchemaPtr& schema() const { return schema_; }
  int order_column() const { return order_column_; }
  Micros flush_interval() const { return flush_interval_; }

 private:
  std::string table_;
  std::shared_ptr<SinkFactory> factory_;
  SchemaPtr schema_;
  int order_column_;
  bool checkpointing_;
  Micros flush_interval_;
};

}  // namespace sluice
