// Specification of the HTTP ingest source: real HTTP requests (cpp-httplib's client) against
// the source's listener, read back through its reader as the reader task would.
#include "connectors/http/http_source.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <httplib.h>

#include "connectors/test_util.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> split(std::string_view body, HttpBodyKind kind, Status* status = nullptr) {
  WalBatch batch;
  Status s = split_http_body(body, kind, batch);
  if (status) *status = s;
  EXPECT_TRUE(status || s.is_ok()) << s.message();
  auto wal_dir = std::make_unique<TempDir>();
  auto wal = IngestWal::open(IngestWalOptions{wal_dir->file("w"), 1 << 20});
  EXPECT_TRUE(wal.is_ok());
  EXPECT_TRUE(wal.value()->append(batch).is_ok());
  IngestWalReader reader(*wal.value(), 0);
  RawRecords raw;
  EXPECT_TRUE(reader.read(raw, 1000).is_ok());
  std::vector<std::string> out;
  for (size_t i = 0; i < raw.size(); ++i) out.emplace_back(raw.record(i));
  return out;
}

TEST(HttpBodyTest, AnObjectAnArrayOfObjectsAndNdjsonAreEventsAsSent) {
  EXPECT_EQ(split(" {\"a\": 1.10, \"b\": [1,2]}\n", HttpBodyKind::kJson),
            (std::vector<std::string>{"{\"a\": 1.10, \"b\": [1,2]}"}));
  EXPECT_EQ(split("[{\"a\": 1.10}, {\"b\": 12345678901234567890123}]", HttpBodyKind::kJson),
            (std::vector<std::string>{"{\"a\": 1.10}", "{\"b\": 12345678901234567890123}"}))
      << "numbers keep their text";
  EXPECT_EQ(split("[]", HttpBodyKind::kJson), std::vector<std::string>{});
  EXPECT_EQ(split("{\"big\": -123456789012345678901234567890}", HttpBodyKind::kJson),
            (std::vector<std::string>{"{\"big\": -123456789012345678901234567890}"}))
      << "valid JSON, though no 64-bit integer holds it: the decoder judges the field";
  EXPECT_EQ(split("{\"n\":1}\r\n\n  {\"n\":2}\n{\"n\":3}", HttpBodyKind::kNdjson),
            (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST(HttpBodyTest, BadBodiesAreRefusedWholeWithAReason) {
  const std::pair<const char*, const char*> json_cases[] = {
      {"{\"a\":", "not valid JSON"},
      {"", "the body is empty"},
      {"42", "the body is a number, not an object or an array of objects"},
      {"[{\"a\":1}, 2]", "array element 1 is a number, not a JSON object"},
      {"{\"a\":1}\n{\"a\":2}", "not valid JSON"},
      {"{\"a\": 01}", "not valid JSON"},
      {"[{\"a\":1}, \"x\"]", "array element 1 is a string, not a JSON object"},
  };
  for (const auto& [body, reason] : json_cases) {
    WalBatch batch;
    Status s = split_http_body(body, HttpBodyKind::kJson, batch);
    ASSERT_FALSE(s.is_ok()) << body;
    EXPECT_NE(s.message().find(reason), std::string::npos) << body << ": " << s.message();
    EXPECT_EQ(batch.records(), 0u);
  }
  WalBatch batch;
  Status s = split_http_body("{\"n\":1}\n{\"n\":\n{\"n\":3}\n", HttpBodyKind::kNdjson, batch);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.message().rfind("line 2: not valid JSON", 0), 0u) << s.message();
  EXPECT_EQ(batch.records(), 0u) << "nothing of a refused body is kept";
  s = split_http_body("{\"n\":1}\n[1]\n", HttpBodyKind::kNdjson, batch);
  EXPECT_EQ(s.message(), "line 2: an array, not a JSON object");
  s = split_http_body("\n \n", HttpBodyKind::kNdjson, batch);
  EXPECT_EQ(s.message(), "the body holds no events");
}

// A source table with its factory and opened reader, and a client for its listener.
class HttpSourceTest : public ::testing::Test {
 protected:
  void start(std::map<std::string, std::string> options, const std::string& checkpoint_dir = "") {
    port_ = free_port();
    options.emplace("listen", fmt::format("127.0.0.1:{}", port_));
    options.emplace("path", "/events");
    if (checkpoint_dir.empty()) options.emplace("wal_dir", dir_.file("wal"));
    SourceSpec spec = testing::source_spec("http", options);
    spec.checkpoint_dir = checkpoint_dir;
    auto f = make_source_factory(spec);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    factory_ = std::move(f).value();
    EXPECT_FALSE(factory_->bounded());
    auto r = factory_->create_reader(0);
    ASSERT_TRUE(r.is_ok());
    reader_ = std::move(r).value();
    Status opened = reader_->open();
    ASSERT_TRUE(opened.is_ok()) << opened.message();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }
  void stop() {
    client_.reset();
    reader_.reset();
    factory_.reset();
  }

  httplib::Result post(const std::string& body, const std::string& type = "application/json",
                       const httplib::Headers& headers = {}) {
    return client_->Post("/events", headers, body, type.c_str());
  }

  // Polls until `n` records and refused bodies were read (or a few seconds passed).
  RawRecords read(size_t n) {
    RawRecords all, batch;
    for (int i = 0; i < 500 && all.size() + all.oversized.size() < n; ++i) {
      batch.clear();
      auto st = reader_->poll(batch, 100);
      EXPECT_TRUE(st.is_ok()) << st.status().message();
      if (!st.is_ok()) break;
      EXPECT_NE(st.value(), PollStatus::kEnd);
      for (size_t k = 0; k < batch.size(); ++k) all.append_record(batch.record(k), batch.offsets[k], -1);
      for (size_t k = 0; k < batch.oversized.size(); ++k) {
        all.append_refused(batch.oversized_prefix(k), batch.oversized[k].offset, -1, batch.oversized[k].size_bytes,
                           batch.oversized_reason(k));
      }
    }
    return all;
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<SourceFactory> factory_;
  std::unique_ptr<SourceReader> reader_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpSourceTest, AcceptedEventsAreReadByTheReader) {
  start({});
  auto r = post("{\"id\":1}");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "{\"accepted\":1}\n");
  r = post("[{\"id\":2},{\"id\":3}]", "application/json; charset=utf-8");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"accepted\":2}\n");
  r = post("{\"id\":4}\n{\"id\":5}\n", "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  RawRecords all = read(5);
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all.record(static_cast<size_t>(i)), fmt::format("{{\"id\":{}}}", i + 1));
  EXPECT_TRUE(all.oversized.empty());
  auto get = client_->Get("/events");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto other = client_->Post("/other", "{}", "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

TEST_F(HttpSourceTest, BadBodiesAreAnswered4xxAndHandedToTheDeadLetterQueue) {
  start({{"max_body_bytes", "1000"}});
  auto bad = post("{\"id\":", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\"error\":\"not valid JSON"), std::string::npos) << bad->body;
  auto type = post("id=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->status, 415);
  EXPECT_NE(type->body.find("Content-Type 'application/x-www-form-urlencoded' is not supported"), std::string::npos);
  const std::string big = "[" + std::string(2000, ' ') + "]";
  auto large = post(big, "application/json");
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_NE(large->body.find("the body has 2002 bytes, more than max_body_bytes 1000"), std::string::npos)
      << large->body;
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);  // the 413 closed the connection
  auto good = post("{\"id\":7}");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 202);
  RawRecords all = read(4);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.record(0), "{\"id\":7}");
  ASSERT_EQ(all.oversized.size(), 3u);
  EXPECT_EQ(all.oversized_reason(0).substr(0, 26), "HTTP 400: not valid JSON: ");
  EXPECT_EQ(all.oversized_prefix(0), "{\"id\":");
  EXPECT_EQ(all.oversized[0].size_bytes, 6);
  EXPECT_EQ(all.oversized_reason(1),
            "HTTP 415: Content-Type 'application/x-www-form-urlencoded' is not supported: send application/json or "
            "application/x-ndjson");
  EXPECT_EQ(all.oversized_prefix(1), "id=1");
  EXPECT_EQ(all.oversized_reason(2), "HTTP 413: the body has 2002 bytes, more than max_body_bytes 1000");
  EXPECT_EQ(all.oversized[2].size_bytes, 2002);
  EXPECT_EQ(all.oversized_prefix(2), big) << "its first 4 KiB";
  EXPECT_LT(all.oversized[0].offset, all.oversized[1].offset);
}

