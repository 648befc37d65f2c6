// Sources with dynamic splits, as a user meets them: a directory or glob read file by file
// in name order; files that appear in a followed directory while the job runs; generator
// splits added and taken back (rebalanced) mid-run; and 64 splits on 2 reader tasks giving
// the same results as one task per split. The crash scenarios kill the job with SIGKILL at
// random moments and restart it from its checkpoints: the committed output must hold every
// input record exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::Rng;
using testing::run_sluice;
using testing::spawn_sluice;
using testing::TempDir;
using testing::wait_exit;
using testing::with_dir;
using testing::write_file;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The committed lines of the file sink `out` in `dir` (its part files in name order).
std::vector<std::string> committed_lines(const std::string& dir) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("out.part-", 0) == 0) parts.push_back(e.path().string());
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> out;
  for (const auto& p : parts) {
    for (auto& line : lines_of(read_file(p))) out.push_back(std::move(line));
  }
  return out;
}

// The values of field `field` (an integer) in `lines`, sorted.
std::vector<int64_t> sorted_values(const std::vector<std::string>& lines, const std::string& field) {
  std::vector<int64_t> v;
  const std::string key = "\"" + field + "\":";
  for (const auto& line : lines) {
    auto at = line.find(key);
    if (at != std::string::npos) v.push_back(std::stoll(line.substr(at + key.size())));
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<int64_t> range(int64_t from, int64_t to) {  // [from, to]
  std::vector<int64_t> v;
  for (int64_t i = from; i <= to; ++i) v.push_back(i);
  return v;
}

void write_numbers(const std::string& path, int64_t from, int64_t to, bool append = false) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  for (int64_t i = from; i <= to; ++i) out << "{\"n\": " << i << "}\n";
}

TEST(SourceSplitsTest, ADirectoryIsReadFileByFileInNameOrder) {
  TempDir dir;
  fs::create_directory(dir.file("in"));
  write_numbers(dir.file("in/b.jsonl"), 4, 6);
  write_numbers(dir.file("in/a.jsonl"), 1, 3);
  write_numbers(dir.file("in/c.log"), 7, 7);
  write_numbers(dir.file("in/.hidden.jsonl"), 100, 100);
  fs::create_directory(dir.file("in/sub.jsonl"));  // directories are not files to read
  for (const auto& [path, want] : std::vector<std::pair<std::string, std::string>>{
           {"in/", "1 2 3 4 5 6 7 "}, {"in", "1 2 3 4 5 6 7 "}, {"in/*.jsonl", "1 2 3 4 5 6 "}}) {
    write_file(dir.file("job.sql"), with_dir(R"(
      CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/)" + path + R"(');
      CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
      INSERT INTO out SELECT n FROM src;)",
                                             dir.path()));
    fs::remove(dir.file("out.jsonl"));
    auto r = run_sluice("run -q job.sql", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string got;
    for (const auto& line : lines_of(read_file(dir.file("out.jsonl")))) {
      got += line.substr(line.find(':') + 1, line.find('}') - line.find(':') - 1) + " ";
    }
    EXPECT_EQ(got, want) << path;
  }
}

// A checkpointed bounded directory job run again: files read before are not read again
// (one that was deleted since is fine), lines appended to them and new files are.
TEST(SourceSplitsTest, ARerunOfADirectoryJobReadsOnlyWhatIsNew) {
  TempDir dir;
  fs::create_directory(dir.file("in"));
  write_numbers(dir.file("in/a.jsonl"), 1, 3);
  write_numbers(dir.file("in/b.jsonl"), 4, 6);
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/in/');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT n FROM src;)",
                                           dir.path()));
  auto first = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(sorted_values(committed_lines(dir.path()), "n"), range(1, 6));
  fs::remove(dir.file("in/a.jsonl"));
  write_numbers(dir.file("in/b.jsonl"), 7, 8, /*append=*/true);
  write_numbers(dir.file("in/c.jsonl"), 9, 9);
  auto second = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(sorted_values(committed_lines(dir.path()), "n"), range(1, 9));
}

