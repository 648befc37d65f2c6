#include "connectors/serial_worker.h"

#include "common/logging.h"

namespace sluice {

SerialWorker::~SerialWorker() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return tasks_.empty(); });
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status SerialWorker::submit(std::function<Status()> task) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return tasks_.size() < max_queued_ || !error_.is_ok(); });
    if (!error_.is_ok()) return error_;
    tasks_.push_back(std::move(task));
    if (!thread_.joinable()) {
      // The worker logs as the thread that started it (job, operator).
      thread_ = std::thread([this, context = LogContext::current()] {
        LogContext::Scope scope(context);
        run();
      });
    }
  }
  cv_.notify_all();
  return Status::ok();
}

Status SerialWorker::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return tasks_.empty(); });
  return error_;
}

Status SerialWorker::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void SerialWorker::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, nothing queued
    std::function<Status()>& task = tasks_.front();  // stays put: push_back keeps references
    lock.unlock();
    Status result = task();
    lock.lock();
    if (!result.is_ok()) {
      error_ = std::move(result);
      tasks_.clear();  // later tasks would apply rows after the ones that failed
    } else {
      tasks_.pop_front();
    }
    cv_.notify_all();
  }
}

}  // namespace sluice
