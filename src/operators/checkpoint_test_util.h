// Test support: drives the parallel instances of one operator like a job stage, and takes
// and restores real checkpoints of them (a state backend from src/state written into a
// CheckpointStorage), so a test can compare a run interrupted by checkpoints — restored at
// the same or another parallelism — with an uninterrupted one.
//
// StageRunner routes each input batch to instances by the hash of its key columns exactly
// like the hash exchange (runtime/job.cc), broadcasts watermarks, and collects every
// instance's output rows as "+I a, b, c" strings (watermarks as "watermark N").
// CheckpointFixture owns a temporary directory with the checkpoint storage and the state
// backends' working directory. Single-threaded, for tests only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_storage.h"
#include "common/hash.h"
#include "runtime/operator.h"
#include "state/state_backend.h"

namespace sluice::testing_checkpoint {

// One input step: a batch or a watermark.
struct Step {
  BatchPtr batch;
  std::optional<Micros> watermark;
  int input = 0;  // logical input of the operator (two-input operators: joins)
};

class CollectingOutput : public Output {
 public:
  // out_key_columns: output columns that hold the routing key, to record each row's key group.
  explicit CollectingOutput(std::vector<int> out_key_columns) : out_keys_(std::move(out_key_columns)) {}
  Status emit(BatchPtr batch) override {
    for (size_t r = 0; r < batch->num_rows; ++r) {
      std::string row = row_kind_short_name(batch->row_kind(r));
      row += ' ';
      row += batch->row_to_string(r);
      rows.push_back(std::move(row));
      uint64_t hash = 0;
      for (int k : out_keys_) hash = hash_combine(hash, batch->column(static_cast<size_t>(k)).hash_row(r));
      key_groups.push_back(key_group_of(hash));
    }
    return Status::ok();
  }
  Status emit_watermark(Micros wm) override {
    std::string row("watermark ");
    row += wm == kMaxWatermark ? std::string("end") : std::to_string(wm);
    rows.push_back(std::move(row));
    key_groups.push_back(-1);
    return Status::ok();
  }
  std::vector<std::string> rows;
  std::vector<int> key_groups;  // per entry of rows; -1 for watermarks

 private:
  std::vector<int> out_keys_;
};

class StageRunner {
 public:
  // in_key_columns: the hash exchange's key columns; out_key_columns: the same key in the
  // output (to check which instance emits which keys).
  // other_input_keys: the exchange's key columns of inputs 1, 2, ... (two-input operators).
  StageRunner(OperatorSpecPtr spec, int parallelism, std::vector<int> in_key_columns, std::vector<int> out_key_columns,
              StateBackend* backend = nullptr, std::vector<std::vector<int>> other_input_keys = {})
      : spec_(std::move(spec)), keys_(std::move(in_key_columns)), other_keys_(std::move(other_input_keys)) {
    for (int i = 0; i < parallelism; ++i) {
      auto inst = std::make_unique<Instance>(out_key_columns);
      inst->op = spec_->create();
      OperatorContext ctx;
      ctx.instance = i;
      ctx.parallelism = parallelism;
      ctx.metrics = &inst->metrics;
      ctx.checkpoint.completed = &completed_;
      ctx.checkpoint.incremental = backend == nullptr || backend->incremental_snapshots();
      EXPECT_TRUE(inst->op->open(ctx).is_ok());
      if (backend) {
        auto store = backend->open_instance(spec_->id, i);
        EXPECT_TRUE(store.is_ok()) << store.status().message();
        if (store.is_ok()) inst->store = std::move(store).value();
      }
      instances_.push_back(std::move(inst));
    }
  }

  int parallelism() const { return static_cast<int>(instances_.size()); }
  Operator& op(int i) { return *instances_[static_cast<size_t>(i)]->op; }
  CollectingOutput& output(int i) { return instances_[static_cast<size_t>(i)]->out; }

