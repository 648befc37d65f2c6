#include "connectors/file/file_sink.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "common/logging.h"
#include "common/serde.h"
#include "connectors/connector_util.h"
#include "connectors/file/part_files.h"
#include "connectors/text_sink.h"

namespace sluice {
namespace {

constexpr size_t kFileBufferBytes = size_t{1} << 20;
constexpr uint8_t kStateVersion = 1;

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

// The checkpoint state of a file sink: the ids of the parts pre-committed and not yet
// committed when the checkpoint was taken (more than one when a checkpoint was aborted or
// its commit came late), ascending.
std::string encode_state(const std::vector<uint64_t>& ids) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kStateVersion);
  w.varint(ids.size());
  for (uint64_t id : ids) w.varint(id);
  return out;
}

Result<std::vector<uint64_t>> decode_state(std::string_view state, uint64_t restored_id, const std::string& context) {
  std::vector<uint64_t> ids;
  if (state.empty()) return ids;
  ByteReader r(state);
  if (r.u8() != kStateVersion) r.fail();
  uint64_t n = r.count(1);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    uint64_t id = r.varint();
    if (id == 0 || id > restored_id || (!ids.empty() && id <= ids.back())) r.fail();
    ids.push_back(id);
  }
  if (r.ok() && !r.at_end()) r.fail();
  RETURN_IF_ERROR(r.status("file sink state").with_context(context));
  return ids;
}

// Non-transactional (the default): rows go to `path` through one TextSinkWriter, opened
// at the first write(), flush() or close() (not at open(): recover() may still switch the
// writer to transactional mode, and then `path` must stay untouched).
//
// Transactional (after recover()): one TextSinkWriter per transaction writes the in-progress
// file, opened by the first row; pre_commit() syncs it and renames it to a pending part;
// commit() renames pending parts to their committed names. See file_sink.h.
class FileSinkWriter : public SinkWriter {
 public:
  explicit FileSinkWriter(FileSinkConfig config)
      : config_(std::move(config)), parts_(config_.path, config_.context) {}
  ~FileSinkWriter() override { (void)close(); }

  Status open() override {
    // Checks the format options now; the output is opened when it is first needed.
    auto encoder = make_encoder(config_.format, config_.schema);
    if (!encoder.is_ok()) return encoder.status().with_context(config_.context);
    opened_ = true;
    return Status::ok();
  }

  Status write(const RecordBatch& batch) override {
    if (!opened_) return internal_error("{}: file sink written before open()", config_.context);
    if (transactional_ && batch.num_rows == 0) return Status::ok();  // no empty parts
    RETURN_IF_ERROR(ensure_output());
    return output_->write(batch);
  }

  Status flush() override {
    if (!opened_) return Status::ok();
    if (!transactional_) RETURN_IF_ERROR(ensure_output());
    return output_ ? output_->flush() : Status::ok();
  }

  Status close() override {
    if (!opened_) return Status::ok();
    opened_ = false;
    if (!transactional_) {
      Status s = ensure_output();  // a job without rows still leaves its (empty) file
      if (output_) s = output_->close();
      output_.reset();
      return s;
    }
    // Rows written since the last pre_commit() belong to no checkpoint: the job resumes
    // from the last checkpoint and writes them again.
    Status s;
    if (output_) {
      s = output_->close();
      output_.reset();
      Status removed = parts_.remove(parts_.in_progress());
      if (s.is_ok()) s = removed;
    }
    return s;
  }

  Status recover(const SinkIdentity& identity, uint64_t restored_id, std::string_view state) override {
    if (!opened_ || output_) {
      return internal_error("{}: file sink recover() must follow open() and precede write()", config_.context);
    }
    transactional_ = true;
    uncommitted_.clear();
    if (restored_id == 0) return start_fresh(identity);
    ASSIGN_OR_RETURN(std::vector<uint64_t> to_commit, decode_state(state, restored_id, config_.context));
    // The crash came between the checkpoint and its commit: commit now (idempotent).
    for (uint64_t id : to_commit) RETURN_IF_ERROR(parts_.commit(id));
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    if (files.in_progress) RETURN_IF_ERROR(parts_.remove(parts_.in_progress()));
    for (uint64_t id : files.pending) {
      // Newer than the checkpoint: its rows are read and written again. Older and not in the
      // state: not part of the restored checkpoint's history (see file_sink.h).
      if (id <= restored_id) {
        log_warn("{}: removing '{}': checkpoint {} does not list it as uncommitted", config_.context,
                 parts_.pending(id), restored_id);
      }
      RETURN_IF_ERROR(parts_.remove(parts_.pending(id)));
    }
    // Committed parts newer than the checkpoint: a newer checkpoint committed them and was then
    // lost (corrupt) or passed over (--from-savepoint an older one). The job replays their
    // rows after `restored_id` and writes them again under new ids, so they are rolled back:
    // newest first, so that the visible output stays a prefix of the stream at every moment.
    size_t rolled_back = 0;
    for (auto it = files.committed.rbegin(); it != files.committed.rend() && *it > restored_id; ++it) {
      RETURN_IF_ERROR(parts_.remove(parts_.committed(*it)));
      ++rolled_back;
    }
    files.committed.resize(files.committed.size() - rolled_back);
    if (rolled_back > 0) {
      log_info("{}: rolled back {} committed part(s) newer than checkpoint {} that the job resumes from "
               "(their rows are written again)",
               config_.context, rolled_back, restored_id);
    }
    // The CSV header is in the first part with rows; when every part was rolled back, the next
    // part written is the first one again.
    any_part_ = !files.committed.empty();
    last_id_ = restored_id;
    return parts_.sync_dir();
  }

