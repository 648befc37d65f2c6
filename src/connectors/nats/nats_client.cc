#include "connectors/nats/nats_client.h"

#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "connectors/connector_util.h"

namespace sluice {

Result<NatsEndpoint> read_nats_endpoint(const ConnectorOptions& o, const std::string& context) {
  NatsEndpoint e;
  ASSIGN_OR_RETURN(std::string url, o.require_string("url"));
  for (size_t b = 0; b <= url.size();) {
    size_t end = url.find(',', b);
    if (end == std::string::npos) end = url.size();
    std::string s = url.substr(b, end - b);
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (s.rfind("nats://", 0) != 0 && s.rfind("tls://", 0) != 0) {
      return invalid_argument("{}: option 'url' must list nats:// (or tls://) URLs, got '{}'", context,
                              s.find('@') == std::string::npos ? s : std::string("<with credentials>"));
    }
    e.servers.push_back(std::move(s));
    b = end + 1;
  }
  e.user = o.get_string("user");
  e.password_env = o.get_string("password_env");
  e.token_env = o.get_string("token_env");
  if (!e.password_env.empty() && e.user.empty()) {
    return invalid_argument("{}: option 'password_env' needs option 'user'", context);
  }
  return e;
}

Status nats_status(natsStatus s, jsErrCode js_error, std::string_view what, std::string_view context) {
  const bool transient = s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED || s == NATS_NO_SERVER ||
                         s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION || s == NATS_IO_ERROR ||
                         s == NATS_NO_RESPONDERS || s == NATS_NOT_YET_CONNECTED ||
                         js_error == JSClusterNotAvailErr || js_error == JSStreamOfflineErr ||
                         js_error == JSInsufficientResourcesErr;
  std::string text = natsStatus_GetText(s);
  if (js_error != 0) text += fmt::format(" (JetStream error {})", static_cast<int>(js_error));
  const char* detail = nats_GetLastError(nullptr);
  if (detail && *detail && text.find(detail) == std::string::npos) text += fmt::format(": {}", detail);
  return Status(transient ? StatusCode::kUnavailable : StatusCode::kIoError,
                fmt::format("{}: NATS: {}: {}", context, what, text));
}

NatsClient::NatsClient(NatsEndpoint endpoint, std::string context)
    : endpoint_(std::move(endpoint)), context_(std::move(context)) {}

NatsClient::~NatsClient() {
  if (js_) jsCtx_Destroy(js_);
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

Status NatsClient::connect() {
  if (js_) jsCtx_Destroy(js_);
  js_ = nullptr;
  if (nc_) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
  }
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> servers;
  for (const auto& u : endpoint_.servers) servers.push_back(u.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 5000);
  // Reconnects for about a minute (a cluster electing new leaders, a restarted server).
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, 240);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s == NATS_OK && !endpoint_.user.empty()) {
    std::string password;
    if (!endpoint_.password_env.empty()) {
      const char* v = std::getenv(endpoint_.password_env.c_str());
      if (!v) {
        natsOptions_Destroy(opts);
        return invalid_argument("{}: the environment variable '{}' (option password_env) is not set", context_,
                                endpoint_.password_env);
      }
      password = v;
    }
    s = natsOptions_SetUserInfo(opts, endpoint_.user.c_str(), password.c_str());
  }
  if (s == NATS_OK && !endpoint_.token_env.empty()) {
    const char* v = std::getenv(endpoint_.token_env.c_str());
    if (!v) {
      natsOptions_Destroy(opts);
      return invalid_argument("{}: the environment variable '{}' (option token_env) is not set", context_,
                              endpoint_.token_env);
    }
    s = natsOptions_SetToken(opts, v);
  }
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    nc_ = nullptr;
    return nats_status(s, static_cast<jsErrCode>(0), fmt::format("connecting to {}", fmt::join(endpoint_.servers, ",")),
                       context_);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 10000;
  jo.PublishAsync.MaxPending = 4096;
  jo.PublishAsync.ErrHandler = &NatsClient::on_publish_error;
  jo.PublishAsync.ErrHandlerClosure = this;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) return nats_status(s, static_cast<jsErrCode>(0), "JetStream context", context_);
  return Status::ok();
}

void NatsClient::on_publish_error(jsCtx*, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  std::lock_guard<std::mutex> lock(self->publish_mu_);
  if (self->publish_error_.empty()) {
    self->publish_error_ = fmt::format("{} (JetStream error {}){}", natsStatus_GetText(pae->Err),
                                       static_cast<int>(pae->ErrCode),
                                       pae->ErrText ? std::string(": ") + pae->ErrText : std::string());
  }
}

Status NatsClient::take_publish_error() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  if (publish_error_.empty()) return Status::ok();
  Status s(StatusCode::kUnavailable, fmt::format("{}: NATS: publishing: {}", context_, publish_error_));
  publish_error_.clear();
  return s;
}

Result<jsStreamInfo*> NatsClient::stream_info(const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    return Status(StatusCode::kNotFound, fmt::format("{}: NATS: stream '{}' does not exist", context_, stream));
  }
  if (s != NATS_OK) return nats_status(s, jerr, fmt::format("stream '{}'", stream), context_);
  return si;
}

}  // namespace sluice
