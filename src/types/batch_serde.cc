#include "types/batch_serde.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

namespace sluice {

namespace {

constexpr uint8_t kPresentBit = 0x80;
constexpr uint8_t kHasRowKinds = 1;
constexpr uint8_t kHasRowWatermarks = 2;
constexpr uint8_t kMaxTypeId = static_cast<uint8_t>(TypeId::kInterval);

bool valid_type_byte(uint8_t b) { return b <= kMaxTypeId; }

// Marks the reader failed and returns a kDataLoss status with `message`.
Status data_loss(ByteReader& reader, std::string message) {
  reader.fail();
  return Status(StatusCode::kDataLoss, std::move(message));
}

// Fewest bytes one row of a column of `type` takes in a batch encoding (validity + value).
size_t min_row_bytes(TypeId type) { return type == TypeId::kString ? 2 : 9; }

// Appends n validity bytes, normalised to 0/1.
void write_validity(ByteWriter& writer, const Column& column, size_t n) {
  std::string& out = writer.buffer();
  const size_t base = out.size();
  out.resize(base + n);
  const uint8_t* valid = column.validity();
  for (size_t i = 0; i < n; ++i) out[base + i] = static_cast<char>(valid[i] != 0);
}

void write_column(ByteWriter& writer, const Column& column, size_t n) {
  write_validity(writer, column, n);
  if (n == 0) return;
  switch (column.type()) {
    case TypeId::kString:
      for (size_t r = 0; r < n; ++r) writer.str(column.is_null(r) ? std::string_view() : column.string_at(r));
      break;
    case TypeId::kFloat64: writer.raw(column.doubles(), n * sizeof(double)); break;
    case TypeId::kBool:
      for (size_t r = 0; r < n; ++r) writer.i64(column.is_valid(r) ? column.int_at(r) != 0 : 0);
      break;
    default: writer.raw(column.ints(), n * sizeof(int64_t)); break;
  }
}

// Reads n rows of a column of `type` into `column` (empty, of that type). The caller has
// checked that the input holds at least n * min_row_bytes(type) bytes.
Status read_column(ByteReader& reader, size_t index, size_t n, Column& column) {
  const TypeId type = column.type();
  if (type == TypeId::kString) {
    std::vector<uint8_t> valid(n);
    if (n > 0) reader.raw(valid.data(), n);
    column.reserve(n);
    uint64_t chars = 0;
    for (size_t r = 0; r < n && reader.ok(); ++r) {
      std::string_view v = reader.str();
      if (valid[r] > 1) return data_loss(reader, fmt::format("checkpointed batch: column {} row {} has validity byte {}", index, r, valid[r]));
      if (valid[r] == 0) {
        if (!v.empty()) return data_loss(reader, fmt::format("checkpointed batch: column {} row {} is NULL but holds text", index, r));
        column.append_null();
        continue;
      }
      chars += v.size();
      if (chars > std::numeric_limits<uint32_t>::max()) {
        return data_loss(reader, fmt::format("checkpointed batch: column {} holds more than 4 GiB of text", index));
      }
      column.append_string(v);
    }
    return reader.status("record batch");
  }
  column.resize_fixed(n);
  if (n == 0) return reader.status("record batch");
  reader.raw(column.mutable_validity(), n);
  if (type == TypeId::kFloat64) {
    reader.raw(column.mutable_doubles(), n * sizeof(double));
  } else {
    reader.raw(column.mutable_ints(), n * sizeof(int64_t));
  }
  RETURN_IF_ERROR(reader.status("record batch"));
  const uint8_t* valid = column.validity();
  for (size_t r = 0; r < n; ++r) {
    if (valid[r] > 1) return data_loss(reader, fmt::format("checkpointed batch: column {} row {} has validity byte {}", index, r, valid[r]));
  }
  if (type == TypeId::kBool) {
    const int64_t* v = column.ints();
    for (size_t r = 0; r < n; ++r) {
      if (valid[r] && (v[r] < 0 || v[r] > 1)) {
        return data_loss(reader, fmt::format("checkpointed batch: column {} row {} has BOOLEAN value {}", index, r, v[r]));
      }
    }
  }
  return Status::ok();
}

}  // namespace

void write_column_value(ByteWriter& writer, const Column& column, size_t row) {
  const TypeId type = column.type();
  if (column.is_null(row)) {
    writer.u8(static_cast<uint8_t>(type));
    return;
  }
  writer.u8(static_cast<uint8_t>(kPresentBit | static_cast<uint8_t>(type)));
  switch (type) {
    case TypeId::kString: writer.str(column.string_at(row)); break;
    case TypeId::kFloat64: writer.f64(column.double_at(row)); break;
    case TypeId::kBool: writer.i64(column.int_at(row) != 0); break;
    default: writer.i64(column.int_at(row)); break;
  }
}

Status read_column_value(ByteReader& reader, Column& out) {
  const uint8_t tag = reader.u8();
  RETURN_IF_ERROR(reader.status("column value"));
  const uint8_t type_byte = tag & static_cast<uint8_t>(~kPresentBit);
  if (!valid_type_byte(type_byte)) return data_loss(reader, fmt::format("checkpointed value has unknown type tag {}", type_byte));
  const TypeId type = static_cast<TypeId>(type_byte);
  if (type != out.type()) {
    return data_loss(reader, fmt::format("checkpointed value is {}, expected {}", type_name(type), type_name(out.type())));
  }
  if ((tag & kPresentBit) == 0) {
    out.append_null();
    return Status::ok();
  }
  switch (type) {
    case TypeId::kString: {
      std::string_view v = reader.str();
      RETURN_IF_ERROR(reader.status("column value"));
      out.append_string(v);
      return Status::ok();
    }
    case TypeId::kFloat64: {
      const double v = reader.f64();
      RETURN_IF_ERROR(reader.status("column value"));
      out.append_double(v);
      return Status::ok();
    }
    default: {
      const int64_t v = reader.i64();
      RETURN_IF_ERROR(reader.status("column value"));
      if (type == TypeId::kBool && v != 0 && v != 1) {
        return data_loss(reader, fmt::format("checkpointed BOOLEAN value is {}", v));
      }
      out.append_int(v);
      return Status::ok();
    }
  }
}

void write_batch(ByteWriter& writer, const RecordBatch& batch) {
  const size_t n = batch.num_rows;
  writer.varint(batch.columns.size());
  for (const Column& c : batch.columns) writer.u8(static_cast<uint8_t>(c.type()));
  const bool kinds = !batch.row_kinds.empty();
  const bool watermarks = !batch.row_watermarks.empty();
  writer.u8(static_cast<uint8_t>((kinds ? kHasRowKinds : 0) | (watermarks ? kHasRowWatermarks : 0)));
  writer.varint(n);
  for (const Column& c : batch.columns) {
    SLUICE_ASSERT(c.size() == n, "write_batch: column of {} rows in a batch of {}", c.size(), n);
    write_column(writer, c, n);
  }
  if (kinds) {
    SLUICE_ASSERT(batch.row_kinds.size() == n, "write_batch: {} row kinds for {} rows", batch.row_kinds.size(), n);
    writer.raw(batch.row_kinds.data(), n);
  }
  if (watermarks) {
    SLUICE_ASSERT(batch.row_watermarks.size() == n, "write_batch: {} row watermarks for {} rows",
                  batch.row_watermarks.size(), n);
    writer.raw(batch.row_watermarks.data(), n * sizeof(int64_t));
  }
}

Result<MutableBatchPtr> read_batch(ByteReader& reader, SchemaPtr schema) {
  const uint64_t num_columns = reader.count(1);  // one type byte each
  RETURN_IF_ERROR(reader.status("record batch"));
  if (num_columns != schema->size()) {
    return data_loss(reader, fmt::format("checkpointed batch has {} columns, expected {} {}", num_columns,
                                         schema->size(), schema->to_string()));
  }
  size_t row_bytes = 0;  // fewest bytes a row takes, to bound the row count by the input
  for (size_t c = 0; c < num_columns; ++c) {
    const uint8_t type_byte = reader.u8();
    RETURN_IF_ERROR(reader.status("record batch"));
    const Field& field = schema->field(c);
    if (!valid_type_byte(type_byte)) {
      return data_loss(reader, fmt::format("checkpointed batch column {} has unknown type tag {}", c, type_byte));
    }
    const TypeId type = static_cast<TypeId>(type_byte);
    if (type != field.type) {
      return data_loss(reader, fmt::format("checkpointed batch column {} is {}, expected {} (column '{}')", c,
                                           type_name(type), type_name(field.type), field.name));
    }
    row_bytes += min_row_bytes(type);
  }
  const uint8_t flags = reader.u8();
  RETURN_IF_ERROR(reader.status("record batch"));
  if (flags & ~(kHasRowKinds | kHasRowWatermarks)) {
    return data_loss(reader, fmt::format("checkpointed batch has unknown flags {:#x}", flags));
  }
  if (flags & kHasRowKinds) row_bytes += 1;
  if (flags & kHasRowWatermarks) row_bytes += sizeof(int64_t);
  const uint64_t num_rows = reader.count(row_bytes);
  RETURN_IF_ERROR(reader.status("record batch"));
  if (num_rows > std::numeric_limits<uint32_t>::max()) {
    return data_loss(reader, fmt::format("checkpointed batch has {} rows, more than a batch can hold", num_rows));
  }
  const size_t n = static_cast<size_t>(num_rows);
  auto batch = make_batch(std::move(schema));
  for (size_t c = 0; c < batch->columns.size(); ++c) RETURN_IF_ERROR(read_column(reader, c, n, batch->columns[c]));
  batch->num_rows = n;
  if (flags & kHasRowKinds) {
    batch->row_kinds.resize(n);
    std::vector<uint8_t> kinds(n);
    if (n > 0) reader.raw(kinds.data(), n);
    RETURN_IF_ERROR(reader.status("record batch"));
    for (size_t r = 0; r < n; ++r) {
      if (kinds[r] > static_cast<uint8_t>(RowKind::kDelete)) {
        return data_loss(reader, fmt::format("checkpointed batch row {} has unknown row kind {}", r, kinds[r]));
      }
      batch->row_kinds[r] = static_cast<RowKind>(kinds[r]);
    }
  }
  if (flags & kHasRowWatermarks) {
    batch->row_watermarks.resize(n);
    if (n > 0) reader.raw(batch->row_watermarks.data(), n * sizeof(int64_t));
    RETURN_IF_ERROR(reader.status("record batch"));
  }
  return batch;
}

}  // namespace sluice
