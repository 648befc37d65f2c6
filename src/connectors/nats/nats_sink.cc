#include "connectors/nats/nats_sink.h"

#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/nats/nats_client.h"
#include "connectors/retry.h"
#include "connectors/transactional_sink.h"
#include "formats/json_encoder.h"

namespace sluice {
namespace {

constexpr const char* kCommitsBucket = "sluice_commits";

struct NatsSinkConfig {
  std::string context;
  NatsEndpoint endpoint;
  std::string subject;
  SchemaPtr schema;
};

FormatOptions json_options() {
  FormatOptions f;
  f.format = "json";
  return f;
}

// KV keys allow [-/_=.a-zA-Z0-9]: anything else becomes '_'.
std::string kv_key(std::string out) {
  for (char& ch : out) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '=' || ch == '.' || ch == '/';
    if (!ok) ch = '_';
  }
  return out;
}

std::string commit_key(const CommitKey& key) { return kv_key(key.job_id + "." + key.sink_id); }

// Which job last committed sink `sink_id` from the checkpoint directory `dir` (value: "<job
// id> <checkpoint id>"): a key per directory (by hash) and sink instance.
std::string directory_key(const std::string& dir, const std::string& sink_id) {
  return kv_key(fmt::format("dirs.{:016x}.{}", hash_string(dir), sink_id));
}

class NatsTarget : public BufferedRowsTarget {
 public:
  explicit NatsTarget(NatsSinkConfig config)
      : BufferedRowsTarget(config.schema, config.context),
        c_(std::move(config)),
        nats_(c_.endpoint, c_.context),
        encoder_(json_options(), c_.schema) {}
  ~NatsTarget() override {
    (void)drain_applier();
    if (kv_) kvStore_Destroy(kv_);
  }

  std::string describe() const override { return fmt::format("nats subject '{}'", c_.subject); }

  Status open() override { return retry(retry_, "connect", [&] { return connect(); }); }
  Status close() override { return flush(); }

