// BatchTiming: when the records a task is processing entered the job, for the end-to-end
// latency histograms of the sinks (sluice_sink_ingest_latency_seconds and
// sluice_sink_event_latency_seconds, docs/metrics.md).
//
// Per batch, never per record: the source task stamps each batch it emits with the time
// of the poll that read it (ingestion, the job clock's Unix time) and the smallest event
// time among its rows; the stamp travels with the batch on channels (StreamElement) and
// each task keeps the stamp of the batch it processed last (Task::timing). What an
// operator emits carries its task's current stamp: a filter's output that of its input, a
// window's results, fired by a watermark, that of the newest input before it. A sink
// records the stamp of each batch it receives with its row count and observes
// commit time - stamp when the rows are committed (operators/commit_latency.h).
//
// Threads: a task's stamp is written and read on that task's thread only.
#pragma once

#include "common/time_util.h"
#include "common/trace.h"

namespace sluice {

struct BatchTiming {
  Micros ingest_us = 0;             // Unix µs; 0: unknown (no latency is observed)
  Micros event_us = kMinWatermark;  // Unix µs; kMinWatermark: the rows have no event time
  TraceContext trace;               // a sampled batch's trace (common/trace.h); zero: none
};

}  // namespace sluice
