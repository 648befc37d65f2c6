#include "engine/engine.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/scoped_temp_dir.h"

namespace sluice::engine {
namespace {

class TempDir : public ScopedTempDir {
 public:
  TempDir() : ScopedTempDir("sluice_engine") {}
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_lines(const std::string& path, int n) {
  std::ofstream out(path);
  for (int i = 1; i <= n; ++i) out << "{\"n\": " << i << ", \"k\": \"k" << i % 3 << "\"}\n";
}

std::string job_text(const TempDir& dir, const std::string& name, const std::string& extra = "",
                     const std::string& source_options = "") {
  return extra + "CREATE TABLE src (n BIGINT, k TEXT) WITH (connector = 'file', path = '" + dir.file(name + ".in") +
         "'" + source_options + ");\nCREATE TABLE out () WITH (connector = 'file', path = '" +
         dir.file(name + ".out") + "');\nINSERT INTO out SELECT n, k FROM src;\n";
}

size_t lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(ResolveOptions, OverridesWinOverSetValuesWhichWinOverDefaults) {
  JobSettings set;
  auto defaults = resolve_options(set, {});
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_EQ(defaults.value().plan.parallelism, 1);
  EXPECT_EQ(defaults.value().plan.batch_size, 4096u);
  EXPECT_FALSE(defaults.value().checkpoint.enabled());
  EXPECT_EQ(defaults.value().checkpoint.retain, 3);
  EXPECT_EQ(defaults.value().checkpoint.backend, "memory");

  ASSERT_TRUE(apply_setting(set, "parallelism", "3").is_ok());
  ASSERT_TRUE(apply_setting(set, "checkpoint_dir", "from-set").is_ok());
  ASSERT_TRUE(apply_setting(set, "checkpoint_interval", "2s").is_ok());
  ASSERT_TRUE(apply_setting(set, "state_backend", "rocksdb").is_ok());
  auto from_set = resolve_options(set, {});
  ASSERT_TRUE(from_set.is_ok());
  EXPECT_EQ(from_set.value().plan.parallelism, 3);
  EXPECT_EQ(from_set.value().checkpoint.dir, "from-set");
  EXPECT_EQ(from_set.value().checkpoint.interval, 2'000'000);
  EXPECT_EQ(from_set.value().checkpoint.backend, "rocksdb");
  EXPECT_TRUE(from_set.value().plan.checkpointing);

  JobOverrides o;
  o.parallelism = 2;
  o.checkpoint_dir = "from-flag";
  o.checkpoint_interval = "250ms";
  o.state_backend = "memory";
  auto overridden = resolve_options(set, o);
  ASSERT_TRUE(overridden.is_ok());
  EXPECT_EQ(overridden.value().plan.parallelism, 2);
  EXPECT_EQ(overridden.value().checkpoint.dir, "from-flag");
  EXPECT_EQ(overridden.value().checkpoint.interval, 250'000);
  EXPECT_EQ(overridden.value().checkpoint.backend, "memory");
}

TEST(ResolveOptions, RefusesMeaninglessCombinations) {
  JobSettings set;
  JobOverrides o;
  o.checkpoint_interval = "1us";
  o.checkpoint_dir = "ck";
  EXPECT_FALSE(resolve_options(set, o).is_ok());
  o.checkpoint_interval = "soon";
  EXPECT_FALSE(resolve_options(set, o).is_ok());
  o = {};
  o.checkpoint_interval = "1s";  // no directory
  auto r = resolve_options(set, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("checkpoint directory"), std::string::npos) << r.status().message();
  o = {};
  o.start_over = true;
  EXPECT_FALSE(resolve_options(set, o).is_ok());
  o = {};
  o.state_backend = "redis";
  EXPECT_FALSE(resolve_options(set, o).is_ok());
  // A savepoint without a directory keeps checkpointing in the savepoint's directory.
  o = {};
  o.from_savepoint = "ck/chk-00000000000000000007";
  auto sp = resolve_options(set, o);
  ASSERT_TRUE(sp.is_ok());
  EXPECT_EQ(sp.value().checkpoint.dir, "ck");
}

TEST(ApplySetting, ValidatesLikeSqlSet) {
  JobSettings set;
  EXPECT_FALSE(apply_setting(set, "parallelism", "0").is_ok());
  EXPECT_FALSE(apply_setting(set, "parallelism", "").is_ok());
  EXPECT_FALSE(apply_setting(set, "batch_size", "12x").is_ok());
  EXPECT_FALSE(apply_setting(set, "checkpoint_interval", "1us").is_ok());
  EXPECT_FALSE(apply_setting(set, "nonsense", "1").is_ok());
  EXPECT_TRUE(set.values.empty()) << "a refused setting must not be recorded";
  EXPECT_TRUE(apply_setting(set, "allowed_lateness", "1 minute").is_ok());
  EXPECT_EQ(set.allowed_lateness, 60'000'000);
  EXPECT_EQ(set.values.at("allowed_lateness"), "1 minute");
}

TEST(PrepareSql, LocatesErrorsAndAddsTheCheckpointSettingsToTheExplain) {
  TempDir dir;
  auto bad = prepare_sql("CREATE TABLE t (a BIGINT) WITH (connector = 'file', path = 'x');\nINSERT INTO nope SELECT a FROM t;",
                         "bad.sql");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message().rfind("bad.sql:2:", 0), 0u) << bad.status().message();

  JobOverrides o;
  o.checkpoint_dir = dir.file("ck");
  write_lines(dir.file("a.in"), 1);
  auto ok = prepare_sql(job_text(dir, "a"), dir.file("a.sql"), o);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(ok.value().name, "a");
  EXPECT_NE(ok.value().explain().find("checkpoints: final only in " + dir.file("ck")), std::string::npos)
      << ok.value().explain();
  EXPECT_EQ(ok.value().plan.job.options.checkpoint.dir, dir.file("ck"));
}

TEST(JobHandle, RunsAJobOnItsThreadAndReportsItsStatus) {
  TempDir dir;
  write_lines(dir.file("a.in"), 500);
  auto prepared = prepare_sql(job_text(dir, "a"), "a.sql");
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  JobHandle handle(std::move(prepared.value()));
  EXPECT_EQ(handle.status().state, JobState::kCreated);
  EXPECT_FALSE(handle.wait().is_ok()) << "waiting for a job never started is an error, not a hang";
  ASSERT_TRUE(handle.start().is_ok());
  EXPECT_FALSE(handle.start().is_ok()) << "a job starts once";
  ASSERT_TRUE(handle.wait().is_ok());
  JobStatus st = handle.status();
  EXPECT_EQ(st.state, JobState::kFinished);
  EXPECT_STREQ(to_string(st.state), "finished");
  EXPECT_EQ(st.records_in, 500u);
  EXPECT_EQ(st.dead_lettered, 0u);
  EXPECT_GT(st.elapsed_seconds, 0);
  EXPECT_EQ(lines(read_file(dir.file("a.out"))), 500u);
}

TEST(JobHandle, AFailedJobSaysWhy) {
  TempDir dir;
  // The sink's directory exists when the job is planned and is gone when it runs.
  std::filesystem::create_directories(dir.file("no/such/dir"));
  std::string text = "CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '" + dir.file("a.in") +
                     "');\nCREATE TABLE out () WITH (connector = 'file', path = '" + dir.file("no/such/dir/out") +
                     "');\nINSERT INTO out SELECT n FROM src;\n";
  write_lines(dir.file("a.in"), 3);
  auto prepared = prepare_sql(text, "a.sql");
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  std::filesystem::remove_all(dir.file("no"));
  JobHandle handle(std::move(prepared.value()));
  ASSERT_TRUE(handle.start().is_ok());
  Status s = handle.wait();
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(handle.status().state, JobState::kFailed);
  EXPECT_EQ(handle.status().error, s.message());
}

TEST(JobHandle, StopEndsAnUnboundedJob) {
  TempDir dir;
  write_lines(dir.file("f.in"), 10);
  auto prepared = prepare_sql(job_text(dir, "f", "", ", follow = 'true'"), "f.sql");
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  JobHandle handle(std::move(prepared.value()));
  ASSERT_TRUE(handle.start().is_ok());
  for (int i = 0; i < 1000 && handle.status().records_in < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(handle.status().state, JobState::kRunning);
  handle.stop();
  ASSERT_TRUE(handle.wait().is_ok());
  EXPECT_EQ(handle.status().state, JobState::kStopped);
  EXPECT_EQ(handle.status().records_in, 10u);
}

TEST(Engine, RunsSeveralJobsAtOnceByName) {
  TempDir dir;
  write_lines(dir.file("a.in"), 300);
  write_lines(dir.file("b.in"), 700);
  write_lines(dir.file("f.in"), 5);
  Engine engine;
  auto follow = prepare_sql(job_text(dir, "f", "", ", follow = 'true'"), "f.sql");
  ASSERT_TRUE(follow.is_ok()) << follow.status().message();
  auto f = engine.submit(std::move(follow.value()));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  // A second job under a running job's name is refused.
  auto again = prepare_sql(job_text(dir, "f", "", ", follow = 'true'"), "f.sql");
  ASSERT_TRUE(again.is_ok());
  EXPECT_FALSE(engine.submit(std::move(again.value())).is_ok());
  for (const char* name : {"a", "b"}) {
    auto p = prepare_sql(job_text(dir, name), std::string(name) + ".sql");
    ASSERT_TRUE(p.is_ok()) << p.status().message();
    ASSERT_TRUE(engine.submit(std::move(p.value())).is_ok());
  }
  EXPECT_EQ(engine.jobs().size(), 3u);
  ASSERT_NE(engine.find("a"), nullptr);
  EXPECT_EQ(engine.find("zzz"), nullptr);
  ASSERT_TRUE(engine.find("a")->wait().is_ok());
  ASSERT_TRUE(engine.find("b")->wait().is_ok());
  EXPECT_EQ(engine.find("a")->status().records_in, 300u);
  EXPECT_EQ(engine.find("b")->status().records_in, 700u);
  EXPECT_EQ(engine.find("f")->status().state, JobState::kRunning);
  engine.stop_all();
  EXPECT_TRUE(engine.wait_all().is_ok());
  EXPECT_EQ(engine.find("f")->status().state, JobState::kStopped);
  EXPECT_EQ(lines(read_file(dir.file("a.out"))), 300u);
  EXPECT_EQ(lines(read_file(dir.file("b.out"))), 700u);
}

TEST(JobHandle, CheckpointsWhenTheSqlSaysSoAndResumes) {
  TempDir dir;
  write_lines(dir.file("c.in"), 100);
  std::string text = job_text(dir, "c", "SET checkpoint_dir = '" + dir.file("ck") + "';\n");
  {
    auto p = prepare_sql(text, "c.sql");
    ASSERT_TRUE(p.is_ok()) << p.status().message();
    JobHandle h(std::move(p.value()));
    ASSERT_TRUE(h.run().is_ok());
    EXPECT_GE(h.status().checkpoints_completed, 1u);
    EXPECT_EQ(h.status().restored_checkpoint, 0u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("ck/job_id")));
  {
    auto p = prepare_sql(text, "c.sql");
    ASSERT_TRUE(p.is_ok()) << p.status().message();
    JobHandle h(std::move(p.value()));
    ASSERT_TRUE(h.run().is_ok());
    EXPECT_GT(h.status().restored_checkpoint, 0u);
    EXPECT_EQ(h.status().records_in, 0u) << "the resumed job starts after what it read";
  }
}

}  // namespace
}  // namespace sluice::engine