  Status begin_transactions(const CommitKey& key) override {
    key_ = key;
    set_transactional();
    return retry(retry_, "open the commit records", [&]() -> Status {
      RETURN_IF_ERROR(open_commits());
      ASSIGN_OR_RETURN(epoch_, read_number(commit_key(key_) + ".run"));
      return Status::ok();
    });
  }

  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    return retry(retry_, "commit", [&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t recorded, recorded_id());
      if (recorded >= id) return Status::ok();
      for (const auto& [tid, transaction] : transactions) {
        if (tid <= recorded || tid <= skip_through) continue;
        RETURN_IF_ERROR(publish(static_cast<const BufferedRowsTransaction&>(*transaction).rows(), tid));
      }
      return record(id);
    });
  }
  Result<uint64_t> committed_id(const SinkIdentity&) override { return recorded_id(); }
  // Published messages cannot be taken back: a rollback only moves the record, and says so.
  Status roll_back(uint64_t id) override {
    ASSIGN_OR_RETURN(uint64_t recorded, recorded_id());
    if (recorded <= id) return Status::ok();
    log_warn("{}: checkpoints {}..{} were published already and cannot be taken back: their rows may repeat in the "
             "stream beyond its duplicate window",
             c_.context, id + 1, recorded);
    return record(id);
  }
  bool replay_is_idempotent() const override { return false; }

  void set_checkpoint_dir(const std::string& dir) override { checkpoint_dir_ = dir; }

  // The directory's record names another job id that committed this sink instance from it.
  Result<std::vector<EarlierJobCommit>> commits_from_directory(const std::string& dir) override {
    std::vector<EarlierJobCommit> out;
    RETURN_IF_ERROR(retry(retry_, "read the commit records", [&]() -> Status {
      ASSIGN_OR_RETURN(std::string text, read_string(directory_key(dir, key_.sink_id)));
      const size_t space = text.find(' ');
      if (space == std::string::npos) return Status::ok();
      EarlierJobCommit e{CommitKey{text.substr(0, space), key_.sink_id},
                         std::strtoull(text.c_str() + space + 1, nullptr, 10)};
      if (e.key.job_id != key_.job_id && e.checkpoint_id > 0) out.push_back(std::move(e));
      return Status::ok();
    }));
    return out;
  }
  // Published messages stay: taking the record over only lets roll_back(0) say so.
  Status adopt_records(const CommitKey& earlier) override {
    return retry(retry_, "take over the commit record", [&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t own, recorded_id());
      if (own > 0) return Status::ok();
      ASSIGN_OR_RETURN(uint64_t theirs, read_number(commit_key(earlier)));
      return write_number(commit_key(key_), theirs);
    });
  }
  // A fresh start is a new run: its messages are new ones, never duplicates of an earlier
  // run's (a --start-over replays on purpose). The run number goes into the message ids.
  Status start_fresh(const SinkIdentity&) override {
    return retry(retry_, "start", [&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t epoch, read_number(commit_key(key_) + ".run"));
      RETURN_IF_ERROR(write_number(commit_key(key_) + ".run", epoch + 1));
      epoch_ = epoch + 1;
      return Status::ok();
    });
  }

 private:
  Status check_rows(const RecordBatch& batch) override {
    for (size_t r = 0; r < batch.num_rows; ++r) {
      if (batch.row_kind(r) != RowKind::kInsert) {
        return invalid_argument("{}: a nats sink appends rows; it cannot apply {} rows of an updating result",
                                c_.context, row_kind_short_name(batch.row_kind(r)));
      }
    }
    return Status::ok();
  }

  Status apply_plain(const RecordBatch& rows) override {
    return retry(retry_, "publish", [&] { return publish(rows, 0); });
  }

  Status connect() {
    RETURN_IF_ERROR(nats_.connect());
    // Publish failures come back through the context's handler (libnats's thread).
    return Status::ok();
  }

  Status open_commits() {
    if (kv_) return Status::ok();
    if (!nats_.connected()) RETURN_IF_ERROR(connect());
    natsStatus s = js_KeyValue(&kv_, nats_.jetstream(), kCommitsBucket);
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = kCommitsBucket;
      cfg.History = 1;
      s = js_CreateKeyValue(&kv_, nats_.jetstream(), &cfg);
    }
    if (s != NATS_OK) {
      kv_ = nullptr;
      return nats_status(s, static_cast<jsErrCode>(0), fmt::format("key-value bucket '{}'", kCommitsBucket), c_.context);
    }
    return Status::ok();
  }

  Result<uint64_t> recorded_id() { return read_number(commit_key(key_)); }
  // The record, then (not atomically: it only names who committed from the directory) the
  // directory's record.
  Status record(uint64_t id) {
    RETURN_IF_ERROR(write_number(commit_key(key_), id));
    if (checkpoint_dir_.empty()) return Status::ok();
    return write_string(directory_key(checkpoint_dir_, key_.sink_id), fmt::format("{} {}", key_.job_id, id));
  }

  Result<uint64_t> read_number(const std::string& key) {
    ASSIGN_OR_RETURN(std::string text, read_string(key));
    return std::strtoull(text.c_str(), nullptr, 10);
  }
  Status write_number(const std::string& key, uint64_t n) { return write_string(key, std::to_string(n)); }
  // A missing key reads as "".
  Result<std::string> read_string(const std::string& key) {
    RETURN_IF_ERROR(open_commits());
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_NOT_FOUND) return std::string();
    if (s != NATS_OK) return nats_status(s, static_cast<jsErrCode>(0), "reading the commit record", c_.context);
    std::string text(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e)));
    kvEntry_Destroy(e);
    return text;
  }
  Status write_string(const std::string& key, const std::string& value) {
    RETURN_IF_ERROR(open_commits());
    uint64_t rev = 0;
    natsStatus s = kvStore_PutString(&rev, kv_, key.c_str(), value.c_str());
    if (s != NATS_OK) return nats_status(s, static_cast<jsErrCode>(0), "writing the commit record", c_.context);
    return Status::ok();
  }

  // Publishes every row (transaction `tid` > 0: with its message id) and waits until the
  // stream acknowledged all of them; the first failure is returned (kUnavailable: the
  // retry publishes again, the ids make that harmless).
  Status publish(const RecordBatch& rows, uint64_t tid) {
    if (!nats_.connected()) RETURN_IF_ERROR(connect());
    jsCtx* js = nats_.jetstream();
    std::string value, msg_id;
    for (size_t r = 0; r < rows.num_rows; ++r) {
      value.clear();
      encoder_.encode_row(rows, r, /*with_op=*/false, value);
      while (!value.empty() && value.back() == '\n') value.pop_back();
      natsMsg* m = nullptr;
      natsStatus s = natsMsg_Create(&m, c_.subject.c_str(), nullptr, value.data(), static_cast<int>(value.size()));
      if (s == NATS_OK && tid > 0) {
        msg_id = fmt::format("{}/{}/{}/{}/{}", key_.job_id, key_.sink_id, epoch_, tid, r);
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id.c_str());
      }
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 10000;
      if (s == NATS_OK) s = js_PublishMsgAsync(js, &m, &po);
      if (m) natsMsg_Destroy(m);  // not taken by the library (a failure)
      if (s != NATS_OK) return nats_status(s, static_cast<jsErrCode>(0), "publishing", c_.context);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    natsStatus s = js_PublishAsyncComplete(js, &po);
    if (s != NATS_OK) return nats_status(s, static_cast<jsErrCode>(0), "waiting for acknowledgements", c_.context);
    // Messages the stream refused (no stream for the subject, a full stream) are left in the
    // pending list with their errors reported: a failure, never a silent drop.
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK && pending.Count > 0) {
      const int n = pending.Count;
      natsMsgList_Destroy(&pending);
      return Status(StatusCode::kUnavailable,
                    fmt::format("{}: NATS: {} messages were not acknowledged by a stream", c_.context, n));
    }
    return nats_.take_publish_error();
  }

  NatsSinkConfig c_;
  NatsClient nats_;
  JsonEncoder encoder_;
  kvStore* kv_ = nullptr;
  CommitKey key_;
  std::string checkpoint_dir_;  // set_checkpoint_dir(): the directory's record
  uint64_t epoch_ = 0;  // the run number (start_fresh()) in the message ids
  RetryPolicy retry_{};
};

