#include "connectors/redis/redis_stream_source.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/redis/redis_client.h"
#include "connectors/retry.h"
#include "formats/json_encoder.h"
#include "formats/metadata_columns.h"
#include "metrics/registry.h"

namespace sluice {

std::string StreamId::text() const { return fmt::format("{}-{}", ms, seq); }

std::optional<StreamId> parse_stream_id(std::string_view text) {
  StreamId id;
  const char* p = text.data();
  const char* end = p + text.size();
  auto r = std::from_chars(p, end, id.ms);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != '-') return std::nullopt;
  r = std::from_chars(r.ptr + 1, end, id.seq);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return id;
}

std::string encode_redis_stream_position(const RedisStreamPosition& pos) {
  std::string out = pos.last.text();
  out += ' ';
  out += pos.end ? pos.end->text() : "-";
  for (const StreamId& id : pos.claimed) {
    out += ' ';
    out += id.text();
  }
  return out;
}

std::optional<RedisStreamPosition> decode_redis_stream_position(std::string_view bytes) {
  RedisStreamPosition pos;
  size_t field = 0;
  for (size_t b = 0; b <= bytes.size();) {
    size_t e = bytes.find(' ', b);
    if (e == std::string_view::npos) e = bytes.size();
    const std::string_view word = bytes.substr(b, e - b);
    if (field == 1 && word == "-") {
      pos.end.reset();
    } else {
      auto id = parse_stream_id(word);
      if (!id) return std::nullopt;
      if (field == 0) {
        pos.last = *id;
      } else if (field == 1) {
        pos.end = *id;
      } else {
        pos.claimed.push_back(*id);
      }
    }
    ++field;
    b = e + 1;
  }
  if (field < 2) return std::nullopt;
  return pos;
}

namespace {

// Entries read per command at most, and claimed entries in flight (emitted, not yet
// acknowledged) at most: the claimed IDs travel in every checkpoint position.
constexpr size_t kMaxEntriesPerRead = 4096;
constexpr size_t kMaxClaimedInFlight = 1000;
constexpr size_t kAckChunk = 1000;
// How often pending entries of other consumers are looked at, and the lag refreshed.
constexpr auto kClaimEvery = std::chrono::seconds(1);

struct RedisStreamConfig {
  std::string context;
  std::string table;
  RedisEndpoint endpoint;
  std::vector<std::string> streams;
  std::string group;
  std::string consumer;
  bool start_at_end = false;  // startup_mode 'latest': a new group starts at '$'
  bool bounded = false;       // bounded_mode 'latest'
  Micros claim_min_idle = 0;  // 0: no claiming
  FormatOptions format;
};

std::string_view reply_text(const redisReply* r) {
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
    return {r->str, r->len};
  }
  return {};
}

class RedisStreamReader : public SourceReader {
 public:
  RedisStreamReader(std::shared_ptr<const RedisStreamConfig> config, std::string stream)
      : c_(std::move(config)),
        stream_(std::move(stream)),
        claim_consumer_(c_->consumer + ":claimed"),
        redis_(c_->endpoint, fmt::format("{}: stream '{}'", c_->context, stream_)) {}

  void attach(const SourceContext& context) override {
    if (context.retry) retry_ = *context.retry;
    if (context.metrics) {
      lag_ = &context.metrics
                  ->gauge("sluice_source_consumer_lag",
                          "messages in the partition after the next one to read (log end offset - position)",
                          {"job", "source", "split"})
                  .series({context.job, context.table, stream_});
    }
  }

