// The PostgreSQL CDC source as a user meets it (issue 12): a `sluice run` job reads a table
// that a workload changes meanwhile (inserts, updates, deletes, key changes, one
// transaction updating 10,000 rows, an update leaving a TOASTed value unchanged), is killed
// with SIGKILL at random moments and restarted from its checkpoints; its PostgreSQL upsert
// table ends equal to the source table, and its changelog file (exactly-once) replays
// without a gap or a repeat: every +I is for a new key, every -U/-D retracts exactly the
// row the key holds. Also the planning errors a user meets.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/postgres/pg_test_server.h"
#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::PgTestServer;
using testing::TempDir;

class PostgresCdcJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    slot_ =
        "e2e_cdc_" + std::to_string(::getpid()) + "_" + std::to_string(std::hash<std::string>{}(info->name()) % 100000);
    dsn_ = pg().fresh_database(std::string("cdc_e2e_") + info->name());
  }
  void TearDown() override {
    for (pid_t pid : running_) {
      if (pid > 0) {
        kill(pid, SIGKILL);
        testing::wait_exit(pid);
      }
    }
    (void)pg().exec(
        dsn_, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'");
  }
  static PgTestServer& pg() { return PgTestServer::shared(); }
  void exec(const std::string& sql) {
    Status s = pg().exec(dsn_, sql);
    ASSERT_TRUE(s.is_ok()) << s.message() << "\n" << sql;
  }
  std::string job() const {
    return "CREATE TABLE items (id BIGINT, name TEXT, qty BIGINT, body TEXT) WITH (connector = 'postgres-cdc', dsn = "
           "'" +
           dsn_ + "', table = 'public.items', slot_name = '" + slot_ +
           "');\n"
           "CREATE TABLE mirror (id BIGINT, name TEXT, qty BIGINT, body TEXT) WITH (connector = 'postgres', dsn = '" +
           dsn_ +
           "', create_table = 'true', primary_key = 'id');\n"
           "CREATE TABLE changes (id BIGINT, name TEXT, qty BIGINT, body TEXT) WITH (connector = 'file', path = "
           "'changes.jsonl', changelog = 'true');\n"
           "INSERT INTO mirror SELECT * FROM items;\n"
           "INSERT INTO changes SELECT * FROM items;\n";
  }
  pid_t start_job() {
    pid_t pid =
        testing::spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "100ms"},
                              dir_.path(), dir_.file("log.txt"));
    running_.push_back(pid);
    return pid;
  }
  void kill_job(pid_t pid) {
    ASSERT_GT(pid, 0);
    kill(pid, SIGKILL);
    testing::wait_exit(pid);
    running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end());
  }
  std::vector<std::string> rows(const std::string& table) {
    return pg().query(dsn_,
                      "SELECT id || '|' || coalesce(name, 'NULL') || '|' || coalesce(qty::text, 'NULL') || '|' || "
                      "coalesce(body, 'NULL') FROM " +
                          table + " ORDER BY id");
  }
  // The changelog file's parts replayed by key; problems (a repeat or a gap) in `errors`.
  std::vector<std::string> replay_changelog(std::vector<std::string>& errors) {
    std::vector<std::string> parts;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name.rfind("changes.part-", 0) == 0 && name.size() > 6 && name.substr(name.size() - 6) == ".jsonl") {
        parts.push_back(e.path().string());
      }
    }
    std::sort(parts.begin(), parts.end());
    std::map<int64_t, std::string> state;
    size_t line_no = 0;
    for (const auto& part : parts) {
      std::istringstream in(testing::read_file(part));
      for (std::string line; std::getline(in, line);) {
        ++line_no;
        auto j = nlohmann::json::parse(line);
        const std::string op = j["op"];
        const int64_t id = j["id"];
        auto text = [&](const char* k) {
          return j[k].is_null() ? std::string("NULL") : j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
        };
        const std::string row = std::to_string(id) + "|" + text("name") + "|" + text("qty") + "|" + text("body");
        auto it = state.find(id);
        auto problem = [&](const std::string& what) {
          if (errors.size() < 10) errors.push_back(fmt::format("line {}: {} {}: {}", line_no, op, id, what));
        };
        if (op == "+I") {
          if (it != state.end()) problem("inserted twice");
          state[id] = row;
        } else if (op == "+U") {
          if (it == state.end()) problem("update of a missing key");
          state[id] = row;
        } else if (op == "-U" || op == "-D") {
          if (it == state.end()) {
            problem("retracts a missing key");
          } else if (it->second.substr(0, 200) != row.substr(0, 200) || it->second.size() != row.size()) {
            problem("retracts another row than the key holds: " + it->second.substr(0, 80) + " vs " +
                    row.substr(0, 80));
          }
          if (op == "-D") state.erase(id);
        }
      }
    }
    std::vector<std::string> out;
    for (auto& [id, row] : state) out.push_back(row);
    return out;
  }
  // Waits (up to `seconds`) until the mirror and the replayed changelog equal the source.
  bool wait_until_equal(int seconds) {
    const auto source = rows("items");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<std::string> errors;
      if (rows("mirror") == source && replay_changelog(errors) == source) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    return false;
  }

  TempDir dir_;
  std::string dsn_;
  std::string slot_;
  std::vector<pid_t> running_;
};

