// Event-time temporal join: each row of an append-only stream (the probe side, input 0)
// joins the version of its key that was valid at the row's event time in a versioned
// table (input 1), as Flink's `JOIN rates FOR SYSTEM_TIME AS OF o.ts` (SQL:
// `JOIN versioned(rates, o.ts)`, docs/sql.md "Temporal joins").
//
// Versioned table: rows keyed by the table's primary key (the join keys on this side) with
// an event-time column. +I and +U start a new version of their key at their event time
// (an append-only table: every row is a new version); -D ends the key's validity at its
// event time (a version without a row); -U is ignored (the +U after it decides). At equal
// start times the change that arrived last wins.
//
// Emission: a probe row is held until the watermark (the minimum of both inputs', which the
// task passes to on_watermark) reaches its event time, so every version that starts at or
// before it has arrived if the table's disorder stays within its watermark delay. It then
// joins the newest version with start <= its time (none, or a deletion: no partner). INNER
// drops rows without partner, LEFT pads them with NULLs; an optional residual condition over
// [probe..., version...] decides as part of the match. Output: append-only (+I), the probe
// row's event time stays its rowtime; the watermark is forwarded after the rows it covers.
// A probe row that arrives behind the watermark (late) joins at once with what is left.
//
// State: per key, the versions not yet superseded at the watermark (the newest one at or
// before it and every later one), and the probe rows waiting for the watermark; versions
// older than the newest at or before the watermark are dropped, so state is bounded by the
// table's keys and the rows within the watermark delay. Checkpoints: one keyed entry per
// (join key, kind) in the key group of the join key, the exchange's hash, so a restored
// instance receives exactly its keys at any parallelism (rescaling).
//
// Threads: one instance per task thread; the spec is shared and immutable.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "operators/enrichment.h"
#include "operators/join.h"
#include "runtime/operator.h"

namespace sluice {

// The table is the versioned table (table_keys: its primary key among them).
struct TemporalJoinConfig : EnrichmentJoinConfig {
  int probe_time = -1;    // event-time column of input 0
  int version_time = -1;  // event-time column of input 1 (version start)
};

class TemporalJoinOperatorSpec : public OperatorSpec {
 public:
  explicit TemporalJoinOperatorSpec(TemporalJoinConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "temporal_join"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const TemporalJoinConfig& config() const { return config_; }

 private:
  TemporalJoinConfig config_;
};

}  // namespace sluice
