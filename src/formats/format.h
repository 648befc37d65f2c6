// Formats: decoders turn raw records (JSON lines, CSV lines) into columnar batches;
// encoders turn batches back into bytes for file and console sinks.
//
// A decoder is used by one thread at a time: a reader task's own, or a decode thread of
// its DecodePool (runtime/decode_pool.h).
// A record that cannot be decoded or converted to the declared schema is reported as a
// DecodeFailure (its index and a precise reason: field, expected type, what was found)
// and left out of the batch; the caller routes it to the dead-letter queue.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/raw_records.h"
#include "types/record_batch.h"

namespace sluice {

struct DecodeFailure {
  uint32_t record = 0;  // index into the RawRecords
  std::string error;
};

struct FormatOptions {
  std::string format;        // "json" or "csv"
  // CSV: field delimiter, whether the first line of the input is a header, quote char.
  char csv_delimiter = ',';
  bool csv_header = false;
  // Timestamps given as numbers are epoch values in this unit ("ms" default, "s", "us").
  std::string timestamp_unit = "ms";
  // Encoders: the output is a changelog, so every row carries its operation (+I/-U/+U/-D)
  // as the first field/column, and the CSV header starts with an "op" column.
  bool changelog = false;
  // Decoders of message sources (Kafka): the metadata fields the records carry. Declared
  // columns named after one (formats/metadata_columns.h) are filled from RecordMetadata, the
  // others decoded from the record's bytes. Empty: every column is decoded.
  std::vector<MetadataField> metadata{};
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Decodes every record of `in`, appending good rows to `out` (whose schema was given at
  // creation) and reporting bad ones in `failures`. Never throws; returns a non-ok Status
  // only for a failure that is not the record's fault. When `row_records` is given, the
  // index of the raw record each appended row came from is appended to it (blank records
  // and a CSV header produce no row and no failure).
  virtual Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                        std::vector<uint32_t>* row_records) = 0;
  Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures) {
    return decode(in, out, failures, nullptr);
  }
  // Decoders whose output for a record depends on records before it (the CSV header) say
  // which input changes their state, and take that state in with observe() without decoding
  // rows or logging. Parallel decoding (runtime/decode_pool.h) shows such input to every
  // decoder of a reader task, in order, before any of them decodes the records after it.
  virtual bool changes_state(const RawRecords& in) const { return false; }
  virtual Status observe(const RawRecords& in) { return Status::ok(); }
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Optional text written once at the start of an output (CSV header).
  virtual std::string header() const { return {}; }
  // Appends row `row` of `batch` as one line (with trailing newline) to `out`.
  // When `with_op` is set, the row's changelog operation is included ("op" field/column).
  virtual void encode_row(const RecordBatch& batch, size_t row, bool with_op, std::string& out) const = 0;
};

// Factories. `schema` is the declared schema of the source (decoder) or sink (encoder).
Result<std::unique_ptr<Decoder>> make_decoder(const FormatOptions& options, SchemaPtr schema);
Result<std::unique_ptr<Encoder>> make_encoder(const FormatOptions& options, SchemaPtr schema);

}  // namespace sluice
