#include "scoring/scoring_operator.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/assert.h"
#include "common/serde.h"
#include "formats/json_encoder.h"
#include "types/batch_serde.h"

namespace sluice {

Status ScoringOptions::validate() const {
  if (max_in_flight < 1) return invalid_argument("score: max_in_flight must be at least 1");
  if (batch_rows < 1) return invalid_argument("score: batch_size must be at least 1");
  if (client.timeout_us <= 0) return invalid_argument("score: timeout must be positive");
  RETURN_IF_ERROR(client.retry.validate().with_context("score"));
  return client.breaker.validate().with_context("score");
}

SchemaPtr scoring_output_schema(const Schema& input, const std::string& result, const std::string& ingested,
                                const std::string& decided) {
  std::vector<Field> fields = input.fields();
  fields.push_back(Field{result, TypeId::kString, true});
  fields.push_back(Field{ingested, TypeId::kTimestamp, true});
  fields.push_back(Field{decided, TypeId::kTimestamp, true});
  return make_schema(std::move(fields));
}

ScoringOperatorSpec::ScoringOperatorSpec(ScoringOptions options, ExprPtr body, size_t row_columns,
                                         SchemaPtr input_schema, SchemaPtr output_schema)
    : options_(std::move(options)),
      body_(std::move(body)),
      row_columns_(row_columns == 0 ? input_schema->size() : row_columns),
      input_schema_(std::move(input_schema)),
      output_schema_(std::move(output_schema)) {
  SLUICE_ASSERT(output_schema_->size() == input_schema_->size() + 3, "scoring output schema has {} columns, not {}",
                output_schema_->size(), input_schema_->size() + 3);
}

std::string ScoringOperatorSpec::describe() const {
  return fmt::format("score url={} body={} timeout={}ms max_in_flight={} batch_size={} {} attempts={} {}",
                     options_.client.url, body_ ? body_->to_string() : "row", options_.client.timeout_us / 1000,
                     options_.max_in_flight, options_.batch_rows, options_.ordered ? "ordered" : "unordered",
                     options_.client.retry.max_attempts,
                     options_.dead_letters ? "failed rows -> dlq " + options_.dead_letters->path
                                           : "fallback=" + (options_.fallback ? *options_.fallback : "NULL"));
}

Status ScoringDeadLetters::begin(bool resumed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!begun_) {
    begun_ = true;
    begin_status_ = queue->begin_run(resumed);
  }
  return begin_status_;
}

namespace {

class ScoringOperator final : public Operator {
 public:
  explicit ScoringOperator(const ScoringOperatorSpec& spec)
      : spec_(spec), options_(spec.options()), encoder_(FormatOptions{}, spec.input_schema()) {
    for (size_t c = spec.row_columns(); c < spec.input_schema()->size(); ++c) encoder_.omit_column(c);
  }
  ~ScoringOperator() override { client_.reset(); }  // the I/O thread goes before the calls it holds

  Status open(const OperatorContext& ctx) override {
    RETURN_IF_ERROR(Operator::open(ctx));
    RETURN_IF_ERROR(options_.validate());
    MetricsRegistry& registry = ctx.registry ? *ctx.registry : own_registry_;
    metrics_ = std::make_unique<ScoringMetrics>(registry, ctx.metrics_job, spec_.id, ctx.instance);
    AsyncWaker* waker = ctx.waker;
    ASSIGN_OR_RETURN(client_, ScoringClient::start(options_.client, *ctx.clock, metrics_.get(), [waker] {
                       if (waker) waker->wake();
                     }));
    return Status::ok();
  }

  Status close() override {
    client_.reset();
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    if (batch->num_rows == 0) return Status::ok();
    RETURN_IF_ERROR(enqueue(batch, ctx_.timing ? *ctx_.timing : BatchTiming{}));
    return pump(out, Wait::kUntilSent);
  }

  Status on_watermark(Micros watermark, Output& out) override {
    if (queue_.empty()) return out.emit_watermark(watermark);
    auto e = std::make_unique<Entry>();
    e->is_watermark = true;
    e->watermark = watermark;
    queue_.push_back(std::move(e));
    return pump(out, Wait::kNo);
  }

  Status finish(Output& out) override {
    RETURN_IF_ERROR(pump(out, Wait::kUntilEmpty));
    if (options_.dead_letters && dlq_begun_) RETURN_IF_ERROR(options_.dead_letters->queue->flush());
    return Status::ok();
  }

