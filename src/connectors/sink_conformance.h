// The sink conformance suite (test code, not part of the library): one parameterized
// GoogleTest suite, defined in sink_conformance_test.cc, that every exactly-once sink passes:
// write, pre-commit, crash (the writer destroyed without commit), recover, commit, replay of
// a committed checkpoint, rollback of checkpoints newer than the restored one, updating
// streams (+I/-U/+U/-D) in the modes the sink supports, and --start-over.
//
// A sink joins with a SinkConformanceTarget (how to configure it in a directory, how to read
// back its committed output) and one line in its own test file:
//
//   INSTANTIATE_SINK_CONFORMANCE(File, file_sink_conformance_target());
//
// Every case writes the schema (id BIGINT, name TEXT) into table `out`; upsert mode keys it
// by id. Each test gets a fresh temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "connectors/sink.h"

namespace sluice::testing {

enum class SinkMode {
  kAppend,     // insert-only; update and delete rows are refused
  kUpsert,     // keyed by id: +I/+U upsert, -D deletes, -U is superseded by its +U
  kChangelog,  // every row written with its op, in order
};
const char* sink_mode_name(SinkMode mode);

struct SinkConformanceTarget {
  std::string name;              // a test name prefix ("File")
  std::vector<SinkMode> modes;   // the modes the sink supports
  // The sink writing table `out` (schema (id BIGINT, name TEXT)) into directory `dir`.
  std::function<SinkSpec(const std::string& dir, SinkMode mode, SchemaPtr schema)> spec;
  // The output a reader sees now (committed rows only): "id|name" per row, in write order
  // (append), by id (upsert), or "op|id|name" in write order (changelog).
  std::function<std::vector<std::string>(const std::string& dir, SinkMode mode)> read;
  // What the target cannot do, and why (printed by the cases that need it, which then check
  // the weaker guarantee that still holds: every row is there, repeats allowed). Empty: it
  // can. A Kafka topic cannot take committed messages back (rollback, --start-over); the
  // mock cluster also forgets which checkpoint committed last (a replay repeats it).
  std::string cannot_take_back_commits;
  std::string forgets_commits;
};

struct SinkConformanceCase {
  SinkConformanceTarget target;
  SinkMode mode;
};

// "File/Append" in gtest's messages.
inline void PrintTo(const SinkConformanceCase& c, std::ostream* os) {
  *os << c.target.name << "/" << sink_mode_name(c.mode);
}

// One case per mode the target supports.
std::vector<SinkConformanceCase> sink_conformance_cases(const SinkConformanceTarget& target);
std::string sink_conformance_case_name(const ::testing::TestParamInfo<SinkConformanceCase>& info);

class SinkConformanceTest : public ::testing::TestWithParam<SinkConformanceCase> {};

}  // namespace sluice::testing

// `name` is a plain identifier (a test name prefix); `target` a SinkConformanceTarget.
#define INSTANTIATE_SINK_CONFORMANCE(name, target)                                                    \
  namespace sluice::testing {                                                                         \
  INSTANTIATE_TEST_SUITE_P(name, SinkConformanceTest, ::testing::ValuesIn(sink_conformance_cases(target)), \
                           sink_conformance_case_name);                                               \
  }
