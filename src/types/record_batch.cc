#include "types/record_batch.h"

namespace sluice {

const char* row_kind_short_name(RowKind kind) {
  switch (kind) {
    case RowKind::kInsert: return "+I";
    case RowKind::kUpdateBefore: return "-U";
    case RowKind::kUpdateAfter: return "+U";
    case RowKind::kDelete: return "-D";
  }
  return "?";
}

RecordBatch::RecordBatch(SchemaPtr s) : schema(std::move(s)) {
  columns.reserve(schema->size());
  for (const auto& f : schema->fields()) columns.emplace_back(f.type);
}

bool RecordBatch::is_insert_only() const {
  for (RowKind k : row_kinds) {
    if (k != RowKind::kInsert) return false;
  }
  return true;
}

void RecordBatch::clear() {
  for (auto& c : columns) c.clear();
  num_rows = 0;
  row_kinds.clear();
  row_watermarks.clear();
  origin.reset();
  row_records.clear();
}

void RecordBatch::copy_side_vectors(const RecordBatch& other) {
  row_kinds = other.row_kinds;
  row_watermarks = other.row_watermarks;
  origin = other.origin;
  row_records = other.row_records;
}

void RecordBatch::sync_num_rows() { num_rows = columns.empty() ? num_rows : columns[0].size(); }

void RecordBatch::append_gather(const RecordBatch& other, const uint32_t* rows, size_t n) {
  for (size_t c = 0; c < columns.size(); ++c) columns[c].append_gather(other.columns[c], rows, n);
  if (!other.row_kinds.empty() || !row_kinds.empty()) {
    row_kinds.resize(num_rows, RowKind::kInsert);
    for (size_t i = 0; i < n; ++i) row_kinds.push_back(other.row_kind(rows[i]));
  }
  if (!other.row_watermarks.empty()) {
    row_watermarks.resize(num_rows, INT64_MIN);
    for (size_t i = 0; i < n; ++i) row_watermarks.push_back(other.row_watermarks[rows[i]]);
  }
  if (other.origin && (num_rows == 0 || origin == other.origin) && row_records.size() == num_rows) {
    origin = other.origin;
    for (size_t i = 0; i < n; ++i) row_records.push_back(other.row_records[rows[i]]);
  } else if (origin) {
    origin.reset();  // rows of several polls: provenance is not kept
    row_records.clear();
  }
  num_rows += n;
}

std::string RecordBatch::row_to_string(size_t row) const {
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) out += ", ";
    out += columns[c].value_to_string(row);
  }
  return out;
}

size_t RecordBatch::memory_bytes() const {
  size_t total = row_kinds.capacity() + row_watermarks.capacity() * 8 + row_records.capacity() * 4;
  for (const auto& c : columns) total += c.memory_bytes();
  return total;
}

}  // namespace sluice
