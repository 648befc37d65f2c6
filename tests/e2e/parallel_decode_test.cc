// Parallel decoding (JobOptions::decode_threads, runtime/decode_pool.h) must not change
// anything a job writes: the same job over the same input, at parallelism 1, 2 and 4 (the
// decode threads follow it), with SET decode_threads, and at batch sizes 1, 7 and 4096,
// writes byte-identical output, dead-letter queue and late-data output (but for the time
// each dead-letter and late entry was written). The inputs carry
// malformed records, wrong types, NULL event times, oversized lines, late
// records and (CSV) a header per file whose column order differs from file to file.
// A checkpointing job decoding on several threads, killed with SIGKILL and restarted, ends
// with exactly the output of an uninterrupted run (a checkpoint records only emitted input).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::Rng;
using testing::TempDir;

constexpr int64_t kBaseMs = 1700000000000;

std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += with.size()) {
    text.replace(pos, what.size(), with);
  }
  return text;
}

// JSON lines: keys 0..19, event time advancing ~1 ms per record with disorder up to 1.5 s;
// ~2% far behind (late), ~5% bad: malformed, mistyped, not an object, NULL event time or
// longer than max_line_bytes.
void write_json_input(const std::string& path, int n) {
  Rng rng{7};
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) {
    int64_t ts = kBaseMs + i - rng.uniform(0, 1500);
    if (rng.chance(0.02)) ts -= rng.uniform(3000, 20000);
    const int64_t k = rng.uniform(0, 19), v = rng.uniform(-100, 100);
    switch (rng.chance(0.05) ? rng.uniform(0, 5) : -1) {
      case 0: out << "{\"k\": " << k << ", \"v\": \n"; break;                                // truncated
      case 1: out << "not json " << i << "\n"; break;                                         // garbage
      case 2: out << "{\"k\": \"x" << k << "\", \"v\": 1, \"ts\": " << ts << "}\n"; break;  // wrong type
      case 3: out << "{\"k\": " << k << ", \"v\": " << v << ", \"ts\": null}\n"; break;    // NULL time
      case 4: out << "[" << k << ", " << v << "]\n"; break;                                 // not an object
      case 5: out << "{\"k\": " << k << ", \"pad\": \"" << std::string(300, 'x') << "\"}\n"; break;  // oversized
      default:
        out << "{\"k\": " << k << ", \"v\": " << v << ", \"s\": \"s" << rng.uniform(0, 30) << "\", \"ts\": " << ts
            << "}\n";
    }
  }
}

// CSV files with a header each, the columns in a different order per file; ~3% bad rows.
void write_csv_inputs(const std::string& dir, int files, int rows_per_file) {
  Rng rng{11};
  fs::create_directories(dir);
  int64_t i = 0;
  for (int f = 0; f < files; ++f) {
    std::ofstream out(dir + "/part-" + std::to_string(f) + ".csv");
    const bool swapped = f % 2 == 1;
    out << (swapped ? "ts,v,k,s\n" : "k,v,s,ts\n");
    for (int r = 0; r < rows_per_file; ++r, ++i) {
      int64_t ts = kBaseMs + i - rng.uniform(0, 1500);
      if (rng.chance(0.02)) ts -= rng.uniform(3000, 20000);
      const int64_t k = rng.uniform(0, 19), v = rng.uniform(-100, 100), s = rng.uniform(0, 30);
      std::ostringstream v_text, s_text;
      v_text << v;
      s_text << 's' << s;
      if (rng.chance(0.03)) v_text.str("not-a-number");
      if (rng.chance(0.01)) s_text << ",extra";
      if (swapped) {
        out << ts << ',' << v_text.str() << ',' << k << ',' << s_text.str() << '\n';
      } else {
        out << k << ',' << v_text.str() << ',' << s_text.str() << ',' << ts << '\n';
      }
    }
  }
}

// {SOURCE} is replaced by the source table's connector options.
const char* kJob = R"(
{SET}
CREATE TABLE src (k BIGINT, v BIGINT, s TEXT, ts TIMESTAMP)
  WITH ({SOURCE}, event_time = 'ts', watermark_delay = '1s', dlq = '{OUT}/dlq.jsonl', late_output = '{OUT}/late.jsonl');