  bool has_async_work() const override { return !queue_.empty(); }
  Status poll_async(Output& out) override { return pump(out, Wait::kNo); }

  int64_t state_entries() const override { return static_cast<int64_t>(in_flight_); }

  Status snapshot(uint64_t, StateWriter& writer) override {
    // Dead letters of rows emitted before the barrier are durable with the checkpoint.
    if (options_.dead_letters && dlq_begun_) RETURN_IF_ERROR(options_.dead_letters->queue->flush());
    std::string blob;
    ByteWriter w(&blob);
    w.u8(1);  // format version
    for (const auto& e : queue_) {
      if (e->is_watermark) {
        w.u8(1);
        w.i64(e->watermark);
        continue;
      }
      index_.clear();
      for (const auto& c : e->calls) {
        if (c->emitted) continue;
        for (uint32_t r = c->begin; r < c->end; ++r) index_.push_back(r);
      }
      if (index_.empty()) continue;
      RecordBatch rows(spec_.input_schema());
      rows.append_gather(*e->input, index_.data(), index_.size());
      w.u8(2);
      w.i64(e->timing.ingest_us);
      w.i64(e->timing.event_us);
      write_batch(w, rows);
    }
    w.u8(0);
    writer.put_instance_state(blob);
    return Status::ok();
  }