TEST_F(PostgresCdcJobTest, ChangesReachAnUpsertTableAndAChangelogExactlyOnceAcrossKills) {
  exec(
      "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT, body TEXT); ALTER TABLE items REPLICA IDENTITY "
      "FULL");
  // 12,000 rows; row 0 has a TOASTed body (random text does not compress: stored out of line).
  exec("INSERT INTO items SELECT i, 'n' || i, i, 'b' || i FROM generate_series(1, 12000) i");
  exec("INSERT INTO items SELECT 0, 'toasted', 0, string_agg(md5(i::text), '') FROM generate_series(1, 400) i");
  testing::write_file(dir_.file("job.sql"), job());
  const std::vector<std::string> workload = {
      "INSERT INTO items SELECT i, 'n' || i, i, 'b' || i FROM generate_series(12001, 12500) i",
      "UPDATE items SET qty = qty + 1 WHERE id % 7 = 0",
      "UPDATE items SET qty = qty + 100 WHERE id = 0",  // the TOASTed body is left unchanged
      "DELETE FROM items WHERE id % 11 = 5",
      "UPDATE items SET qty = qty * 2 WHERE id <= 11000",              // one transaction, 10,000 rows
      "UPDATE items SET id = id + 100000 WHERE id BETWEEN 50 AND 60",  // key changes
      "BEGIN; INSERT INTO items VALUES (20000, 'x', 1, 'y'); UPDATE items SET name = NULL WHERE id = 20000; DELETE "
      "FROM items WHERE id = 1; UPDATE items SET body = 'short' WHERE id = 2; COMMIT",
      "UPDATE items SET name = name || '!' WHERE id % 13 = 0",  // row 0 too: its body stays
      "UPDATE items SET qty = qty + 1 WHERE id = 0",
  };
  std::mt19937 rng(12);
  pid_t pid = start_job();
  int kills = 0;
  for (size_t step = 0; step < workload.size(); ++step) {
    ASSERT_NO_FATAL_FAILURE(exec(workload[step]));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 900)(rng)));
    if (step != 1 && step != 7) {  // killed at random moments: in the snapshot, in the big transaction, ...
      ASSERT_NO_FATAL_FAILURE(kill_job(pid));
      ++kills;
      pid = start_job();
    }
  }
  EXPECT_GE(kills, 7);
  const bool equal = wait_until_equal(testing::sanitized() ? 180 : 60);
  std::vector<std::string> errors;
  const auto replayed = replay_changelog(errors);
  EXPECT_TRUE(errors.empty()) << fmt::format("{}", fmt::join(errors, "\n"));
  const auto source = rows("items");
  EXPECT_TRUE(equal) << testing::read_file(dir_.file("log.txt"));
  EXPECT_EQ(rows("mirror"), source);
  EXPECT_EQ(replayed.size(), source.size());
  EXPECT_EQ(replayed == source, true);
  EXPECT_GT(source.size(), 11000u);
  // The TOASTed row kept its body through the updates that left it unchanged.
  EXPECT_EQ(pg().query(dsn_, "SELECT length(body), qty FROM mirror WHERE id = 0"),
            std::vector<std::string>{"12800|203"});
  ASSERT_NO_FATAL_FAILURE(kill_job(pid));
}