class NatsSinkFactory : public SinkFactory {
 public:
  explicit NatsSinkFactory(NatsSinkConfig config) : config_(std::move(config)) {}
  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.guarantee = SinkGuarantee::kExactlyOnce;  // with checkpoints (the engine knows when there are none)
    c.parallel_writers = true;                  // message ids and commit records per sink instance
    return c;
  }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(
        std::make_unique<TransactionalSinkWriter>(std::make_unique<NatsTarget>(config_), config_.context));
  }
  std::string describe() const override { return fmt::format("nats subject '{}'", config_.subject); }

 private:
  NatsSinkConfig config_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_nats_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  NatsSinkConfig c;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.endpoint, read_nats_endpoint(o, c.context));
  ASSIGN_OR_RETURN(c.subject, o.require_string("subject"));
  if (c.subject.find_first_of(" *>") != std::string::npos) {
    return invalid_argument("{}: option 'subject' must be a subject to publish to, without wildcards (got '{}')",
                            c.context, c.subject);
  }
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(retry(RetryPolicy{}, "connect", [&]() -> Status {
    NatsClient probe(c.endpoint, c.context);
    return probe.connect();
  }));
  return std::unique_ptr<SinkFactory>(std::make_unique<NatsSinkFactory>(std::move(c)));
}

}  // namespace sluice
