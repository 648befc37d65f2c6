// `sluice top URL`: the live per-operator table of a running job, read from its REST API
// (GET /api/v1/jobs, /api/v1/jobs/NAME/plan and /checkpoints; docs/http-api.md), for users
// on a terminal.
//
// Each refresh polls the API, then prints one table per job: every operator of the physical
// plan with its parallelism, records in and out, their rates over the last interval, the
// share of that interval its output was blocked by backpressure, and its watermark; then
// the sources (records, dead letters, late records) and the checkpoint counts. Rates need
// two polls: the first table comes one interval after the start.
//
// Lifecycle: run_top() runs on the calling thread until `iterations` tables were printed
// (0: until the server goes away or `stop` becomes true) and returns. Errors (unreachable
// server, 401, unknown job) are a Status with one line naming the URL.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice::server {

struct TopOptions {
  std::string url;        // http://HOST:PORT (the scheme may be left out)
  std::string job;        // empty: every job the server runs
  std::string token;      // bearer token (the server's --http-token-file); empty: none
  Micros interval_us = 1'000'000;
  int iterations = 0;     // tables to print; 0: until the server is gone or `stop`
  bool clear_screen = false;  // redraw in place (a terminal) instead of appending tables
};

// Renders one job's table from two polls of its plan (`previous` may be null: no rates)
// taken `elapsed_us` apart, and its checkpoint view (may be null).
std::string render_top_table(const nlohmann::json& plan, const nlohmann::json* previous, Micros elapsed_us,
                             const nlohmann::json* checkpoints);

// Polls and prints to `out` (see the header comment). Returns ok when it printed the
// tables asked for, or when the server went away after at least one table (the job ended).
Status run_top(const TopOptions& options, std::FILE* out, const std::atomic<bool>* stop = nullptr);

}  // namespace sluice::server
