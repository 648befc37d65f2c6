#include "connectors/nats/nats_source.h"

#include <charconv>
#include <deque>

#include <fmt/format.h>

#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/nats/nats_client.h"
#include "connectors/retry.h"
#include "formats/metadata_columns.h"
#include "metrics/registry.h"

namespace sluice {

std::string encode_nats_position(const NatsPosition& pos) {
  return fmt::format("{} {}", pos.last, pos.end ? std::to_string(*pos.end) : std::string("-"));
}

std::optional<NatsPosition> decode_nats_position(std::string_view bytes) {
  NatsPosition pos;
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  auto r = std::from_chars(p, end, pos.last);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return std::nullopt;
  std::string_view rest(r.ptr + 1, static_cast<size_t>(end - r.ptr - 1));
  if (rest == "-") return pos;
  uint64_t e = 0;
  r = std::from_chars(rest.data(), rest.data() + rest.size(), e);
  if (r.ec != std::errc() || r.ptr != rest.data() + rest.size()) return std::nullopt;
  pos.end = e;
  return pos;
}

namespace {

constexpr int kMaxFetch = 1024;     // messages per pull request at most
constexpr int64_t kFetchWaitMs = 100;  // the poll contract: return within about 100 ms

struct NatsSourceConfig {
  std::string context;
  NatsEndpoint endpoint;
  std::string stream;
  std::string subject;
  std::string durable;
  bool start_at_end = false;
  bool bounded = false;
  Micros ack_wait = 0;
  FormatOptions format;
};

struct MsgListDeleter {
  natsMsgList list{};
  ~MsgListDeleter() { natsMsgList_Destroy(&list); }
};

class NatsReader : public SourceReader {
 public:
  explicit NatsReader(std::shared_ptr<const NatsSourceConfig> config)
      : c_(std::move(config)), nats_(c_->endpoint, fmt::format("{}: stream '{}'", c_->context, c_->stream)) {}
  ~NatsReader() override { (void)close(); }

  void attach(const SourceContext& context) override {
    if (context.retry) retry_ = *context.retry;
    if (context.metrics) {
      lag_ = &context.metrics
                  ->gauge("sluice_source_consumer_lag",
                          "messages in the partition after the next one to read (log end offset - position)",
                          {"job", "source", "split"})
                  .series({context.job, context.table, c_->stream});
    }
  }

