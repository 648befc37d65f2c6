// Generator source: a deterministic synthetic clickstream (see clickstream.h for what the
// events look like and why they are reproducible), for demos, tests and benchmarks.
//
// Options (WITH (...)), all optional:
//   seed                  integer, default 42. Same seed => byte-identical events.
//   events                total number of events; absent or 0 = unbounded.
//   rate                  events per second across the whole source (shared evenly by the
//                         splits); 0 (default) = as fast as possible.
//   splits                number of splits, default 1 (max 1024); reader tasks (`readers`)
//                         default to one per split. Split k emits the events with global
//                         index i where i % splits == k, so the union of all splits is the
//                         same whatever the split count.
//   initial_splits        splits that exist at the start, default `splits`; one more is
//                         added every split_interval (default 1s) until all exist.
//   rebalance_interval    default 0 (never): this often one split is taken back from its
//                         reader task and given to another (a consumer-group rebalance).
//   start                 event time of the first event, default '2024-01-01T00:00:00Z'.
//   interval              event-time step between consecutive events, default '10ms'.
//   out_of_order          fraction 0..1 of events whose time is moved back by a uniform
//                         amount in (0, max_out_of_orderness]. Default 0.
//   max_out_of_orderness  default '5 seconds'.
//   late                  fraction 0..1 of events moved back by 2x..10x
//                         max_out_of_orderness (late for a watermark with that delay).
//                         out_of_order + late <= 1. Default 0.
//   malformed             fraction 0..1 of events emitted broken: truncated JSON,
//                         non-JSON text, or wrong types ("user_id":"abc", bad "ts").
//   users                 distinct users, default 1000.
//   pages                 distinct product pages (/product/1 .. /product/N), default 100.
//   timestamp_format      'iso' (default: "2024-01-01T00:00:00.010Z") or 'epoch_ms'.
//   format                'json' only (accepted for symmetry with other sources).
//
// Records are JSON lines; a record's offset is its global event index and its line -1.
// position() is the global index of the split's next event. Readers are owned by one
// source task each; poll() never sleeps more than 20 ms (rate pacing returns kIdle).
#pragma once

#include <memory>

#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_generator_source_factory(const SourceSpec& spec);

}  // namespace sluice
