#include "connectors/redis/redis_sink.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "connectors/connector_util.h"
#include "connectors/redis/redis_client.h"
#include "connectors/retry.h"
#include "connectors/transactional_sink.h"
#include "formats/json_encoder.h"

namespace sluice {
namespace {

// Where commit records live: one hash for every sluice sink of the database.
constexpr const char* kCommitsKey = "sluice:commits";

struct RedisSinkConfig : TableKey {
  std::string context;
  std::string table;
  RedisEndpoint endpoint;
  std::string key_prefix;
  bool hash = true;          // data_type: hash or string
  Micros ttl = 0;            // 0: keys do not expire
  SchemaPtr schema;
};

// The text of a value in a hash field (TIMESTAMP as ISO-8601 UTC, as the JSON encoder).
void append_field_text(std::string& out, const Column& col, size_t row) {
  switch (col.type()) {
    case TypeId::kString: out.append(col.string_at(row)); break;
    case TypeId::kBool: out.append(col.int_at(row) ? "true" : "false"); break;
    case TypeId::kInt64: out.append(std::to_string(col.int_at(row))); break;
    case TypeId::kFloat64: out.append(fmt::format("{}", col.double_at(row))); break;
    case TypeId::kTimestamp: out.append(format_timestamp_iso(col.int_at(row))); break;
    case TypeId::kInterval: out.append(format_duration(col.int_at(row))); break;
    case TypeId::kNull: break;
  }
}

// One connection and the commands of a batch.
class RedisTarget : public BufferedRowsTarget {
 public:
  explicit RedisTarget(RedisSinkConfig config)
      : BufferedRowsTarget(config.schema, config.context), c_(std::move(config)), redis_(c_.endpoint, c_.context) {
    FormatOptions f;
    f.format = "json";
    encoder_ = std::make_unique<JsonEncoder>(f, c_.schema);
  }
  ~RedisTarget() override {
    (void)drain_applier();
  }

  std::string describe() const override { return fmt::format("redis keys '{}*'", c_.key_prefix); }

  // A server that is briefly unavailable (restarting) is retried with backoff.
  Status open() override { return retry(retry_, "connect", [&] { return redis_.connect(); }); }
  Status close() override { return flush(); }

  Status begin_transactions(const CommitKey& key) override {
    key_ = key;
    set_transactional();
    return Status::ok();
  }

  // One MULTI: the transactions newer than the recorded checkpoint and the record of `id`.
  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    return retry(retry_, "commit", [&]() -> Status {
      RETURN_IF_ERROR(redis_.ensure_connected());
      ASSIGN_OR_RETURN(uint64_t recorded, recorded_id(key_));
      if (recorded >= id) return Status::ok();
      std::vector<const RecordBatch*> batches;
      for (const auto& [tid, transaction] : transactions) {
        if (tid <= recorded || tid <= skip_through) continue;
        batches.push_back(&static_cast<const BufferedRowsTransaction&>(*transaction).rows());
      }
      return send(batches, id);
    });
  }
  Result<uint64_t> committed_id(const SinkIdentity&) override {
    RETURN_IF_ERROR(redis_.ensure_connected());
    return recorded_id(key_);
  }
  Result<uint64_t> foreign_committed_id(const CommitKey& other) override {
    RETURN_IF_ERROR(redis_.ensure_connected());
    return recorded_id(other);
  }
  // Keys end with their last change whatever is replayed: only the record moves back.
  Status roll_back(uint64_t id) override {
    return retry(retry_, "roll back", [&]() -> Status {
      RETURN_IF_ERROR(redis_.ensure_connected());
      ASSIGN_OR_RETURN(uint64_t recorded, recorded_id(key_));
      if (recorded <= id) return Status::ok();
      return send({}, id);
    });
  }
  bool replay_is_idempotent() const override { return true; }
  Status start_fresh(const SinkIdentity&) override {
    return retry(retry_, "start", [&]() -> Status {
      RETURN_IF_ERROR(redis_.ensure_connected());
      return send({}, 0);
    });
  }

 private:
  Status apply_plain(const RecordBatch& rows) override {
    return retry(retry_, "write", [&]() -> Status {
      RETURN_IF_ERROR(redis_.ensure_connected());
      return send({&rows}, std::nullopt);
    });
  }

  Result<uint64_t> recorded_id(const CommitKey& key) {
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     redis_.call({"HGET", kCommitsKey, key.job_id + "/" + key.sink_id}, "reading the commit record"));
    if (reply->type != REDIS_REPLY_STRING) return uint64_t{0};
    return static_cast<uint64_t>(std::strtoull(std::string(reply->str, reply->len).c_str(), nullptr, 10));
  }

  // The key of row `r`: the prefix, then the key columns' values joined by ':'. Keys compare
  // with IS semantics (sink.h): a NULL part is `\N`, one key of its own, not the empty
  // string's; a text value beginning with a backslash gets one more in front, so that no
  // value reads as a NULL (docs/redis.md).
  void row_key(std::string& out, const RecordBatch& b, size_t r) const {
    out = c_.key_prefix;
    for (size_t i = 0; i < c_.key_columns.size(); ++i) {
      if (i) out.push_back(':');
      const Column& col = b.column(static_cast<size_t>(c_.key_columns[i]));
      if (col.is_null(r)) {
        out.append("\\N");
        continue;
      }
      if (col.type() == TypeId::kString && col.string_at(r).starts_with('\\')) out.push_back('\\');
      append_field_text(out, col, r);
    }
  }