  // Connects and fixes where this run starts and (bounded) ends; a cluster electing a
  // stream leader answers with timeouts for a few seconds: retried.
  Status open() override { return retry(retry_, "open", [&] { return open_once(); }); }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    if (end_ && last_ >= *end_) return PollStatus::kEnd;
    RETURN_IF_ERROR(retry(retry_, "subscribe", [&] { return sub_ ? Status::ok() : subscribe(); }));
    MsgListDeleter msgs;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const int want = static_cast<int>(std::min<size_t>(std::max<size_t>(max_records, 1), kMaxFetch));
    natsStatus s = natsSubscription_Fetch(&msgs.list, sub_, want, kFetchWaitMs, &jerr);
    if (s == NATS_TIMEOUT) {
      update_lag(nullptr);
      return PollStatus::kIdle;
    }
    if (s != NATS_OK) {
      Status st = nats_status(s, jerr, "fetching messages", nats_.context());
      if (st.code() != StatusCode::kUnavailable) return st;
      // The stream or its consumer moved (a leader died): subscribe again at last_ + 1.
      log_warn("{}; subscribing again", st.message());
      reset_subscription();
      return PollStatus::kIdle;
    }
    out.metadata.topic = c_->stream;
    const natsMsg* newest = nullptr;
    for (int i = 0; i < msgs.list.Count; ++i) {
      natsMsg* m = msgs.list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) != NATS_OK) continue;  // not a JetStream message (a status)
      const uint64_t seq = meta->Sequence.Stream;
      const int64_t ts_us = meta->Timestamp / 1000;
      jsMsgMetaData_Destroy(meta);
      if (seq <= last_) continue;  // a redelivery of what was emitted already
      if (end_ && seq > *end_) break;
      last_ = seq;
      last_reply_ = natsMsg_GetReply(m) ? natsMsg_GetReply(m) : "";
      newest = m;
      append(m, seq, ts_us, out);
    }
    update_lag(newest);
    if (!out.empty()) {
      out.finish();
      return PollStatus::kData;
    }
    return end_ && last_ >= *end_ ? PollStatus::kEnd : PollStatus::kIdle;
  }

  int64_t position() const override { return static_cast<int64_t>(last_); }
  std::string checkpoint_position() const override { return encode_nats_position({last_, end_}); }
  Status check_checkpoint_position(std::string_view bytes) override {
    if (!decode_nats_position(bytes)) return invalid_argument("'{}' is not a NATS position", bytes);
    return Status::ok();
  }
  Status seek_checkpoint_position(std::string_view bytes) override {
    auto pos = decode_nats_position(bytes);
    if (!pos) return invalid_argument("'{}' is not a NATS position", bytes);
    if (sub_) return internal_error("{}: seek after the first poll", nats_.context());
    last_ = pos->last;
    end_ = pos->end;
    return Status::ok();
  }

  void note_checkpoint(uint64_t id) override {
    if (!last_reply_.empty()) snapshots_.push_back({id, last_reply_});
  }
  // Acknowledges the last message checkpoint `id` covers (AckAll: and all before it). A
  // failed ack is logged: the next checkpoint acknowledges a later message anyway.
  Status on_checkpoint_complete(uint64_t id) override {
    std::string reply;
    while (!snapshots_.empty() && snapshots_.front().first <= id) {
      reply = std::move(snapshots_.front().second);
      snapshots_.pop_front();
    }
    if (reply.empty() || !nats_.connected()) return Status::ok();
    natsStatus s = natsConnection_PublishString(nats_.connection(), reply.c_str(), "+ACK");
    if (s != NATS_OK) log_warn("{}: acknowledging checkpoint {}: {}", nats_.context(), id, natsStatus_GetText(s));
    return Status::ok();
  }

  Status close() override {
    reset_subscription();
    return Status::ok();
  }

 private:
  Status open_once() {
    if (!nats_.connected()) RETURN_IF_ERROR(nats_.connect());
    if (c_->bounded) {
      ASSIGN_OR_RETURN(uint64_t last, last_sequence());
      end_ = last;  // a restore replaces it with the end its checkpoint recorded
    }
    // Where a fresh start begins, fixed now (a restore replaces it): after what the durable
    // consumer acknowledged, else at startup_mode.
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsConsumerInfo* ci = nullptr;
    natsStatus s = js_GetConsumerInfo(&ci, nats_.jetstream(), c_->stream.c_str(), c_->durable.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      last_ = ci->AckFloor.Stream;
      jsConsumerInfo_Destroy(ci);
    } else if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
      if (c_->start_at_end) {
        ASSIGN_OR_RETURN(last_, last_sequence());
      }
    } else {
      return nats_status(s, jerr, fmt::format("consumer '{}'", c_->durable), nats_.context());
    }
    return Status::ok();
  }

  void reset_subscription() {
    if (sub_) natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }

  Result<uint64_t> last_sequence() {
    ASSIGN_OR_RETURN(jsStreamInfo * si, nats_.stream_info(c_->stream));
    const uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return last;
  }

  // (Re)creates the durable consumer at the sequence to read next (last_ + 1), then
  // pull-subscribes.
  Status subscribe() {
    const uint64_t start = last_ + 1;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_DeleteConsumer(nats_.jetstream(), c_->stream.c_str(), c_->durable.c_str(), nullptr, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
      return nats_status(s, jerr, fmt::format("replacing consumer '{}'", c_->durable), nats_.context());
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c_->stream.c_str();
    so.Config.Durable = c_->durable.c_str();
    so.Config.AckPolicy = js_AckAll;
    so.Config.AckWait = c_->ack_wait * 1000;  // nanoseconds
    so.Config.MaxAckPending = -1;
    if (start > 1) {
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = start;
    } else {
      so.Config.DeliverPolicy = js_DeliverAll;
    }
    jerr = static_cast<jsErrCode>(0);
    s = js_PullSubscribe(&sub_, nats_.jetstream(), c_->subject.c_str(), c_->durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) {
      sub_ = nullptr;
      return nats_status(s, jerr, fmt::format("creating consumer '{}' at sequence {}", c_->durable, start),
                         nats_.context());
    }
    return Status::ok();
  }

  void update_lag(const natsMsg* newest) {
    if (!lag_) return;
    if (newest) {
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, const_cast<natsMsg*>(newest)) == NATS_OK) {
        lag_->set(static_cast<int64_t>(meta->NumPending));
        jsMsgMetaData_Destroy(meta);
      }
    } else {
      lag_->set(0);  // a fetch found nothing pending
    }
  }

  void append(natsMsg* m, uint64_t seq, int64_t ts_us, RawRecords& out) {
    out.append_record(std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))),
                      static_cast<int64_t>(seq), -1);
    headers_.clear();
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
      for (int k = 0; k < count; ++k) {
        const char* value = nullptr;
        if (natsMsgHeader_Get(m, keys[k], &value) == NATS_OK && value) headers_.emplace_back(keys[k], value);
      }
      free(keys);
    }
    const char* subject = natsMsg_GetSubject(m);
    const std::string_view key(subject ? subject : "");
    out.append_metadata(&key, headers_, ts_us, 0, static_cast<int64_t>(seq));
  }

  std::shared_ptr<const NatsSourceConfig> c_;
  NatsClient nats_;
  RetryPolicy retry_{};
  Gauge* lag_ = nullptr;
  natsSubscription* sub_ = nullptr;
  uint64_t last_ = 0;  // stream sequence of the last message emitted
  std::optional<uint64_t> end_;
  std::string last_reply_;  // the ack subject of that message
  std::deque<std::pair<uint64_t, std::string>> snapshots_;  // (checkpoint id, ack subject)
  std::vector<std::pair<std::string_view, std::string_view>> headers_;
};

