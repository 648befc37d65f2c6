// SerialWorker: runs a connector's slow I/O (applying a flushed batch of rows to a database)
// on a thread of its own, in submission order, so the operator thread that flushed goes on
// with the stream meanwhile instead of stalling its input channel (the guide's "no I/O inside
// an operator's processing step").
//
// At most `max_queued` tasks wait or run: submit() blocks while that many are queued, which
// bounds the rows held in memory. A task that fails stops the worker: the tasks queued after
// it are dropped (they would apply rows out of order) and every later submit() or wait()
// returns the error, so the caller fails the job with it as with a synchronous call.
//
// Threads: submit() and wait() belong to one owning thread; tasks run on the worker thread
// (started at the first submit()). A task must own (or outlive-guarantee) what it uses. The
// destructor waits for the queued tasks.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/status.h"

namespace sluice {

class SerialWorker {
 public:
  explicit SerialWorker(size_t max_queued = 2) : max_queued_(max_queued < 1 ? 1 : max_queued) {}
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;
  ~SerialWorker();

  // Queues `task` (waiting while `max_queued` tasks are queued). Returns the error of a task
  // that failed (then `task` is not queued), else ok.
  Status submit(std::function<Status()> task);
  // Waits until every queued task ran; the first error of any task, else ok.
  Status wait();
  // The first error of a finished task, without waiting (ok while none failed).
  Status status() const;

 private:
  void run();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<Status()>> tasks_;  // front: running (or next to run)
  Status error_;                                // sticky: the first failure
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
