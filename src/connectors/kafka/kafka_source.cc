#include "connectors/kafka/kafka_source.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include <fmt/ranges.h>

#include "common/logging.h"
#include "common/time_util.h"
#include "connectors/connector_util.h"
#include "connectors/kafka/kafka_client.h"
#include "formats/metadata_columns.h"
#include "metrics/registry.h"

namespace sluice {
namespace {

constexpr int kFirstMetadataTimeoutMs = 10000;  // the first discovery: the cluster may be starting
constexpr int kMetadataTimeoutMs = 2000;
constexpr int kOffsetsTimeoutMs = 10000;
constexpr size_t kMaxMessagesPerPoll = 8192;
constexpr int64_t kStartOfPartition = RD_KAFKA_OFFSET_BEGINNING;  // -2: the earliest offset still kept

enum class StartupMode { kEarliest, kLatest, kGroup, kTimestamp };
enum class BoundedMode { kNone, kLatest, kTimestamp };

struct KafkaSourceConfig {
  std::string table;
  std::string context;
  std::vector<std::string> topics;  // sorted, unique; empty with a pattern
  std::string pattern;
  std::optional<std::regex> regex;
  std::string group_id;  // empty: no offsets committed
  StartupMode startup = StartupMode::kEarliest;
  int64_t startup_timestamp_ms = 0;
  BoundedMode bounded = BoundedMode::kNone;
  int64_t bounded_timestamp_ms = 0;
  Micros discovery_interval = 0;
  bool want_headers = false;
  KafkaClientSettings client;
  FormatOptions format;
};

// The consumer settings every handle of a source uses: offsets are the checkpoint's, so
// nothing is committed or stored automatically; a position that no longer exists (deleted
// by retention) is an error rather than a silent jump; partition ends are reported (bounded
// reads end on them even when the last offsets are transaction markers).
KafkaSettingList consumer_defaults(const KafkaSourceConfig& c) {
  return {{"auto.offset.reset", "error"}, {"client.id", "sluice-" + c.table}};
}
KafkaSettingList consumer_required(const KafkaSourceConfig& c) {
  // librdkafka assigns partitions only to a consumer with a group id; without group_id one
  // is made up and never committed to.
  return {{"group.id", c.group_id.empty() ? "sluice-" + c.table : c.group_id},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          {"enable.partition.eof", "true"}};
}

// One consumer handle per reader task, shared by the splits that task reads (each split
// consumes its own partition queue). Created on first use, closed with its last split.
class SharedConsumer {
 public:
  explicit SharedConsumer(KafkaHandle rk) : rk_(std::move(rk)) {}
  ~SharedConsumer() {
    rd_kafka_consumer_close(rk_.get());
  }
  rd_kafka_t* get() const { return rk_.get(); }

 private:
  KafkaHandle rk_;
};

class ConsumerPool {
 public:
  explicit ConsumerPool(std::shared_ptr<const KafkaSourceConfig> config) : config_(std::move(config)) {}
  Result<std::shared_ptr<SharedConsumer>> get(int reader) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto existing = consumers_[reader].lock()) return existing;
    ASSIGN_OR_RETURN(KafkaHandle rk, make_kafka_handle(RD_KAFKA_CONSUMER, config_->client, consumer_defaults(*config_),
                                                       consumer_required(*config_), "consumer"));
    auto made = std::make_shared<SharedConsumer>(std::move(rk));
    consumers_[reader] = made;
    return made;
  }

 private:
  std::shared_ptr<const KafkaSourceConfig> config_;
  std::mutex mu_;
  std::map<int, std::weak_ptr<SharedConsumer>> consumers_;
};

KafkaPartitionList one_partition(const std::string& topic, int32_t partition, int64_t offset) {
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
  return list;
}

class KafkaReader : public SourceReader {
 public:
  KafkaReader(std::shared_ptr<const KafkaSourceConfig> config, std::shared_ptr<ConsumerPool> pool, std::string topic,
              int32_t partition, KafkaSplitPosition pos)
      : config_(std::move(config)),
        pool_(std::move(pool)),
        topic_(std::move(topic)),
        partition_(partition),
        next_(pos.next),
        end_(pos.end) {}
  ~KafkaReader() override { (void)close(); }