  Result<std::string> pre_commit(uint64_t id) override {
    if (!transactional_) return SinkWriter::pre_commit(id);
    if (id <= last_id_) {
      return internal_error("{}: file sink pre_commit({}) after checkpoint {}", config_.context, id, last_id_);
    }
    last_id_ = id;
    if (output_) {
      RETURN_IF_ERROR(output_->sync());
      RETURN_IF_ERROR(output_->close());
      output_.reset();
      RETURN_IF_ERROR(parts_.rename(parts_.in_progress(), parts_.pending(id)));
      RETURN_IF_ERROR(parts_.sync_dir());
      uncommitted_.push_back(id);
      any_part_ = true;
    }
    return encode_state(uncommitted_);
  }

  Status commit(uint64_t id) override {
    if (!transactional_) return Status::ok();
    auto end = std::upper_bound(uncommitted_.begin(), uncommitted_.end(), id);
    if (end == uncommitted_.begin()) return Status::ok();
    for (auto it = uncommitted_.begin(); it != end; ++it) RETURN_IF_ERROR(parts_.commit(*it));
    RETURN_IF_ERROR(parts_.sync_dir());
    uncommitted_.erase(uncommitted_.begin(), end);
    return Status::ok();
  }

 private:
  // Fresh start with checkpoints: nothing of an earlier run is pending any more, and the
  // output starts empty ('overwrite') or keeps its parts ('append', when their ids cannot
  // collide with this run's). Committed parts while the job is not new (its checkpoint
  // directory existed): its checkpoints were lost, and committed output is never silently
  // rewritten: refused unless --start-over.
  Status start_fresh(const SinkIdentity& identity) {
    ASSIGN_OR_RETURN(PartFiles::Listing files, parts_.list());
    const bool own_parts = !identity.new_job && !files.committed.empty();
    if (own_parts && !identity.start_over) {
      return Status(
          StatusCode::kDataLoss,
          fmt::format("{}: file '{}' has parts this job (id {}) committed up to checkpoint {} ('{}'), but no "
                      "checkpoint of the job can be resumed (corrupt or deleted), so a fresh start would write their "
                      "rows again; restore the checkpoint directory, or rerun with --start-over to remove those parts "
                      "and start from the beginning",
                      config_.context, config_.path, identity.job_id, files.committed.back(),
                      parts_.committed(files.committed.back())));
    }
    if (own_parts) {
      log_warn("{}: --start-over: removing the {} part(s) this job committed ('{}' ... '{}')", config_.context,
               files.committed.size(), parts_.committed(files.committed.front()),
               parts_.committed(files.committed.back()));
    } else if (config_.append && !files.committed.empty()) {
      return invalid_argument(
          "{}: file '{}' (mode 'append') with checkpoints: directory '{}' already holds parts of an earlier run "
          "('{}' ... '{}'); a fresh start numbers its parts from checkpoint 1 and would replace them. Resume from "
          "the earlier run's checkpoints, move the parts away, or use mode 'overwrite'",
          config_.context, config_.path, parts_.dir(), parts_.committed(files.committed.front()),
          parts_.committed(files.committed.back()));
    }
    if (files.in_progress) RETURN_IF_ERROR(parts_.remove(parts_.in_progress()));
    for (uint64_t id : files.pending) RETURN_IF_ERROR(parts_.remove(parts_.pending(id)));
    for (uint64_t id : files.committed) RETURN_IF_ERROR(parts_.remove(parts_.committed(id)));
    any_part_ = false;
    last_id_ = 0;
    return parts_.sync_dir();
  }

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
  bool opened_ = false;
  bool transactional_ = false;
  std::unique_ptr<TextSinkWriter> output_;  // `path`, or the in-progress part
  bool any_part_ = false;                   // a part precedes the next one: no CSV header
  uint64_t last_id_ = 0;                    // the newest checkpoint pre-committed or restored
  std::vector<uint64_t> uncommitted_;       // pre-committed parts not yet committed, ascending
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
    return std::unique_ptr<SinkWriter>(std::make_unique<FileSinkWriter>(config_));
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
