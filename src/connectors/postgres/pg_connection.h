// PgConnection: one libpq connection, as the PostgreSQL connectors use it: connect from a
// libpq connection string or URI (the password from the DSN, PGPASSWORD, ~/.pgpass, or an
// environment variable the options name), run statements, and stream COPY data. Errors
// become Status values with the server's message; a lost connection is kUnavailable, so
// the shared retry policy (retry.h) retries it after reconnect(). Nothing here logs the
// connection string or the password.
//
// Threads: a connection is used by one thread at a time (libpq's rule).
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// A query's result: rows of text values (NULL as std::nullopt would need <optional>; the
// connectors only read non-null bookkeeping values, so NULL reads as "").
struct PgRows {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<bool>> nulls;
};

class PgConnection {
 public:
  // `dsn`: a libpq connection string or URI. `password_env`: the name of an environment
  // variable holding the password ("" = none; libpq then uses the DSN, PGPASSWORD or
  // .pgpass). `context` prefixes error messages. `replication`: a `replication=database`
  // connection (the logical replication protocol of the CDC source; SQL works too).
  static Result<std::unique_ptr<PgConnection>> connect(const std::string& dsn, const std::string& password_env,
                                                       std::string context, bool replication = false);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects again after the connection was lost (kUnavailable while the server is down).
  Status reconnect();
  bool ok() const;

  // Runs `sql` (one or more statements, no parameters).
  Status exec(const std::string& sql);
  // Runs one statement with text parameters and returns its rows.
  Result<PgRows> query(const std::string& sql, const std::vector<std::string>& params = {});
  // COPY ... FROM STDIN: starts it, sends `data` (in pieces as large as the caller makes
  // them), ends it. On an error the COPY is ended with the error and the transaction fails.
  Status copy_begin(const std::string& sql);
  Status copy_send(std::string_view data);
  Status copy_end();

  // COPY BOTH (START_REPLICATION): starts it; then copy_receive() reads the server's
  // CopyData messages and copy_send() + copy_flush() sends the client's.
  Status copy_both_begin(const std::string& sql);
  // The next CopyData message, waiting at most `timeout_ms` for one: true with `out` set
  // (valid until the next call), false when none arrived in time. The server ending the
  // COPY or a lost connection are errors (kUnavailable when the connection is gone).
  Result<bool> copy_receive(std::string_view& out, int timeout_ms);
  Status copy_flush();

  // Runs one statement and hands its result to `use` (no copies of the values: the
  // snapshot of the CDC source reads its rows this way).
  Status query_result(const std::string& sql, const std::function<Status(const PGresult*)>& use);
  // "host:port/db" for messages (never the password).
  std::string describe() const;
  // A double-quoted identifier; a "schema.table" name is quoted part by part.
  static std::string quote_ident(std::string_view name);
  static std::string quote_qualified(std::string_view name);
  static std::string quote_literal(std::string_view text);

 private:
  PgConnection(std::string dsn, std::string password_env, std::string context, bool replication)
      : dsn_(std::move(dsn)),
        password_env_(std::move(password_env)),
        context_(std::move(context)),
        replication_(replication) {}
  Status open();
  // The status for a failed call: kUnavailable when the connection is gone.
  Status failure(std::string_view what, const PGresult* result = nullptr) const;

  std::string dsn_;
  std::string password_env_;
  std::string context_;
  bool replication_ = false;
  PGconn* conn_ = nullptr;
  char* copy_buffer_ = nullptr;  // the last copy_receive() message (libpq's allocation)
};

}  // namespace sluice
