// StreamElement: what travels on a channel between tasks. Data batches and control
// elements share one FIFO per channel, so watermarks and (later) checkpoint barriers stay
// in order with the data they describe ("in-band").
#pragma once

#include <cstdint>

#include "common/time_util.h"
#include "runtime/batch_timing.h"
#include "types/record_batch.h"

namespace sluice {

enum class ElementKind : uint8_t {
  kBatch,      // batch: a RecordBatch
  kWatermark,  // watermark: no record with event time < watermark will follow on this channel
  kIdle,       // the channel's upstream has been idle past its idle timeout: ignore its watermark
  kBarrier,    // checkpoint barrier (barrier_id); aligned at multi-input tasks
  kEnd,        // the upstream instance finished; nothing follows
};

struct StreamElement {
  ElementKind kind = ElementKind::kBatch;
  int channel = 0;  // index of the input channel at the receiving task (set by the sender)
  BatchPtr batch;
  Micros watermark = kMinWatermark;
  uint64_t barrier_id = 0;
  BatchTiming timing;  // batches: the sender's stamp (runtime/batch_timing.h)
};

}  // namespace sluice