  void attach(const SourceContext& context) override {
    reader_ = context.reader;
    if (context.metrics) {
      // One series per partition (split), kept when the split moves to another reader task.
      lag_ = &context.metrics
                  ->gauge("sluice_source_consumer_lag",
                          "messages in the partition after the next one to read (log end offset - position)",
                          {"job", "source", "split"})
                  .series({context.job, context.table, fmt::format("{}-{}", topic_, partition_)});
    }
  }

  Status open() override {
    ASSIGN_OR_RETURN(consumer_, pool_->get(reader_));
    return Status::ok();
  }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    if (ended()) return PollStatus::kEnd;
    if (!queue_) {
      RETURN_IF_ERROR(assign());
    }
    const size_t want = std::min(max_records, kMaxMessagesPerPoll);
    messages_.resize(want);
    ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 0, messages_.data(), want);
    if (n < 0) return kafka_error(rd_kafka_last_error(), where());
    if (n == 0) {
      rd_kafka_poll(consumer_->get(), 0);  // serves the handle's own events (commit results)
      update_lag();
      return PollStatus::kIdle;
    }
    Status failed = Status::ok();
    out.metadata.topic = topic_;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = messages_[static_cast<size_t>(i)];
      if (failed.is_ok()) failed = take(m, out);
      rd_kafka_message_destroy(m);
    }
    RETURN_IF_ERROR(failed);
    update_lag();
    if (!out.empty()) {
      out.finish();
      return PollStatus::kData;
    }
    return ended() ? PollStatus::kEnd : PollStatus::kIdle;
  }

  int64_t position() const override { return next_; }
  std::string checkpoint_position() const override { return encode_kafka_position({next_, end_}); }
  Status check_checkpoint_position(std::string_view bytes) override {
    if (!decode_kafka_position(bytes)) return invalid_argument("'{}' is not a Kafka position", bytes);
    return Status::ok();
  }
  Status seek_checkpoint_position(std::string_view bytes) override {
    auto pos = decode_kafka_position(bytes);
    if (!pos) return invalid_argument("'{}' is not a Kafka position", bytes);
    if (queue_) return internal_error("{}: seek after the first poll", where());
    next_ = pos->next;
    end_ = pos->end;
    return Status::ok();
  }

  void note_checkpoint(uint64_t id) override {
    if (!config_->group_id.empty() && next_ >= 0) snapshots_.emplace_back(id, next_);
  }
  // Commits the offset checkpoint `id` recorded (for monitoring tools only: resuming never
  // reads group offsets). Asynchronous: a failed commit is logged by librdkafka and the
  // next checkpoint commits a newer offset anyway.
  Status on_checkpoint_complete(uint64_t id) override {
    int64_t offset = -1;
    while (!snapshots_.empty() && snapshots_.front().first <= id) {
      offset = snapshots_.front().second;
      snapshots_.pop_front();
    }
    if (offset < 0 || offset == committed_ || !consumer_) return Status::ok();
    KafkaPartitionList list = one_partition(topic_, partition_, offset);
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_->get(), list.get(), 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log_warn("{}: committing offset {} to group '{}': {}", where(), offset, config_->group_id, rd_kafka_err2str(err));
    } else {
      committed_ = offset;
    }
    return Status::ok();
  }

  Status close() override {
    if (queue_) {
      KafkaPartitionList list = one_partition(topic_, partition_, RD_KAFKA_OFFSET_INVALID);
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_->get(), list.get())) rd_kafka_error_destroy(e);
      queue_.reset();
    }
    consumer_.reset();
    return Status::ok();
  }

 private:
  std::string where() const { return fmt::format("topic '{}' partition {}", topic_, partition_); }
  // Consumer lag from the log end offset the last fetch response reported (librdkafka keeps
  // it per partition: no request to the broker), once per poll.
  void update_lag() {
    if (!lag_ || next_ < 0) return;
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_->get(), topic_.c_str(), partition_, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      return;
    }
    lag_->set(std::max<int64_t>(0, high - next_));
  }
  bool ended() const { return end_ >= 0 && next_ >= end_; }

  // Routes the partition to its own queue (not the consumer's), then assigns it at next_.
  Status assign() {
    KafkaQueue q(rd_kafka_queue_get_partition(consumer_->get(), topic_.c_str(), partition_));
    if (!q) return internal_error("{}: no partition queue", where());
    rd_kafka_queue_forward(q.get(), nullptr);
    KafkaPartitionList list = one_partition(topic_, partition_, next_ >= 0 ? next_ : kStartOfPartition);
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_->get(), list.get())) {
      return kafka_error(e, "assigning " + where());
    }
    queue_ = std::move(q);
    return Status::ok();
  }

  Status take(rd_kafka_message_t* m, RawRecords& out) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // m->offset is the next offset to be written: nothing before it is left to read.
      if (m->offset > next_ || next_ < 0) next_ = m->offset;
      return Status::ok();
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return io_error("Kafka: {} at offset {}: {} ({})", where(), m->offset, rd_kafka_message_errstr(m),
                      rd_kafka_err2name(m->err));
    }
    if (ended() || (next_ >= 0 && m->offset < next_)) return Status::ok();  // past the end / read already
    if (end_ >= 0 && m->offset >= end_) {
      next_ = end_;
      return Status::ok();
    }
    next_ = m->offset + 1;
    // A NULL value (tombstone) is an empty record: the decoders produce no row for it.
    out.append_record(std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0), m->offset, -1);
    rd_kafka_timestamp_type_t type;
    const int64_t ts_ms = rd_kafka_message_timestamp(m, &type);
    headers_.clear();
    rd_kafka_headers_t* hdrs = nullptr;
    if (config_->want_headers && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h) {
        headers_.emplace_back(name, std::string_view(static_cast<const char*>(value), value ? size : 0));
      }
    }
    const std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
    out.append_metadata(m->key ? &key : nullptr, headers_, ts_ms < 0 ? RecordMetadata::kMissing : ts_ms * kMicrosPerMilli,
                        partition_, m->offset);
    return Status::ok();
  }

  std::shared_ptr<const KafkaSourceConfig> config_;
  std::shared_ptr<ConsumerPool> pool_;
  std::string topic_;
  int32_t partition_;
  int64_t next_;  // kStartOfPartition until the first message or partition end is seen
  int64_t end_;
  int reader_ = 0;
  std::shared_ptr<SharedConsumer> consumer_;
  KafkaQueue queue_;
  std::vector<rd_kafka_message_t*> messages_;
  std::vector<std::pair<std::string_view, std::string_view>> headers_;
  std::deque<std::pair<uint64_t, int64_t>> snapshots_;  // (checkpoint id, next offset) to commit
  Gauge* lag_ = nullptr;                                 // sluice_source_consumer_lag; null without metrics
  int64_t committed_ = -1;
};

