#include "connectors/file/file_sink.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/file/part_files.h"
#include "connectors/text_sink.h"
#include "connectors/transactional_sink.h"

namespace sluice {
namespace {

constexpr size_t kFileBufferBytes = size_t{1} << 20;

struct FileSinkConfig {
  std::string context;  // "table out"
  std::string path;
  FormatOptions format;
  SchemaPtr schema;
  bool append = false;
  bool changelog = false;
};

// Opens `path` for writing: truncated, or appended to; `empty` tells TextSinkWriter whether
// the CSV header goes first (`header_allowed` = false: never, a later part of the output).
Result<TextSinkWriter::Stream> open_file(const std::string& path, const std::string& context, bool append,
                                         bool header_allowed) {
  FILE* f = std::fopen(path.c_str(), append ? "ae" : "we");
  if (f == nullptr) return io_error("{}: cannot open '{}' for writing: {}", context, path, errno_text(errno));
  std::setvbuf(f, nullptr, _IOFBF, kFileBufferBytes);
  struct stat st {};
  bool empty = ::fstat(fileno(f), &st) != 0 || st.st_size == 0;
  return TextSinkWriter::Stream{f, /*close_at_end=*/true, empty && header_allowed, path};
}

// A pre-committed part: the pending file is named by its id, so the checkpoint needs
// nothing more (the state lists the ids; transactional_sink.h).
class PendingPart : public PreparedTransaction {
 public:
  void encode(ByteWriter&) const override {}
};

// The file sink's TransactionTarget (transactional_sink.h).
//
// Plain mode (the default): rows go to `path` through one TextSinkWriter, opened at the first
// write(), flush() or close() (not at open(): begin_transactions() may still switch the
// target to transactional mode, and then `path` must stay untouched).
//
// Transactional mode: one TextSinkWriter per transaction writes the in-progress file, opened
// by the first row; prepare() syncs it and renames it to a pending part; commit() renames
// pending parts to their committed names. See file_sink.h.
class FileTarget : public TransactionTarget {
 public:
  explicit FileTarget(FileSinkConfig config) : config_(std::move(config)), parts_(config_.path, config_.context) {}

  std::string describe() const override { return fmt::format("file '{}'", config_.path); }

  Status open() override {
    // Checks the format options now; the output is opened when it is first needed.
    auto encoder = make_encoder(config_.format, config_.schema);
    if (!encoder.is_ok()) return encoder.status().with_context(config_.context);
    return Status::ok();
  }

  Status write(const RecordBatch& batch) override {
    if (transactional_ && batch.num_rows == 0) return Status::ok();  // no empty parts
    RETURN_IF_ERROR(ensure_output());
    return output_->write(batch);
  }

  Status flush() override {
    RETURN_IF_ERROR(ensure_output());
    return output_->flush();
  }

  Status close() override {
    if (!transactional_) {
      Status s = ensure_output();  // a job without rows still leaves its (empty) file
      if (output_) s = output_->close();
      output_.reset();
      return s;
    }
    // Rows written since the last prepare() belong to no checkpoint: the job resumes from
    // the last checkpoint and writes them again.
    Status s;
    if (output_) {
      s = output_->close();
      output_.reset();
      Status removed = parts_.remove(parts_.in_progress());
      if (s.is_ok()) s = removed;
    }
    return s;
  }

  Status begin_transactions(const CommitKey&) override {
    if (output_) return internal_error("{}: file sink switched to checkpoints after a write", config_.context);
    transactional_ = true;
    return Status::ok();
  }

  Result<std::unique_ptr<PreparedTransaction>> prepare(uint64_t id) override {
    if (!output_) return std::unique_ptr<PreparedTransaction>();  // no rows: no part
    RETURN_IF_ERROR(output_->sync());
    RETURN_IF_ERROR(output_->close());
    output_.reset();
    RETURN_IF_ERROR(parts_.rename(parts_.in_progress(), parts_.pending(id)));
    RETURN_IF_ERROR(parts_.sync_dir());
    any_part_ = true;
    return std::unique_ptr<PreparedTransaction>(std::make_unique<PendingPart>());
  }

  Result<std::unique_ptr<PreparedTransaction>> decode_transaction(uint64_t, ByteReader&) override {
    return std::unique_ptr<PreparedTransaction>(std::make_unique<PendingPart>());
  }

  // Renames each pending part to its committed name (a part committed before is fine: a
  // replayed commit), then fsyncs the directory once.
  Status commit(const PreparedTransactions& transactions, uint64_t, uint64_t) override {
    for (const auto& entry : transactions) RETURN_IF_ERROR(parts_.commit(entry.first));
    return parts_.sync_dir();
  }

  // The parts carry no job id: a new job's parts are an earlier run's, not its own.
  Result<uint64_t> committed_id(const SinkIdentity& identity) override {
    if (identity.new_job) return uint64_t{0};
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    return files.committed.empty() ? uint64_t{0} : files.committed.back();
  }

