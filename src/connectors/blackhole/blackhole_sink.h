// Blackhole sink: accepts every row (inserts and changelog rows) and writes nothing. For
// benchmarks that measure the pipeline without a sink's I/O; the sink operator's counters
// still count the rows (the summary's "sink: in N"). `commit_delay` makes each commit (or,
// without checkpoints, each flush) take that long: a slow sink on purpose, for latency and
// backpressure measurements.
//
// The factory is created on the planner thread; its writers are used by one sink task each.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_blackhole_sink_factory(const SinkSpec& spec);

}  // namespace sluice
