// One connection to a NATS server or cluster with its JetStream context (libnats), shared by
// the NATS source and sink: the server list, credentials, reconnects, and libnats errors
// sorted into "worth a retry" (StatusCode::kUnavailable: timeouts, lost connections, no
// responders while a stream elects a leader) and the rest. Nothing logs a password.
//
// Not thread-safe in the sense of our contracts: one reader or sink target uses it (libnats
// itself runs its own I/O threads behind it).
#pragma once

#include <nats/nats.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"

namespace sluice {

struct NatsEndpoint {
  std::vector<std::string> servers;  // nats://host:port (a user:password@ in them is libnats's)
  std::string user;
  std::string password_env;  // the password from this environment variable
  std::string token_env;     // or a token from this one
};
// Reads `url` (a comma list of nats:// URLs), `user`, `password_env` and `token_env`.
Result<NatsEndpoint> read_nats_endpoint(const ConnectorOptions& options, const std::string& context);

// A libnats failure as a Status: kUnavailable when a retry may help.
Status nats_status(natsStatus s, jsErrCode js_error, std::string_view what, std::string_view context);

class NatsClient {
 public:
  NatsClient(NatsEndpoint endpoint, std::string context);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  // Connects (libnats then reconnects by itself across the servers of the list).
  Status connect();
  bool connected() const { return nc_ != nullptr; }
  natsConnection* connection() const { return nc_; }
  jsCtx* jetstream() const { return js_; }
  const std::string& context() const { return context_; }

  // The stream's info (null when the stream does not exist: kNotFound).
  Result<jsStreamInfo*> stream_info(const std::string& stream);

  // The first failure of an asynchronous publish since the last call (the stream refused a
  // message, or its acknowledgement timed out), cleared by the call.
  Status take_publish_error();

 private:
  static void on_publish_error(jsCtx* js, jsPubAckErr* pae, void* closure);

  NatsEndpoint endpoint_;
  std::string context_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex publish_mu_;  // libnats calls on_publish_error() on its own thread
  std::string publish_error_;
};

}  // namespace sluice
