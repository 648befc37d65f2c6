#include "connectors/http/http_source.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "common/listen_address.h"
#include "common/logging.h"
#include "connectors/connector_util.h"
#include "formats/json_encoder.h"

namespace sluice {
namespace {

constexpr int kRetryAfterSeconds = 1;
constexpr size_t kHttpWorkers = 8;
// How long poll() waits for new events before answering kIdle (SourceReader: ~100 ms at most).
constexpr int kPollWaitMs = 20;

struct HttpSourceConfig {
  std::string table;
  std::string context;
  ListenAddress listen;
  std::string path;
  std::string token;  // "" without token_file
  std::string wal_dir;
  std::string identity;
  bool checkpointing = false;
  int64_t max_body_bytes = 0;
  int64_t max_pending_bytes = 0;
  int64_t max_wal_bytes = 0;
  int64_t segment_bytes = 0;
  Micros request_timeout = 0;
  FormatOptions format;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The body framing a Content-Type names (parameters such as charset ignored).
std::optional<HttpBodyKind> body_kind(const std::string& content_type) {
  std::string t = lower(std::string(trim(std::string_view(content_type).substr(0, content_type.find(';')))));
  if (t == "application/json" || (t.rfind("application/", 0) == 0 && t.size() > 5 && t.ends_with("+json"))) {
    return HttpBodyKind::kJson;
  }
  if (t == "application/x-ndjson" || t == "application/ndjson" || t == "application/jsonl" ||
      t == "application/x-jsonlines" || t == "application/jsonlines") {
    return HttpBodyKind::kNdjson;
  }
  return std::nullopt;
}

std::string json_error(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += "}\n";
  return out;
}

// A regular expression matching exactly `path` (cpp-httplib routes by regex).
std::string exact_pattern(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out += '\\';
    out += c;
  }
  return out;
}

// What a valid JSON text is, from its first character.
const char* json_type_name(std::string_view valid) {
  switch (valid.empty() ? ' ' : valid.front()) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
  }
}

// "" when `text` is exactly one valid JSON value, else why not. simdjson checks it; numbers
// outside its range (integers beyond 64 bits, 1e400) are still valid JSON, so a text it
// refuses for a number is checked against the grammar alone (nlohmann's) before being
// refused: whether such a number fits a column is the decoder's question, per event.
std::string json_error_of(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const auto err = parser.parse(text.data(), text.size(), true).get(doc);
  if (!err) return {};
  if ((err == simdjson::NUMBER_ERROR || err == simdjson::NUMBER_OUT_OF_RANGE) &&
      nlohmann::json::accept(text)) {
    return {};
  }
  return simdjson::error_message(err);
}

// The listener, the log and what the pre-routing checks need to know about the reader.
// Owned by the factory (shared with its reader); started by the reader's first open().
class IngestService {
 public:
  explicit IngestService(std::shared_ptr<const HttpSourceConfig> config) : config_(std::move(config)) {}
  ~IngestService() { stop(); }

  Status start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (wal_) return Status::ok();
    auto wal = IngestWal::open(IngestWalOptions{config_->wal_dir, config_->segment_bytes});
    if (!wal.is_ok()) return wal.status().with_context(config_->context);
    wal_ = std::move(wal).value();
    server_ = std::make_unique<httplib::Server>();
    routes();
    int port = config_->listen.port;
    if (port == 0) {
      port = server_->bind_to_any_port(config_->listen.host);
    } else if (!server_->bind_to_port(config_->listen.host, port)) {
      port = -1;
    }
    if (port < 0) {
      server_.reset();
      wal_.reset();
      return io_error("{}: cannot listen on {}:{} (in use, or not an address of this machine)", config_->context,
                      config_->listen.host, config_->listen.port);
    }
    port_ = port;
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    log_info("{}: accepting events on http://{}:{}{} (write-ahead log {})", config_->context,
             config_->listen.host.find(':') != std::string::npos ? "[" + config_->listen.host + "]"
                                                                  : config_->listen.host,
             port_, config_->path, config_->wal_dir);
    return Status::ok();
  }

  void stop() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

  IngestWal& wal() { return *wal_; }
  void set_reading(bool reading) { reading_.store(reading); }
  void set_read_offset(int64_t offset) { read_offset_.store(offset); }

