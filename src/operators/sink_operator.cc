#include "operators/sink_operator.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "common/serde.h"
#include "operators/commit_latency.h"
#include "runtime/batch_tap.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

// The schema of held rows (the sink's input, hidden order column included).
void write_schema(ByteWriter& w, const Schema& schema) {
  w.varint(schema.size());
  for (const auto& f : schema.fields()) {
    w.str(f.name);
    w.u8(static_cast<uint8_t>(f.type));
    w.u8(f.nullable ? 1 : 0);
  }
}

Result<SchemaPtr> read_schema(ByteReader& r) {
  std::vector<Field> fields(r.count(3));
  for (auto& f : fields) {
    f.name = std::string(r.str());
    f.type = static_cast<TypeId>(r.u8());
    f.nullable = r.u8() != 0;
  }
  RETURN_IF_ERROR(r.status("sink schema"));
  return make_schema(std::move(fields));
}

class SinkOperator : public Operator {
 public:
  explicit SinkOperator(const SinkOperatorSpec& spec) : spec_(spec) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    ASSIGN_OR_RETURN(writer_, spec_.factory().create_writer());
    RETURN_IF_ERROR(writer_->open().with_context(fmt::format("sink {}", spec_.table())));
    last_flush_ = ctx.clock->monotonic_micros();
    transactional_ = ctx.checkpoint.completed != nullptr;
    if (ctx.sink_metrics) {
      latency_.emplace(ctx.sink_metrics->ingest_latency_us, ctx.sink_metrics->event_latency_us, spec_.table());
    }
    return Status::ok();
  }

  Status restore(uint64_t checkpoint_id, StateRestore* state) override {
    std::string_view writer_state;
    if (state) {
      const auto& blobs = state->instance_states();
      // Each writer resumes its own transactions (its commit records are keyed by its
      // instance) and the rows it held back (routed to it by key): the writer count must be
      // the one checkpointed.
      if (!blobs.empty() && static_cast<int>(blobs.size()) != ctx_.parallelism) {
        return unsupported("sink {}: the checkpoint has {} writers, this run {}: resume with sink.parallelism = {}",
                           spec_.table(), blobs.size(), ctx_.parallelism, blobs.size());
      }
      const size_t mine = static_cast<size_t>(ctx_.instance);
      if (mine < blobs.size() && !blobs[mine].empty()) {
        const std::string& blob = blobs[mine];
        ByteReader r(blob);
        writer_state = r.str();
        if (r.u8() != 0) {
          ASSIGN_OR_RETURN(SchemaPtr schema, read_schema(r));
          RETURN_IF_ERROR(check_held_schema(*schema));
          ASSIGN_OR_RETURN(pending_, read_batch(r, schema));
        }
        RETURN_IF_ERROR(r.status("sink state"));
      }
    }
    SinkIdentity identity{ctx_.checkpoint.job_id, fmt::format("{}/{}", spec_.id, ctx_.instance),
                          ctx_.checkpoint.new_job, ctx_.checkpoint.start_over, ctx_.checkpoint.checkpoint_dir};
    return writer_->recover(identity, state ? checkpoint_id : 0, writer_state)
        .with_context(fmt::format("sink {}", spec_.table()));
  }

  Status snapshot(uint64_t checkpoint_id, StateWriter& w) override {
    ASSIGN_OR_RETURN(std::string txn, writer_->pre_commit(checkpoint_id));
    dirty_ = false;
    if (latency_) latency_->seal(checkpoint_id);
    std::string blob;
    ByteWriter bw(&blob);
    bw.str(txn);
    bool has_pending = pending_ && pending_->num_rows > 0;
    bw.u8(has_pending ? 1 : 0);
    if (has_pending) {
      write_schema(bw, *pending_->schema);
      write_batch(bw, *pending_);
    }
    w.put_instance_state(blob);
    return Status::ok();
  }

  Status on_checkpoint_complete(uint64_t checkpoint_id) override {
    RETURN_IF_ERROR(writer_->commit(checkpoint_id));
    if (latency_) latency_->committed(checkpoint_id, ctx_.clock->unix_micros());
    return Status::ok();
  }

  // A sink fed without pause (no watermarks, never idle) flushes on its interval too.
  Status process(int, const BatchPtr& batch, Output&) override {
    RETURN_IF_ERROR(accept(batch));
    return flush_if_due();
  }

  Status on_watermark(Micros wm, Output&) override {
    if (pending_ && pending_->num_rows > 0) RETURN_IF_ERROR(release(wm));
    return flush_if_due();
  }

  Status on_idle_tick(Output&) override { return flush_if_due(); }

  Status finish(Output&) override {
    if (pending_ && pending_->num_rows > 0) RETURN_IF_ERROR(release(kMaxWatermark));
    // Transactional: the final checkpoint pre-commits what is left.
    return transactional_ ? Status::ok() : flush();
  }

  Status close() override {
    if (!writer_) return Status::ok();
    Status s = writer_->close();
    writer_.reset();
    return s;
  }

 private:
  // Writes the batch's visible columns, or holds its rows for ordered release.
  Status accept(const BatchPtr& batch) {
    if (ctx_.tap) ctx_.tap->offer(batch);
    if (spec_.order_column() < 0) {
      if (batch->columns.size() == spec_.schema()->size()) return write(*batch);
      // Drop hidden trailing columns the planner added.
      RecordBatch visible(spec_.schema());
      for (size_t c = 0; c < visible.columns.size(); ++c) visible.columns[c] = batch->columns[c];
      visible.num_rows = batch->num_rows;
      visible.row_kinds = batch->row_kinds;
      return write(visible);
    }
    if (!pending_) pending_ = make_batch(batch->schema);
    std::vector<uint32_t> all(batch->num_rows);
    std::iota(all.begin(), all.end(), 0u);
    pending_->append_gather(*batch, all.data(), all.size());
    return Status::ok();
  }

  // Rows count for the latency histograms when written (rows held for ordered release
  // carry the stamp of the batch whose watermark released them).
  Status write(const RecordBatch& batch) {
    ctx_.metrics->add_out(batch.num_rows);
    dirty_ = true;
    if (latency_ && ctx_.timing) latency_->add(*ctx_.timing, batch.num_rows);
    return writer_->write(batch);
  }
  // Without checkpoints a flush is the commit (a background flush: its start, the
  // writer applies the rows right after).
  Status flush() {
    RETURN_IF_ERROR(writer_->flush());
    if (latency_) latency_->flushed(ctx_.clock->unix_micros());
    return Status::ok();
  }
  // Without checkpoints: a background flush once `sink.flush_interval` has passed since the
  // last one (with checkpoints the commit is the flush).
  Status flush_if_due() {
    if (!dirty_ || transactional_) return Status::ok();
    const Micros now = ctx_.clock->monotonic_micros();
    if (now - last_flush_ < spec_.flush_interval()) return Status::ok();
    last_flush_ = now;
    dirty_ = false;
    return start_flush();
  }
  Status start_flush() {
    RETURN_IF_ERROR(writer_->start_flush());
    if (latency_) latency_->flushed(ctx_.clock->unix_micros());
    return Status::ok();
  }

  // Rows held for ordered release are restored only into a sink that releases them the same
  // way: the sink's columns plus the hidden order column.
  Status check_held_schema(const Schema& held) const {
    const Schema& visible = *spec_.schema();
    bool same = spec_.order_column() >= 0 && held.size() == visible.size() + 1;
    for (size_t c = 0; same && c < visible.size(); ++c) same = held.field(c).type == visible.field(c).type;
    if (same) return Status::ok();
    return invalid_argument(
        "sink {}: the checkpoint holds rows waiting for ordered release as {}, but this job's sink takes {}{}; resume "
        "with the job that took the checkpoint",
        spec_.table(), held.to_string(), visible.to_string(),
        spec_.order_column() >= 0 ? " plus an order column" : " without ordered release");
  }

  // Writes the buffered rows with order value <= wm in canonical order; keeps the rest.
  Status release(Micros wm) {
    const RecordBatch& p = *pending_;
    const Column& order = p.column(static_cast<size_t>(spec_.order_column()));
    std::vector<uint32_t> ready, rest;
    for (size_t r = 0; r < p.num_rows; ++r) {
      (order.is_null(r) || order.int_at(r) <= wm ? ready : rest).push_back(static_cast<uint32_t>(r));
    }
    if (ready.empty()) return Status::ok();
    const size_t oc = static_cast<size_t>(spec_.order_column());
    std::stable_sort(ready.begin(), ready.end(), [&](uint32_t a, uint32_t b) {
      int c = p.columns[oc].compare(a, p.columns[oc], b);
      if (c != 0) return c < 0;
      for (const auto& col : p.columns) {
        c = col.compare(a, col, b);
        if (c != 0) return c < 0;
      }
      return false;
    });
    // Hidden trailing columns (the order column added by the planner) are not written.
    auto out = make_batch(spec_.schema());
    for (size_t c = 0; c < out->columns.size(); ++c) out->columns[c].append_gather(p.columns[c], ready.data(), ready.size());
    out->num_rows = ready.size();
    if (!p.row_kinds.empty()) {
      for (uint32_t r : ready) out->row_kinds.push_back(p.row_kinds[r]);
    }
    MutableBatchPtr keep;
    if (!rest.empty()) {
      keep = make_batch(p.schema);
      keep->append_gather(p, rest.data(), rest.size());
    }
    pending_ = std::move(keep);
    return write(*out);
  }

  const SinkOperatorSpec& spec_;
  std::unique_ptr<SinkWriter> writer_;
  MutableBatchPtr pending_;
  Micros last_flush_ = 0;  // ctx_.clock->monotonic_micros() of the last flush
  bool dirty_ = false;
  bool transactional_ = false;
  std::optional<CommitLatency> latency_;  // with the sink's histograms (OperatorContext::sink_metrics)
};

}  // namespace

std::string SinkOperatorSpec::describe() const {
  auto caps = factory_->capabilities();
  std::string guarantee = sink_guarantee_name(caps.guarantee);
  if (caps.guarantee == SinkGuarantee::kExactlyOnce && !checkpointing_) {
    guarantee = "exactly-once with checkpoints; without: at-least-once";
  }
  return fmt::format("{} -> {} [{}]{}", table_, factory_->describe(), guarantee,
                     order_column_ >= 0 ? fmt::format(" ordered by ${}", order_column_) : "");
}

std::unique_ptr<Operator> SinkOperatorSpec::create() const { return std::make_unique<SinkOperator>(*this); }

}  // namespace sluice