  Status feed(const Step& step) {
    if (step.watermark) {
      for (auto& inst : instances_) RETURN_IF_ERROR(inst->op->on_watermark(*step.watermark, inst->out));
      return Status::ok();
    }
    const RecordBatch& b = *step.batch;
    if (instances_.size() == 1) return instances_[0]->op->process(step.input, step.batch, instances_[0]->out);
    const std::vector<int>& keys = step.input == 0 ? keys_ : other_keys_.at(static_cast<size_t>(step.input - 1));
    std::vector<std::vector<uint32_t>> parts(instances_.size());
    for (size_t r = 0; r < b.num_rows; ++r) {
      uint64_t hash = 0;
      for (int k : keys) hash = hash_combine(hash, b.column(static_cast<size_t>(k)).hash_row(r));
      parts[static_cast<size_t>(instance_of_key_group(key_group_of(hash), parallelism()))].push_back(
          static_cast<uint32_t>(r));
    }
    for (size_t i = 0; i < instances_.size(); ++i) {
      if (parts[i].empty()) continue;
      auto part = make_batch(b.schema);
      part->append_gather(b, parts[i].data(), parts[i].size());
      RETURN_IF_ERROR(instances_[i]->op->process(step.input, part, instances_[i]->out));
    }
    return Status::ok();
  }
  Status feed(const std::vector<Step>& steps, size_t begin, size_t end) {
    for (size_t s = begin; s < end && s < steps.size(); ++s) RETURN_IF_ERROR(feed(steps[s]));
    return Status::ok();
  }
  Status finish() {
    for (auto& inst : instances_) RETURN_IF_ERROR(inst->op->finish(inst->out));
    return Status::ok();
  }

  // Snapshots every instance through its InstanceStateStore (the runner needs a backend);
  // appends the checkpoint files to `files`. `incremental` (optional) receives, per
  // instance, whether the backend asked for an incremental snapshot.
  Status snapshot(uint64_t checkpoint_id, std::vector<CheckpointFile>* files, std::vector<bool>* incremental = nullptr) {
    for (auto& inst : instances_) {
      if (!inst->store) return internal_error("snapshot: the runner has no state backend");
      RETURN_IF_ERROR(inst->store->snapshot(
          checkpoint_id,
          [&](StateWriter& w) {
            if (incremental) incremental->push_back(w.incremental());
            return inst->op->snapshot(checkpoint_id, w);
          },
          files));
    }
    return Status::ok();
  }

  // After a restore: the next snapshot must be full (see InstanceStateStore).
  void mark_restored() {
    for (auto& inst : instances_) {
      if (inst->store) inst->store->mark_restored();
    }
  }

  // Rows of every instance, in instance order (watermarks included when asked).
  std::vector<std::string> all_rows(bool with_watermarks) const {
    std::vector<std::string> out;
    for (const auto& inst : instances_) {
      for (const auto& row : inst->out.rows) {
        if (with_watermarks || row.rfind("watermark", 0) != 0) out.push_back(row);
      }
    }
    return out;
  }

 private:
  struct Instance {
    explicit Instance(std::vector<int> out_keys) : out(std::move(out_keys)) {}
    std::unique_ptr<Operator> op;
    OperatorMetrics metrics;
    CollectingOutput out;
    std::unique_ptr<InstanceStateStore> store;
  };
  OperatorSpecPtr spec_;
  std::vector<int> keys_;
  std::vector<std::vector<int>> other_keys_;
  std::atomic<uint64_t> completed_{0};
  std::vector<std::unique_ptr<Instance>> instances_;
};

class CheckpointFixture {
 public:
  CheckpointFixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-ops-chk-XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    storage_ = std::make_unique<CheckpointStorage>(dir_ + "/chk", 100);
    EXPECT_TRUE(storage_->open().is_ok());
  }
  ~CheckpointFixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<StateBackend> backend(const std::string& kind) {
    auto b = make_state_backend(kind, dir_ + "/work");
    EXPECT_TRUE(b.is_ok()) << b.status().message();
    return b.is_ok() ? std::move(b).value() : nullptr;
  }