TEST(SourceSplitsTest, APatternInTheDirectoryPartIsRefused) {
  TempDir dir;
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/logs*/x.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT n FROM src;)",
                                           dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("a pattern may only be in the file name"), std::string::npos) << r.output;
}

TEST(SourceSplitsTest, WritingIntoTheFilesADirectorySourceReadsIsRefused) {
  TempDir dir;
  fs::create_directory(dir.file("logs"));
  for (const auto& [source, sink, refused] : std::vector<std::tuple<std::string, std::string, bool>>{
           {"logs/", "logs/out.jsonl", true},
           {"logs/*.jsonl", "logs/out.jsonl", true},
           {"logs/*.jsonl", "logs/out.csv", false},
           {"logs/", "logs/.out.jsonl", false},
           {"logs/", "out.jsonl", false}}) {
    write_file(dir.file("job.sql"), with_dir(R"(
      CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/)" + source + R"(', dlq = '{DIR}/dlq.jsonl');
      CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/)" + sink + R"(', format = 'json');
      INSERT INTO out SELECT n FROM src;)",
                                             dir.path()));
    auto r = run_sluice("validate job.sql", dir.path());
    EXPECT_EQ(r.exit_code != 0, refused) << source << " -> " << sink << ": " << r.output;
    if (refused) {
      EXPECT_NE(r.output.find("must not write into its input"), std::string::npos) << r.output;
    }
  }
}

// The same windowed job over 64 generator splits, read by 64, 2 and 1 reader tasks: per-split
// watermarks make the late set and the windows the same, byte for byte.
TEST(SourceSplitsTest, SixtyFourSplitsOnTwoReaderTasksGiveTheResultsOfOneTaskPerSplit) {
  TempDir dir;
  std::string want;
  for (const char* readers : {"64", "2", "1"}) {
    write_file(dir.file("job.sql"), with_dir(std::string(R"(
      CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
        WITH (connector = 'generator', events = '200000', splits = '64', readers = ')") + readers + R"(',
              out_of_order = '0.05', late = '0.01', event_time = 'ts', watermark_delay = '5 seconds',
              late_output = '{DIR}/late.jsonl');
      CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
      INSERT INTO out SELECT window_start, page, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users
      FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') GROUP BY window_start, page;)",
                                             dir.path()));
    auto r = run_sluice("run -q job.sql -p 2", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string got = read_file(dir.file("out.jsonl")) + "late: " +
                      std::to_string(lines_of(read_file(dir.file("late.jsonl"))).size());
    ASSERT_GT(got.size(), 1000u);
    if (want.empty()) {
      want = got;
    } else {
      EXPECT_TRUE(got == want) << "readers = " << readers << " changed the output";
    }
  }
  EXPECT_EQ(lines_of(read_file(dir.file("late.jsonl"))).size() > 0, true) << "the job has late rows to compare";
}

// The generator adds a split every 250 ms (8 in all, 2 at the start) and takes one back from
// its reader task every 150 ms, giving it to another task; the job is killed and restarted 6
// times, alternating between 3 and 2 reader tasks (the recorded splits are dealt again). Each
// event has its own timestamp (10 ms apart): the committed output must hold every one once.
TEST(SourceSplitsTest, SplitsAddedAndRevokedWhileTheJobRunsAreReadExactlyOnceThroughKills) {
  TempDir dir;
  constexpr int kEvents = 60000;
  auto write_job = [&](int readers) {
    write_file(dir.file("job.sql"), with_dir(R"(
      CREATE TABLE clicks (ts BIGINT)
        WITH (connector = 'generator', events = '60000', rate = '12000', splits = '8', initial_splits = '2',
              split_interval = '250ms', rebalance_interval = '150ms', readers = ')" + std::to_string(readers) + R"(',
              timestamp_format = 'epoch_ms');
      CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
      INSERT INTO out SELECT ts FROM clicks;)",
                                           dir.path()));
  };
  const std::vector<std::string> args = {"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval",
                                         "100ms"};
  Rng rng{77};
  int kills = 0, code = -1;
  for (int run = 0; code < 0; ++run) {
    write_job(run % 2 == 0 ? 3 : 2);
    pid_t pid = spawn_sluice(args, dir.path(), dir.file("log.txt"));
    if (run < 6) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(300, 900)));
      int status = 0;
      ASSERT_GT(pid, 0);
      if (waitpid(pid, &status, WNOHANG) != pid) {
        kill(pid, SIGKILL);
        wait_exit(pid);
        ++kills;
        continue;
      }
      code = WIFEXITED(status) ? WEXITSTATUS(status) : -1000;
    } else {
      code = wait_exit(pid);
    }
  }
  ASSERT_EQ(code, 0) << read_file(dir.file("log.txt"));
  EXPECT_GE(kills, 4);
  auto lines = committed_lines(dir.path());
  std::vector<int64_t> got = sorted_values(lines, "ts");
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents)) << read_file(dir.file("log.txt"));
  // Every event once: timestamps (epoch ms, read as numbers) 2024-01-01T00:00:00Z + i * 10 ms.
  const int64_t start = 1704067200000;
  std::vector<int64_t> want;
  for (int64_t i = 0; i < kEvents; ++i) want.push_back(start + i * 10);
  EXPECT_TRUE(got == want) << "the committed output is not every event exactly once";
}

