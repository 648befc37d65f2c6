// A throwaway PostgreSQL server for tests (test code, not part of the library): initdb into
// a temporary directory, start on a free loopback port with a Unix socket in that directory,
// stop and delete it at exit. As root (CI) the server runs as the `postgres` user that the
// Debian package creates (PostgreSQL refuses to run as root). A test that needs PostgreSQL
// calls PgTestServer::shared(): the server of the test process, started on first use; when
// it cannot start, the test fails with the reason (never skips).
//
// Threads: shared() is thread-safe; the rest is called from the test's thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::testing {

class PgTestServer {
 public:
  // The process's server; aborts the test binary with the reason when it cannot start.
  static PgTestServer& shared();
  ~PgTestServer();

  int port() const { return port_; }
  // A libpq URI for database `db` (user postgres, trust authentication, TCP on loopback).
  std::string dsn(const std::string& db = "postgres") const;
  // Creates a fresh database (dropping one of that name) and returns its DSN.
  std::string fresh_database(const std::string& name);
  // Rows of `sql` on `dsn` as "a|b|c" strings (NULL as "NULL"); a failed query gives one
  // row starting with "error: ".
  std::vector<std::string> query(const std::string& dsn, const std::string& sql) const;
  // Runs `sql`; the error, if any.
  Status exec(const std::string& dsn, const std::string& sql) const;
  // pg_ctl restart -m immediate (a crash of the server, WAL replayed at start).
  Status restart_immediate();

 private:
  PgTestServer() = default;
  Status start();
  Status pg_ctl(const std::string& args) const;
  std::string bin_;   // /usr/lib/postgresql/<v>/bin
  std::string dir_;   // data, socket and log
  int port_ = 0;
  bool started_ = false;
};

}  // namespace sluice::testing
