#include "formats/metadata_columns.h"

#include "formats/json_encoder.h"

namespace sluice {
namespace {

struct FieldInfo {
  MetadataField field;
  const char* name;
  TypeId type;
};
constexpr FieldInfo kFields[] = {
    {MetadataField::kKey, "_key", TypeId::kString},
    {MetadataField::kTopic, "_topic", TypeId::kString},
    {MetadataField::kPartition, "_partition", TypeId::kInt64},
    {MetadataField::kOffset, "_offset", TypeId::kInt64},
    {MetadataField::kTimestamp, "_timestamp", TypeId::kTimestamp},
    {MetadataField::kHeaders, "_headers", TypeId::kString},
};

}  // namespace

const char* metadata_column_name(MetadataField field) { return kFields[static_cast<int>(field)].name; }
TypeId metadata_column_type(MetadataField field) { return kFields[static_cast<int>(field)].type; }

bool metadata_field_of(std::string_view column, MetadataField* field) {
  for (const FieldInfo& f : kFields) {
    if (column == f.name) {
      *field = f.field;
      return true;
    }
  }
  return false;
}

void append_headers_json(std::string& out, const RecordMetadata& md, size_t record) {
  out.push_back('{');
  for (size_t h = 0; h < md.num_headers(record); ++h) {
    auto [name, value] = md.header(record, h);
    if (h) out.push_back(',');
    append_json_string(out, name);
    out.push_back(':');
    append_json_string(out, value);
  }
  out.push_back('}');
}

Result<MetadataColumns> MetadataColumns::make(const SchemaPtr& schema, const std::vector<MetadataField>& available,
                                              const std::string& context) {
  MetadataColumns out;
  out.schema_ = schema;
  std::vector<Field> payload;
  for (size_t i = 0; i < schema->size(); ++i) {
    const Field& f = schema->field(i);
    MetadataField m;
    bool is_meta = metadata_field_of(f.name, &m);
    if (is_meta) {
      is_meta = false;
      for (MetadataField a : available) is_meta = is_meta || a == m;
    }
    if (!is_meta) {
      out.sources_.push_back(static_cast<int>(payload.size()));
      payload.push_back(f);
      continue;
    }
    if (f.type != metadata_column_type(m)) {
      return invalid_argument("{}{}metadata column '{}' must be {}, not {}", context, context.empty() ? "" : ": ",
                              f.name, type_name(metadata_column_type(m)), type_name(f.type));
    }
    out.sources_.push_back(-(1 + static_cast<int>(m)));
    out.fields_.push_back(m);
  }
  out.payload_schema_ = make_schema(std::move(payload));
  return out;
}

void MetadataColumns::assemble(const RawRecords& raw, const std::vector<uint32_t>& row_records, RecordBatch& payload,
                               RecordBatch& out) const {
  const RecordMetadata& md = raw.metadata;
  const size_t n = payload.num_rows;
  const bool has = !md.empty();
  std::string headers;
  for (size_t c = 0; c < sources_.size(); ++c) {
    Column& col = out.mutable_column(c);
    if (sources_[c] >= 0) {
      col = std::move(payload.mutable_column(static_cast<size_t>(sources_[c])));
      continue;
    }
    const auto field = static_cast<MetadataField>(-sources_[c] - 1);
    col.reset(metadata_column_type(field));
    col.reserve(n);
    for (size_t r = 0; r < n; ++r) {
      const size_t i = row_records[r];
      if (!has) {
        col.append_null();
        continue;
      }
      switch (field) {
        case MetadataField::kKey:
          if (md.has_key[i]) {
            col.append_string(md.key(i));
          } else {
            col.append_null();
          }
          break;
        case MetadataField::kTopic: col.append_string(md.topic); break;
        case MetadataField::kPartition: col.append_int(md.partitions[i]); break;
        case MetadataField::kOffset: col.append_int(md.message_offsets[i]); break;
        case MetadataField::kTimestamp:
          if (md.broker_timestamps[i] == RecordMetadata::kMissing) {
            col.append_null();
          } else {
            col.append_int(md.broker_timestamps[i]);
          }
          break;
        case MetadataField::kHeaders: {
          headers.clear();
          append_headers_json(headers, md, i);
          col.append_string(headers);
          break;
        }
      }
    }
  }
  out.num_rows = n;
  out.row_kinds = std::move(payload.row_kinds);
}

namespace {

// Decodes the payload columns into a batch of its own, then assembles the declared rows.
class MetadataDecoder final : public Decoder {
 public:
  MetadataDecoder(MetadataColumns columns, std::unique_ptr<Decoder> payload)
      : columns_(std::move(columns)), payload_(std::move(payload)) {}

  Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                std::vector<uint32_t>* row_records) override {
    std::vector<uint32_t>& rows = row_records ? *row_records : own_row_records_;
    if (!row_records) own_row_records_.clear();
    const size_t first = rows.size();
    // One payload batch per poll (its columns move into `out`), never one per record.
    RecordBatch payload(columns_.payload_schema());
    RETURN_IF_ERROR(payload_->decode(in, payload, failures, &rows));
    if (first == 0 && out.num_rows == 0) {
      columns_.assemble(in, rows, payload, out);
      return Status::ok();
    }
    // `out` already holds rows (a caller decoding several polls into one batch): assemble
    // this poll's rows apart and append them.
    std::vector<uint32_t> these(rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end());
    RecordBatch part(out.schema);
    columns_.assemble(in, these, payload, part);
    for (size_t c = 0; c < out.columns.size(); ++c) out.mutable_column(c).append_all(part.column(c));
    out.num_rows += part.num_rows;
    return Status::ok();
  }
  bool changes_state(const RawRecords& in) const override { return payload_->changes_state(in); }
  Status observe(const RawRecords& in) override { return payload_->observe(in); }

 private:
  MetadataColumns columns_;
  std::unique_ptr<Decoder> payload_;
  std::vector<uint32_t> own_row_records_;
};

}  // namespace

Result<std::unique_ptr<Decoder>> make_metadata_decoder(const SchemaPtr& schema,
                                                       const std::vector<MetadataField>& available,
                                                       const FormatOptions& payload_format) {
  ASSIGN_OR_RETURN(MetadataColumns columns, MetadataColumns::make(schema, available, ""));
  if (columns.empty()) return make_decoder(payload_format, schema);
  ASSIGN_OR_RETURN(std::unique_ptr<Decoder> payload, make_decoder(payload_format, columns.payload_schema()));
  return std::unique_ptr<Decoder>(std::make_unique<MetadataDecoder>(std::move(columns), std::move(payload)));
}

}  // namespace sluice