  Status open() override {
    RETURN_IF_ERROR(retry(retry_, "connect", [&] { return redis_.connect(); }));
    cursor_ = StreamId{};
    phase_ = Phase::kOwnPending;
    // The group, created when missing (with the stream): startup_mode applies to a new group only.
    auto created = redis_.call({"XGROUP", "CREATE", stream_, c_->group, c_->start_at_end ? "$" : "0", "MKSTREAM"},
                               "creating the consumer group");
    if (!created.is_ok() && created.status().message().find("BUSYGROUP") == std::string::npos) return created.status();
    if (c_->bounded) {
      // The end of a bounded run: the stream's last entry now (a restore replaces it with
      // the end its checkpoint recorded).
      ASSIGN_OR_RETURN(RedisReplyPtr last, redis_.call({"XREVRANGE", stream_, "+", "-", "COUNT", "1"}, "XREVRANGE"));
      end_ = StreamId{};
      if (last->type == REDIS_REPLY_ARRAY && last->elements > 0 && last->element[0]->elements > 0) {
        auto id = parse_stream_id(reply_text(last->element[0]->element[0]));
        if (!id) return io_error("{}: XREVRANGE returned an entry without an ID", where());
        end_ = *id;
      }
    }
    return Status::ok();
  }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    const size_t want = std::max<size_t>(1, std::min(max_records, kMaxEntriesPerRead));
    out.metadata.topic = stream_;
    PollStatus result = PollStatus::kIdle;
    RETURN_IF_ERROR(retry(retry_, "read", [&]() -> Status {
      if (!redis_.connected()) {
        RETURN_IF_ERROR(redis_.connect());
        // Entries delivered in a reply the lost connection never brought are pending at
        // this consumer after last_: read them again before new ones.
        phase_ = Phase::kOwnPending;
        cursor_ = last_;
      }
      // Pending entries first, all of them, before any new one: new entries move last_,
      // which decides what pending entries the restored checkpoint covered.
      while (phase_ == Phase::kOwnPending || phase_ == Phase::kClaimedPending) {
        RETURN_IF_ERROR(read_pending(out, want));
        if (!out.empty()) return Status::ok();
      }
      if (ended_) return Status::ok();
      if (!c_->bounded) RETURN_IF_ERROR(maybe_claim(out));
      if (out.size() < want) RETURN_IF_ERROR(read_new(out, want - out.size()));
      return Status::ok();
    }));
    if (!out.empty()) {
      out.finish();
      result = PollStatus::kData;
    } else if (ended_) {
      result = PollStatus::kEnd;
    }
    return result;
  }

  int64_t position() const override { return static_cast<int64_t>(last_.ms); }
  std::string checkpoint_position() const override {
    return encode_redis_stream_position({last_, end_, std::vector<StreamId>(claimed_.begin(), claimed_.end())});
  }
  Status check_checkpoint_position(std::string_view bytes) override {
    if (!decode_redis_stream_position(bytes)) return invalid_argument("'{}' is not a Redis stream position", bytes);
    return Status::ok();
  }
  Status seek_checkpoint_position(std::string_view bytes) override {
    auto pos = decode_redis_stream_position(bytes);
    if (!pos) return invalid_argument("'{}' is not a Redis stream position", bytes);
    last_ = covered_through_ = pos->last;
    end_ = pos->end;
    if (c_->bounded && !end_) return invalid_argument("{}: the checkpoint was taken by an unbounded run", where());
    claimed_ = std::set<StreamId>(pos->claimed.begin(), pos->claimed.end());
    restored_claimed_ = claimed_;
    return Status::ok();
  }

  void note_checkpoint(uint64_t id) override {
    snapshots_.push_back({id, last_, std::vector<StreamId>(claimed_.begin(), claimed_.end())});
  }

  // Acknowledges what checkpoint `id` covers: this consumer's pending entries up to the
  // last one it had emitted, and the claimed entries it had emitted. A failed XACK is
  // logged; the next completed checkpoint acknowledges those entries again.
  Status on_checkpoint_complete(uint64_t id) override {
    std::optional<Snapshot> done;
    while (!snapshots_.empty() && snapshots_.front().id <= id) {
      done = std::move(snapshots_.front());
      snapshots_.pop_front();
    }
    if (!done) return Status::ok();
    Status s = redis_.ensure_connected();
    if (s.is_ok() && done->last > StreamId{}) s = ack_own_through(done->last);
    if (s.is_ok() && !done->claimed.empty()) {
      s = ack(done->claimed);
      if (s.is_ok()) {
        for (const StreamId& c : done->claimed) claimed_.erase(c);
      }
    }
    if (!s.is_ok()) log_warn("{}: acknowledging checkpoint {}: {}", where(), id, s.message());
    return Status::ok();
  }

 private:
  enum class Phase { kOwnPending, kClaimedPending, kNew };
  struct Snapshot {
    uint64_t id;
    StreamId last;
    std::vector<StreamId> claimed;
  };

  std::string where() const { return fmt::format("{}: stream '{}'", c_->context, stream_); }

  // Restore: this consumer's own pending entries (delivered before the crash), then those
  // of its claim consumer, in ID order from `cursor_`.
  Status read_pending(RawRecords& out, size_t want) {
    const bool own = phase_ == Phase::kOwnPending;
    const std::string& consumer = own ? c_->consumer : claim_consumer_;
    ASSIGN_OR_RETURN(RedisReplyPtr reply, redis_.call({"XREADGROUP", "GROUP", c_->group, consumer, "COUNT",
                                                       std::to_string(want), "STREAMS", stream_, cursor_.text()},
                                                      "reading pending entries"));
    const redisReply* entries = stream_entries(reply.get());
    std::vector<StreamId> covered;
    size_t n = entries ? entries->elements : 0;
    for (size_t i = 0; i < n; ++i) {
      const redisReply* e = entries->element[i];
      ASSIGN_OR_RETURN(StreamId id, entry_id(e));
      cursor_ = id;
      const bool deleted = e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY;
      if (own) {
        if (id <= covered_through_ || deleted) {
          covered.push_back(id);  // emitted before the checkpoint (or trimmed away meanwhile)
          continue;
        }
        if (end_ && id > *end_) continue;  // past the end of a bounded run: stays pending
        last_ = id;
      } else {
        if (restored_claimed_.count(id) || deleted) {
          covered.push_back(id);  // emitted before the restored checkpoint
          claimed_.erase(id);
          continue;
        }
        if (!claimed_.insert(id).second) continue;  // emitted already (a re-read after a reconnect)
      }
      RETURN_IF_ERROR(append_entry(e, id, out));
    }
    if (!covered.empty()) RETURN_IF_ERROR(ack(covered));
    if (n == 0) {
      cursor_ = StreamId{};
      if (own) {
        phase_ = Phase::kClaimedPending;
      } else {
        phase_ = Phase::kNew;
        restored_claimed_.clear();
      }
    }
    return Status::ok();
  }

  // New entries ('>'); an unbounded run blocks up to 100 ms for them (the poll contract).
  Status read_new(RawRecords& out, size_t want) {
    std::vector<std::string> args{"XREADGROUP", "GROUP", c_->group, c_->consumer, "COUNT", std::to_string(want)};
    if (!c_->bounded && out.empty()) args.insert(args.end(), {"BLOCK", "100"});
    args.insert(args.end(), {"STREAMS", stream_, ">"});
    ASSIGN_OR_RETURN(RedisReplyPtr reply, redis_.call(args, "reading new entries"));
    const redisReply* entries = stream_entries(reply.get());
    const size_t n = entries ? entries->elements : 0;
    for (size_t i = 0; i < n; ++i) {
      const redisReply* e = entries->element[i];
      ASSIGN_OR_RETURN(StreamId id, entry_id(e));
      if (end_ && id > *end_) {
        ended_ = true;  // delivered but not emitted: it stays pending for this consumer
        break;
      }
      last_ = std::max(last_, id);
      RETURN_IF_ERROR(append_entry(e, id, out));
    }
    if (c_->bounded && (n == 0 || (end_ && last_ >= *end_))) ended_ = true;
    return Status::ok();
  }

  // Entries pending too long at other consumers of the group, claimed and emitted; also
  // refreshes the lag gauge. At most once a second, and only while few claimed entries
  // wait for a checkpoint.
  Status maybe_claim(RawRecords& out) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_claim_ < kClaimEvery) return Status::ok();
    last_claim_ = now;
    update_lag();
    if (c_->claim_min_idle <= 0 || claimed_.size() >= kMaxClaimedInFlight) return Status::ok();
    const std::string idle = std::to_string(c_->claim_min_idle / 1000);
    ASSIGN_OR_RETURN(RedisReplyPtr pending,
                     redis_.call({"XPENDING", stream_, c_->group, "IDLE", idle, "-", "+",
                                  std::to_string(kMaxClaimedInFlight - claimed_.size())},
                                 "listing pending entries"));
    std::vector<std::string> args{"XCLAIM", stream_, c_->group, claim_consumer_, idle};
    for (size_t i = 0; pending->type == REDIS_REPLY_ARRAY && i < pending->elements; ++i) {
      const redisReply* p = pending->element[i];
      if (p->type != REDIS_REPLY_ARRAY || p->elements < 2) continue;
      const std::string_view owner = reply_text(p->element[1]);
      if (owner == c_->consumer || owner == claim_consumer_) continue;  // ours: waiting for a checkpoint
      args.emplace_back(reply_text(p->element[0]));
    }
    if (args.size() == 5) return Status::ok();
    ASSIGN_OR_RETURN(RedisReplyPtr claimed, redis_.call(args, "claiming pending entries"));
    size_t taken = 0;
    for (size_t i = 0; claimed->type == REDIS_REPLY_ARRAY && i < claimed->elements; ++i) {
      const redisReply* e = claimed->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
      ASSIGN_OR_RETURN(StreamId id, entry_id(e));
      claimed_.insert(id);
      RETURN_IF_ERROR(append_entry(e, id, out));
      ++taken;
    }
    if (taken > 0) log_info("{}: claimed {} entries pending at a consumer idle for over {}", where(), taken,
                            format_duration(c_->claim_min_idle));
    return Status::ok();
  }

  // The group's lag (Redis 7: entries not yet delivered to any consumer of the group).
  void update_lag() {
    if (!lag_) return;
    auto groups = redis_.call({"XINFO", "GROUPS", stream_}, "XINFO GROUPS");
    if (!groups.is_ok()) return;
    const redisReply* r = groups.value().get();
    for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements; ++g) {
      const redisReply* info = r->element[g];
      if (info->type != REDIS_REPLY_ARRAY) continue;
      bool ours = false;
      int64_t lag = -1;
      for (size_t k = 0; k + 1 < info->elements; k += 2) {
        const std::string_view name = reply_text(info->element[k]);
        const redisReply* v = info->element[k + 1];
        if (name == "name") ours = reply_text(v) == c_->group;
        if (name == "lag" && v->type == REDIS_REPLY_INTEGER) lag = v->integer;
      }
      if (ours && lag >= 0) lag_->set(lag);
    }
  }

  // Acknowledges this consumer's pending entries up to `through`.
  Status ack_own_through(const StreamId& through) {
    for (;;) {
      ASSIGN_OR_RETURN(RedisReplyPtr pending,
                       redis_.call({"XPENDING", stream_, c_->group, "-", through.text(), std::to_string(kAckChunk),
                                    c_->consumer},
                                   "listing pending entries"));
      std::vector<StreamId> ids;
      for (size_t i = 0; pending->type == REDIS_REPLY_ARRAY && i < pending->elements; ++i) {
        const redisReply* p = pending->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements < 1) continue;
        if (auto id = parse_stream_id(reply_text(p->element[0]))) ids.push_back(*id);
      }
      if (!ids.empty()) RETURN_IF_ERROR(ack(ids));
      if (ids.size() < kAckChunk) return Status::ok();
    }
  }

  Status ack(const std::vector<StreamId>& ids) {
    for (size_t b = 0; b < ids.size(); b += kAckChunk) {
      std::vector<std::string> args{"XACK", stream_, c_->group};
      for (size_t i = b; i < std::min(ids.size(), b + kAckChunk); ++i) args.push_back(ids[i].text());
      RETURN_IF_ERROR(redis_.command(args, "XACK"));
    }
    return Status::ok();
  }

  // The entries of the one stream in an XREADGROUP / XREAD reply (RESP2: [[name,
  // entries]]; null when the BLOCK timed out).
  static const redisReply* stream_entries(const redisReply* reply) {
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return nullptr;
    const redisReply* s = reply->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY) return nullptr;
    return s->element[1];
  }

  Result<StreamId> entry_id(const redisReply* e) const {
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1) return io_error("{}: a malformed stream entry", where());
    auto id = parse_stream_id(reply_text(e->element[0]));
    if (!id) return io_error("{}: a stream entry ID '{}' is not 'ms-seq'", where(), reply_text(e->element[0]));
    return *id;
  }

  // The entry's fields as a JSON object of strings; metadata: its ID, stream, timestamp.
  Status append_entry(const redisReply* e, const StreamId& id, RawRecords& out) {
    json_.clear();
    json_.push_back('{');
    if (e->elements >= 2 && e->element[1]->type == REDIS_REPLY_ARRAY) {
      const redisReply* f = e->element[1];
      for (size_t k = 0; k + 1 < f->elements; k += 2) {
        if (k) json_.push_back(',');
        append_json_string(json_, reply_text(f->element[k]));
        json_.push_back(':');
        append_json_string(json_, reply_text(f->element[k + 1]));
      }
    }
    json_.push_back('}');
    const int64_t ms = static_cast<int64_t>(std::min<uint64_t>(id.ms, INT64_MAX / kMicrosPerMilli));
    out.append_record(json_, ms, -1);
    id_text_ = id.text();
    const std::string_view key(id_text_);
    out.append_metadata(&key, {}, ms * kMicrosPerMilli, 0, ms);
    return Status::ok();
  }

  std::shared_ptr<const RedisStreamConfig> c_;
  std::string stream_;
  std::string claim_consumer_;
  RedisClient redis_;
  RetryPolicy retry_{};
  Gauge* lag_ = nullptr;
  Phase phase_ = Phase::kOwnPending;
  StreamId cursor_;  // pending entries are read after this ID
  StreamId last_;    // the last entry emitted from this consumer's own deliveries
  StreamId covered_through_;  // the restored checkpoint's last_: pending entries up to it are done
  std::optional<StreamId> end_;
  bool ended_ = false;
  std::set<StreamId> claimed_;           // claimed entries emitted, not yet acknowledged
  std::set<StreamId> restored_claimed_;  // those the restored checkpoint covers
  std::deque<Snapshot> snapshots_;
  std::chrono::steady_clock::time_point last_claim_{};
  std::string json_, id_text_;
};

