// `sluice kafka-mock`: starts librdkafka's mock cluster (connectors/kafka/kafka_mock.h) and
// prints its bootstrap address, for trying Sluice and for tests without a Kafka broker. A
// development aid, not a broker (docs/kafka.md lists what it does not do).
//
// Prints the bootstrap list as the first line of stdout, then "topic NAME PARTITIONS" for
// each topic created. While running it reads commands from stdin, one per line:
//   topic NAME:PARTITIONS    creates a topic (answered "topic NAME PARTITIONS" or "error: ...")
// and stops on SIGINT or SIGTERM. Threads: main waits for the signal; a thread reads stdin.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "kafka_mock_command.h"
#include "connectors/kafka/kafka_mock.h"

namespace sluice {
namespace {

Status create(KafkaMockCluster& cluster, const std::string& spec) {
  const size_t colon = spec.rfind(':');
  int partitions = 0;
  if (colon == std::string::npos || colon == 0) {
    return invalid_argument("'{}' is not NAME:PARTITIONS", spec);
  }
  try {
    size_t used = 0;
    partitions = std::stoi(spec.substr(colon + 1), &used);
    if (used != spec.size() - colon - 1) return invalid_argument("'{}' is not NAME:PARTITIONS", spec);
  } catch (const std::exception&) {
    return invalid_argument("'{}' is not NAME:PARTITIONS", spec);
  }
  const std::string name = spec.substr(0, colon);
  RETURN_IF_ERROR(cluster.create_topic(name, partitions));
  std::printf("topic %s %d\n", name.c_str(), partitions);
  std::fflush(stdout);
  return Status::ok();
}

}  // namespace

int cmd_kafka_mock(int brokers, const std::vector<std::string>& topics) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts
  auto cluster = KafkaMockCluster::start(brokers);
  if (!cluster.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", cluster.status().message().c_str());
    return 1;
  }
  KafkaMockCluster& c = *cluster.value();
  std::printf("%s\n", c.bootstrap_servers().c_str());
  std::fflush(stdout);
  for (const auto& t : topics) {
    Status s = create(c, t);
    if (!s.is_ok()) {
      std::fprintf(stderr, "sluice: error: kafka-mock --topic: %s\n", s.message().c_str());
      return 1;
    }
  }
  std::thread commands([&c] {
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      Status s = line.rfind("topic ", 0) == 0 ? create(c, line.substr(6))
                                              : invalid_argument("unknown command '{}' (topic NAME:PARTITIONS)", line);
      if (!s.is_ok()) {
        std::printf("error: %s\n", s.message().c_str());
        std::fflush(stdout);
      }
    }
  });
  commands.detach();  // may stay blocked reading stdin; the process ends on the signal
  int sig = 0;
  sigwait(&stop_signals, &sig);
  return 0;
}

}  // namespace sluice
