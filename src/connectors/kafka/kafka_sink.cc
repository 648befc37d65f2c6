#include "connectors/kafka/kafka_sink.h"

#include <optional>

#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/transactional_sink.h"
#include "formats/json_encoder.h"

#include <nlohmann/json.hpp>

namespace sluice {
namespace {

constexpr int kFlushTimeoutMs = 60000;
constexpr int kTransactionTimeoutMs = 60000;
constexpr int kCommittedTimeoutMs = 10000;

struct KafkaSinkConfig {
  std::string context;
  std::string table;
  std::string topic;
  SchemaPtr schema;
  std::vector<int> key_columns;
  int headers_column = -1;    // a declared _headers column (TEXT, a JSON object): the message headers
  int timestamp_column = -1;  // a declared _timestamp column (TIMESTAMP): the message timestamp
  bool upsert = false;
  bool exactly_once = false;
  std::string transactional_id_prefix;
  KafkaClientSettings client;
};

// Producer settings: acknowledged by every in-sync replica, idempotent (no duplicates or
// reordering from retries), partitioned by murmur2 of the key as the Java client does.
KafkaSettingList producer_defaults(const KafkaSinkConfig& c) {
  return {{"acks", "all"},
          {"enable.idempotence", "true"},
          {"partitioner", "murmur2_random"},
          {"linger.ms", "5"},
          {"client.id", "sluice-" + c.table}};
}

// An append-mode topic takes inserts only (the planner routes updating results to upsert
// sinks; this guards the writer itself). An upsert topic's message keys are its rows' keys:
// a NULL one-column key has no key bytes, and a keyless message updates no key (a keyless
// tombstone is invalid; a compacted topic refuses both). As Flink's upsert-kafka (a primary
// key is NOT NULL; a NULL in it fails the job) the row is refused, before it can enter a
// checkpoint; several key columns make a JSON object, where NULL is `null`, one key.
Status check_rows(const KafkaSinkConfig& c, const RecordBatch& batch) {
  if (c.upsert && c.key_columns.size() == 1) {
    for (size_t r = 0; r < batch.num_rows; ++r) {
      if (null_key_column(batch, r, c.key_columns) < 0 || batch.row_kind(r) == RowKind::kUpdateBefore) continue;
      const std::string& name = c.schema->field(static_cast<size_t>(c.key_columns[0])).name;
      return invalid_argument(
          "{}: Kafka topic '{}' (mode 'upsert') got a row whose key column '{}' is NULL, and a message key cannot "
          "be NULL (a keyless message updates no key); leave such rows out (WHERE {} IS NOT NULL), replace NULL "
          "(COALESCE), or key by several columns (a JSON object key, where NULL is null)",
          c.context, c.topic, name, name);
    }
  }
  if (c.upsert || batch.row_kinds.empty()) return Status::ok();
  for (RowKind k : batch.row_kinds) {
    if (k != RowKind::kInsert) {
      return invalid_argument("{}: Kafka topic '{}' is append-only but received an update or delete row; use mode "
                              "'upsert'",
                              c.context, c.topic);
    }
  }
  return Status::ok();
}

// A producer writing rows of the sink's schema: the encoding of keys and values, delivery
// reports, flushing. Used by the sink task's thread only.
class KafkaProducer {
 public:
  // `transactional_id` empty: a plain idempotent producer.
  static Result<std::unique_ptr<KafkaProducer>> make(const KafkaSinkConfig& c, const std::string& transactional_id) {
    std::unique_ptr<KafkaProducer> p(new KafkaProducer(c));
    KafkaSettingList required;
    if (!transactional_id.empty()) {
      required = {{"transactional.id", transactional_id}, {"enable.idempotence", "true"}};
    }
    KafkaProducer* self = p.get();
    ASSIGN_OR_RETURN(p->rk_, make_kafka_handle(RD_KAFKA_PRODUCER, c.client, producer_defaults(c), required, "producer",
                                               [self](rd_kafka_conf_t* conf) {
                                                 rd_kafka_conf_set_dr_msg_cb(conf, &KafkaProducer::on_delivery);
                                                 rd_kafka_conf_set_opaque(conf, self);
                                               }));
    p->topic_ = rd_kafka_topic_new(p->rk_.get(), c.topic.c_str(), nullptr);
    if (p->topic_ == nullptr) return kafka_error(rd_kafka_last_error(), c.context + ": topic '" + c.topic + "'");
    return p;
  }
  ~KafkaProducer() {
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  }

