// Physical planning: LogicalJob -> JobSpec (stages, parallelism, exchanges), plus the text
// that `sluice explain` prints.
//
// Rules:
//  - every source occurrence becomes a source stage with one task per split; stateless
//    operators (filters, projections, window assignment, the late-data filter and the
//    pre-projection of an aggregation) are chained into it;
//  - an aggregation starts a new stage with `parallelism` instances (1 for a global
//    aggregate), fed by a hash exchange on the group key;
//  - the sink is chained into the last stage when that stage has one instance, otherwise it
//    gets its own single-instance stage fed by a gather edge (with ordered release, see
//    SinkOperator); with `sink.parallelism = N` (sinks whose target takes several writers)
//    its own stage has N writer instances fed by a hash exchange on the primary key (every
//    column for an append sink), each writer releasing and committing its own rows;
//  - an updating query (GROUP BY without window, allowed lateness) into an append-only sink
//    is refused with an error naming both.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/dead_letter.h"
#include "plan/logical_plan.h"
#include "runtime/job.h"

namespace sluice {

struct PlanOptions {
  int parallelism = 1;
  size_t batch_size = kDefaultBatchRows;
  int decode_threads = 0;  // per source table; 0: `parallelism`
  bool checkpointing = false;  // only for EXPLAIN: sink guarantees depend on it
  std::string checkpoint_dir;  // the job's checkpoint directory ("" without checkpoints), for sources
};

struct SideOutput {
  std::string table;
  std::string kind;  // "dead-letter queue" or "late data"
  std::shared_ptr<DeadLetterQueue> queue;
};

struct PhysicalPlan {
  JobSpec job;
  std::vector<SideOutput> side_outputs;
  std::string explain;  // human-readable plan
};

Result<PhysicalPlan> plan_job(const LogicalJob& job, const PlanOptions& options);

}  // namespace sluice
