#include "operators/process_operator.h"

#include <absl/container/flat_hash_map.h>
#include <cxxabi.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "operators/change_set.h"
#include "common/hash.h"
#include "common/serde.h"
#include "types/batch_serde.h"

namespace sluice {

void encode_ordered_key(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& out) {
  out.clear();
  auto put_u64 = [&](uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  for (int k : key_columns) {
    const Column& c = batch.column(static_cast<size_t>(k));
    if (c.is_null(row)) {
      out.push_back('\0');
      continue;
    }
    out.push_back('\1');
    switch (c.type()) {
      case TypeId::kFloat64: {
        uint64_t bits = std::bit_cast<uint64_t>(c.double_at(row));
        put_u64((bits >> 63) ? ~bits : bits ^ (uint64_t{1} << 63));
        break;
      }
      case TypeId::kString: {
        // 0x00 escaped as 0x00 0xff, ended by 0x00 0x00: byte order = string order.
        for (char ch : c.string_at(row)) {
          out.push_back(ch);
          if (ch == '\0') out.push_back('\xff');
        }
        out.push_back('\0');
        out.push_back('\0');
        break;
      }
      default: put_u64(static_cast<uint64_t>(c.int_at(row)) ^ (uint64_t{1} << 63)); break;
    }
  }
}

namespace {

const char* cell_kind_name(api::Cell::Kind k) {
  switch (k) {
    case api::Cell::Kind::kNull: return "NULL";
    case api::Cell::Kind::kInt64: return "an integer";
    case api::Cell::Kind::kDouble: return "a floating-point number";
    case api::Cell::Kind::kBool: return "a bool";
    case api::Cell::Kind::kText: return "a string";
    case api::Cell::Kind::kTimestamp: return "a Timestamp";
    case api::Cell::Kind::kInterval: return "an Interval";
  }
  return "?";
}

bool cell_fits(api::Cell::Kind k, TypeId t) {
  switch (k) {
    case api::Cell::Kind::kNull: return true;
    case api::Cell::Kind::kInt64:
      return t == TypeId::kInt64 || t == TypeId::kTimestamp || t == TypeId::kInterval || t == TypeId::kFloat64;
    case api::Cell::Kind::kDouble: return t == TypeId::kFloat64;
    case api::Cell::Kind::kBool: return t == TypeId::kBool;
    case api::Cell::Kind::kText: return t == TypeId::kString;
    case api::Cell::Kind::kTimestamp: return t == TypeId::kTimestamp;
    case api::Cell::Kind::kInterval: return t == TypeId::kInterval;
  }
  return false;
}

void append_cell(const api::Cell& cell, Column& out) {
  switch (cell.kind) {
    case api::Cell::Kind::kNull: out.append_null(); break;
    case api::Cell::Kind::kDouble: out.append_double(cell.d); break;
    case api::Cell::Kind::kText: out.append_string(cell.s); break;
    case api::Cell::Kind::kInt64:
      if (out.type() == TypeId::kFloat64) {
        out.append_double(static_cast<double>(cell.i));
      } else {
        out.append_int(cell.i);
      }
      break;
    default: out.append_int(cell.i); break;
  }
}

// A C++ type name for messages (typeid names are mangled).
std::string readable_type_name(const char* mangled) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return mangled;
  std::string out(demangled);
  std::free(demangled);
  return out;
}

// --- Checkpointed state ---
//
// One keyed entry per key holding state values or timers: key = the encoded ordered key
// (encode_ordered_key); value = the key's column values (write_column_value, in key column
// order), varint value count, per value: its state name, the type name it was written for
// (StateCodec::type_name) and its StateSerializer bytes (three length-prefixed strings),
// then varint timer count and the timers' times (i64, ascending). States are named, not
// numbered: state ids are assigned in the order the function first uses each state, which
// differs between runs. The key group is that of the key columns (hash_combine over
// Column::hash_row from 0, as the hash exchange computes it).
// Instance state: i64 watermark (the smallest over the old instances is restored: it only
// serves rows without a row watermark and the clamping of timers set in the past).


class ProcessOperator : public Operator, private api::ProcessContext {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(backend_.num_values()); }
  explicit ProcessOperator(const ProcessConfig& c)
      : c_(c), timers_(TimerOrder{&encoded_keys_}), key_row_(empty_keys_, 0) {
    std::vector<Field> key_fields;
    for (int k : c.key_columns) key_fields.push_back(c.input_schema->field(static_cast<size_t>(k)));
    keys_ = RecordBatch(make_schema(key_fields));
    user_columns_ = c.output_schema->size() - (c.emit_time ? 1 : 0);
  }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    backend_.set_decoder([this](int state_id, std::any& value) { return decode_restored(state_id, value); });
    function_ = c_.function->clone();
    if (!function_) return internal_error("process {}: clone() returned null", c_.function->name());
    return function_->open(*c_.input_schema).with_context(context());
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    const Column* time = c_.time_column >= 0 ? &in.column(static_cast<size_t>(c_.time_column)) : nullptr;
    const bool row_watermarks = !in.row_watermarks.empty();
    for (size_t r = 0; r < in.num_rows; ++r) {
      encode_ordered_key(in, c_.key_columns, r, key_buffer_);
      uint32_t key = key_id(in, c_.key_columns, r);
      set_key(key);
      timer_mode_ = false;
      now_ = row_watermarks ? in.row_watermarks[r] : watermark_;
      if (time != nullptr && time->is_valid(r)) {
        timestamp_ = time->int_at(r);
      } else {
        timestamp_.reset();
      }
      const Micros after_now = now_ == kMaxWatermark ? kMaxWatermark : now_ + 1;
      emit_time_ = timestamp_ && *timestamp_ > after_now ? *timestamp_ : after_now;
      api::RowView row(in, r);
      RETURN_IF_ERROR(function_->process_element(row, *this).with_context(context()));
      RETURN_IF_ERROR(take_restore_error());
    }
    return flush(out);
  }

