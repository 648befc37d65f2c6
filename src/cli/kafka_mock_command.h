// `sluice kafka-mock` (kafka_mock_command.cc), built with the kafka connector only.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// Runs the mock cluster until SIGINT/SIGTERM; returns the process exit code.
int cmd_kafka_mock(int brokers, const std::vector<std::string>& topics);

}  // namespace sluice