  Status restore(uint64_t checkpoint_id, StateRestore* state) override {
    resumed_ = checkpoint_id != 0;
    if (!state) return Status::ok();
    const auto& blobs = state->instance_states();
    const bool rescaled = state->old_parallelism() != ctx_.parallelism;
    for (size_t i = 0; i < blobs.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(ctx_.parallelism)) != ctx_.instance || blobs[i].empty()) continue;
      ByteReader r(blobs[i]);
      if (r.u8() != 1) return Status(StatusCode::kDataLoss, fmt::format("score {}: unknown state format", spec_.id));
      while (r.ok()) {
        const uint8_t tag = r.u8();
        if (tag == 0) break;
        if (tag == 1) {
          const Micros wm = r.i64();
          if (!rescaled && !queue_.empty()) {
            auto e = std::make_unique<Entry>();
            e->is_watermark = true;
            e->watermark = wm;
            queue_.push_back(std::move(e));
          }
        } else if (tag == 2) {
          BatchTiming timing;
          timing.ingest_us = r.i64();
          timing.event_us = r.i64();
          ASSIGN_OR_RETURN(MutableBatchPtr rows, read_batch(r, spec_.input_schema()));
          RETURN_IF_ERROR(enqueue(std::move(rows), timing));
        } else {
          return Status(StatusCode::kDataLoss, fmt::format("score {}: corrupt state (tag {})", spec_.id, tag));
        }
      }
      RETURN_IF_ERROR(r.status("score state"));
    }
    return Status::ok();
  }

 private:
  // One call: rows [begin, end) of its entry's input.
  struct Call {
    ScoringCall call;
    uint32_t begin = 0;
    uint32_t end = 0;
    bool sent = false;
    bool done = false;
    bool emitted = false;
  };
  // One input batch (its calls, in row order), or a watermark held behind earlier rows.
  struct Entry {
    bool is_watermark = false;
    Micros watermark = 0;
    BatchPtr input;
    BatchTiming timing;
    Column bodies{TypeId::kString};
    std::vector<std::unique_ptr<Call>> calls;
    size_t next_unsent = 0;      // calls before it were submitted
    size_t emitted_prefix = 0;   // ordered: calls before it were emitted
    size_t emitted_calls = 0;
  };
  enum class Wait { kNo, kUntilSent, kUntilEmpty };

  Status enqueue(BatchPtr input, const BatchTiming& timing) {
    auto e = std::make_unique<Entry>();
    e->input = std::move(input);
    e->timing = timing;
    const size_t n = e->input->num_rows;
    if (spec_.body()) {
      scratch_.reset();
      e->bodies = spec_.body()->eval(*e->input, scratch_);
    } else {
      e->bodies.reserve(n);
      for (size_t r = 0; r < n; ++r) {
        row_json_.clear();
        encoder_.encode_row(*e->input, r, false, row_json_);
        e->bodies.append_string(row_json_);
      }
    }
    const size_t per_call = static_cast<size_t>(options_.batch_rows);
    for (size_t begin = 0; begin < n; begin += per_call) {
      auto c = std::make_unique<Call>();
      c->begin = static_cast<uint32_t>(begin);
      c->end = static_cast<uint32_t>(std::min(n, begin + per_call));
      c->call.owner = c.get();
      c->call.batched = per_call > 1;
      uint32_t rows = 0;
      if (c->call.batched) c->call.body.push_back('[');
      for (uint32_t r = c->begin; r < c->end; ++r) {
        if (e->bodies.is_null(r)) continue;
        if (c->call.batched && rows > 0) c->call.body.push_back(',');
        c->call.body.append(e->bodies.string_at(r));
        ++rows;
      }
      if (c->call.batched) c->call.body.push_back(']');
      c->call.rows = rows;
      if (rows == 0) {  // every body NULL: nothing to ask, the results are NULL
        c->sent = c->done = true;
        c->call.ok = true;
      }
      e->calls.push_back(std::move(c));
    }
    unsent_ += e->calls.size();
    for (const auto& c : e->calls) unsent_ -= c->sent ? 1 : 0;
    queue_.push_back(std::move(e));
    return Status::ok();
  }

  // Takes completed calls, submits waiting ones within the limit and emits what is ready;
  // then waits for completions until `wait` is satisfied.
  Status pump(Output& out, Wait wait) {
    if (options_.dead_letters && !dlq_begun_) {
      dlq_begun_ = true;
      RETURN_IF_ERROR(options_.dead_letters->begin(resumed_));
    }
    while (true) {
      collect();
      submit();
      RETURN_IF_ERROR(options_.ordered ? emit_ordered(out) : emit_unordered(out));
      if (wait == Wait::kNo || (wait == Wait::kUntilSent && unsent_ == 0) ||
          (wait == Wait::kUntilEmpty && queue_.empty())) {
        return Status::ok();
      }
      client_->wait_completed(50 * kMicrosPerMilli);
    }
  }

  void collect() {
    completed_.clear();
    client_->take_completed(&completed_);
    for (ScoringCall* sc : completed_) {
      Call* c = static_cast<Call*>(sc->owner);
      c->done = true;
      --in_flight_;
      if (!sc->ok) metrics_->fallbacks->add(sc->rows);
    }
  }

  void submit() {
    if (unsent_ == 0) return;
    for (auto& e : queue_) {
      if (in_flight_ >= static_cast<size_t>(options_.max_in_flight)) return;
      while (e->next_unsent < e->calls.size() && in_flight_ < static_cast<size_t>(options_.max_in_flight)) {
        Call& c = *e->calls[e->next_unsent++];
        if (c.sent) continue;
        c.sent = true;
        --unsent_;
        ++in_flight_;
        client_->submit(&c.call);
      }
      if (unsent_ == 0) return;
    }
  }

  Status emit_ordered(Output& out) {
    while (!queue_.empty()) {
      Entry& e = *queue_.front();
      if (e.is_watermark) {
        RETURN_IF_ERROR(out.emit_watermark(e.watermark));
        queue_.pop_front();
        continue;
      }
      calls_.clear();
      size_t k = e.emitted_prefix;
      for (; k < e.calls.size() && e.calls[k]->done; ++k) calls_.push_back(e.calls[k].get());
      e.emitted_prefix = k;
      RETURN_IF_ERROR(emit_rows(e, out));
      if (k < e.calls.size()) break;
      queue_.pop_front();
    }
    return Status::ok();
  }

  Status emit_unordered(Output& out) {
    for (size_t i = 0; i < queue_.size();) {
      Entry& e = *queue_[i];
      if (e.is_watermark) {
        if (i != 0) break;  // rows before it are still out: it waits, and so do rows after it
        RETURN_IF_ERROR(out.emit_watermark(e.watermark));
        queue_.pop_front();
        continue;
      }
      calls_.clear();
      for (auto& c : e.calls) {
        if (c->done && !c->emitted) calls_.push_back(c.get());
      }
      RETURN_IF_ERROR(emit_rows(e, out));
      if (e.emitted_calls == e.calls.size()) {
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    return Status::ok();
  }

  // Sends the rows of calls_ (completed calls of `e`) downstream as one batch.
  Status emit_rows(Entry& e, Output& out) {
    index_.clear();
    const bool to_dlq = options_.dead_letters != nullptr;
    for (Call* c : calls_) {
      c->emitted = true;
      ++e.emitted_calls;
      if (to_dlq && !c->call.ok) {
        RETURN_IF_ERROR(dead_letter(e, *c));
        continue;
      }
      for (uint32_t r = c->begin; r < c->end; ++r) index_.push_back(r);
    }
    if (index_.empty()) return Status::ok();
    const RecordBatch& in = *e.input;
    auto batch = make_batch(spec_.output_schema());
    const size_t n_in = in.columns.size();
    for (size_t col = 0; col < n_in; ++col) batch->columns[col].append_gather(in.columns[col], index_.data(), index_.size());
    if (!in.row_kinds.empty()) {
      for (uint32_t r : index_) batch->row_kinds.push_back(in.row_kinds[r]);
    }
    if (!in.row_watermarks.empty()) {
      for (uint32_t r : index_) batch->row_watermarks.push_back(in.row_watermarks[r]);
    }
    Column& result = batch->columns[n_in];
    result.reserve(index_.size());
    for (Call* c : calls_) {
      const ScoringCall& sc = c->call;
      if (to_dlq && !sc.ok) continue;
      uint32_t j = 0;  // index among the call's non-NULL rows
      for (uint32_t r = c->begin; r < c->end; ++r) {
        if (e.bodies.is_null(r)) {
          result.append_null();
        } else if (sc.ok && sc.batched) {
          result.append_string(std::string_view(sc.results_chars)
                                   .substr(sc.result_offsets[j], sc.result_offsets[j + 1] - sc.result_offsets[j]));
          ++j;
        } else if (sc.ok) {
          result.append_string(sc.response);
        } else if (options_.fallback) {
          result.append_string(*options_.fallback);
        } else {
          result.append_null();
        }
      }
    }
    // The row's ingestion (its input batch's stamp) and decision time (now).
    Column& ingested = batch->columns[n_in + 1];
    Column& decided = batch->columns[n_in + 2];
    const Micros now = ctx_.clock->unix_micros();
    for (size_t r = 0; r < index_.size(); ++r) {
      if (e.timing.ingest_us > 0) {
        ingested.append_int(e.timing.ingest_us);
      } else {
        ingested.append_null();
      }
      decided.append_int(now);
    }
    batch->sync_num_rows();
    if (ctx_.output_timing) *ctx_.output_timing = e.timing;
    return out.emit(std::move(batch));
  }

  // The rows of failed call `c` (NULL bodies were not sent and are not letters).
  Status dead_letter(const Entry& e, const Call& c) {
    if (!letters_) letters_ = std::make_unique<SideOutputRows>(SideOutputKind::kDeadLetters);
    const ScoringCall& sc = c.call;
    error_text_ = fmt::format("score {}: {}", scoring_failure_name(sc.failure), sc.error);
    const Micros now = ctx_.clock->unix_micros();
    for (uint32_t r = c.begin; r < c.end; ++r) {
      if (e.bodies.is_null(r)) continue;
      DeadLetter letter;
      letter.source = spec_.id;
      letter.split = ctx_.instance;
      letter.error = error_text_;
      letter.raw = e.bodies.string_at(r);
      letters_->add(letter, now);
    }
    if (letters_->empty()) return Status::ok();
    MutableBatchPtr rows = letters_->take();
    return options_.dead_letters->queue->write_rows(*rows);
  }

  const ScoringOperatorSpec& spec_;
  const ScoringOptions& options_;
  JsonEncoder encoder_;
  MetricsRegistry own_registry_;  // when the job gives none (unit tests)
  std::unique_ptr<ScoringMetrics> metrics_;
  std::deque<std::unique_ptr<Entry>> queue_;
  // Declared after everything the I/O thread touches (calls in queue_, metrics_): destroyed first.
  std::unique_ptr<ScoringClient> client_;
  size_t in_flight_ = 0;
  size_t unsent_ = 0;
  EvalScratch scratch_;
  std::string row_json_;
  std::vector<ScoringCall*> completed_;
  std::vector<uint32_t> index_;
  std::vector<Call*> calls_;
  std::unique_ptr<SideOutputRows> letters_;
  std::string error_text_;
  bool resumed_ = false;
  bool dlq_begun_ = false;
};

}  // namespace

std::unique_ptr<Operator> ScoringOperatorSpec::create() const { return std::make_unique<ScoringOperator>(*this); }

}  // namespace sluice