std::string split_id(const std::string& topic, int32_t partition) { return fmt::format("{}-{}", topic, partition); }

// Finds partitions (see the header). Called under the engine's lock, one call at a time.
class KafkaEnumerator : public SplitEnumerator {
 public:
  explicit KafkaEnumerator(std::shared_ptr<const KafkaSourceConfig> config) : config_(std::move(config)) {}

  Status restore(const std::vector<SourceSplit>& recorded, std::string_view state) override {
    restored_ = true;
    for (const auto& s : recorded) {
      known_.insert(s.id);
      next_number_ = std::max(next_number_, s.number + 1);
    }
    return Status::ok();
  }

  Result<SplitChanges> discover() override {
    const bool first = !started_;
    started_ = true;
    if (!rk_) {
      ASSIGN_OR_RETURN(rk_, make_kafka_handle(RD_KAFKA_CONSUMER, config_->client, consumer_defaults(*config_),
                                              consumer_required(*config_), "consumer"));
    }
    const int timeout = first ? kFirstMetadataTimeoutMs : kMetadataTimeoutMs;
    std::vector<std::string> topics = config_->topics;
    if (config_->regex) {
      auto all = kafka_list_topics(rk_.get(), timeout);
      if (!all.is_ok()) return transient(first, all.status());
      topics.clear();
      for (auto& t : all.value()) {
        if (std::regex_match(t, *config_->regex)) topics.push_back(std::move(t));
      }
    }
    // The partitions not known yet, in topic and partition order (their split numbers).
    std::vector<std::pair<std::string, int32_t>> found;
    for (const auto& topic : topics) {
      auto count = kafka_partition_count(rk_.get(), topic, timeout);
      if (!count.is_ok()) return transient(first, count.status().with_context(config_->context));
      if (count.value() == 0) {
        if (config_->bounded != BoundedMode::kNone) {
          return not_found("{}: topic '{}' does not exist (a bounded read needs its end offsets at the start)",
                           config_->context, topic);
        }
        if (missing_warned_.insert(topic).second) {
          log_warn("{}: topic '{}' does not exist (yet); its partitions are read once it does", config_->context,
                   topic);
        }
        continue;
      }
      for (int32_t p = 0; p < count.value(); ++p) {
        if (!known_.count(split_id(topic, p))) found.emplace_back(topic, p);
      }
    }
    SplitChanges changes;
    changes.complete = config_->bounded != BoundedMode::kNone;
    if (found.empty()) return changes;
    // Partitions that exist at a fresh start begin where startup_mode says; partitions
    // found later (or after a restore: not in the checkpoint) were created since, so every
    // record of theirs is new: they begin at their earliest offset.
    const bool initial = first && !restored_;
    ASSIGN_OR_RETURN(std::vector<int64_t> starts, start_offsets(found, initial));
    std::vector<int64_t> ends(found.size(), -1);
    if (config_->bounded == BoundedMode::kLatest) {
      ASSIGN_OR_RETURN(ends, list_offsets(found, RD_KAFKA_OFFSET_END));
    } else if (config_->bounded == BoundedMode::kTimestamp) {
      ASSIGN_OR_RETURN(ends, offsets_at(found, config_->bounded_timestamp_ms));
    }
    for (size_t i = 0; i < found.size(); ++i) {
      const std::string id = split_id(found[i].first, found[i].second);
      known_.insert(id);
      int64_t end = ends[i];
      if (end >= 0 && starts[i] >= 0 && starts[i] > end) end = starts[i];  // nothing to read
      changes.added.push_back(SourceSplit{id, next_number_++, encode_kafka_position({starts[i], end})});
    }
    if (!first) log_info("{}: found {} new partition(s), first {}", config_->context, found.size(), changes.added[0].id);
    return changes;
  }