class NatsSourceFactory : public SourceFactory {
 public:
  explicit NatsSourceFactory(std::shared_ptr<const NatsSourceConfig> config) : config_(std::move(config)) {}
  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    return std::unique_ptr<SourceReader>(std::make_unique<NatsReader>(config_));
  }
  const FormatOptions& format() const override { return config_->format; }
  bool bounded() const override { return config_->bounded; }
  std::string describe() const override {
    return fmt::format("nats stream '{}' subject '{}' consumer '{}'{}", config_->stream, config_->subject,
                       config_->durable, config_->bounded ? " (bounded)" : "");
  }
  std::string identity() const override {
    return fmt::format("nats stream={} subject={} consumer={}", config_->stream, config_->subject, config_->durable);
  }

 private:
  std::shared_ptr<const NatsSourceConfig> config_;
};

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_nats_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  auto config = std::make_shared<NatsSourceConfig>();
  NatsSourceConfig& c = *config;
  c.context = table_context(o, spec.table);
  ASSIGN_OR_RETURN(c.endpoint, read_nats_endpoint(o, c.context));
  ASSIGN_OR_RETURN(c.stream, o.require_string("stream"));
  ASSIGN_OR_RETURN(c.subject, o.require_string("subject"));
  c.durable = o.get_string("consumer", "sluice-" + spec.table);
  if (c.durable.empty() || c.durable.find_first_of(" .*>") != std::string::npos) {
    return invalid_argument("{}: option 'consumer' must be a name without blanks, '.', '*' or '>' (got '{}')",
                            c.context, c.durable);
  }
  ASSIGN_OR_RETURN(MessageStartOptions start, read_message_start_options(o, c.context));
  c.start_at_end = start.start_at_end;
  c.bounded = start.bounded;
  ASSIGN_OR_RETURN(c.ack_wait, o.get_duration("ack_wait", 10 * 60 * kMicrosPerSecond));
  if (c.ack_wait < kMicrosPerSecond) return invalid_argument("{}: option 'ack_wait' must be at least 1s", c.context);
  ASSIGN_OR_RETURN(c.format, read_source_format(o, c.context));
  c.format.metadata = {MetadataField::kKey, MetadataField::kTopic, MetadataField::kOffset, MetadataField::kTimestamp,
                       MetadataField::kHeaders};
  if (c.format.csv_header) {
    return invalid_argument("{}: option 'header' does not apply to NATS (every message is one record)", c.context);
  }
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(MetadataColumns::make(spec.schema, c.format.metadata, c.context).status());
  // The server and the stream are checked now, not when the job runs (retried: a cluster
  // may be electing the stream's leader).
  RETURN_IF_ERROR(retry(RetryPolicy{}, "check the stream", [&]() -> Status {
    NatsClient probe(c.endpoint, c.context);
    RETURN_IF_ERROR(probe.connect());
    ASSIGN_OR_RETURN(jsStreamInfo * si, probe.stream_info(c.stream));
    jsStreamInfo_Destroy(si);
    return Status::ok();
  }));
  return std::unique_ptr<SourceFactory>(std::make_unique<NatsSourceFactory>(std::move(config)));
}

}  // namespace sluice
