// JSON views of a running job for the REST API (docs/http-api.md): the physical plan with
// live per-operator statistics, watermarks per split and operator with the reason the
// oldest open window has not fired, the checkpoint history and the newest dead-letter and
// late-data entries.
//
// Threads: called on an HTTP worker thread while the job runs. Everything is read from
// the job's metric series (relaxed atomics), the checkpoint history and the side-output
// ring (short locks each): nothing here waits for a task or takes a lock a task holds
// across a batch.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace sluice::server {

// "" before the first watermark, "end" at the end of the input, else ISO-8601 UTC.
std::string watermark_text(int64_t wm);

nlohmann::json plan_view(const engine::JobHandle& job);
nlohmann::json watermarks_view(const engine::JobHandle& job);
nlohmann::json checkpoints_view(const engine::JobHandle& job);
// `kind`: null for both kinds, else dead letters or late entries only.
nlohmann::json side_records_view(const engine::JobHandle& job, size_t offset, size_t limit,
                                 const SideOutputKind* kind);

}  // namespace sluice::server