  // One MULTI ... EXEC, pipelined: every batch's last change per key, then (with a record)
  // the commit record.
  Status send(const std::vector<const RecordBatch*>& batches, std::optional<uint64_t> record) {
    size_t sent = 0;
    redis_.append({"MULTI"});
    ++sent;
    // Words are views into key_, values_ and the ttl text: no allocation per row once the
    // buffers have grown.
    const std::string ttl_ms = c_.ttl > 0 ? std::to_string(c_.ttl / 1000) : std::string();
    for (const RecordBatch* rows : batches) {
      last_change_per_key(*rows, c_.key_columns, upserts_, deletes_);
      for (uint32_t r : deletes_) {
        row_key(key_buf_, *rows, r);
        redis_.append({"DEL", key_buf_});
        ++sent;
      }
      for (uint32_t r : upserts_) {
        row_key(key_buf_, *rows, r);
        if (c_.hash) {
          redis_.append({"DEL", key_buf_});
          ++sent;
          // The field values side by side in values_, then the words pointing into it.
          values_.clear();
          value_ends_.clear();
          fields_.clear();
          for (int v : c_.value_columns) {
            const Column& col = rows->column(static_cast<size_t>(v));
            if (col.is_null(r)) continue;
            append_field_text(values_, col, r);
            value_ends_.push_back(values_.size());
            fields_.push_back(v);
          }
          if (fields_.empty()) continue;
          words_.assign({"HSET", key_buf_});
          for (size_t i = 0; i < fields_.size(); ++i) {
            const size_t begin = i == 0 ? 0 : value_ends_[i - 1];
            words_.push_back(c_.schema->field(static_cast<size_t>(fields_[i])).name);
            words_.emplace_back(values_.data() + begin, value_ends_[i] - begin);
          }
          redis_.append_views(words_);
          ++sent;
          if (c_.ttl > 0) {
            redis_.append({"PEXPIRE", key_buf_, ttl_ms});
            ++sent;
          }
        } else {
          values_.clear();
          encoder_->encode_row(*rows, r, /*with_op=*/false, values_);
          while (!values_.empty() && values_.back() == '\n') values_.pop_back();
          if (c_.ttl > 0) {
            redis_.append({"SET", key_buf_, values_, "PX", ttl_ms});
          } else {
            redis_.append({"SET", key_buf_, values_});
          }
          ++sent;
        }
      }
    }
    if (record) {
      redis_.append({"HSET", kCommitsKey, key_.job_id + "/" + key_.sink_id, std::to_string(*record)});
      ++sent;
    }
    redis_.append({"EXEC"});
    ++sent;
    return redis_.read_replies(sent, "writing a batch");
  }

  RedisSinkConfig c_;
  RedisClient redis_;
  CommitKey key_;
  RetryPolicy retry_{};
  std::unique_ptr<JsonEncoder> encoder_;
  std::vector<uint32_t> upserts_, deletes_;
  std::string key_buf_, values_;
  std::vector<size_t> value_ends_;
  std::vector<int> fields_;
  std::vector<std::string_view> words_;
};

class RedisSinkFactory : public SinkFactory {
 public:
  explicit RedisSinkFactory(RedisSinkConfig config) : config_(std::move(config)) {}

  SinkCapabilities capabilities() const override {
    SinkCapabilities c = config_.capabilities(*config_.schema);
    c.guarantee = SinkGuarantee::kIdempotent;  // a key written again holds the same value
    return c;
  }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(
        std::make_unique<TransactionalSinkWriter>(std::make_unique<RedisTarget>(config_), config_.context));
  }
  std::string describe() const override {
    std::string key;
    for (int k : config_.key_columns) {
      key += (key.empty() ? "" : ":") + config_.schema->field(static_cast<size_t>(k)).name;
    }
    return fmt::format("redis {} keys '{}<{}>'{}", config_.hash ? "hash" : "string", config_.key_prefix, key,
                       config_.ttl > 0 ? ", ttl " + format_duration(config_.ttl) : "");
  }

 private:
  RedisSinkConfig config_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_redis_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  RedisSinkConfig c;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  c.table = spec.table;
  Result<std::string> url = o.require_string("url");
  if (!url.is_ok()) return url.status();
  RETURN_IF_ERROR(parse_redis_url(url.value(), c.context, c.endpoint));
  if (!o.has("primary_key")) {
    return invalid_argument("{}: a redis sink needs primary_key (the columns that make a row's Redis key)", c.context);
  }
  ASSIGN_OR_RETURN(static_cast<TableKey&>(c), read_table_key(o, *c.schema, c.context));
  if (c.key_columns.empty()) {
    return invalid_argument("{}: option 'primary_key' must name at least one column for a redis sink", c.context);
  }
  c.key_prefix = o.get_string("key_prefix", spec.table + ":");
  const std::string type = o.get_string("data_type", "hash");
  if (type != "hash" && type != "string") {
    return invalid_argument("{}: option 'data_type' must be 'hash' or 'string', not '{}'", c.context, type);
  }
  c.hash = type == "hash";
  if (o.has("ttl")) {  // none: keys do not expire
    ASSIGN_OR_RETURN(c.ttl, o.get_duration("ttl", 0));
  }
  if (c.ttl < 0 || (c.ttl > 0 && c.ttl < 1000)) {
    return invalid_argument("{}: option 'ttl' must be at least 1 millisecond", c.context);
  }
  c.endpoint.password_env = o.get_string("password_env", "");
  RETURN_IF_ERROR(o.check_all_used());
  // The server is checked now (reachable, password), not when the job runs.
  {
    RedisTarget probe(c);
    RETURN_IF_ERROR(probe.open());
  }
  return std::unique_ptr<SinkFactory>(std::make_unique<RedisSinkFactory>(std::move(c)));
}

}  // namespace sluice