TEST_F(PostgresCdcJobTest, PlanningNamesWhatAChangelogSourceCannotFeed) {
  exec(
      "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT, body TEXT); ALTER TABLE items REPLICA IDENTITY "
      "FULL");
  const std::string src =
      "CREATE TABLE items (id BIGINT, name TEXT, qty BIGINT, body TEXT) WITH (connector = "
      "'postgres-cdc', dsn = '" +
      dsn_ + "', slot_name = '" + slot_ + "');\n";
  // An append-only sink.
  testing::write_file(dir_.file("a.sql"), src +
                                              "CREATE TABLE out (id BIGINT, qty BIGINT) WITH (connector = 'file', "
                                              "path = 'out.jsonl');\nINSERT INTO out SELECT id, qty FROM items;\n");
  auto r = testing::run_sluice("validate a.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("the query produces updates"), std::string::npos) << r.output;
  // An upsert sink keyed by something else than the source's key (dropping the key).
  testing::write_file(dir_.file("b.sql"), src +
                                              "CREATE TABLE out (name TEXT, qty BIGINT) WITH (connector = 'postgres', "
                                              "dsn = '" +
                                              dsn_ +
                                              "', create_table = 'true', primary_key = "
                                              "'name');\nINSERT INTO out SELECT name, qty FROM items;\n");
  r = testing::run_sluice("validate b.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("an upsert on primary key (name) would keep stale rows"), std::string::npos) << r.output;
  // ... or keeping it but keyed by another column.
  testing::write_file(dir_.file("b2.sql"), src +
                                               "CREATE TABLE out (id BIGINT, name TEXT) WITH (connector = 'postgres', "
                                               "dsn = '" +
                                               dsn_ +
                                               "', create_table = 'true', primary_key = "
                                               "'name');\nINSERT INTO out SELECT id, name FROM items;\n");
  r = testing::run_sluice("validate b2.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("primary key (name) is not the key of the query's updating result (id)"), std::string::npos)
      << r.output;
  // An aggregate over the changes is refused (not supported yet), not computed wrongly.
  testing::write_file(dir_.file("d.sql"), src +
                                              "CREATE TABLE out (name TEXT, n BIGINT) WITH (connector = 'postgres', "
                                              "dsn = '" +
                                              dsn_ +
                                              "', create_table = 'true', primary_key = "
                                              "'name');\nINSERT INTO out SELECT name, COUNT(*) FROM items GROUP BY "
                                              "name;\n");
  r = testing::run_sluice("validate d.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("over a changelog source such as postgres-cdc) is not supported yet"), std::string::npos)
      << r.output;
  // A WHERE over the changes is fine (per-key state retracts rows that stop qualifying).
  testing::write_file(dir_.file("c.sql"), src +
                                              "CREATE TABLE out (id BIGINT, qty BIGINT) WITH (connector = 'postgres', "
                                              "dsn = '" +
                                              dsn_ +
                                              "', create_table = 'true', primary_key = "
                                              "'id');\nINSERT INTO out SELECT id, qty FROM items WHERE qty > 5;\n");
  r = testing::run_sluice("validate c.sql", dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace sluice