  rd_kafka_t* handle() const { return rk_.get(); }

  // Queues every row of `batch` (upsert mode: -U skipped, -D as a tombstone).
  Status produce(const RecordBatch& batch) {
    const size_t n = batch.num_rows;
    if (n == 0) return Status::ok();
    RETURN_IF_ERROR(check_rows(config_, batch));
    const RecordBatch* key_batch = &batch;
    if (config_.key_columns.size() > 1) {
      // Several key columns: the key is a JSON object of them.
      key_rows_.columns.clear();
      for (int k : config_.key_columns) key_rows_.columns.push_back(batch.column(static_cast<size_t>(k)));
      key_rows_.num_rows = n;
      key_batch = &key_rows_;
    }
    for (size_t r = 0; r < n; ++r) {
      const RowKind kind = batch.row_kind(r);
      if (kind == RowKind::kUpdateBefore) continue;
      const bool tombstone = kind == RowKind::kDelete;
      bool has_key = encode_key(*key_batch, batch, r);
      value_.clear();
      if (!tombstone) {
        value_encoder_.encode_row(batch, r, false, value_);
        if (!value_.empty() && value_.back() == '\n') value_.pop_back();
      }
      RETURN_IF_ERROR(produce_one(batch, r, has_key, tombstone));
    }
    rd_kafka_poll(rk_.get(), 0);  // delivery reports of earlier messages
    return delivery_status();
  }

  // Waits until every queued message is acknowledged (or failed).
  Status flush() {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), kFlushTimeoutMs);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      return unavailable("{}: {} message(s) to Kafka topic '{}' not acknowledged within {} s", config_.context,
                         rd_kafka_outq_len(rk_.get()), config_.topic, kFlushTimeoutMs / 1000);
    }
    return delivery_status();
  }
  Status poll() {
    rd_kafka_poll(rk_.get(), 0);
    return delivery_status();
  }

 private:
  explicit KafkaProducer(const KafkaSinkConfig& c)
      : config_(c), value_encoder_(json_options(), c.schema), key_rows_(key_schema(c)) {
    if (c.key_columns.size() > 1) key_encoder_.emplace(json_options(), key_rows_.schema);
    // Metadata columns travel beside the value, not in it.
    if (c.headers_column >= 0) value_encoder_.omit_column(static_cast<size_t>(c.headers_column));
    if (c.timestamp_column >= 0) value_encoder_.omit_column(static_cast<size_t>(c.timestamp_column));
  }
  static FormatOptions json_options() {
    FormatOptions f;
    f.format = "json";
    return f;
  }
  static SchemaPtr key_schema(const KafkaSinkConfig& c) {
    std::vector<Field> fields;
    for (int k : c.key_columns) fields.push_back(c.schema->field(static_cast<size_t>(k)));
    return make_schema(std::move(fields));
  }

  // The key of row r: one column's text (NULL: no key; not in upsert mode, check_rows()),
  // or several as a JSON object.
  bool encode_key(const RecordBatch& key_batch, const RecordBatch& batch, size_t r) {
    key_.clear();
    if (config_.key_columns.empty()) return false;
    if (key_encoder_) {
      key_encoder_->encode_row(key_batch, r, false, key_);
      if (!key_.empty() && key_.back() == '\n') key_.pop_back();
      return true;
    }
    const Column& col = batch.column(static_cast<size_t>(config_.key_columns[0]));
    if (col.is_null(r)) return false;
    if (col.type() == TypeId::kString) {
      key_.assign(col.string_at(r));
    } else {
      key_ = col.value_to_string(r);
    }
    return true;
  }

  // The headers of row r from the _headers column: a JSON object whose values are strings
  // (other JSON values are taken as their JSON text); NULL or {} gives none.
  Result<rd_kafka_headers_t*> row_headers(const RecordBatch& batch, size_t r) const {
    if (config_.headers_column < 0) return static_cast<rd_kafka_headers_t*>(nullptr);
    const Column& col = batch.column(static_cast<size_t>(config_.headers_column));
    if (col.is_null(r)) return static_cast<rd_kafka_headers_t*>(nullptr);
    const std::string_view text = col.string_at(r);
    nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return invalid_argument("{}: column _headers must hold a JSON object of header names and values, got '{}'",
                              config_.context, text.substr(0, 200));
    }
    if (j.empty()) return static_cast<rd_kafka_headers_t*>(nullptr);
    rd_kafka_headers_t* h = rd_kafka_headers_new(j.size());
    for (const auto& [name, value] : j.items()) {
      const std::string v = value.is_string() ? value.get<std::string>() : value.dump();
      rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
    return h;
  }

  Status produce_one(const RecordBatch& batch, size_t r, bool has_key, bool tombstone) {
    int64_t timestamp_ms = 0;  // 0: the producer's clock
    if (config_.timestamp_column >= 0) {
      const Column& col = batch.column(static_cast<size_t>(config_.timestamp_column));
      if (col.is_valid(r)) timestamp_ms = floor_div(col.int_at(r), kMicrosPerMilli);
    }
    while (true) {
      ASSIGN_OR_RETURN(rd_kafka_headers_t * headers, row_headers(batch, r));
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(tombstone ? nullptr : value_.data(), tombstone ? 0 : value_.size()),
          RD_KAFKA_V_KEY(has_key ? key_.data() : nullptr, has_key ? key_.size() : 0), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();  // the headers now belong to the message
      if (headers) rd_kafka_headers_destroy(headers);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return kafka_error(err, fmt::format("{}: producing to topic '{}'", config_.context, config_.topic));
      }
      rd_kafka_poll(rk_.get(), 100);  // the local queue is full: wait for acknowledgements (backpressure)
      RETURN_IF_ERROR(delivery_status());
    }
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaProducer*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (self->failed_++ == 0) {
      self->first_error_ = fmt::format("{} ({})", rd_kafka_err2str(m->err), rd_kafka_err2name(m->err));
    }
  }
  Status delivery_status() const {
    if (failed_ == 0) return Status::ok();
    return io_error("{}: {} message(s) to Kafka topic '{}' were not delivered: {}", config_.context, failed_,
                    config_.topic, first_error_);
  }

  const KafkaSinkConfig& config_;
  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  JsonEncoder value_encoder_;
  std::optional<JsonEncoder> key_encoder_;
  RecordBatch key_rows_;
  std::string key_, value_;
  uint64_t failed_ = 0;  // delivery reports run on the thread that polls: the sink task's
  std::string first_error_;
};

