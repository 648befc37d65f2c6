#include "connectors/postgres/pg_test_server.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

// A port the kernel says is free now (the server binds it a moment later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string find_bin() {
  std::error_code ec;
  std::string best;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = (e.path() / "bin").string();
    if (fs::exists(bin + "/initdb") && bin > best) best = bin;
  }
  return best;
}

// util-linux's runuser, wherever this system's PATH may leave it out.
std::string runuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "runuser";
}

int run(const std::string& command) {
  const int rc = std::system(command.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

}  // namespace

PgTestServer& PgTestServer::shared() {
  static std::once_flag once;
  static PgTestServer* server = nullptr;
  std::call_once(once, [] {
    server = new PgTestServer();
    Status s = server->start();
    if (!s.is_ok()) {
      std::fprintf(stderr, "PgTestServer: %s\n", s.message().c_str());
      std::abort();
    }
    // Stopped when the test process exits normally.
    std::atexit([] { delete server; });
  });
  return *server;
}

Status PgTestServer::start() {
  bin_ = find_bin();
  if (bin_.empty()) {
    return Status(StatusCode::kNotFound, "no PostgreSQL server under /usr/lib/postgresql (scripts/install-deps.sh "
                                         "installs the 'postgresql' package)");
  }
  char tmpl[] = "/tmp/sluice-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status(StatusCode::kIoError, "mkdtemp failed");
  dir_ = tmpl;
  port_ = free_port();
  if (::geteuid() == 0) {
    if (::getpwnam("postgres") == nullptr) {
      return Status(StatusCode::kNotFound, "running as root and there is no 'postgres' user to run the server as");
    }
    if (run(fmt::format("chown postgres:postgres '{}'", dir_)) != 0) return Status(StatusCode::kIoError, "chown failed");
  }
  const std::string initdb = fmt::format(
      "'{}/initdb' -N -D '{}/data' -U postgres --auth=trust --no-locale -E UTF8 > '{}/initdb.log' 2>&1", bin_, dir_,
      dir_);
  const std::string as = ::geteuid() == 0 ? runuser() + " -u postgres -- " : "";
  if (run(as + "sh -c \"" + initdb + "\"") != 0) {
    return Status(StatusCode::kIoError, fmt::format("initdb failed: see {}/initdb.log", dir_));
  }
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = pg_ctl("start");
    if (s.is_ok()) break;
    port_ = free_port();  // taken meanwhile by someone else
  }
  if (!s.is_ok()) return s;
  started_ = true;
  return Status::ok();
}

Status PgTestServer::pg_ctl(const std::string& args) const {
  const std::string as = ::geteuid() == 0 ? runuser() + " -u postgres -- " : "";
  const std::string cmd = fmt::format(
      "{}'{}/pg_ctl' -D '{}/data' -l '{}/log' -w -t 60 -o \"-p {} -k '{}' -c listen_addresses=127.0.0.1 -c "
      "wal_level=logical -c max_replication_slots=8 -c max_wal_senders=8 -c fsync=off -c "
      "max_prepared_transactions=0\" {} > /dev/null 2>&1",
      as, bin_, dir_, dir_, port_, dir_, args);
  if (run(cmd) != 0) {
    return Status(StatusCode::kIoError, fmt::format("pg_ctl {} failed (port {}): see {}/log", args, port_, dir_));
  }
  return Status::ok();
}

Status PgTestServer::restart_immediate() { return pg_ctl("restart -m immediate"); }

PgTestServer::~PgTestServer() {
  if (started_) (void)pg_ctl("stop -m immediate");
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PgTestServer::dsn(const std::string& db) const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
}

std::string PgTestServer::fresh_database(const std::string& name) {
  (void)exec(dsn(), "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
  Status s = exec(dsn(), "CREATE DATABASE \"" + name + "\"");
  if (!s.is_ok()) std::fprintf(stderr, "PgTestServer: %s\n", s.message().c_str());
  return dsn(name);
}

std::vector<std::string> PgTestServer::query(const std::string& dsn, const std::string& sql) const {
  std::vector<std::string> rows;
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    rows.push_back(std::string("error: ") + PQerrorMessage(c));
    PQfinish(c);
    return rows;
  }
  PQclear(PQexec(c, "SET TIME ZONE 'UTC'"));
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    rows.push_back(std::string("error: ") + PQresultErrorMessage(r));
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (j) row += '|';
        row += PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j);
      }
      rows.push_back(row);
    }
  }
  PQclear(r);
  PQfinish(c);
  return rows;
}

Status PgTestServer::exec(const std::string& dsn, const std::string& sql) const {
  auto rows = query(dsn, sql);
  if (!rows.empty() && rows[0].rfind("error: ", 0) == 0) return Status(StatusCode::kIoError, rows[0]);
  return Status::ok();
}

}  // namespace sluice::testing
