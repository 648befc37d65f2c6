// One connection to a Redis server (hiredis), shared by the Redis sink and the Redis
// Streams source: the URL, AUTH/SELECT at connect, pipelined commands, and errors sorted
// into "worth a retry" (connection lost, LOADING, BUSY, TRYAGAIN: StatusCode::kUnavailable,
// what connectors/retry.h retries) and the rest. Nothing here logs the URL or the password.
//
// Not thread-safe: one thread at a time (a sink target, a source reader).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct redisContext;
struct redisReply;

namespace sluice {

// Where a Redis server is: 'redis://[[user]:password@]host[:port][/db]'.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;      // from the URL (never logged)
  std::string password_env;  // or from this environment variable (option password_env)
};
// Parses `url` into `out` (errors start with `context`, never show the password).
Status parse_redis_url(const std::string& url, const std::string& context, RedisEndpoint& out);

struct RedisReplyDeleter {
  void operator()(redisReply* r) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisClient {
 public:
  RedisClient(RedisEndpoint endpoint, std::string context);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // (Re)connects: AUTH with the password, SELECT the database, PING.
  Status connect();
  // Connects when there is no connection or it broke.
  Status ensure_connected();
  // Whether there is a connection that has not failed.
  bool connected() const;
  const RedisEndpoint& endpoint() const { return endpoint_; }

  // Runs one command; an error reply is a failure.
  Status command(const std::vector<std::string>& args, std::string_view what);
  // Runs one command and returns its reply (an error reply is a failure).
  Result<RedisReplyPtr> call(const std::vector<std::string>& args, std::string_view what);
  // Pipelining: queue commands, then read their `n` replies (the first error, also one
  // inside an EXEC's array, is returned after all are read).
  void append(const std::vector<std::string>& args);
  // The same without copying the words (the hot path of a sink: no allocation per row).
  void append(std::initializer_list<std::string_view> args);
  void append_views(const std::vector<std::string_view>& args);
  Status read_replies(size_t n, std::string_view what);

 private:
  // Pipelines are written out whenever this much is queued (append_argv()).
  static constexpr size_t kWriteSliceBytes = 64 * 1024;

  Status failure(std::string_view what, const redisReply* reply) const;
  void append_views(const std::string_view* begin, const std::string_view* end);
  void append_argv();  // queues argv_/lens_ as one command

  RedisEndpoint endpoint_;
  std::string context_;
  redisContext* ctx_ = nullptr;
  std::vector<const char*> argv_;
  std::vector<size_t> lens_;
};

}  // namespace sluice