// at-least-once: an idempotent producer, flushed at every checkpoint and at the end.
class KafkaSinkWriter : public SinkWriter {
 public:
  explicit KafkaSinkWriter(KafkaSinkConfig c) : config_(std::move(c)) {}
  Status open() override {
    ASSIGN_OR_RETURN(producer_, KafkaProducer::make(config_, ""));
    return Status::ok();
  }
  Status write(const RecordBatch& batch) override { return producer_->produce(batch); }
  // Quiet points only serve delivery reports (a failed delivery fails the job early);
  // checkpoints and the end wait for every acknowledgement.
  Status flush() override { return producer_->poll(); }
  Result<std::string> pre_commit(uint64_t id) override {
    RETURN_IF_ERROR(producer_->flush());
    return std::string();
  }
  Status close() override {
    if (!producer_) return Status::ok();
    Status s = producer_->flush();
    producer_.reset();
    return s;
  }

 private:
  KafkaSinkConfig config_;
  std::unique_ptr<KafkaProducer> producer_;
};

// exactly-once: see kafka_sink.h.
class KafkaTransactionTarget : public TransactionTarget {
 public:
  explicit KafkaTransactionTarget(KafkaSinkConfig c) : config_(std::move(c)), buffer_(config_.schema) {}

  std::string describe() const override { return fmt::format("Kafka topic '{}'", config_.topic); }

  Status open() override { return Status::ok(); }
  Status write(const RecordBatch& batch) override {
    if (transactional_) {
      RETURN_IF_ERROR(check_rows(config_, batch));
      return append_buffered_rows(buffer_, batch, config_.context);
    }
    if (!producer_) {
      ASSIGN_OR_RETURN(producer_, KafkaProducer::make(config_, ""));
    }
    return producer_->produce(batch);
  }
  Status flush() override { return producer_ ? producer_->poll() : Status::ok(); }
  Status close() override {
    buffer_.clear();
    if (!producer_ || transactional_) {
      producer_.reset();
      return Status::ok();
    }
    Status s = producer_->flush();
    producer_.reset();
    return s;
  }

