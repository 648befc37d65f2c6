#include "connectors/text_sink.h"

#include <unistd.h>

#include <cerrno>

#include "connectors/connector_util.h"

namespace sluice {

TextSinkWriter::TextSinkWriter(Config config) : config_(std::move(config)) {}

TextSinkWriter::~TextSinkWriter() { (void)close(); }

Status TextSinkWriter::open() {
  FormatOptions format = config_.format;
  format.changelog = config_.ops == OpPolicy::kAlways;
  auto encoder = make_encoder(format, config_.schema);
  if (!encoder.is_ok()) return encoder.status().with_context(config_.context);
  encoder_ = std::move(encoder).value();
  ASSIGN_OR_RETURN(stream_, config_.open_stream());
  if (config_.format.format == "csv" && config_.format.csv_header && stream_.empty) {
    RETURN_IF_ERROR(put(encoder_->header()));
  }
  return Status::ok();
}

Status TextSinkWriter::put(const std::string& bytes) {
  if (bytes.empty()) return Status::ok();
  if (stream_.file == nullptr) return internal_error("{}: {} written before open()", config_.context, config_.name);
  if (std::fwrite(bytes.data(), 1, bytes.size(), stream_.file) != bytes.size()) {
    return io_error("{}: writing to {} failed: {}", config_.context, config_.name, errno_text(errno));
  }
  return Status::ok();
}

Status TextSinkWriter::write(const RecordBatch& batch) {
  bool inserts_only = batch.is_insert_only();
  if (!inserts_only && config_.ops == OpPolicy::kInsertsOnly) {
    for (size_t r = 0; r < batch.num_rows; ++r) {
      if (batch.row_kind(r) != RowKind::kInsert) {
        return invalid_argument(
            "{}: {} is append-only but received a {} row; set changelog = 'true' to write the changelog",
            config_.context, config_.name, row_kind_short_name(batch.row_kind(r)));
      }
    }
  }
  if (!inserts_only) updating_ = true;
  const bool with_op = config_.ops == OpPolicy::kAlways || (config_.ops == OpPolicy::kOnceUpdating && updating_);
  buffer_.clear();
  for (size_t r = 0; r < batch.num_rows; ++r) encoder_->encode_row(batch, r, with_op, buffer_);
  RETURN_IF_ERROR(put(buffer_));
  if (config_.flush_each_write) return flush();
  return Status::ok();
}

Status TextSinkWriter::flush() {
  if (stream_.file == nullptr) return Status::ok();
  if (std::fflush(stream_.file) != 0) {
    return io_error("{}: flushing {} failed: {}", config_.context, config_.name, errno_text(errno));
  }
  if (stream_.path.empty()) return Status::ok();
  return check_output_still_at_path(fileno(stream_.file), stream_.path, config_.context, config_.name);
}

Status TextSinkWriter::sync() {
  RETURN_IF_ERROR(flush());
  if (stream_.file != nullptr && ::fsync(fileno(stream_.file)) != 0) {
    return io_error("{}: syncing {} failed: {}", config_.context, config_.name, errno_text(errno));
  }
  return Status::ok();
}

Status TextSinkWriter::close() {
  if (stream_.file == nullptr) return Status::ok();
  Status s = flush();
  if (stream_.close_at_end && std::fclose(stream_.file) != 0 && s.is_ok()) {
    s = io_error("{}: closing {} failed: {}", config_.context, config_.name, errno_text(errno));
  }
  stream_.file = nullptr;
  return s;
}

}  // namespace sluice
