// Throwaway NATS servers with JetStream for tests (test code, not part of the library):
// nats-server processes on free loopback ports, each with its own store directory, stopped
// (SIGKILL) and their directories removed at destruction. `NatsTestCluster(1)` is one
// server; `NatsTestCluster(3)` a 3-node cluster (routes on loopback) whose streams may have
// 3 replicas. A node can be killed and started again (same ports, same store). When a
// server cannot start, the test process aborts with the reason (never skips).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluice::testing {

class NatsTestCluster {
 public:
  explicit NatsTestCluster(int nodes);
  ~NatsTestCluster();
  // One single-node server per test process, started on first use.
  static NatsTestCluster& shared();

  // "nats://127.0.0.1:P1,nats://127.0.0.1:P2,..."
  std::string url() const;
  int nodes() const { return static_cast<int>(nodes_.size()); }
  // SIGKILL of node i; start_node() brings it back with its store.
  void kill_node(int i);
  void start_node(int i);
  // The node index that leads `stream` (-1 when unknown).
  int stream_leader(const std::string& stream) const;

  // Administration through libnats (aborts the test on failure): a stream capturing
  // `subjects` (comma list) with `replicas` copies and a duplicate window; publishing;
  // every message's data in stream order; a consumer's acknowledged floor.
  void create_stream(const std::string& name, const std::string& subjects, int replicas = 1,
                     int duplicate_window_s = 120) const;
  void delete_stream(const std::string& name) const;
  void publish(const std::string& subject, const std::vector<std::string>& payloads) const;
  std::vector<std::string> messages(const std::string& stream) const;
  uint64_t ack_floor(const std::string& stream, const std::string& consumer) const;

 private:
  struct Node {
    int client_port = 0;
    int cluster_port = 0;
    std::string dir;
    pid_t pid = -1;
  };
  bool ready(int i) const;
  std::string base_;
  std::vector<Node> nodes_;
};

}  // namespace sluice::testing