 private:
  void routes() {
    httplib::Server& s = *server_;
    s.new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkers); };
    // Bodies are bounded by handle() itself, so that an oversized one is answered (413) and
    // dead-lettered with its first bytes rather than dropped by the library.
    s.set_payload_max_length(std::numeric_limits<size_t>::max());
    const time_t timeout_s = static_cast<time_t>(config_->request_timeout / kMicrosPerSecond);
    const time_t timeout_us = static_cast<time_t>(config_->request_timeout % kMicrosPerSecond);
    s.set_read_timeout(timeout_s, timeout_us);
    s.set_write_timeout(timeout_s, timeout_us);
    s.set_keep_alive_max_count(1000);
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      res.status = 500;
      res.set_content(json_error("internal error"), "application/json");
    });
    s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!config_->token.empty() && !bearer_matches(config_->token, req.get_header_value("Authorization"))) {
        res.set_header("WWW-Authenticate", "Bearer");
        answer(res, 401, json_error("missing or wrong bearer token"), /*close=*/true);
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method == "POST" && req.path == config_->path) {
        int status = 0;
        std::string why = busy(&status);
        if (status != 0) {
          // The body is not read: the connection closes after the answer.
          res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
          answer(res, status, json_error(why), /*close=*/true);
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    const std::string pattern = exact_pattern(config_->path);
    s.Post(pattern, [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& content) {
      handle(req, res, content);
    });
    s.Get(pattern, [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      answer(res, 405, json_error("POST events to this path"), false);
    });
  }

  static void answer(httplib::Response& res, int status, const std::string& body, bool close) {
    res.status = status;
    if (close) res.set_header("Connection", "close");
    res.set_content(body, "application/json");
  }

  // Why a request cannot be taken now (and its status), or "" (status 0).
  std::string busy(int* status) {
    if (!reading_.load()) {
      *status = 503;
      return "the job is not reading events (it is starting or stopping)";
    }
    Status failed = wal_->failure();
    if (!failed.is_ok()) {
      *status = 503;
      return failed.message();
    }
    const int64_t pending = wal_->durable_end() - read_offset_.load();
    if (pending > config_->max_pending_bytes) {
      *status = 429;
      return fmt::format("the job is behind: {} bytes of accepted events not read yet (max_pending_bytes {})", pending,
                         config_->max_pending_bytes);
    }
    const int64_t retained = wal_->retained_bytes();
    if (retained > config_->max_wal_bytes) {
      *status = 503;
      return fmt::format("the write-ahead log holds {} bytes no completed checkpoint covers yet (max_wal_bytes {})",
                         retained, config_->max_wal_bytes);
    }
    *status = 0;
    return {};
  }

  // Records a refused body in the log (the reader task dead-letters it), then answers.
  void refuse(httplib::Response& res, int status, const std::string& reason, int64_t size, std::string_view body,
              bool close) {
    WalBatch letter;
    letter.add_refused(status, reason, size, body);
    Status recorded = wal_->append(letter);
    if (!recorded.is_ok()) {
      res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
      return answer(res, 503, json_error(recorded.message()), true);
    }
    answer(res, status, json_error(reason), close);
  }

  void handle(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& content) {
    const int64_t max = config_->max_body_bytes;
    int64_t declared = -1;
    if (req.has_header("Content-Length")) {
      const std::string v = req.get_header_value("Content-Length");
      char* end = nullptr;
      declared = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || declared < 0) declared = -1;
    }
    std::string body;
    int64_t size = 0;
    bool too_big = declared > max;
    bool read_ok = true;
    if (too_big) {
      // Only the first bytes are read (for the dead letter); the connection is closed after.
      size = declared;
      read_ok = content([&](const char* data, size_t n) {
        body.append(data, std::min(n, kOversizedPrefixBytes - body.size()));
        return body.size() < kOversizedPrefixBytes;
      });
    } else {
      if (declared > 0) body.reserve(static_cast<size_t>(declared) + simdjson::SIMDJSON_PADDING);
      read_ok = content([&](const char* data, size_t n) {
        size += static_cast<int64_t>(n);
        if (size > max) {
          too_big = true;
          body.append(data, std::min(n, kOversizedPrefixBytes - std::min(body.size(), kOversizedPrefixBytes)));
          return false;
        }
        body.append(data, n);
        return true;
      });
    }
    if (too_big) {
      body.resize(std::min(body.size(), kOversizedPrefixBytes));
      const std::string reason =
          declared > max ? fmt::format("the body has {} bytes, more than max_body_bytes {}", declared, max)
                         : fmt::format("the body has more than max_body_bytes {}", max);
      return refuse(res, 413, reason, size, body, /*close=*/true);
    }
    if (!read_ok) return answer(res, 400, json_error("the request body could not be read"), true);
    const std::string type = req.get_header_value("Content-Type");
    const std::optional<HttpBodyKind> kind = body_kind(type);
    if (!kind) {
      const std::string reason =
          type.empty() ? "no Content-Type: send application/json or application/x-ndjson"
                       : fmt::format("Content-Type '{}' is not supported: send application/json or application/x-ndjson",
                                     type);
      return refuse(res, 415, reason, size, body, false);
    }
    WalBatch batch;
    Status split = split_http_body(body, *kind, batch);
    if (!split.is_ok()) return refuse(res, 400, split.message(), size, body, false);
    Status appended = wal_->append(batch);
    if (!appended.is_ok()) {
      log_error("{}: {}", config_->context, appended.message());
      res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
      return answer(res, 503, json_error(appended.message()), true);
    }
    answer(res, 202, fmt::format("{{\"accepted\":{}}}\n", batch.records()), false);
  }

  std::shared_ptr<const HttpSourceConfig> config_;
  std::mutex mu_;
  std::unique_ptr<IngestWal> wal_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> reading_{false};
  std::atomic<int64_t> read_offset_{0};
};