class RedisStreamFactory : public SourceFactory {
 public:
  explicit RedisStreamFactory(std::shared_ptr<const RedisStreamConfig> config) : config_(std::move(config)) {}
  int num_splits() const override { return static_cast<int>(config_->streams.size()); }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split < 0 || split >= num_splits()) return internal_error("{}: no split {}", config_->context, split);
    return std::unique_ptr<SourceReader>(
        std::make_unique<RedisStreamReader>(config_, config_->streams[static_cast<size_t>(split)]));
  }
  const FormatOptions& format() const override { return config_->format; }
  bool bounded() const override { return config_->bounded; }
  std::string describe() const override {
    return fmt::format("redis-stream {} group '{}' consumer '{}'{}", fmt::join(config_->streams, ","), config_->group,
                       config_->consumer, config_->bounded ? " (bounded)" : "");
  }
  // What is read: the streams and the group (not the server's address).
  std::string identity() const override {
    return fmt::format("redis-stream streams={} group={} consumer={}", fmt::join(config_->streams, ","), config_->group,
                       config_->consumer);
  }

 private:
  std::shared_ptr<const RedisStreamConfig> config_;
};

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_redis_stream_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  auto config = std::make_shared<RedisStreamConfig>();
  RedisStreamConfig& c = *config;
  c.table = spec.table;
  c.context = table_context(o, spec.table);
  ASSIGN_OR_RETURN(std::string url, o.require_string("url"));
  RETURN_IF_ERROR(parse_redis_url(url, c.context, c.endpoint));
  c.endpoint.password_env = o.get_string("password_env", "");
  ASSIGN_OR_RETURN(std::string streams, o.require_string("stream"));
  ASSIGN_OR_RETURN(c.streams, parse_name_list(streams, "stream", c.context));
  c.group = o.get_string("group_id", "sluice");
  c.consumer = o.get_string("consumer", "sluice-" + spec.table);
  if (c.group.empty() || c.consumer.empty()) {
    return invalid_argument("{}: options 'group_id' and 'consumer' must not be empty", c.context);
  }
  ASSIGN_OR_RETURN(MessageStartOptions start, read_message_start_options(o, c.context));
  c.start_at_end = start.start_at_end;
  c.bounded = start.bounded;
  ASSIGN_OR_RETURN(c.claim_min_idle, o.get_duration("claim_min_idle", 5 * 60 * kMicrosPerSecond));
  if (c.claim_min_idle < 0 || (c.claim_min_idle > 0 && c.claim_min_idle < kMicrosPerMilli)) {
    return invalid_argument("{}: option 'claim_min_idle' must be 0 (never claim) or at least 1 millisecond", c.context);
  }
  ASSIGN_OR_RETURN(c.format, read_source_format(o, c.context));
  if (c.format.format != "json") {
    return invalid_argument("{}: a redis-stream source reads each entry's fields as a JSON object: format must be "
                            "'json', not '{}'",
                            c.context, c.format.format);
  }
  c.format.metadata = {MetadataField::kKey, MetadataField::kTopic, MetadataField::kTimestamp};
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(MetadataColumns::make(spec.schema, c.format.metadata, c.context).status());
  {
    // The server is checked now (reachable, password), not when the job runs.
    RedisClient probe(c.endpoint, c.context);
    RETURN_IF_ERROR(probe.connect());
  }
  return std::unique_ptr<SourceFactory>(std::make_unique<RedisStreamFactory>(std::move(config)));
}

}  // namespace sluice