  Status on_watermark(Micros wm, Output& out) override {
    watermark_ = wm;
    final_ = wm == kMaxWatermark;
    while (!timers_.empty() && timers_.begin()->first <= wm) {
      auto [ts, key] = *timers_.begin();
      timers_.erase(timers_.begin());
      set_key(key);
      timer_mode_ = true;
      now_ = ts;
      timestamp_ = ts;
      emit_time_ = ts;
      RETURN_IF_ERROR(function_->on_timer(ts, *this).with_context(context()));
      RETURN_IF_ERROR(take_restore_error());
    }
    RETURN_IF_ERROR(flush(out));
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override {
    if (watermark_ != kMaxWatermark) return on_watermark(kMaxWatermark, out);
    return flush(out);
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    const bool incremental = w.incremental();
    // Timers by key (ascending: timers_ is ordered by time first).
    std::vector<std::vector<Micros>> timers_of(encoded_keys_.size());
    for (const auto& [ts, key] : timers_) timers_of[key].push_back(ts);
    std::string value, bytes;
    auto write = [&](uint32_t key) -> Status {
      const std::string& encoded = encoded_keys_[key];
      const int key_group = key_group_of(key_hash(key));
      const std::vector<std::any>* values = backend_.values_of(encoded);
      size_t held = 0;
      if (values != nullptr) {
        for (const std::any& a : *values) held += a.has_value() ? 1 : 0;
      }
      if (held == 0 && timers_of[key].empty()) {
        if (incremental) w.remove(key_group, encoded);
        return Status::ok();
      }
      value.clear();
      ByteWriter vw(&value);
      for (const Column& col : keys_.columns) write_column_value(vw, col, key);
      vw.varint(held);
      for (size_t id = 0; held > 0 && id < values->size(); ++id) {
        const std::any& a = (*values)[id];
        if (!a.has_value()) continue;
        const api::StateDescriptor& d = *states_by_id_[id];
        vw.str(d.name);
        if (const auto* restored = std::any_cast<SerializedStateValue>(&a)) {
          vw.str(restored->type_name);  // not read since the restore: saved as it came
          vw.str(restored->bytes);
          continue;
        }
        if (d.codec == nullptr) {
          return unsupported(
              "{}: state '{}' cannot be checkpointed: its C++ type {} has no sluice::api::StateSerializer "
              "(specialize it; see docs/cpp-api.md, \"Checkpoints\")",
              context(), d.name, readable_type_name(d.type.name()));
        }
        bytes.clear();
        ByteWriter bw(&bytes);
        d.codec->write(bw, a);
        vw.str(d.codec->type_name);
        vw.str(bytes);
      }
      vw.varint(timers_of[key].size());
      for (Micros ts : timers_of[key]) vw.i64(ts);
      w.put(key_group, encoded, value);
      return Status::ok();
    };
    RETURN_IF_ERROR(changed_.for_snapshot(incremental, encoded_keys_.size(), write));
    std::string blob;
    ByteWriter(&blob).i64(watermark_);
    w.put_instance_state(blob);
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(keys_.schema);
    std::vector<int> columns(keys_.columns.size());
    std::iota(columns.begin(), columns.end(), 0);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader vr(value);
      for (Column& col : scratch.columns) {
        col.clear();
        RETURN_IF_ERROR(read_column_value(vr, col));
      }
      scratch.num_rows = 1;
      encode_ordered_key(scratch, columns, 0, key_buffer_);
      if (key_buffer_ != key) return Status(StatusCode::kDataLoss, "process state: a key does not match its values");
      if (key_ids_.contains(key_buffer_)) return Status(StatusCode::kDataLoss, "process state holds a key twice");
      const uint32_t id = key_id(scratch, columns, 0);
      const uint64_t num_values = vr.count(3);
      for (uint64_t i = 0; i < num_values && vr.ok(); ++i) {
        std::string_view name = vr.str();
        SerializedStateValue v;
        v.type_name = std::string(vr.str());
        v.bytes = std::string(vr.str());
        if (!vr.ok()) break;
        const api::StateDescriptor& d = descriptor(name, typeid(void), nullptr);
        backend_.put_serialized(encoded_keys_[id], d.id, std::move(v));
      }
      const uint64_t num_timers = vr.count(8);
      for (uint64_t i = 0; i < num_timers && vr.ok(); ++i) timers_.insert({vr.i64(), id});
      if (vr.ok() && !vr.at_end()) vr.fail();
      return vr.status("process function state");
    }));
    bool any = false;
    Micros watermark = kMaxWatermark;
    for (const auto& blob : state->instance_states()) {
      if (blob.empty()) continue;
      ByteReader r(blob);
      watermark = std::min(watermark, r.i64());
      RETURN_IF_ERROR(r.status("process function instance state"));
      any = true;
    }
    if (any) {
      watermark_ = watermark;
      now_ = watermark;
      final_ = watermark == kMaxWatermark;
    }
    return Status::ok();
  }

 private:
  // Timers ordered by (time, encoded key): deterministic, data-defined firing order.
  struct TimerOrder {
    const std::deque<std::string>* keys;
    bool operator()(const std::pair<Micros, uint32_t>& a, const std::pair<Micros, uint32_t>& b) const {
      if (a.first != b.first) return a.first < b.first;
      if (a.second == b.second) return false;
      return (*keys)[a.second] < (*keys)[b.second];
    }
  };

  std::string context() const { return fmt::format("process {}", c_.function->name()); }

  // The id of the key in key_buffer_ (the encoding of `key_columns` of row `row` of `in`),
  // created when new.
  uint32_t key_id(const RecordBatch& in, const std::vector<int>& key_columns, size_t row) {
    auto it = key_ids_.find(key_buffer_);
    if (it != key_ids_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(encoded_keys_.size());
    key_ids_.emplace(key_buffer_, id);
    encoded_keys_.push_back(key_buffer_);
    for (size_t k = 0; k < key_columns.size(); ++k) {
      keys_.columns[k].append_from(in.column(static_cast<size_t>(key_columns[k])), row);
    }
    keys_.num_rows++;
    return id;
  }

  // The hash the hash exchange computes for rows of `key` (its key group's).
  uint64_t key_hash(uint32_t key) const {
    uint64_t hash = 0;
    for (const Column& col : keys_.columns) hash = hash_combine(hash, col.hash_row(key));
    return hash;
  }

  // Decodes a restored value once the function reads its state (the state's C++ type is
  // known from then on). A failure is reported after the current callback returns.
  bool decode_restored(int state_id, std::any& value) {
    const api::StateDescriptor& d = *states_by_id_[static_cast<size_t>(state_id)];
    SerializedStateValue restored = std::move(*std::any_cast<SerializedStateValue>(&value));
    value.reset();
    if (d.codec == nullptr) {
      restore_error_ = unsupported(
          "{}: state '{}' holds values restored from a checkpoint, but its C++ type {} has no "
          "sluice::api::StateSerializer to read them",
          context(), d.name, readable_type_name(d.type.name()));
      return false;
    }
    if (restored.type_name != d.codec->type_name) {
      restore_error_ = invalid_argument("{}: state '{}' was checkpointed as {} but is now read as {}", context(), d.name,
                                        readable_type_name(restored.type_name.c_str()),
                                        readable_type_name(d.codec->type_name));
      return false;
    }
    ByteReader in(restored.bytes);
    d.codec->read(in, value);
    if (!in.ok() || !in.at_end()) {
      value.reset();
      restore_error_ = Status(StatusCode::kDataLoss, fmt::format("{}: malformed checkpointed value of state '{}' ({})",
                                                                 context(), d.name, readable_type_name(d.codec->type_name)));
      return false;
    }
    return true;
  }

  Status take_restore_error() {
    if (restore_error_.is_ok()) return Status::ok();
    Status s = std::move(restore_error_);
    restore_error_ = Status::ok();
    return s;
  }

  void set_key(uint32_t key) {
    if (track_) changed_.mark(key);
    key_ = key;
    backend_.set_current_key(encoded_keys_[key]);
    key_row_ = api::RowView(keys_, key);
  }

  Status flush(Output& out) {
    for (auto& full : full_) RETURN_IF_ERROR(out.emit(std::move(full)));
    full_.clear();
    if (!pending_ || pending_->num_rows == 0) return Status::ok();
    BatchPtr b = std::move(pending_);
    pending_.reset();
    return out.emit(std::move(b));
  }

  // ProcessContext
  std::optional<Micros> timestamp() const override { return timestamp_; }
  Micros current_watermark() const override { return now_; }
  const api::RowView& key() const override { return key_row_; }

  void register_event_time_timer(Micros ts) override {
    if (timer_mode_ && final_) return;  // nothing follows the end of the input
    if (ts <= now_) {
      if (now_ == kMaxWatermark) return;
      ts = now_ + 1;
    }
    timers_.insert({ts, key_});
  }
  void delete_event_time_timer(Micros ts) override { timers_.erase({ts, key_}); }

  Status emit_cells(const api::Cell* cells, size_t count) override {
    const Schema& s = *c_.output_schema;
    if (count != user_columns_) {
      return invalid_argument("emit: the output has {} columns {}, got {} values", user_columns_, s.to_string(), count);
    }
    for (size_t i = 0; i < count; ++i) {
      if (!cell_fits(cells[i].kind, s.field(i).type)) {
        return type_error("emit: column {} '{}' is {} but the value is {}", i + 1, s.field(i).name,
                          type_name(s.field(i).type), cell_kind_name(cells[i].kind));
      }
    }
    if (!pending_) pending_ = make_batch(c_.output_schema);
    for (size_t i = 0; i < count; ++i) append_cell(cells[i], pending_->columns[i]);
    if (c_.emit_time) pending_->columns[count].append_int(emit_time_);
    pending_->num_rows++;
    if (pending_->num_rows >= c_.batch_size) {
      // Emitted from inside a callback: the batch goes out at the end of the call via
      // flush(); a full batch is parked so the next row starts a new one.
      full_.push_back(std::move(pending_));
      pending_.reset();
    }
    return Status::ok();
  }

  api::KeyedStateBackend& state_backend() override { return backend_; }
  const api::StateDescriptor& state_descriptor(std::string_view name, std::type_index type,
                                              const api::StateCodec* codec) override {
    const api::StateDescriptor& d = descriptor(name, type, codec);
    SLUICE_ASSERT(d.type == type, "process {}: state '{}' is used with two different C++ types", c_.function->name(),
                  d.name);
    return d;
  }

  // The descriptor of state `name`, created when new. typeid(void): a state known only from
  // a checkpoint so far; its type and codec are set when the function first uses it.
  const api::StateDescriptor& descriptor(std::string_view name, std::type_index type, const api::StateCodec* codec) {
    auto it = states_.find(name);
    if (it == states_.end()) {
      api::StateDescriptor d;
      d.id = static_cast<int>(states_.size());
      d.name = std::string(name);
      d.type = type;
      d.codec = codec;
      it = states_.emplace(d.name, d).first;
      states_by_id_.push_back(&it->second);
    } else if (it->second.type == typeid(void) && type != typeid(void)) {
      it->second.type = type;
      it->second.codec = codec;
    }
    return it->second;
  }

  const ProcessConfig& c_;
  std::unique_ptr<api::KeyedProcessFunction> function_;
  InMemoryKeyedStateBackend backend_;
  std::map<std::string, api::StateDescriptor, std::less<>> states_;
  std::vector<api::StateDescriptor*> states_by_id_;  // into states_ (map nodes are stable)
  absl::flat_hash_map<std::string, uint32_t> key_ids_;
  // A deque: the backend keeps a view of the current key's bytes, so they must not move.
  std::deque<std::string> encoded_keys_;
  RecordBatch keys_;
  RecordBatch empty_keys_;
  std::set<std::pair<Micros, uint32_t>, TimerOrder> timers_;
  std::string key_buffer_;
  size_t user_columns_ = 0;

  // The current call.
  uint32_t key_ = 0;
  api::RowView key_row_;
  bool timer_mode_ = false;
  bool final_ = false;
  Micros now_ = kMinWatermark;
  std::optional<Micros> timestamp_;
  Micros emit_time_ = kMinWatermark;

  Micros watermark_ = kMinWatermark;
  MutableBatchPtr pending_;
  std::vector<MutableBatchPtr> full_;

  // Checkpoints.
  bool track_ = false;    // incremental snapshots: remember changed keys for incremental snapshots
  ChangeSet changed_;   // keys whose state or timers may have changed since the last snapshot
  Status restore_error_;  // a restored value that could not be decoded (see decode_restored)
};

}  // namespace

std::string ProcessOperatorSpec::describe() const {
  std::string keys;
  for (int k : config_.key_columns) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
  return fmt::format("{} by [{}] -> {}{}", config_.function->name(), keys, config_.output_schema->to_string(),
                     config_.emit_time ? " with emit time" : "");
}

std::unique_ptr<Operator> ProcessOperatorSpec::create() const { return std::make_unique<ProcessOperator>(config_); }

}  // namespace sluice
