// Binary encoding of column values and whole RecordBatches for checkpointed state (group
// keys, buffered rows), on top of ByteWriter/ByteReader (common/serde.h).
//
// One value (write_column_value): a tag byte — bit 7 set when the value is present, bits
// 0-6 the TypeId — then, when present, the value: int64 for BOOLEAN/BIGINT/TIMESTAMP/
// INTERVAL (and the NULL type), a double for DOUBLE, a length-prefixed string for TEXT.
//
// A batch (write_batch), columnar:
//   varint  column count
//   u8      type of each column
//   u8      flags: bit 0 = row kinds present, bit 1 = row watermarks present
//   varint  row count
//   per column: one validity byte per row (0 = NULL, 1 = value), then the values — int64 or
//               double per row (a NULL row's slot holds whatever the column held), or one
//               length-prefixed string per row (empty for NULL)
//   row kinds: one byte per row (RowKind), when present
//   row watermarks: one int64 per row, when present
//
// Readers are strict and never trust a length: every count is checked against the bytes
// present before anything is allocated, tags and flags must be known values, validity
// bytes and BOOLEAN values must be 0 or 1. Any violation — and any truncation — gives a
// kDataLoss Status and leaves the reader failed (reader.ok() is false).
// Free functions; thread-safe as long as each writer/reader is used by one thread.
#pragma once

#include "common/serde.h"
#include "common/status.h"
#include "types/record_batch.h"

namespace sluice {

// Appends value `row` of `column` (NULL included).
void write_column_value(ByteWriter& writer, const Column& column, size_t row);
// Reads one value written by write_column_value and appends it to `out`. The value's type
// must be out.type(); on failure nothing is appended.
Status read_column_value(ByteReader& reader, Column& out);

// Appends the whole batch: every column, and row kinds / row watermarks when present.
void write_batch(ByteWriter& writer, const RecordBatch& batch);
// Reads a batch written by write_batch. Its column count and column types must match
// `schema` (the returned batch carries `schema`).
Result<MutableBatchPtr> read_batch(ByteReader& reader, SchemaPtr schema);

}  // namespace sluice
