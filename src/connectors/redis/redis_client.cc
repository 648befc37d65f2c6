#include "connectors/redis/redis_client.h"

#include <hiredis/sds.h>

#include <hiredis/hiredis.h>

#include <cstdlib>

#include <fmt/format.h>

namespace sluice {

void RedisReplyDeleter::operator()(redisReply* r) const {
  if (r) freeReplyObject(r);
}

Status parse_redis_url(const std::string& url, const std::string& context, RedisEndpoint& out) {
  std::string_view rest = url;
  if (rest.rfind("redis://", 0) != 0) {
    // Shown only up to an '@': what follows a user name may be a password.
    return invalid_argument("{}: option 'url' must start with redis:// (got '{}')", context,
                            url.find('@') == std::string::npos ? url : std::string());
  }
  rest.remove_prefix(8);
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    const size_t colon = auth.find(':');
    out.password = std::string(colon == std::string_view::npos ? auth : auth.substr(colon + 1));
    rest.remove_prefix(at + 1);
  }
  const size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string db(rest.substr(slash + 1));
    if (!db.empty()) {
      char* end = nullptr;
      const long v = std::strtol(db.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 1000000) {
        return invalid_argument("{}: option 'url': database '{}' is not a number", context, db);
      }
      out.db = static_cast<int>(v);
    }
  }
  const size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    const std::string port(hostport.substr(colon + 1));
    char* end = nullptr;
    const long v = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v <= 0 || v > 65535) {
      return invalid_argument("{}: option 'url': port '{}' is not a port number", context, port);
    }
    out.port = static_cast<int>(v);
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) out.host = std::string(hostport);
  return Status::ok();
}

RedisClient::RedisClient(RedisEndpoint endpoint, std::string context)
    : endpoint_(std::move(endpoint)), context_(std::move(context)) {}

RedisClient::~RedisClient() {
  if (ctx_) redisFree(ctx_);
}

Status RedisClient::connect() {
  if (ctx_) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
  timeval timeout{10, 0};
  ctx_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, timeout);
  if (ctx_ == nullptr || ctx_->err) {
    Status s(StatusCode::kUnavailable, fmt::format("{}: cannot connect to Redis at {}:{}: {}", context_, endpoint_.host,
                                                   endpoint_.port, ctx_ ? ctx_->errstr : "out of memory"));
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    return s;
  }
  redisSetTimeout(ctx_, timeout);
  std::string password = endpoint_.password;
  if (!endpoint_.password_env.empty()) {
    const char* value = std::getenv(endpoint_.password_env.c_str());
    if (!value) {
      return invalid_argument("{}: the environment variable '{}' (option password_env) is not set", context_,
                              endpoint_.password_env);
    }
    password = value;
  }
  if (!password.empty()) RETURN_IF_ERROR(command({"AUTH", password}, "AUTH"));
  if (endpoint_.db != 0) RETURN_IF_ERROR(command({"SELECT", std::to_string(endpoint_.db)}, "SELECT"));
  return command({"PING"}, "PING");  // a server that wants a password says so now
}

bool RedisClient::connected() const { return ctx_ && !ctx_->err; }

Status RedisClient::ensure_connected() {
  if (connected()) return Status::ok();
  return connect();
}

Status RedisClient::failure(std::string_view what, const redisReply* reply) const {
  if (!ctx_ || ctx_->err) {
    return Status(StatusCode::kUnavailable, fmt::format("{}: {}: connection to Redis lost: {}", context_, what,
                                                        ctx_ ? ctx_->errstr : "not connected"));
  }
  std::string message = reply && reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "no reply";
  // The server is loading its data, or a replica is read-only for now: worth a retry.
  const bool transient = message.rfind("LOADING", 0) == 0 || message.rfind("BUSY ", 0) == 0 ||
                         message.rfind("TRYAGAIN", 0) == 0;
  return Status(transient ? StatusCode::kUnavailable : StatusCode::kIoError,
                fmt::format("{}: {}: {}", context_, what, message));
}

Status RedisClient::command(const std::vector<std::string>& args, std::string_view what) {
  append(args);
  return read_replies(1, what);
}

Result<RedisReplyPtr> RedisClient::call(const std::vector<std::string>& args, std::string_view what) {
  if (!ctx_) return failure(what, nullptr);
  append(args);
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK) return failure(what, nullptr);
  RedisReplyPtr reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) return failure(what, reply.get());
  return reply;
}

void RedisClient::append(const std::vector<std::string>& args) {
  argv_.clear();
  lens_.clear();
  for (const auto& a : args) {
    argv_.push_back(a.data());
    lens_.push_back(a.size());
  }
  append_argv();
}

void RedisClient::append(std::initializer_list<std::string_view> args) { append_views(args.begin(), args.end()); }

void RedisClient::append_views(const std::vector<std::string_view>& args) {
  append_views(args.data(), args.data() + args.size());
}

void RedisClient::append_views(const std::string_view* begin, const std::string_view* end) {
  argv_.clear();
  lens_.clear();
  for (const std::string_view* a = begin; a != end; ++a) {
    argv_.push_back(a->data());
    lens_.push_back(a->size());
  }
  append_argv();
}

void RedisClient::append_argv() {
  if (!ctx_) return;  // read_replies() reports it
  redisAppendCommandArgv(ctx_, static_cast<int>(argv_.size()), argv_.data(), lens_.data());
  // A long pipeline goes out in slices: the output buffer stays small (no reallocation
  // and copying as it grows) and the server works on the first commands while the rest are
  // encoded. A write error leaves ctx_->err set; read_replies() reports it.
  if (sdslen(ctx_->obuf) >= kWriteSliceBytes && ctx_->err == 0) {
    int done = 0;
    while (!done && redisBufferWrite(ctx_, &done) == REDIS_OK) {
    }
  }
}

Status RedisClient::read_replies(size_t n, std::string_view what) {
  if (!ctx_) return failure(what, nullptr);
  Status first;
  for (size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) return failure(what, nullptr);
    RedisReplyPtr reply(static_cast<redisReply*>(raw));
    if (first.is_ok() && reply->type == REDIS_REPLY_ERROR) first = failure(what, reply.get());
    if (first.is_ok() && i + 1 == n && reply->type == REDIS_REPLY_ARRAY) {
      for (size_t k = 0; k < reply->elements && first.is_ok(); ++k) {
        if (reply->element[k]->type == REDIS_REPLY_ERROR) first = failure(what, reply->element[k]);
      }
    }
  }
  return first;
}

}  // namespace sluice