  // Removes the committed parts newer than `id`, newest first, so that the visible output
  // stays a prefix of the stream at every moment.
  Status roll_back(uint64_t id) override {
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    size_t rolled_back = 0;
    for (auto it = files.committed.rbegin(); it != files.committed.rend() && *it > id; ++it) {
      RETURN_IF_ERROR(parts_.remove(parts_.committed(*it)));
      ++rolled_back;
    }
    if (rolled_back == 0) return Status::ok();
    log_info("{}: rolled back {} committed part(s) of '{}' newer than checkpoint {} (their rows are written again)",
             config_.context, rolled_back, config_.path, id);
    return parts_.sync_dir();
  }

  bool replay_is_idempotent() const override { return false; }

  // The output starts empty ('overwrite', as the file is truncated without checkpoints);
  // 'append' keeps the parts of earlier runs, but a fresh start numbers its parts from
  // checkpoint 1 again, so it refuses to start while such parts exist.
  Status start_fresh(const SinkIdentity&) override {
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    if (config_.append && !files.committed.empty()) {
      return invalid_argument(
          "{}: file '{}' (mode 'append') with checkpoints: directory '{}' already holds parts of an earlier run "
          "('{}' ... '{}'); a fresh start numbers its parts from checkpoint 1 and would replace them. Resume from "
          "the earlier run's checkpoints, move the parts away, or use mode 'overwrite'",
          config_.context, config_.path, parts_.dir(), parts_.committed(files.committed.front()),
          parts_.committed(files.committed.back()));
    }
    for (uint64_t id : files.committed) RETURN_IF_ERROR(parts_.remove(parts_.committed(id)));
    return Status::ok();
  }

  // Removes the in-progress file and every pending part: rows after the restored checkpoint
  // are read and written again; a pending part at or before it that its state does not
  // list (it was committed by now otherwise) is not part of its history.
  Status abort_uncovered(uint64_t restored_id) override {
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    if (files.in_progress) RETURN_IF_ERROR(parts_.remove(parts_.in_progress()));
    for (uint64_t id : files.pending) {
      if (id <= restored_id) {
        log_warn("{}: removing '{}': checkpoint {} does not list it as uncommitted", config_.context,
                 parts_.pending(id), restored_id);
      }
      RETURN_IF_ERROR(parts_.remove(parts_.pending(id)));
    }
    // The CSV header is in the first part with rows; when no part remains, the next part
    // written is the first one again.
    any_part_ = !files.committed.empty();
    return parts_.sync_dir();
  }

 private:
  Status ensure_output() {
    if (output_) return Status::ok();
    TextSinkWriter::Config c;
    c.context = config_.context;
    c.format = config_.format;
    c.schema = config_.schema;
    c.ops = config_.changelog ? TextSinkWriter::OpPolicy::kAlways : TextSinkWriter::OpPolicy::kInsertsOnly;
    if (transactional_) {
      // Only the first part of the output carries the CSV header, so that concatenating the
      // parts gives what a run without checkpoints writes.
      c.name = fmt::format("file '{}'", parts_.in_progress());
      c.open_stream = [path = parts_.in_progress(), context = config_.context, header = !any_part_]() {
        return open_file(path, context, /*append=*/false, header);
      };
    } else {
      c.name = fmt::format("file '{}'", config_.path);
      c.open_stream = [path = config_.path, context = config_.context, append = config_.append]() {
        return open_file(path, context, append, /*header_allowed=*/true);
      };
    }
    auto output = std::make_unique<TextSinkWriter>(std::move(c));
    RETURN_IF_ERROR(output->open());
    output_ = std::move(output);
    return Status::ok();
  }

  FileSinkConfig config_;
  PartFiles parts_;
  bool transactional_ = false;
  std::unique_ptr<TextSinkWriter> output_;  // `path`, or the in-progress part
  bool any_part_ = false;                   // a part precedes the next one: no CSV header
};

class FileSinkFactory : public SinkFactory {
 public:
  explicit FileSinkFactory(FileSinkConfig config) : config_(std::move(config)) {}

  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.changelog_append = config_.changelog;
    c.guarantee = SinkGuarantee::kExactlyOnce;  // with checkpoints; see file_sink.h
    return c;
  }

  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(
        std::make_unique<TransactionalSinkWriter>(std::make_unique<FileTarget>(config_), config_.context));
  }

  std::string describe() const override {
    return fmt::format("file {} ({}, {}{})", config_.path, config_.format.format,
                       config_.append ? "append" : "overwrite", config_.changelog ? ", changelog" : "");
  }

 private:
  FileSinkConfig config_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_file_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  FileSinkConfig c;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.path, o.require_string("path"));
  ASSIGN_OR_RETURN(c.format, read_sink_format(o, c.context));
  std::string mode = o.get_string("mode", "overwrite");
  if (mode != "overwrite" && mode != "append") {
    return invalid_argument("{}: option 'mode' must be 'overwrite' or 'append', got '{}'", c.context, mode);
  }
  c.append = mode == "append";
  ASSIGN_OR_RETURN(c.changelog, o.get_bool("changelog", false));
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(check_parent_directory(c.path, c.context));
  return std::unique_ptr<SinkFactory>(std::make_unique<FileSinkFactory>(std::move(c)));
}

}  // namespace sluice
