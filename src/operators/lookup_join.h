// Processing-time lookup join: each row of a stream joins the row of a reference table
// with its key as the table is when the row is processed (SQL: `JOIN lookup(customers,
// refresh => INTERVAL '1' MINUTE) AS c ON o.customer_id = c.id`, docs/sql.md "Lookup
// joins"), as Flink's lookup join with a full cache. INNER drops rows without a table row
// (or failing the residual), LEFT pads them with NULLs; output append-only, the stream's
// event time and watermarks pass through unchanged. Stateless: nothing is checkpointed.
//
// The table: a LookupTable shared by every instance of the spec, loaded whole when the
// first instance opens (a failed first load fails the job) and reloaded every `refresh` on
// its own loader thread; each load becomes an immutable Snapshot (rows + a hash index on
// the key) swapped in under a mutex, with a version counter the instances read lock-free
// per batch, so process() never waits for I/O. A failed reload keeps the previous snapshot
// (logged; retried at the next interval). Results depend on when rows are processed
// relative to reloads: not deterministic when the table changes during the run.
//
// Threads: process() on task threads; the loader thread only builds snapshots.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/lookup.h"
#include "expr/expr.h"
#include "operators/enrichment.h"
#include "operators/join.h"
#include "runtime/operator.h"

namespace sluice {

// One load of the table: its rows and the row of each encoded key (the last row wins when a
// key repeats).
struct LookupSnapshot;

class LookupTable {
 public:
  LookupTable(std::string name, std::vector<int> key_columns, Micros refresh,
              std::function<Result<std::unique_ptr<LookupReader>>()> make_reader)
      : name_(std::move(name)), keys_(std::move(key_columns)), refresh_(refresh), make_reader_(std::move(make_reader)) {}
  ~LookupTable();

  // The first user loads the table and starts the loader; the last one stops it.
  Status acquire();
  void release();
  // The number of successful loads: changes with every new snapshot (acquire ordering).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::shared_ptr<const LookupSnapshot> snapshot() const;

 private:
  // The table read now (the caller owns reader_: under mu_ in acquire(), else the loader).
  Result<std::shared_ptr<const LookupSnapshot>> read_snapshot();
  void install(std::shared_ptr<const LookupSnapshot> snapshot);  // caller holds mu_
  void loader_loop();

  const std::string name_;
  const std::vector<int> keys_;
  const Micros refresh_;
  const std::function<Result<std::unique_ptr<LookupReader>>()> make_reader_;
  // Serializes acquire() and release() whole (a release joins its loader before a new
  // first acquire may start another: one loader at a time, reader_ used by one thread).
  std::mutex lifecycle_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::shared_ptr<const LookupSnapshot> current_;
  std::atomic<uint64_t> version_{0};
  int users_ = 0;
  bool stop_ = false;
  std::unique_ptr<LookupReader> reader_;  // used by one thread at a time: acquire() (under mu_), then the loader
  std::thread loader_;
};

struct LookupJoinConfig : EnrichmentJoinConfig {
  std::string table;   // for EXPLAIN
  Micros refresh = 0;  // 0: loaded once
};

class LookupJoinOperatorSpec : public OperatorSpec {
 public:
  // `table` is shared by the instances (thread-safe; the spec itself is immutable).
  LookupJoinOperatorSpec(LookupJoinConfig config, std::shared_ptr<LookupTable> table)
      : config_(std::move(config)), table_(std::move(table)) {}
  std::string kind() const override { return "lookup_join"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  const LookupJoinConfig& config() const { return config_; }
  LookupTable& table() const { return *table_; }

 private:
  LookupJoinConfig config_;
  std::shared_ptr<LookupTable> table_;
};

}  // namespace sluice