TEST_F(HttpSourceTest, WithATokenEveryRequestNeedsIt) {
  const std::string token_file = dir_.file("token");
  testing::write_file(token_file, "0123456789abcdef-ingest\n");
  ::chmod(token_file.c_str(), 0600);
  start({{"token_file", token_file}});
  auto none = post("{\"id\":1}");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  auto wrong = post("{\"id\":1}", "application/json", {{"Authorization", "Bearer 0123456789abcdef-wrong!"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  auto right = post("{\"id\":2}", "application/json", {{"Authorization", "Bearer 0123456789abcdef-ingest"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 202);
  RawRecords all = read(1);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.record(0), "{\"id\":2}");
  EXPECT_TRUE(all.oversized.empty()) << "unauthenticated requests are not dead letters";
}

TEST_F(HttpSourceTest, AJobThatIsBehindGets429WithRetryAfter) {
  start({{"max_pending_bytes", "150"}});
  const std::string event = "{\"payload\":\"" + std::string(80, 'p') + "\"}";
  auto first = post(event);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 202) << "nothing pending yet";
  auto second = post(event);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 202) << "107 pending bytes <= 150";
  auto third = post(event);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429);
  EXPECT_EQ(third->get_header_value("Retry-After"), "1");
  EXPECT_NE(third->body.find("the job is behind"), std::string::npos) << third->body;
  ASSERT_EQ(read(2).size(), 2u);  // the job catches up
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  auto again = post(event);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  // A stopping job (reader closed) takes nothing.
  ASSERT_TRUE(reader_->close().is_ok());
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  auto closed = post(event);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->status, 503);
  EXPECT_EQ(closed->get_header_value("Retry-After"), "1");
}