// A followed directory: new files appear (and some grow) while the job runs and while it is
// down; it is killed and restarted; every line of every file is committed exactly once.
TEST(SourceSplitsTest, FilesAppearingInAFollowedDirectoryAreReadExactlyOnceThroughKills) {
  TempDir dir;
  fs::create_directory(dir.file("logs"));
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (n BIGINT)
      WITH (connector = 'file', path = '{DIR}/logs/*.jsonl', follow = 'true', discovery_interval = '50ms',
            rate = '20000');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT n FROM src;)",
                                         dir.path()));
  Rng rng{9};
  int64_t written = 0;
  int files = 0, kills = 0;
  pid_t pid = -1;
  auto start = [&] {
    if (pid < 0) pid = spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"},
                                    dir.path(), dir.file("log.txt"));
  };
  auto committed_count = [&] { return sorted_values(committed_lines(dir.path()), "n").size(); };
  start();
  for (int round = 0; round < 12; ++round) {
    // A new file (names in order, so a glob listing sees them in order), sometimes two.
    for (int k = 0; k < 1 + (round % 3 == 0); ++k) {
      int64_t lines = rng.uniform(500, 3000);
      write_numbers(dir.file(fmt::format("logs/part-{:03}.jsonl", files++)), written + 1, written + lines);
      written += lines;
    }
    // A file that is not matched by the pattern: never read.
    if (round == 4) write_numbers(dir.file("logs/ignored.txt"), 1000000, 1000010);
    // Earlier files grow too.
    if (files > 1 && rng.chance(0.5)) {
      int64_t lines = rng.uniform(10, 300);
      write_numbers(dir.file(fmt::format("logs/part-{:03}.jsonl", rng.uniform(0, files - 1))), written + 1,
                    written + lines, /*append=*/true);
      written += lines;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(50, 300)));
    if (pid > 0 && rng.chance(0.6)) {  // (never kill(-1): that signals every process)
      kill(pid, SIGKILL);
      wait_exit(pid);
      pid = -1;
      ++kills;
      if (rng.chance(0.5)) continue;  // files appear while the job is down
    }
    start();
  }
  start();
  for (int i = 0; i < 3000 && committed_count() < static_cast<size_t>(written); ++i) {
    int status = 0;
    ASSERT_NE(waitpid(pid, &status, WNOHANG), pid) << "the job exited: " << read_file(dir.file("log.txt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int i = 0; i < 2000 && read_file(dir.file("ck/sluice.pid")) != std::to_string(pid) + "\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0) << read_file(dir.file("log.txt"));
  auto got = sorted_values(committed_lines(dir.path()), "n");
  EXPECT_EQ(got.size(), static_cast<size_t>(written));
  EXPECT_TRUE(got == range(1, written)) << "the committed output is not every line exactly once\n"
                                        << read_file(dir.file("log.txt"));
  EXPECT_GE(kills, 4);
  EXPECT_GE(files, 12);
}

}  // namespace
}  // namespace sluice