  Status begin_transactions(const CommitKey& key) override {
    transactional_ = true;
    transactional_id_ = fmt::format("{}-{}-{}", config_.transactional_id_prefix, key.job_id, key.sink_id);
    ASSIGN_OR_RETURN(producer_, KafkaProducer::make(config_, transactional_id_));
    // Fences an older producer with this id (a zombie of the previous run) and aborts the
    // transaction it left open.
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer_->handle(), kTransactionTimeoutMs)) {
      return kafka_error(e, fmt::format("{}: init_transactions ({})", config_.context, transactional_id_));
    }
    return Status::ok();
  }

  Result<std::unique_ptr<PreparedTransaction>> prepare(uint64_t id) override {
    if (buffer_.num_rows == 0) return std::unique_ptr<PreparedTransaction>();
    auto t = std::make_unique<BufferedRowsTransaction>(std::move(buffer_));
    buffer_ = RecordBatch(config_.schema);
    return std::unique_ptr<PreparedTransaction>(std::move(t));
  }
  Result<std::unique_ptr<PreparedTransaction>> decode_transaction(uint64_t id, ByteReader& r) override {
    return BufferedRowsTransaction::decode(r, config_.schema, config_.context);
  }

  // One Kafka transaction: the rows of every due checkpoint plus the commit record (the
  // checkpoint id as the group offset), so both become visible together or not at all.
  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    ASSIGN_OR_RETURN(uint64_t committed, read_committed_id());
    const uint64_t floor = std::max(committed, skip_through);
    bool any = false;
    for (const auto& [tid, t] : transactions) any = any || tid > floor;
    if (!any) return Status::ok();
    rd_kafka_t* rk = producer_->handle();
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) return transaction_error(e, "begin_transaction");
    Status produced = Status::ok();
    for (const auto& [tid, t] : transactions) {
      if (tid <= floor || !produced.is_ok()) continue;
      produced = producer_->produce(static_cast<const BufferedRowsTransaction&>(*t).rows());
    }
    if (!produced.is_ok()) return abort(produced);
    KafkaPartitionList offsets(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(offsets.get(), config_.topic.c_str(), 0)->offset = static_cast<int64_t>(id);
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new(transactional_id_.c_str());
    rd_kafka_error_t* e = rd_kafka_send_offsets_to_transaction(rk, offsets.get(), group, kTransactionTimeoutMs);
    rd_kafka_consumer_group_metadata_destroy(group);
    if (e) return transaction_error(e, "send_offsets_to_transaction");
    if ((e = rd_kafka_commit_transaction(rk, kTransactionTimeoutMs))) return transaction_error(e, "commit_transaction");
    RETURN_IF_ERROR(producer_->poll());
    committed_ = id;
    // The same record once more outside the transaction: the mock cluster does not store
    // offsets sent with a transaction (on a broker this only repeats what is stored). A
    // failure here is harmless: the transactional record is the one that counts.
    if (offsets_reader_) {
      rd_kafka_resp_err_t err = rd_kafka_commit(offsets_reader_.get(), offsets.get(), 0);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("{}: recording checkpoint {} for '{}': {}", config_.context, id, transactional_id_, rd_kafka_err2str(err));
      }
    }
    return Status::ok();
  }

  Result<uint64_t> committed_id(const SinkIdentity& identity) override { return read_committed_id(); }
  // Committed messages stay in the topic (a warning says so); the record is moved back to
  // `id` so that the replayed checkpoints after it are committed again, not skipped as done.
  Status roll_back(uint64_t id) override {
    ASSIGN_OR_RETURN(uint64_t committed, read_committed_id());
    if (committed <= id) return Status::ok();
    log_warn("{}: checkpoints {}..{} were committed to Kafka topic '{}' and cannot be taken back; their rows may "
             "appear twice",
             config_.context, id + 1, committed, config_.topic);
    KafkaPartitionList offsets(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(offsets.get(), config_.topic.c_str(), 0)->offset = static_cast<int64_t>(id);
    rd_kafka_resp_err_t err = rd_kafka_commit(offsets_reader_.get(), offsets.get(), 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka_error(err, fmt::format("{}: moving the commit record of '{}' back to checkpoint {}", config_.context,
                                          transactional_id_, id));
    }
    committed_ = id;
    return Status::ok();
  }
  bool replay_is_idempotent() const override { return config_.upsert; }
  Status start_fresh(const SinkIdentity& identity) override { return Status::ok(); }
  // init_transactions() aborted what an earlier producer left open; rows not covered by a
  // checkpoint were only buffered here.
  Status abort_uncovered(uint64_t restored_id) override {
    buffer_.clear();
    return Status::ok();
  }

 private:
  Status transaction_error(rd_kafka_error_t* e, const char* step) {
    if (rd_kafka_error_txn_requires_abort(e)) {
      Status s = kafka_error(e, fmt::format("{}: {} ({})", config_.context, step, transactional_id_));
      return abort(Status(StatusCode::kUnavailable, s.message()));
    }
    return kafka_error(e, fmt::format("{}: {} ({})", config_.context, step, transactional_id_));
  }
  // Aborts the open transaction; `why` is returned (kUnavailable: the committer retries).
  Status abort(Status why) {
    if (rd_kafka_error_t* e = rd_kafka_abort_transaction(producer_->handle(), kTransactionTimeoutMs)) {
      return kafka_error(e, fmt::format("{}: abort_transaction after: {}", config_.context, why.message()));
    }
    return why;
  }

  // The newest checkpoint whose transaction committed: the offset the transactions store
  // for group <transactional id>. The mock cluster does not store offsets sent with a
  // transaction: there it is always 0 (docs/kafka.md).
  Result<uint64_t> read_committed_id() {
    if (!offsets_reader_) {
      ASSIGN_OR_RETURN(offsets_reader_,
                       make_kafka_handle(RD_KAFKA_CONSUMER, config_.client, {},
                                         {{"group.id", transactional_id_}, {"enable.auto.commit", "false"}},
                                         "consumer"));
    }
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), config_.topic.c_str(), 0);
    rd_kafka_resp_err_t err = rd_kafka_committed(offsets_reader_.get(), list.get(), kCommittedTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka_error(err, fmt::format("{}: the committed checkpoint of '{}'", config_.context, transactional_id_));
    }
    const int64_t offset = list->elems[0].offset;
    if (offset >= 0) committed_ = static_cast<uint64_t>(offset);
    return committed_;
  }

  KafkaSinkConfig config_;
  bool transactional_ = false;
  std::string transactional_id_;
  std::unique_ptr<KafkaProducer> producer_;
  KafkaHandle offsets_reader_;
  RecordBatch buffer_;
  uint64_t committed_ = 0;  // committed by this process (the mock does not store it)
};