  // Snapshots every instance of `runner` and writes checkpoint `id`.
  Result<CheckpointInfo> checkpoint(StageRunner& runner, uint64_t id, std::vector<bool>* incremental = nullptr) {
    std::vector<CheckpointFile> files;
    RETURN_IF_ERROR(runner.snapshot(id, &files, incremental));
    ASSIGN_OR_RETURN(CheckpointInfo written, storage_->write(id, files, false));
    return storage_->verify(written.path);
  }

  // Restores every instance of `runner` from checkpoint `info`, taken at `old_parallelism`.
  Status restore(StageRunner& runner, const std::string& operator_id, const CheckpointInfo& info, int old_parallelism) {
    for (int i = 0; i < runner.parallelism(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<StateRestore> state,
                       open_state_restore(*storage_, info, operator_id, old_parallelism, dir_ + "/work"));
      RETURN_IF_ERROR(runner.op(i).restore(info.id, state.get()));
    }
    runner.mark_restored();
    return Status::ok();
  }

 private:
  std::string dir_;
  std::unique_ptr<CheckpointStorage> storage_;
};

// Sorted copy: compare outputs of several instances as multisets.
inline std::vector<std::string> sorted(std::vector<std::string> rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Checks that every row instance `i` of `runner` emitted since row `from` has a key it owns.
inline void expect_only_own_keys(StageRunner& runner, int i, size_t from = 0) {
  const CollectingOutput& out = runner.output(i);
  for (size_t r = from; r < out.rows.size(); ++r) {
    if (out.key_groups[r] < 0) continue;
    EXPECT_EQ(instance_of_key_group(out.key_groups[r], runner.parallelism()), i)
        << "instance " << i << " of " << runner.parallelism() << " emitted a key it does not own: " << out.rows[r];
  }
}

// ---- The three checks every stateful operator gets

// An operator and its whole input (finish() follows the last step).
struct Scenario {
  OperatorSpecPtr spec;            // spec->id must be a valid operator id ("op-1")
  std::vector<int> in_key_columns;   // the hash exchange's keys
  std::vector<int> out_key_columns;  // the same key in the output
  std::vector<Step> steps;
  std::vector<std::vector<int>> other_input_keys;  // keys of inputs 1, ... (joins)
};

// The output of an uninterrupted run at parallelism 1 (watermarks included).
inline std::vector<std::string> uninterrupted(const Scenario& s) {
  StageRunner runner(s.spec, 1, s.in_key_columns, s.out_key_columns, nullptr, s.other_input_keys);
  EXPECT_TRUE(runner.feed(s.steps, 0, s.steps.size()).is_ok());
  EXPECT_TRUE(runner.finish().is_ok());
  return runner.all_rows(true);
}

// A job restarted from a checkpoint: the old runner (and its state stores, which hold the
// RocksDB working databases open) is gone before the new one opens its own.
// Appends the rows of `runner` to `rows` and destroys it.
inline void retire(std::unique_ptr<StageRunner>& runner, std::vector<std::string>& rows, bool with_watermarks) {
  for (const auto& row : runner->all_rows(with_watermarks)) rows.push_back(row);
  runner.reset();
}

// Checkpoint after half the input, restore a fresh instance, feed the rest: the output is
// exactly (order and watermarks included) that of an uninterrupted run.
inline void expect_restore_continues_exactly(const Scenario& s, const std::string& backend_kind) {
  const std::vector<std::string> expected = uninterrupted(s);
  CheckpointFixture fixture;
  auto backend = fixture.backend(backend_kind);
  ASSERT_NE(backend, nullptr);
  const size_t half = s.steps.size() / 2;
  std::vector<std::string> got;
  auto before = std::make_unique<StageRunner>(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  ASSERT_TRUE(before->feed(s.steps, 0, half).is_ok());
  auto info = fixture.checkpoint(*before, 1);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  retire(before, got, true);

  StageRunner after(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  Status restored = fixture.restore(after, s.spec->id, info.value(), 1);
  ASSERT_TRUE(restored.is_ok()) << restored.message();
  ASSERT_TRUE(after.feed(s.steps, half, s.steps.size()).is_ok());
  ASSERT_TRUE(after.finish().is_ok());
  for (const auto& row : after.all_rows(true)) got.push_back(row);
  EXPECT_EQ(got, expected);
}

// 1 instance -> checkpoint -> 2 instances -> checkpoint -> 1 instance: each of the two
// instances restores (and so emits) only the keys it owns, and all the rows emitted, as a
// multiset, are those of an uninterrupted run.
inline void expect_rescale_keeps_every_key(const Scenario& s, const std::string& backend_kind) {
  std::vector<std::string> expected;
  for (const auto& row : uninterrupted(s)) {
    if (row.rfind("watermark", 0) != 0) expected.push_back(row);
  }
  CheckpointFixture fixture;
  auto backend = fixture.backend(backend_kind);
  ASSERT_NE(backend, nullptr);
  const size_t third = s.steps.size() / 3;
  std::vector<std::string> got;
  auto one = std::make_unique<StageRunner>(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  ASSERT_TRUE(one->feed(s.steps, 0, third).is_ok());
  auto first = fixture.checkpoint(*one, 1);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  retire(one, got, false);

  auto two = std::make_unique<StageRunner>(s.spec, 2, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  Status restored = fixture.restore(*two, s.spec->id, first.value(), 1);
  ASSERT_TRUE(restored.is_ok()) << restored.message();
  ASSERT_TRUE(two->feed(s.steps, third, 2 * third).is_ok());
  auto second = fixture.checkpoint(*two, 2);
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  for (int i = 0; i < 2; ++i) expect_only_own_keys(*two, i);
  EXPECT_FALSE(two->output(0).rows.empty());
  EXPECT_FALSE(two->output(1).rows.empty());
  retire(two, got, false);

  StageRunner last(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  restored = fixture.restore(last, s.spec->id, second.value(), 2);
  ASSERT_TRUE(restored.is_ok()) << restored.message();
  ASSERT_TRUE(last.feed(s.steps, 2 * third, s.steps.size()).is_ok());
  ASSERT_TRUE(last.finish().is_ok());
  for (const auto& row : last.all_rows(false)) got.push_back(row);
  EXPECT_EQ(sorted(got), sorted(expected));
}

// RocksDB: a full checkpoint, then incremental ones every `every` steps (only the changes:
// puts and removes), then a restore from the last one: the output is exactly that of an
// uninterrupted run — so removed state stays removed and changed state is the newest.
inline void expect_incremental_checkpoints_restore_exactly(const Scenario& s, size_t every = 2) {
  const std::vector<std::string> expected = uninterrupted(s);
  CheckpointFixture fixture;
  auto backend = fixture.backend("rocksdb");
  ASSERT_NE(backend, nullptr);
  const size_t stop = s.steps.size() * 3 / 4;
  std::vector<std::string> got;
  auto before = std::make_unique<StageRunner>(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  std::vector<bool> incremental;
  std::optional<CheckpointInfo> info;
  uint64_t id = 0;
  for (size_t step = 0; step < stop; step += every) {
    ASSERT_TRUE(before->feed(s.steps, step, std::min(step + every, stop)).is_ok());
    auto written = fixture.checkpoint(*before, ++id, &incremental);
    ASSERT_TRUE(written.is_ok()) << written.status().message();
    info = written.value();
  }
  ASSERT_GE(incremental.size(), 3u);
  EXPECT_FALSE(incremental.front()) << "the first snapshot is full";
  for (size_t i = 1; i < incremental.size(); ++i) EXPECT_TRUE(incremental[i]) << "snapshot " << i + 1;
  retire(before, got, true);

  StageRunner after(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get(), s.other_input_keys);
  Status restored = fixture.restore(after, s.spec->id, *info, 1);
  ASSERT_TRUE(restored.is_ok()) << restored.message();
  ASSERT_TRUE(after.feed(s.steps, stop, s.steps.size()).is_ok());
  ASSERT_TRUE(after.finish().is_ok());
  for (const auto& row : after.all_rows(true)) got.push_back(row);
  EXPECT_EQ(got, expected);
}

}  // namespace sluice::testing_checkpoint
