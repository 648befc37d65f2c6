// RecordBatch: the unit of data that flows between operators and tasks.
//
// Columnar, up to kDefaultBatchRows rows: one Column per schema field. A batch is built by
// one thread and immutable once sent (BatchPtr is a shared_ptr<const RecordBatch>), so it
// can be handed across threads by pointer without copying.
//
// Optional per-row side vectors travel with the data:
//  - row_kinds: the changelog operation of each row (empty = all inserts);
//  - row_watermarks: on the source side of a job, the watermark of the row's source split
//    at the moment the row arrived. Window operators use it to decide lateness exactly the
//    same way whatever the batch size (see docs/architecture.md, "Time");
//  - row_records + origin: on the source side of a job whose source has a late-data
//    output, the raw records the rows were decoded from and each row's record, so a late
//    row is written out as its input record (formats/late_output.h).
#pragma once

#include <memory>
#include <vector>

#include "types/column.h"
#include "types/schema.h"

namespace sluice {

inline constexpr size_t kDefaultBatchRows = 4096;

class RecordOrigin;  // formats/late_output.h

enum class RowKind : uint8_t {
  kInsert = 0,        // +I
  kUpdateBefore = 1,  // -U (retracts the previous value of an updated row)
  kUpdateAfter = 2,   // +U (new value of an updated row)
  kDelete = 3,        // -D
};
const char* row_kind_short_name(RowKind kind);  // "+I", "-U", "+U", "-D"

struct RecordBatch {
  SchemaPtr schema;
  std::vector<Column> columns;
  size_t num_rows = 0;
  std::vector<RowKind> row_kinds;       // empty, or num_rows entries
  std::vector<int64_t> row_watermarks;  // empty, or num_rows entries
  std::shared_ptr<RecordOrigin> origin;  // null, or the records of every row
  std::vector<uint32_t> row_records;     // with origin: num_rows record indexes

  RecordBatch() = default;
  explicit RecordBatch(SchemaPtr s);

  const Column& column(size_t i) const { return columns[i]; }
  Column& mutable_column(size_t i) { return columns[i]; }
  RowKind row_kind(size_t row) const { return row_kinds.empty() ? RowKind::kInsert : row_kinds[row]; }
  bool is_insert_only() const;
  // Copies the per-row side vectors of `other`, which has the same rows (a projection).
  void copy_side_vectors(const RecordBatch& other);

  // Clears rows, keeping schema and capacity.
  void clear();
  // Recomputes num_rows from the first column (after appending to columns directly).
  void sync_num_rows();
  // Appends rows[i] of `other` (same schema), including side vectors when present (the
  // record provenance only while every row comes from one origin).
  void append_gather(const RecordBatch& other, const uint32_t* rows, size_t n);
  void append_row(const RecordBatch& other, size_t row) {
    uint32_t r = static_cast<uint32_t>(row);
    append_gather(other, &r, 1);
  }
  std::string row_to_string(size_t row) const;
  size_t memory_bytes() const;
};

using BatchPtr = std::shared_ptr<const RecordBatch>;
using MutableBatchPtr = std::shared_ptr<RecordBatch>;

inline MutableBatchPtr make_batch(SchemaPtr schema) {
  return std::make_shared<RecordBatch>(std::move(schema));
}

}  // namespace sluice