  Micros discovery_interval() const override {
    return config_->bounded != BoundedMode::kNone ? 0 : config_->discovery_interval;
  }

 private:
  // The first discovery must succeed; a later one that fails transiently is retried at the
  // next interval (the job keeps reading the partitions it has).
  Result<SplitChanges> transient(bool first, const Status& s) {
    if (first || s.code() != StatusCode::kUnavailable) return s;
    log_warn("{}: partition discovery: {}", config_->context, s.message());
    return SplitChanges{};
  }

  Result<std::vector<int64_t>> start_offsets(const std::vector<std::pair<std::string, int32_t>>& parts, bool initial) {
    if (!initial) return list_offsets(parts, RD_KAFKA_OFFSET_BEGINNING);
    switch (config_->startup) {
      case StartupMode::kEarliest: return list_offsets(parts, RD_KAFKA_OFFSET_BEGINNING);
      case StartupMode::kLatest: return list_offsets(parts, RD_KAFKA_OFFSET_END);
      case StartupMode::kTimestamp: return offsets_at(parts, config_->startup_timestamp_ms);
      case StartupMode::kGroup: {
        KafkaPartitionList list = make_list(parts, RD_KAFKA_OFFSET_INVALID);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list.get(), kOffsetsTimeoutMs);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          return kafka_error(err, fmt::format("{}: committed offsets of group '{}'", config_->context, config_->group_id));
        }
        ASSIGN_OR_RETURN(std::vector<int64_t> earliest, list_offsets(parts, RD_KAFKA_OFFSET_BEGINNING));
        std::vector<int64_t> out;
        for (int i = 0; i < list->cnt; ++i) {
          // No committed offset: the partition is read from its earliest offset.
          const int64_t committed = list->elems[i].offset;
          out.push_back(committed >= 0 ? std::max(committed, earliest[static_cast<size_t>(i)])
                                       : earliest[static_cast<size_t>(i)]);
        }
        return out;
      }
    }
    return internal_error("unknown startup mode");
  }

  static KafkaPartitionList make_list(const std::vector<std::pair<std::string, int32_t>>& parts, int64_t offset) {
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
    for (const auto& [topic, p] : parts) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
    return list;
  }

  // ListOffsets: `timestamp` in ms, or RD_KAFKA_OFFSET_END / _BEGINNING for the log end /
  // start offset of each partition.
  Result<std::vector<int64_t>> list_offsets(const std::vector<std::pair<std::string, int32_t>>& parts,
                                            int64_t timestamp) {
    KafkaPartitionList list = make_list(parts, timestamp);
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_.get(), list.get(), kOffsetsTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, config_->context + ": listing offsets");
    std::vector<int64_t> out;
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka_error(e.err, fmt::format("{}: offsets of topic '{}' partition {}", config_->context, e.topic,
                                              e.partition));
      }
      out.push_back(e.offset);
    }
    return out;
  }

  // The first offset whose timestamp is >= timestamp_ms; the log end where there is none.
  Result<std::vector<int64_t>> offsets_at(const std::vector<std::pair<std::string, int32_t>>& parts,
                                          int64_t timestamp_ms) {
    ASSIGN_OR_RETURN(std::vector<int64_t> at, list_offsets(parts, timestamp_ms));
    ASSIGN_OR_RETURN(std::vector<int64_t> ends, list_offsets(parts, RD_KAFKA_OFFSET_END));
    for (size_t i = 0; i < at.size(); ++i) {
      if (at[i] < 0) at[i] = ends[i];
    }
    return at;
  }

  std::shared_ptr<const KafkaSourceConfig> config_;
  KafkaHandle rk_;
  std::set<std::string> known_;
  std::set<std::string> missing_warned_;
  int next_number_ = 0;
  bool started_ = false;
  bool restored_ = false;
};