class HttpSourceReader : public SourceReader {
 public:
  HttpSourceReader(std::shared_ptr<const HttpSourceConfig> config, std::shared_ptr<IngestService> service)
      : config_(std::move(config)), service_(std::move(service)) {}
  ~HttpSourceReader() override { (void)close(); }

  Status open() override {
    RETURN_IF_ERROR(service_->start());
    wal_ = &service_->wal();
    reader_.emplace(*wal_, wal_->start());
    service_->set_read_offset(reader_->offset());
    service_->set_reading(true);
    return Status::ok();
  }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    Status failed = wal_->failure();
    if (!failed.is_ok()) return failed.with_context(config_->context);
    if (wal_->durable_end() <= reader_->offset()) wal_->wait_for_data(reader_->offset(), kPollWaitMs);
    auto n = reader_->read(out, max_records);
    if (!n.is_ok()) return n.status().with_context(config_->context);
    service_->set_read_offset(reader_->offset());
    if (!config_->checkpointing) {
      // Nothing will acknowledge what was read: the segments read through go now.
      RETURN_IF_ERROR(wal_->release_before(reader_->offset()).with_context(config_->context));
    }
    if (n.value() == 0) return PollStatus::kIdle;
    out.finish();
    return PollStatus::kData;
  }

  int64_t position() const override { return reader_ ? reader_->offset() : 0; }
  SourcePosition resume_position() const override { return {position(), 0, wal_ ? wal_->id() : std::string()}; }

  Status check_position(const SourcePosition& pos) override {
    if (pos.fingerprint != wal_->id()) {
      return invalid_argument("the write-ahead log in '{}' is not the one the checkpoint read (log id {}, recorded {})",
                              wal_->dir(), wal_->id(), pos.fingerprint.empty() ? "none" : pos.fingerprint);
    }
    if (pos.offset < wal_->start()) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("the write-ahead log in '{}' starts at offset {}, after the recorded position {} "
                                "(deleted once a later checkpoint completed)",
                                wal_->dir(), wal_->start(), pos.offset));
    }
    if (pos.offset > wal_->durable_end()) {
      return Status(StatusCode::kDataLoss, fmt::format("the write-ahead log in '{}' ends at offset {}, before the "
                                                       "recorded position {}",
                                                       wal_->dir(), wal_->durable_end(), pos.offset));
    }
    return Status::ok();
  }

  Status seek(const SourcePosition& pos) override {
    RETURN_IF_ERROR(check_position(pos));
    reader_->seek(pos.offset);
    service_->set_read_offset(pos.offset);
    return Status::ok();
  }

  void note_checkpoint(uint64_t id) override { snapshots_.emplace_back(id, position()); }

  // The segments before the offset checkpoint `id` recorded are acknowledged: deleted.
  Status on_checkpoint_complete(uint64_t id) override {
    int64_t offset = -1;
    while (!snapshots_.empty() && snapshots_.front().first <= id) {
      offset = snapshots_.front().second;
      snapshots_.pop_front();
    }
    if (offset < 0 || !wal_) return Status::ok();
    return wal_->release_before(offset).with_context(config_->context);
  }

  Status close() override {
    if (wal_) service_->set_reading(false);
    reader_.reset();
    wal_ = nullptr;
    return Status::ok();
  }

 private:
  std::shared_ptr<const HttpSourceConfig> config_;
  std::shared_ptr<IngestService> service_;
  IngestWal* wal_ = nullptr;
  std::optional<IngestWalReader> reader_;
  std::deque<std::pair<uint64_t, int64_t>> snapshots_;  // (checkpoint id, offset it recorded)
};