TEST_F(HttpSourceTest, CheckpointsDeleteWhatTheyCoverAndARestartResumesThere) {
  TempDir checkpoints;
  start({{"segment_bytes", "10"}}, checkpoints.file("chk"));
  const std::string wal_dir = checkpoints.file("chk") + "/http-wal/clicks";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(fmt::format("{{\"id\":{}}}", i))->status, 202);
  ASSERT_EQ(read(3).size(), 3u);
  auto files = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(wal_dir)) n += e.path().extension() == ".wal";
    return n;
  };
  EXPECT_EQ(files(), 4u);
  reader_->note_checkpoint(1);
  const std::string position = reader_->checkpoint_position();
  ASSERT_EQ(post("{\"id\":3}")->status, 202);  // acknowledged after the checkpoint
  EXPECT_EQ(files(), 5u) << "nothing is deleted before the checkpoint completes";
  ASSERT_TRUE(reader_->on_checkpoint_complete(1).is_ok());
  EXPECT_EQ(files(), 2u) << "the segments the checkpoint covers are deleted";
  stop();  // a crash: event 3 was acknowledged, not read

  start({}, checkpoints.file("chk"));
  ASSERT_TRUE(reader_->check_checkpoint_position(position).is_ok());
  ASSERT_TRUE(reader_->seek_checkpoint_position(position).is_ok());
  ASSERT_EQ(post("{\"id\":4}")->status, 202);
  RawRecords all = read(2);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.record(0), "{\"id\":3}");
  EXPECT_EQ(all.record(1), "{\"id\":4}");
  // A position of another log is refused.
  auto other = reader_->check_checkpoint_position("O1 0 0 0123456789abcdef0123456789abcdef");
  ASSERT_FALSE(other.is_ok());
  EXPECT_NE(other.message().find("is not the one the checkpoint read"), std::string::npos) << other.message();
}

TEST_F(HttpSourceTest, WithoutCheckpointsSegmentsGoOnceRead) {
  start({{"segment_bytes", "10"}});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post(fmt::format("{{\"id\":{}}}", i))->status, 202);
  ASSERT_EQ(read(3).size(), 3u);
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir_.file("wal"))) n += e.path().extension() == ".wal";
  EXPECT_EQ(n, 1u);
}

TEST(HttpSourceOptionsTest, RefusesWhatCannotBeServedSafely) {
  auto make = [](std::map<std::string, std::string> options, const std::string& checkpoint_dir = "") {
    SourceSpec spec = testing::source_spec("http", std::move(options));
    spec.checkpoint_dir = checkpoint_dir;
    return make_source_factory(spec).status();
  };
  Status s = make({{"listen", "0.0.0.0:8080"}, {"wal_dir", "/tmp/x"}});
  EXPECT_NE(s.message().find("table clicks: listening on '0.0.0.0' (not a loopback address) needs a bearer token"),
            std::string::npos)
      << s.message();
  s = make({{"listen", "127.0.0.1:8080"}});
  EXPECT_NE(s.message().find("needs a durable place for it: run with --checkpoint-dir"), std::string::npos)
      << s.message();
  EXPECT_TRUE(make({{"listen", "127.0.0.1:8080"}}, "/tmp/chk").is_ok());
  s = make({{"listen", "localhost:http"}, {"wal_dir", "/tmp/x"}});
  EXPECT_NE(s.message().find("option 'listen': expected HOST:PORT"), std::string::npos) << s.message();
  s = make({{"listen", "8080"}, {"wal_dir", "/tmp/x"}, {"path", "events"}});
  EXPECT_NE(s.message().find("option 'path' must start with '/'"), std::string::npos) << s.message();
  s = make({{"listen", "8080"}, {"wal_dir", "/tmp/x"}, {"format", "csv"}});
  EXPECT_NE(s.message().find("option 'format' must be 'json'"), std::string::npos) << s.message();
  s = make({{"listen", "8080"}, {"wal_dir", "/tmp/x"}, {"max_body_bytes", "0"}});
  EXPECT_NE(s.message().find("option 'max_body_bytes' must be a positive number of bytes"), std::string::npos);
  s = make({{"wal_dir", "/tmp/x"}});
  EXPECT_NE(s.message().find("listen"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sluice