class KafkaSourceFactory : public SourceFactory {
 public:
  explicit KafkaSourceFactory(std::shared_ptr<const KafkaSourceConfig> config)
      : config_(std::move(config)), pool_(std::make_shared<ConsumerPool>(config_)) {}

  Result<std::unique_ptr<SplitEnumerator>> create_enumerator() override {
    return std::unique_ptr<SplitEnumerator>(std::make_unique<KafkaEnumerator>(config_));
  }
  Result<std::unique_ptr<SourceReader>> create_split_reader(const SourceSplit& split) override {
    const size_t dash = split.id.rfind('-');
    int32_t partition = -1;
    if (dash == std::string::npos ||
        std::from_chars(split.id.data() + dash + 1, split.id.data() + split.id.size(), partition).ec != std::errc() ||
        partition < 0) {
      return invalid_argument("{}: '{}' is not a Kafka split (topic-partition)", config_->context, split.id);
    }
    KafkaSplitPosition pos{kStartOfPartition, -1};
    if (!split.position.empty()) {
      auto decoded = decode_kafka_position(split.position);
      if (!decoded) return invalid_argument("{}: '{}' is not a Kafka position", config_->context, split.position);
      pos = *decoded;
    }
    return std::unique_ptr<SourceReader>(
        std::make_unique<KafkaReader>(config_, pool_, split.id.substr(0, dash), partition, pos));
  }
  int num_splits() const override { return 1; }  // reader tasks by default; splits are dynamic
  const FormatOptions& format() const override { return config_->format; }
  bool bounded() const override { return config_->bounded != BoundedMode::kNone; }
  std::string describe() const override {
    std::string what = config_->regex ? fmt::format("topic_pattern '{}'", config_->pattern)
                                      : fmt::format("topic {}", fmt::join(config_->topics, ","));
    return fmt::format("kafka {} ({}{})", what, config_->format.format, bounded() ? ", bounded" : "");
  }
  // What is read: the topics (not the brokers' addresses, which may change between runs).
  std::string identity() const override {
    return config_->regex ? "kafka topic_pattern=" + config_->pattern
                          : fmt::format("kafka topic={}", fmt::join(config_->topics, ","));
  }

 private:
  std::shared_ptr<const KafkaSourceConfig> config_;
  std::shared_ptr<ConsumerPool> pool_;
};

Result<int64_t> timestamp_ms_option(const ConnectorOptions& o, const std::string& name, const std::string& context) {
  ASSIGN_OR_RETURN(std::string text, o.require_string(name));
  int64_t ms = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && p == text.data() + text.size()) return ms;  // epoch milliseconds
  auto ts = parse_timestamp(text);
  if (!ts.is_ok()) return ts.status().with_context(fmt::format("{}: option '{}'", context, name));
  return floor_div(ts.value(), kMicrosPerMilli);
}

}  // namespace

std::string encode_kafka_position(const KafkaSplitPosition& pos) { return fmt::format("{} {}", pos.next, pos.end); }

std::optional<KafkaSplitPosition> decode_kafka_position(std::string_view bytes) {
  KafkaSplitPosition pos;
  const char* p = bytes.data();
  const char* end = bytes.data() + bytes.size();
  auto r = std::from_chars(p, end, pos.next);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return std::nullopt;
  r = std::from_chars(r.ptr + 1, end, pos.end);
  if (r.ec != std::errc() || r.ptr != end || pos.end < -1 || pos.next < kStartOfPartition) return std::nullopt;
  return pos;
}