class KafkaSinkFactory : public SinkFactory {
 public:
  explicit KafkaSinkFactory(KafkaSinkConfig c) : config_(std::move(c)) {}
  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.upsert = config_.upsert;
    // Writers are independent producers; exactly-once ones have a transactional id and a
    // commit record per sink instance.
    c.parallel_writers = true;
    c.guarantee = config_.exactly_once ? SinkGuarantee::kExactlyOnce
                                       : (config_.upsert ? SinkGuarantee::kIdempotent : SinkGuarantee::kAtLeastOnce);
    for (int k : config_.key_columns) {
      if (config_.upsert) c.primary_key.push_back(config_.schema->field(static_cast<size_t>(k)).name);
    }
    return c;
  }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    if (config_.exactly_once) {
      return std::unique_ptr<SinkWriter>(
          std::make_unique<TransactionalSinkWriter>(std::make_unique<KafkaTransactionTarget>(config_), config_.context));
    }
    return std::unique_ptr<SinkWriter>(std::make_unique<KafkaSinkWriter>(config_));
  }
  std::string describe() const override {
    return fmt::format("kafka topic {} ({}{})", config_.topic, config_.upsert ? "upsert" : "append",
                       config_.exactly_once ? ", exactly-once" : ", at-least-once");
  }

 private:
  KafkaSinkConfig config_;
};

