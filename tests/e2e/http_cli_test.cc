// `sluice run --http`: the REST API of a running job from outside the process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "test_helpers.h"

namespace sluice {
namespace {

using testing::read_file;
using testing::run_sluice;
using testing::spawn_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

using testing::http_request;

std::string http(int port, const std::string& method, const std::string& path) {
  return http_request(port, method, path);
}

const char* kJob = R"(
  CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', follow = 'true');
  CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
  INSERT INTO out SELECT n FROM src;)";

TEST(HttpCliTest, ServesTheRunningJobAndStopsItOnRequest) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"n\": 1}\n{\"n\": 2}\n{\"n\": 3}\n");
  write_file(dir.file("job.sql"), with_dir(kJob, dir.path()));
  pid_t pid = spawn_sluice({"run", "job.sql", "--http", "127.0.0.1:0"}, dir.path(), dir.file("log.txt"));
  int port = 0;
  const std::regex serving(R"(serving http://127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 1000 && port == 0; ++i) {
    std::smatch m;
    std::string log = read_file(dir.file("log.txt"));
    if (std::regex_search(log, m, serving)) port = std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(port, 0) << read_file(dir.file("log.txt"));
  std::string jobs;
  for (int i = 0; i < 500; ++i) {
    jobs = http(port, "GET", "/api/v1/jobs");
    if (jobs.find("\"records_in\":3") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(jobs.rfind("HTTP/1.1 200", 0), 0u) << jobs;
  EXPECT_NE(jobs.find("\"name\":\"job\""), std::string::npos) << jobs;
  EXPECT_NE(jobs.find("\"state\":\"running\""), std::string::npos) << jobs;
  EXPECT_NE(jobs.find("\"records_in\":3"), std::string::npos) << jobs;
  std::string stop = http(port, "POST", "/api/v1/jobs/job/stop");
  EXPECT_EQ(stop.rfind("HTTP/1.1 202", 0), 0u) << stop;
  EXPECT_EQ(testing::wait_exit(pid), 0) << read_file(dir.file("log.txt"));
  EXPECT_EQ(read_file(dir.file("out.jsonl")), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  EXPECT_EQ(http(port, "GET", "/api/v1/jobs"), "") << "the server ends with the job";
}

TEST(HttpCliTest, AnOpenBindNeedsAToken) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "");
  write_file(dir.file("job.sql"), with_dir(kJob, dir.path()));
  auto r = run_sluice("run job.sql --http 0.0.0.0:0", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("needs a bearer token"), std::string::npos) << r.output;
  r = run_sluice("run job.sql --http-token-file nope", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--http-token-file needs --http"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice
