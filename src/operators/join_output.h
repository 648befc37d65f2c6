// JoinOutputBuilder: the output batches of a join operator (regular, interval, window join),
// built row by row into one reused batch and emitted when full or at the end of a step.
// A batch whose rows are all +I is sent without row kinds (insert-only).
//
// Lifecycle: one per operator instance; used by its task thread only.
#pragma once

#include <utility>

#include "runtime/operator.h"

namespace sluice {

class JoinOutputBuilder {
 public:
  JoinOutputBuilder(SchemaPtr schema, size_t batch_size) : schema_(std::move(schema)), batch_size_(batch_size) {}
  RecordBatch& batch() {
    if (!batch_) batch_ = make_batch(schema_);
    return *batch_;
  }
  // Call after appending one row's columns to batch().
  Status row_done(RowKind kind, Output& out) {
    RecordBatch& b = *batch_;
    b.num_rows++;
    b.row_kinds.push_back(kind);
    if (b.num_rows >= batch_size_) return flush(out);
    return Status::ok();
  }
  // Row `row` of `rows` (the columns of one side, starting at output column `offset`) with
  // NULLs in every other column: an outer row without partner.
  Status padded_row(const RecordBatch& rows, size_t row, size_t offset, RowKind kind, Output& out) {
    RecordBatch& b = batch();
    const size_t width = rows.columns.size();
    for (size_t col = 0; col < b.columns.size(); ++col) {
      if (col >= offset && col < offset + width) {
        b.columns[col].append_from(rows.column(col - offset), row);
      } else {
        b.columns[col].append_null();
      }
    }
    return row_done(kind, out);
  }
  Status flush(Output& out) {
    if (!batch_ || batch_->num_rows == 0) return Status::ok();
    bool insert_only = true;
    for (RowKind k : batch_->row_kinds) insert_only = insert_only && k == RowKind::kInsert;
    if (insert_only) batch_->row_kinds.clear();
    MutableBatchPtr b = std::move(batch_);
    batch_.reset();
    return out.emit(std::move(b));
  }

 private:
  SchemaPtr schema_;
  size_t batch_size_;
  MutableBatchPtr batch_;
};

}  // namespace sluice