Result<std::unique_ptr<SourceFactory>> make_kafka_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  auto config = std::make_shared<KafkaSourceConfig>();
  KafkaSourceConfig& c = *config;
  c.table = spec.table;
  c.context = table_context(o, spec.table);
  const std::string topics = o.get_string("topic");
  c.pattern = o.get_string("topic_pattern");
  if (topics.empty() == c.pattern.empty()) {
    return invalid_argument("{}: give exactly one of the options 'topic' (a name or a comma list) and 'topic_pattern'",
                            c.context);
  }
  ASSIGN_OR_RETURN(c.topics, parse_name_list(topics, "topic", c.context));
  if (!c.pattern.empty()) {
    try {
      c.regex.emplace(c.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return invalid_argument("{}: option 'topic_pattern' '{}' is not a regular expression: {}", c.context, c.pattern,
                              e.what());
    }
  }
  c.group_id = o.get_string("group_id");
  const std::string startup = o.get_string("startup_mode", "earliest");
  if (startup == "earliest") {
    c.startup = StartupMode::kEarliest;
  } else if (startup == "latest") {
    c.startup = StartupMode::kLatest;
  } else if (startup == "group") {
    c.startup = StartupMode::kGroup;
    if (c.group_id.empty()) return invalid_argument("{}: startup_mode 'group' needs option 'group_id'", c.context);
  } else if (startup == "timestamp") {
    c.startup = StartupMode::kTimestamp;
  } else {
    return invalid_argument("{}: option 'startup_mode' must be 'earliest', 'latest', 'group' or 'timestamp', got '{}'",
                            c.context, startup);
  }
  if (c.startup == StartupMode::kTimestamp) {
    ASSIGN_OR_RETURN(c.startup_timestamp_ms, timestamp_ms_option(o, "startup_timestamp", c.context));
  } else if (o.has("startup_timestamp")) {
    return invalid_argument("{}: option 'startup_timestamp' needs startup_mode 'timestamp'", c.context);
  }
  const std::string bounded = o.get_string("bounded_mode");
  if (bounded.empty()) {
    c.bounded = BoundedMode::kNone;
  } else if (bounded == "latest") {
    c.bounded = BoundedMode::kLatest;
  } else if (bounded == "timestamp") {
    c.bounded = BoundedMode::kTimestamp;
  } else {
    return invalid_argument("{}: option 'bounded_mode' must be 'latest' or 'timestamp', got '{}'", c.context, bounded);
  }
  if (c.bounded == BoundedMode::kTimestamp) {
    ASSIGN_OR_RETURN(c.bounded_timestamp_ms, timestamp_ms_option(o, "bounded_timestamp", c.context));
  } else if (o.has("bounded_timestamp")) {
    return invalid_argument("{}: option 'bounded_timestamp' needs bounded_mode 'timestamp'", c.context);
  }
  if (c.bounded != BoundedMode::kNone && !c.pattern.empty()) {
    return invalid_argument("{}: bounded_mode needs a fixed topic list ('topic'), not 'topic_pattern'", c.context);
  }
  ASSIGN_OR_RETURN(c.discovery_interval, o.get_duration("discovery_interval", 30 * kMicrosPerSecond));
  if (c.discovery_interval < kMicrosPerMilli * 100) {
    return invalid_argument("{}: option 'discovery_interval' must be at least 100ms", c.context);
  }
  ASSIGN_OR_RETURN(c.format, read_source_format(o, c.context));
  // Declared columns named _key, _topic, ... are filled from the message (the decoder does it).
  c.format.metadata = {MetadataField::kKey,    MetadataField::kTopic,     MetadataField::kPartition,
                       MetadataField::kOffset, MetadataField::kTimestamp, MetadataField::kHeaders};
  if (c.format.csv_header) {
    return invalid_argument("{}: option 'header' does not apply to Kafka (every message is one record)", c.context);
  }
  ASSIGN_OR_RETURN(c.client, read_kafka_client_settings(o, c.context));
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(check_kafka_settings(c.client, consumer_defaults(c), consumer_required(c), "consumer"));
  // Metadata columns are checked now, so a wrongly typed one fails at planning.
  RETURN_IF_ERROR(MetadataColumns::make(spec.schema, c.format.metadata, c.context).status());
  for (size_t i = 0; i < spec.schema->size(); ++i) c.want_headers = c.want_headers || spec.schema->field(i).name == "_headers";
  return std::unique_ptr<SourceFactory>(std::make_unique<KafkaSourceFactory>(std::move(config)));
}

}  // namespace sluice
