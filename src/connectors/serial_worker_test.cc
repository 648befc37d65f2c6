#include "connectors/serial_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(SerialWorkerTest, RunsTasksInSubmissionOrderOffTheCallersThread) {
  SerialWorker worker(2);
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(worker.submit([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      return Status::ok();
    }).is_ok());
  }
  ASSERT_TRUE(worker.wait().is_ok());
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  EXPECT_EQ(order, want);
  for (auto id : threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(SerialWorkerTest, SubmitBlocksWhileTheQueueIsFull) {
  SerialWorker worker(2);
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  auto blocked = [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
    return Status::ok();
  };
  ASSERT_TRUE(worker.submit(blocked).is_ok());  // running
  ASSERT_TRUE(worker.submit(blocked).is_ok());  // queued
  std::atomic<bool> third_in{false};
  std::thread t([&] {
    EXPECT_TRUE(worker.submit([&] { ++ran; return Status::ok(); }).is_ok());
    third_in = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(third_in.load()) << "a third task waits while two are queued";
  release = true;
  t.join();
  ASSERT_TRUE(worker.wait().is_ok());
  EXPECT_EQ(ran.load(), 3);
}

TEST(SerialWorkerTest, AFailureDropsTheLaterTasksAndIsReportedFromThenOn) {
  SerialWorker worker(3);
  std::atomic<bool> release{false};
  std::atomic<int> after{0};
  ASSERT_TRUE(worker.submit([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status(StatusCode::kInternal, "apply failed");
  }).is_ok());
  ASSERT_TRUE(worker.submit([&] { ++after; return Status::ok(); }).is_ok());
  release = true;
  Status s = worker.wait();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(after.load(), 0) << "rows after a failed batch are not applied";
  EXPECT_EQ(worker.status().code(), StatusCode::kInternal);
  EXPECT_EQ(worker.submit([&] { ++after; return Status::ok(); }).code(), StatusCode::kInternal);
  EXPECT_EQ(worker.wait().code(), StatusCode::kInternal);
  EXPECT_EQ(after.load(), 0);
}

TEST(SerialWorkerTest, TheDestructorWaitsForQueuedTasks) {
  std::atomic<int> ran{0};
  {
    SerialWorker worker(4);
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(worker.submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ++ran;
        return Status::ok();
      }).is_ok());
    }
  }
  EXPECT_EQ(ran.load(), 4);
}

TEST(SerialWorkerTest, AnUnusedWorkerStartsNoThread) {
  SerialWorker worker;
  EXPECT_TRUE(worker.wait().is_ok());
  EXPECT_TRUE(worker.status().is_ok());
}

}  // namespace
}  // namespace sluice