class HttpSourceFactory : public SourceFactory {
 public:
  explicit HttpSourceFactory(std::shared_ptr<const HttpSourceConfig> config)
      : config_(std::move(config)), service_(std::make_shared<IngestService>(config_)) {}

  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split != 0) return internal_error("{}: the http source has one split, asked for {}", config_->context, split);
    return std::unique_ptr<SourceReader>(std::make_unique<HttpSourceReader>(config_, service_));
  }
  const FormatOptions& format() const override { return config_->format; }
  bool bounded() const override { return false; }
  std::string describe() const override {
    return fmt::format("http POST {}:{}{} (json)", config_->listen.host, config_->listen.port, config_->path);
  }
  std::string identity() const override { return config_->identity; }

 private:
  std::shared_ptr<const HttpSourceConfig> config_;
  std::shared_ptr<IngestService> service_;
};

// A file or directory name made of the table's name (quoted identifiers may hold anything).
std::string safe_name(const std::string& table) {
  std::string out;
  for (char c : table) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out.empty() ? "_" : out;
}

Result<int64_t> positive_bytes(const ConnectorOptions& o, const std::string& name, int64_t fallback,
                               const std::string& context) {
  ASSIGN_OR_RETURN(int64_t v, o.get_int(name, fallback));
  if (v < 1) return invalid_argument("{}: option '{}' must be a positive number of bytes, got {}", context, name, v);
  return v;
}

}  // namespace

Status split_http_body(std::string_view body, HttpBodyKind kind, WalBatch& out) {
  const auto fail = [&](std::string message) {
    out.clear();
    return invalid_argument("{}", message);
  };
  if (kind == HttpBodyKind::kNdjson) {
    size_t line_no = 0;
    for (size_t at = 0; at < body.size();) {
      size_t nl = body.find('\n', at);
      if (nl == std::string_view::npos) nl = body.size();
      const std::string_view line = trim(body.substr(at, nl - at));
      ++line_no;
      at = nl + 1;
      if (line.empty()) continue;
      std::string error = json_error_of(line);
      if (!error.empty()) return fail(fmt::format("line {}: not valid JSON: {}", line_no, error));
      if (line.front() != '{') return fail(fmt::format("line {}: {}, not a JSON object", line_no, json_type_name(line)));
      out.add_event(line);
    }
    if (out.records() == 0) return fail("the body holds no events");
    return Status::ok();
  }
  const std::string_view text = trim(body);
  if (text.empty()) return fail("the body is empty");
  std::string error = json_error_of(text);
  if (!error.empty()) return fail("not valid JSON: " + error);
  if (text.front() == '{') {
    out.add_event(text);
    return Status::ok();
  }
  if (text.front() != '[') {
    return fail(fmt::format("the body is {}, not an object or an array of objects", json_type_name(text)));
  }
  // Valid: the elements' bytes as sent (a DOM would re-print numbers), through the on-demand
  // parser, which gives each element's span.
  thread_local simdjson::ondemand::parser spans;
  const simdjson::padded_string padded(text);
  simdjson::ondemand::document array_doc;
  if (auto err = spans.iterate(padded).get(array_doc)) return fail(simdjson::error_message(err));
  simdjson::ondemand::array array;
  if (auto err = array_doc.get_array().get(array)) return fail(simdjson::error_message(err));
  size_t index = 0;
  for (auto element : array) {
    std::string_view raw;
    if (auto err = element.raw_json_token().get(raw)) return fail(simdjson::error_message(err));
    if (raw.empty() || raw.front() != '{') {
      return fail(fmt::format("array element {} is {}, not a JSON object", index, json_type_name(trim(raw))));
    }
    simdjson::ondemand::object object;
    if (auto err = element.get_object().get(object)) return fail(simdjson::error_message(err));
    if (auto err = object.raw_json().get(raw)) return fail(simdjson::error_message(err));
    out.add_event(trim(raw));
    ++index;
  }
  return Status::ok();
}