CREATE TABLE agg () WITH (connector = 'file', path = '{OUT}/agg.jsonl');
INSERT INTO agg
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total, COUNT(DISTINCT s) AS d
FROM TUMBLE(src, ts, INTERVAL '2 seconds') GROUP BY k, window_start;
)";

// The same source read by a second, non-windowed query: the source is read and decoded once
// and its batches go to one reader task per query (the late output's origins are taken
// over by them).
const char* kSecondQuery = R"(
CREATE TABLE picked () WITH (connector = 'file', path = '{OUT}/picked.jsonl');
INSERT INTO picked SELECT k, v, s, ts FROM src WHERE v > 60;
)";

// Dead-letter and late entries carry the wall-clock time they were written ("time"): the
// one field that may differ between runs.
std::string without_write_times(std::string text) {
  const std::string field = ",\"time\":\"";
  for (size_t pos = 0; (pos = text.find(field, pos)) != std::string::npos;) {
    size_t end = text.find('"', pos + field.size());
    if (end == std::string::npos) break;
    text.erase(pos, end + 1 - pos);
  }
  return text;
}

struct Outputs {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
};

Outputs run_job(const TempDir& dir, const std::string& source, bool second_query, int parallelism,
                size_t batch_size, int decode_threads) {
  const std::string out = dir.file("out-p" + std::to_string(parallelism) + "-b" + std::to_string(batch_size) + "-d" +
                                   std::to_string(decode_threads));
  fs::create_directories(out);
  std::string sql = std::string(kJob) + (second_query ? kSecondQuery : "");
  sql = replace_all(sql, "{SET}", decode_threads > 0 ? "SET decode_threads = " + std::to_string(decode_threads) + ";" : "");
  sql = replace_all(sql, "{SOURCE}", source);
  sql = replace_all(sql, "{OUT}", out);
  sql = replace_all(sql, "{DIR}", dir.path());
  const std::string job = out + "/job.sql";
  testing::write_file(job, sql);
  auto r = testing::run_sluice("run -q " + job + " --parallelism " + std::to_string(parallelism) + " --batch-size " +
                                   std::to_string(batch_size),
                               dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  Outputs o;
  for (const char* name : {"agg.jsonl", "dlq.jsonl", "late.jsonl", "picked.jsonl"}) {
    if (!second_query && std::string(name) == "picked.jsonl") continue;
    o.files.emplace_back(name, without_write_times(testing::read_file(out + "/" + name)));
  }
  return o;
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// Runs the job at every parallelism, decode-thread setting and batch size and compares
// every output with the single-threaded run at the default batch size.
void expect_identical_everywhere(const TempDir& dir, const std::string& source, bool second_query) {
  const Outputs reference = run_job(dir, source, second_query, 1, 4096, 0);
  // The comparison means something only when every kind of output has content.
  for (const auto& [name, content] : reference.files) {
    EXPECT_GT(count_lines(content), 10u) << name << " of the reference run is (nearly) empty";
  }
  struct Run {
    int parallelism;
    int decode_threads;  // 0: follow the parallelism
  };
  for (Run run : {Run{1, 0}, Run{2, 0}, Run{4, 0}, Run{1, 3}}) {
    for (size_t batch : {size_t{1}, size_t{7}, size_t{4096}}) {
      if (run.parallelism == 1 && run.decode_threads == 0 && batch == 4096) continue;  // the reference
      const Outputs o = run_job(dir, source, second_query, run.parallelism, batch, run.decode_threads);
      ASSERT_EQ(o.files.size(), reference.files.size());
      for (size_t f = 0; f < o.files.size(); ++f) {
        EXPECT_TRUE(o.files[f].second == reference.files[f].second)
            << o.files[f].first << " differs at parallelism " << run.parallelism << ", decode_threads "
            << run.decode_threads << ", batch size " << batch << " (" << count_lines(o.files[f].second)
            << " lines vs " << count_lines(reference.files[f].second) << ")";
      }
    }
  }
}

TEST(ParallelDecodeTest, JsonOutputDlqAndLateOutputAreIdenticalAtEveryThreadCountAndBatchSize) {
  TempDir dir;
  write_json_input(dir.file("in.jsonl"), 20000);
  expect_identical_everywhere(dir, "connector = 'file', path = '{DIR}/in.jsonl', format = 'json', max_line_bytes = '200'",
                              /*second_query=*/false);
}

TEST(ParallelDecodeTest, SharedSourceReadByTwoQueriesIsIdenticalAtEveryThreadCountAndBatchSize) {
  TempDir dir;
  write_json_input(dir.file("in.jsonl"), 12000);
  expect_identical_everywhere(dir, "connector = 'file', path = '{DIR}/in.jsonl', format = 'json', max_line_bytes = '200'",
                              /*second_query=*/true);
}

TEST(ParallelDecodeTest, CsvFilesWithDifferentHeadersAreIdenticalAtEveryThreadCountAndBatchSize) {
  TempDir dir;
  write_csv_inputs(dir.file("in"), 5, 3000);
  expect_identical_everywhere(dir, "connector = 'file', path = '{DIR}/in/*.csv', format = 'csv', header = 'true'",
                              /*second_query=*/false);
}

// Committed file-sink output: the part files in name order, concatenated.
std::string committed_output(const std::string& dir) {
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("agg.part-", 0) == 0) parts.push_back(e.path().string());
  }
  std::sort(parts.begin(), parts.end());
  std::string all;
  for (const auto& p : parts) all += testing::read_file(p);
  if (parts.empty() && fs::exists(dir + "/agg.jsonl")) all = testing::read_file(dir + "/agg.jsonl");
  return all;
}