Result<std::vector<int>> parse_columns(const std::string& text, const Schema& schema, const std::string& option,
                                       const std::string& context) {
  std::vector<int> out;
  size_t b = 0;
  while (b <= text.size()) {
    size_t e = text.find(',', b);
    if (e == std::string::npos) e = text.size();
    std::string name = text.substr(b, e - b);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty()) return invalid_argument("{}: option '{}' has an empty column name in '{}'", context, option, text);
    int idx = schema.find(name);
    if (idx < 0) {
      return invalid_argument("{}: {} column '{}' is not a column of the sink {}", context, option, name,
                              schema.to_string());
    }
    for (int k : out) {
      if (k == idx) return invalid_argument("{}: option '{}' names column '{}' twice", context, option, name);
    }
    out.push_back(idx);
    b = e + 1;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_kafka_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  KafkaSinkConfig c;
  c.context = table_context(o, spec.table);
  c.table = spec.table;
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.topic, o.require_string("topic"));
  if (c.topic.empty()) return invalid_argument("{}: option 'topic' is empty", c.context);
  const std::string mode = o.get_string("mode", "append");
  if (mode != "append" && mode != "upsert") {
    return invalid_argument("{}: option 'mode' must be 'append' or 'upsert', got '{}'", c.context, mode);
  }
  c.upsert = mode == "upsert";
  const std::string key = o.get_string("key");
  const std::string primary_key = o.get_string("primary_key");
  if (c.upsert) {
    if (primary_key.empty()) return invalid_argument("{}: mode 'upsert' needs option 'primary_key'", c.context);
    ASSIGN_OR_RETURN(c.key_columns, parse_columns(primary_key, *c.schema, "primary_key", c.context));
    if (!key.empty()) {
      ASSIGN_OR_RETURN(std::vector<int> k, parse_columns(key, *c.schema, "key", c.context));
      if (k != c.key_columns) {
        return invalid_argument("{}: in mode 'upsert' the message key is the primary key; option 'key' must be "
                                "left out or equal it",
                                c.context);
      }
    }
  } else {
    if (!primary_key.empty()) {
      return invalid_argument("{}: option 'primary_key' needs mode 'upsert'", c.context);
    }
    if (!key.empty()) {
      ASSIGN_OR_RETURN(c.key_columns, parse_columns(key, *c.schema, "key", c.context));
    }
  }
  // Metadata columns, as the source's (formats/metadata_columns.h): written as the message's
  // headers and timestamp, not into its value.
  c.headers_column = c.schema->find("_headers");
  if (c.headers_column >= 0 && c.schema->field(static_cast<size_t>(c.headers_column)).type != TypeId::kString) {
    return invalid_argument("{}: column _headers (the message headers) must be TEXT holding a JSON object", c.context);
  }
  c.timestamp_column = c.schema->find("_timestamp");
  if (c.timestamp_column >= 0 &&
      c.schema->field(static_cast<size_t>(c.timestamp_column)).type != TypeId::kTimestamp) {
    return invalid_argument("{}: column _timestamp (the message timestamp) must be a TIMESTAMP", c.context);
  }
  for (int k : c.key_columns) {
    if (k == c.headers_column || k == c.timestamp_column) {
      return invalid_argument("{}: a metadata column (_headers, _timestamp) cannot be part of the key", c.context);
    }
  }
  const std::string guarantee = o.get_string("guarantee", "at-least-once");
  if (guarantee != "at-least-once" && guarantee != "exactly-once") {
    return invalid_argument("{}: option 'guarantee' must be 'at-least-once' or 'exactly-once', got '{}'", c.context,
                            guarantee);
  }
  c.exactly_once = guarantee == "exactly-once";
  c.transactional_id_prefix = o.get_string("transactional_id_prefix", "sluice");
  if (c.transactional_id_prefix.empty()) {
    return invalid_argument("{}: option 'transactional_id_prefix' is empty", c.context);
  }
  ASSIGN_OR_RETURN(c.client, read_kafka_client_settings(o, c.context));
  if (const std::string* idem = c.client.find("enable.idempotence"); idem && *idem != "true" && c.exactly_once) {
    return invalid_argument("{}: guarantee 'exactly-once' needs an idempotent producer "
                            "('properties.enable.idempotence' must stay true)",
                            c.context);
  }
  if (c.client.find("transactional.id")) {
    return invalid_argument("{}: set 'guarantee' = 'exactly-once' (and 'transactional_id_prefix') instead of "
                            "'properties.transactional.id'",
                            c.context);
  }
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(check_kafka_settings(c.client, producer_defaults(c), {}, "producer"));
  return std::unique_ptr<SinkFactory>(std::make_unique<KafkaSinkFactory>(std::move(c)));
}

}  // namespace sluice