Result<std::unique_ptr<SourceFactory>> make_http_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  auto config = std::make_shared<HttpSourceConfig>();
  HttpSourceConfig& c = *config;
  c.table = spec.table;
  c.context = table_context(o, spec.table);
  ASSIGN_OR_RETURN(std::string listen, o.require_string("listen"));
  ASSIGN_OR_RETURN(c.listen, parse_listen_address(listen, c.context + ": option 'listen'"));
  c.path = o.get_string("path", "/");
  if (c.path.empty() || c.path.front() != '/' ||
      !std::all_of(c.path.begin(), c.path.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("/-._~", ch);
      })) {
    return invalid_argument("{}: option 'path' must start with '/' and hold only letters, digits and / - . _ ~, got '{}'",
                            c.context, c.path);
  }
  const std::string token_file = o.get_string("token_file");
  if (!token_file.empty()) {
    ASSIGN_OR_RETURN(c.token, read_token_file(token_file, c.context + ": option 'token_file'"));
  }
  if (!is_loopback(c.listen.host) && c.token.empty()) {
    return invalid_argument("{}: listening on '{}' (not a loopback address) needs a bearer token: set option 'token_file'",
                            c.context, c.listen.host);
  }
  const std::string wal_dir = o.get_string("wal_dir");
  c.checkpointing = !spec.checkpoint_dir.empty();
  if (!wal_dir.empty()) {
    c.wal_dir = wal_dir;
    c.identity = "http write-ahead log " + wal_dir;
  } else if (c.checkpointing) {
    c.wal_dir = (std::filesystem::path(spec.checkpoint_dir) / "http-wal" / safe_name(spec.table)).string();
    c.identity = "http write-ahead log of table " + spec.table;
  } else {
    return invalid_argument(
        "{}: the http connector keeps accepted events in a write-ahead log and needs a durable place for it: run with "
        "--checkpoint-dir (the log goes there) or set option 'wal_dir'",
        c.context);
  }
  ASSIGN_OR_RETURN(c.max_body_bytes, positive_bytes(o, "max_body_bytes", 8ll << 20, c.context));
  ASSIGN_OR_RETURN(c.max_pending_bytes, positive_bytes(o, "max_pending_bytes", 64ll << 20, c.context));
  ASSIGN_OR_RETURN(c.max_wal_bytes, positive_bytes(o, "max_wal_bytes", 1ll << 30, c.context));
  ASSIGN_OR_RETURN(c.segment_bytes, positive_bytes(o, "segment_bytes", 64ll << 20, c.context));
  ASSIGN_OR_RETURN(c.request_timeout, o.get_duration("request_timeout", 10 * kMicrosPerSecond));
  if (c.request_timeout < kMicrosPerMilli * 100) {
    return invalid_argument("{}: option 'request_timeout' must be at least 100ms", c.context);
  }
  const std::string format = o.get_string("format", "json");
  if (format != "json") {
    return invalid_argument("{}: option 'format' must be 'json' for the http connector, got '{}'", c.context, format);
  }
  ASSIGN_OR_RETURN(c.format, read_source_format(o, c.context));
  RETURN_IF_ERROR(o.check_all_used());
  return std::unique_ptr<SourceFactory>(std::make_unique<HttpSourceFactory>(std::move(config)));
}

}  // namespace sluice
