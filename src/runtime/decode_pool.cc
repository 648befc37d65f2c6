#include "runtime/decode_pool.h"

#include "common/assert.h"

namespace sluice {

Result<std::unique_ptr<DecodePool>> DecodePool::create(const FormatOptions& format, SchemaPtr schema,
                                                       Decoder* owner_decoder, int extra_threads, size_t depth) {
  SLUICE_ASSERT(owner_decoder != nullptr && extra_threads >= 0 && depth >= 1, "bad decode pool arguments");
  std::unique_ptr<DecodePool> pool(new DecodePool(schema, owner_decoder, depth));
  for (int i = 0; i < extra_threads; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Decoder> decoder, make_decoder(format, schema));
    pool->worker_decoders_.push_back(std::move(decoder));
  }
  for (auto& decoder : pool->worker_decoders_) {
    pool->workers_.emplace_back([p = pool.get(), d = decoder.get()] { p->worker_loop(d); });
  }
  return pool;
}

DecodePool::DecodePool(SchemaPtr schema, Decoder* owner_decoder, size_t depth)
    : schema_(std::move(schema)), owner_decoder_(owner_decoder), chunks_(depth), states_(depth, SlotState::kFree) {}

DecodePool::~DecodePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

DecodePool::Chunk* DecodePool::acquire() {
  if (in_flight_ == chunks_.size()) return nullptr;
  size_t index = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index = (oldest_ + in_flight_) % chunks_.size();
    SLUICE_ASSERT(states_[index] == SlotState::kFree, "decode pool slot {} is in use", index);
  }
  // A free slot is touched by the owner only (workers take pending slots).
  Chunk& c = chunks_[index];
  c.raw.clear();
  c.tag = nullptr;
  c.batch.reset();
  c.failures.clear();
  c.row_records.clear();
  c.status = Status::ok();
  return &c;
}

void DecodePool::submit(Chunk* chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t index = (oldest_ + in_flight_) % chunks_.size();
    SLUICE_ASSERT(chunk == &chunks_[index], "decode pool: submit() of a chunk that was not acquired last");
    states_[index] = SlotState::kPending;
    ++in_flight_;
  }
  work_.notify_one();
}

int DecodePool::oldest_pending() const {
  for (size_t k = 0; k < in_flight_; ++k) {
    size_t index = (oldest_ + k) % chunks_.size();
    if (states_[index] == SlotState::kPending) return static_cast<int>(index);
  }
  return -1;
}

DecodePool::Chunk* DecodePool::next(bool wait) {
  if (in_flight_ == 0) return nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (states_[oldest_] == SlotState::kDone) return &chunks_[oldest_];
    if (!wait) return nullptr;
    // Rather than wait idle, decode the oldest chunk no worker took yet.
    int p = oldest_pending();
    if (p < 0) {
      decoded_.wait(lock);
      continue;
    }
    const size_t index = static_cast<size_t>(p);
    states_[index] = SlotState::kDecoding;
    lock.unlock();
    decode(owner_decoder_, chunks_[index]);
    lock.lock();
    states_[index] = SlotState::kDone;
  }
}

void DecodePool::release(Chunk* chunk) {
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_ASSERT(in_flight_ > 0 && chunk == &chunks_[oldest_] && states_[oldest_] == SlotState::kDone,
                "decode pool: release() of a chunk that is not the oldest decoded one");
  states_[oldest_] = SlotState::kFree;
  oldest_ = (oldest_ + 1) % chunks_.size();
  --in_flight_;
}

Status DecodePool::share_state(const RawRecords& raw) {
  SLUICE_ASSERT(in_flight_ == 0, "decode pool: share_state() with {} chunks in flight", in_flight_);
  // No chunk is pending, so no worker touches its decoder now; the lock orders these calls
  // before the workers' next decode.
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(owner_decoder_->observe(raw));
  for (auto& d : worker_decoders_) RETURN_IF_ERROR(d->observe(raw));
  return Status::ok();
}

void DecodePool::decode(Decoder* decoder, Chunk& chunk) const {
  chunk.batch = make_batch(schema_);
  chunk.status = decoder->decode(chunk.raw, *chunk.batch, chunk.failures, &chunk.row_records);
}

void DecodePool::worker_loop(Decoder* decoder) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    int p = -1;
    work_.wait(lock, [&] { return stopping_ || (p = oldest_pending()) >= 0; });
    if (stopping_) return;
    const size_t index = static_cast<size_t>(p);
    states_[index] = SlotState::kDecoding;
    lock.unlock();
    decode(decoder, chunks_[index]);
    lock.lock();
    states_[index] = SlotState::kDone;
    decoded_.notify_one();
  }
}

}  // namespace sluice
