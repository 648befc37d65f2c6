#include "connectors/postgres/pg_connection.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "connectors/connector_util.h"

namespace sluice {

namespace {

std::string first_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& dsn, const std::string& password_env,
                                                            std::string context, bool replication) {
  std::unique_ptr<PgConnection> c(new PgConnection(dsn, password_env, std::move(context), replication));
  RETURN_IF_ERROR(c->open());
  return c;
}

PgConnection::~PgConnection() {
  if (copy_buffer_) PQfreemem(copy_buffer_);
  if (conn_) PQfinish(conn_);
}

Status PgConnection::open() {
  if (copy_buffer_) {
    PQfreemem(copy_buffer_);
    copy_buffer_ = nullptr;
  }
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  std::string password;
  if (!password_env_.empty()) {
    const char* value = std::getenv(password_env_.c_str());
    if (value == nullptr) {
      return invalid_argument("{}: the environment variable '{}' (option password_env) is not set", context_,
                              password_env_);
    }
    password = value;
  }
  // expand_dbname: `dbname` may be a whole connection string or URI; later keywords (the
  // password, the application name) are used only where it sets none.
  std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout"};
  std::vector<const char*> values = {dsn_.c_str(), "sluice", "10"};
  if (replication_) {
    keys.push_back("replication");
    values.push_back("database");
  }
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) return Status(StatusCode::kUnavailable, context_ + ": out of memory connecting to PostgreSQL");
  if (PQstatus(conn_) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    Status s(StatusCode::kUnavailable,
             fmt::format("{}: cannot connect to PostgreSQL: {}", context_, first_line(PQerrorMessage(conn_))));
    PQfinish(conn_);
    conn_ = nullptr;
    return s;
  }
  // Sessions keep UTC: TIMESTAMPTZ values go in and out as instants, and text renderings
  // of timestamps (in tests, psql) do not depend on the server's zone.
  return exec("SET TIME ZONE 'UTC'");
}

Status PgConnection::reconnect() { return open(); }

bool PgConnection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

Status PgConnection::failure(std::string_view what, const PGresult* result) const {
  if (!ok()) {
    return Status(StatusCode::kUnavailable, fmt::format("{}: {}: connection to PostgreSQL lost: {}", context_, what,
                                                        first_line(conn_ ? PQerrorMessage(conn_) : "not connected")));
  }
  const char* message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  // Class 08 (connection exception), 40001 (serialization), 40P01 (deadlock), 57P0x (server
  // shutting down), 55006 (object in use: a replication slot still held by the walsender of
  // a client that just died): worth a retry.
  const std::string sqlstate = state ? state : "";
  const bool transient = sqlstate.rfind("08", 0) == 0 || sqlstate == "40001" || sqlstate == "40P01" ||
                         sqlstate.rfind("57P0", 0) == 0 || sqlstate == "55006";
  return Status(transient ? StatusCode::kUnavailable : StatusCode::kIoError,
                fmt::format("{}: {}: {}", context_, what, first_line(message)));
}

Status PgConnection::exec(const std::string& sql) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  Status s = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? Status::ok() : failure("statement failed", r);
  PQclear(r);
  return s;
}

Result<PgRows> PgConnection::query(const std::string& sql, const std::vector<std::string>& params) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Status s = failure("query failed", r);
    PQclear(r);
    return s;
  }
  PgRows out;
  const int n = PQntuples(r), m = PQnfields(r);
  out.rows.resize(static_cast<size_t>(n));
  out.nulls.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < m; ++j) {
      out.nulls[i].push_back(PQgetisnull(r, i, j) != 0);
      out.rows[i].emplace_back(PQgetvalue(r, i, j), static_cast<size_t>(PQgetlength(r, i, j)));
    }
  }
  PQclear(r);
  return out;
}

Status PgConnection::copy_begin(const std::string& sql) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  PGresult* r = PQexec(conn_, sql.c_str());
  Status s = PQresultStatus(r) == PGRES_COPY_IN ? Status::ok() : failure("COPY failed", r);
  PQclear(r);
  return s;
}

Status PgConnection::copy_send(std::string_view data) {
  if (data.empty()) return Status::ok();
  if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) return failure("COPY data");
  return Status::ok();
}

Status PgConnection::copy_end() {
  if (PQputCopyEnd(conn_, nullptr) != 1) return failure("COPY end");
  Status s;
  while (PGresult* r = PQgetResult(conn_)) {
    if (s.is_ok() && PQresultStatus(r) != PGRES_COMMAND_OK) s = failure("COPY failed", r);
    PQclear(r);
  }
  return s;
}

Status PgConnection::copy_both_begin(const std::string& sql) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  PGresult* r = PQexec(conn_, sql.c_str());
  Status s = PQresultStatus(r) == PGRES_COPY_BOTH ? Status::ok() : failure("starting replication", r);
  PQclear(r);
  return s;
}

Result<bool> PgConnection::copy_receive(std::string_view& out, int timeout_ms) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  if (copy_buffer_) {
    PQfreemem(copy_buffer_);
    copy_buffer_ = nullptr;
  }
  for (int round = 0; round < 2; ++round) {
    const int n = PQgetCopyData(conn_, &copy_buffer_, /*async=*/1);
    if (n > 0) {
      out = std::string_view(copy_buffer_, static_cast<size_t>(n));
      return true;
    }
    if (n == -2) return failure("reading replication data");
    if (n == -1) {  // the COPY ended: the server's reason is in the result
      Status s = Status(StatusCode::kUnavailable, context_ + ": the server ended replication");
      while (PGresult* r = PQgetResult(conn_)) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COPY_BOTH) {
          s = failure("replication ended", r);
        }
        PQclear(r);
      }
      return s;
    }
    if (round == 1 || timeout_ms <= 0) break;
    // Nothing buffered: wait for the socket, then read what came.
    pollfd p{PQsocket(conn_), POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) return failure("waiting for replication data");
    if (ready <= 0) return false;
    if (PQconsumeInput(conn_) != 1) return failure("reading replication data");
  }
  return false;
}

Status PgConnection::copy_flush() {
  if (PQflush(conn_) != 0) return failure("sending replication feedback");
  return Status::ok();
}

Status PgConnection::query_result(const std::string& sql, const std::function<Status(const PGresult*)>& use) {
  if (!conn_) return Status(StatusCode::kUnavailable, context_ + ": not connected to PostgreSQL");
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  Status s = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? use(r) : failure("query failed", r);
  PQclear(r);
  return s;
}

std::string PgConnection::describe() const {
  if (!conn_) return "postgres";
  const char* host = PQhost(conn_);
  const std::string h = host ? host : "";
  return fmt::format("postgres {}{}:{}/{}", h.empty() || h[0] == '/' ? "socket " : "", h, PQport(conn_),
                     PQdb(conn_));
}

std::string PgConnection::quote_ident(std::string_view name) { return quote_sql_identifier(name); }

std::string PgConnection::quote_qualified(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return quote_ident(name);
  return quote_ident(name.substr(0, dot)) + "." + quote_ident(name.substr(dot + 1));
}

std::string PgConnection::quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace sluice