TEST(ParallelDecodeTest, CheckpointedJobKilledAndRestoredWithParallelDecodeIsExactlyOnce) {
  TempDir dir;
  // Clean records only: a restored run replays the records after its checkpoint, so the
  // (at-least-once) dead-letter queue could hold some twice; the output must not.
  {
    Rng rng{3};
    std::ofstream out(dir.file("in.jsonl"));
    for (int i = 0; i < 150000; ++i) {
      out << "{\"k\":" << rng.uniform(0, 199) << ",\"v\":" << rng.uniform(-1000, 1000)
          << ",\"s\":\"s" << rng.uniform(0, 40) << "\",\"ts\":" << kBaseMs + 2 * i - rng.uniform(0, 1500) << "}\n";
    }
  }
  auto job = [&](const std::string& out, bool throttled) {
    fs::create_directories(out);
    std::string source = "connector = 'file', path = '" + dir.file("in.jsonl") + "', format = 'json'" +
                         (throttled ? ", rate = '50000'" : "");
    std::string sql = replace_all(replace_all(replace_all(kJob, "{SET}", ""), "{SOURCE}", source), "{OUT}", out);
    testing::write_file(out + "/job.sql", sql);
    return out + "/job.sql";
  };
  // Uninterrupted, single-threaded, no checkpoints: the expected output.
  const std::string expected_dir = dir.file("expected");
  auto r = testing::run_sluice("run -q " + job(expected_dir, false), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string expected = committed_output(expected_dir);
  ASSERT_GT(count_lines(expected), 1000u);

  // Crashed and restarted, decoding on 2 and 4 threads, batches of 100 records.
  const std::string out = dir.file("crashed");
  const std::string sql = job(out, true);
  const std::string checkpoints = dir.file("checkpoints");
  Rng rng{99};
  int kills = 0;
  for (int attempt = 0; attempt < 30; ++attempt) {
    const std::string p = attempt % 2 == 0 ? "2" : "4";
    pid_t pid = testing::spawn_sluice({"run", "-q", sql, "--parallelism", p, "--batch-size", "100",
                                       "--checkpoint-dir", checkpoints, "--checkpoint-interval", "100ms"},
                                      dir.path(), dir.file("log.txt"));
    ASSERT_GT(pid, 0);
    if (kills < 4) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(400, 900)));
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        testing::wait_exit(pid);
        ++kills;
        continue;
      }
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::read_file(dir.file("log.txt"));
      break;
    }
    ASSERT_EQ(testing::wait_exit(pid), 0) << testing::read_file(dir.file("log.txt"));
    break;
  }
  EXPECT_EQ(kills, 4) << "the job ended before it could be killed four times";
  const std::string got = committed_output(out);
  EXPECT_EQ(count_lines(got), count_lines(expected));
  EXPECT_TRUE(got == expected) << "output after kill -9 and restores differs from the uninterrupted run";
}

}  // namespace
}  // namespace sluice
