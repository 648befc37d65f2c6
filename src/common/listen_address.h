// Listening addresses and bearer tokens of Sluice's HTTP listeners: the embedded server
// (`sluice run --http`, server/http_server.h) and the HTTP ingest source (`connector =
// 'http'`, connectors/http/http_source.h). One place decides what "HOST:PORT" means, what
// counts as loopback, how a token file is read and how a presented token is compared, so
// both listeners refuse the same things with the same words.
//
// Pure functions; safe from any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace sluice {

struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
};

// "HOST:PORT", "[V6]:PORT", ":PORT" (loopback) or "PORT" -> host and port. `what` names the
// setting in errors ("--http", "table t: option 'listen'").
Result<ListenAddress> parse_listen_address(const std::string& text, const std::string& what);

// Whether `host` is localhost, 127.0.0.0/8 or ::1.
bool is_loopback(const std::string& host);

// The bearer token in `path`: its first line, surrounding whitespace trimmed. Refuses a file
// others may read and a token shorter than 16 characters. `what` names the setting in errors.
Result<std::string> read_token_file(const std::string& path, const std::string& what);

// Compares a presented secret with the expected one in time independent of where they
// differ. False when `want` is empty.
bool same_secret(const std::string& want, const std::string& got);

// Whether an `Authorization` header value is "Bearer TOKEN" with the right token.
bool bearer_matches(const std::string& token, const std::string& authorization);

}  // namespace sluice
