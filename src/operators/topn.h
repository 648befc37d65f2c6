// Top-N and deduplication: ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) filtered by
// rn <= N (rn = 1 is deduplication).
//
// Input columns: [visible..., partition keys..., order keys...]; output: [visible..., rn].
// Rows of a partition are ranked by the order keys, ties broken by arrival (the first
// arrived ranks first), so the result depends only on the data and the per-key order.
//
// Two modes:
//  - windowed (partition includes the window of an insert-only windowed aggregation):
//    rows are held, at most N per partition, until the watermark passes the window's end,
//    then the final top N are emitted once as inserts, partitions in (window end, key)
//    order, ranks ascending. State of emitted windows is freed.
//  - continuous: after each batch, every rank position whose row changed is emitted as a
//    retraction of the old row (-D) and the new row (+I), which an upsert sink keyed by
//    (partition, rn) or by (partition, row key) applies correctly. A row that cannot
//    enter the top N is dropped without allocating.
//
// Checkpoints: the held rows are keyed state, one entry per (window, partition) whose key
// group is that of the partition columns (the hash exchange's keys), so a restored instance
// receives exactly the partitions it owns at any parallelism (see topn.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/operator.h"

namespace sluice {

struct TopNConfig {
  size_t visible_columns = 0;       // leading input columns that are output
  std::vector<int> partition_columns;
  std::vector<int> order_columns;
  std::vector<bool> descending;     // per order column
  std::vector<bool> nulls_first;    // per order column
  int64_t limit = 1;                // N
  int window_end_column = -1;       // windowed mode: the input column holding the window end
  SchemaPtr output_schema;          // visible columns + rn BIGINT
  size_t batch_size = kDefaultBatchRows;
};

class TopNOperatorSpec : public OperatorSpec {
 public:
  explicit TopNOperatorSpec(TopNConfig config) : config_(std::move(config)) {}
  std::string kind() const override {
    if (config_.window_end_column >= 0) return "window_top_n";
    return config_.limit == 1 ? "deduplicate" : "top_n";
  }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const TopNConfig& config() const { return config_; }

 private:
  TopNConfig config_;
};

}  // namespace sluice
