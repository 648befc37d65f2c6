// Metadata columns: declared columns of a message source (Kafka, later NATS) that are filled
// from each record's metadata (formats/raw_records.h RecordMetadata) instead of being
// decoded from its bytes:
//
//   _key        TEXT       the message key (NULL when it has none)
//   _topic      TEXT       the topic (stream, subject) the record was read from
//   _partition  BIGINT     the partition
//   _offset     BIGINT     the offset in the partition
//   _timestamp  TIMESTAMP  the broker (or producer) timestamp; NULL when the message has none
//   _headers    TEXT       the headers as a JSON object {"name":"value",...}; a repeated name
//                          keeps its last value
//
// The decoder sees the table without these columns (so CSV field positions and JSON field
// names refer to the payload only); assemble() puts the decoded columns and the metadata
// columns together in declared order. A source declares which fields its records carry in
// its FormatOptions::metadata; make_decoder() then returns a decoder of the declared
// table that does both (make_metadata_decoder()), so the reader task and parallel decode
// threads (runtime/decode_pool.h) need nothing more. Immutable after creation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/format.h"
#include "formats/raw_records.h"
#include "types/record_batch.h"
#include "types/schema.h"

namespace sluice {

// The column name and SQL type of a metadata field ("_key", TEXT).
const char* metadata_column_name(MetadataField field);
TypeId metadata_column_type(MetadataField field);
// The field a column name stands for, if it is one of the names above.
bool metadata_field_of(std::string_view column, MetadataField* field);
// Appends the headers of record `record` as a JSON object (the _headers column's value).
void append_headers_json(std::string& out, const RecordMetadata& metadata, size_t record);

class MetadataColumns {
 public:
  // `schema`: the declared table; `available`: the fields the source fills. A declared
  // column named like an available field must have its type (an error names the column,
  // after `context` when not empty).
  static Result<MetadataColumns> make(const SchemaPtr& schema, const std::vector<MetadataField>& available,
                                      const std::string& context);

  bool empty() const { return fields_.empty(); }
  // The table without the metadata columns: what the decoder decodes.
  const SchemaPtr& payload_schema() const { return payload_schema_; }
  // Builds `out` (the declared schema) from the decoded `payload` rows (moved from) and the
  // metadata of raw record row_records[r] of each row r.
  void assemble(const RawRecords& raw, const std::vector<uint32_t>& row_records, RecordBatch& payload,
                RecordBatch& out) const;

 private:
  SchemaPtr schema_, payload_schema_;
  // For each declared column: >= 0 its index in the payload, or -(1 + field) for metadata.
  std::vector<int> sources_;
  std::vector<MetadataField> fields_;
};

// A decoder of the declared `schema` for records carrying `available` metadata: `payload`
// (a decoder of columns.payload_schema()) decodes, then the metadata columns are added.
// Returns `payload` itself when the table declares no metadata column.
Result<std::unique_ptr<Decoder>> make_metadata_decoder(const SchemaPtr& schema,
                                                       const std::vector<MetadataField>& available,
                                                       const FormatOptions& payload_format);

}  // namespace sluice
