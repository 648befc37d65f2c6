// Test helpers for the connector tests (not part of the library): a temporary directory
// removed at the end of the test, file helpers, and spec builders.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "connectors/retry.h"
#include "connectors/sink.h"
#include "connectors/source.h"

namespace sluice::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-connectors-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content, bool append = false) {
  std::ofstream f(path, append ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
  f << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline SourceSpec source_spec(const std::string& connector, std::map<std::string, std::string> options,
                              SchemaPtr schema = make_schema({{"v", TypeId::kString}}),
                              const std::string& table = "clicks") {
  return SourceSpec{table, connector, std::move(schema), ConnectorOptions(std::move(options), "table " + table), ""};
}

inline SinkSpec sink_spec(const std::string& connector, std::map<std::string, std::string> options, SchemaPtr schema,
                          const std::string& table = "out") {
  return SinkSpec{table, connector, std::move(schema), ConnectorOptions(std::move(options), "table " + table)};
}

// The identity a test's sinks commit under: one job, one sink instance (sink.h).
inline SinkIdentity test_sink_identity(const std::string& job_id = "00000000000000000000000000000001") {
  return SinkIdentity{job_id, "out.sink/0"};
}

// A RetryClock whose time moves only when the code under test sleeps (or the test advances
// it); every sleep is recorded.
class ManualRetryClock : public RetryClock {
 public:
  Micros now() override { return now_; }
  void sleep_for(Micros duration) override {
    sleeps.push_back(duration);
    now_ += duration;
  }
  void advance(Micros duration) { now_ += duration; }
  std::vector<Micros> sleeps;

 private:
  Micros now_ = 1'000'000;
};

// All records of a raw batch as strings.
inline std::vector<std::string> records_of(const RawRecords& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.size(); ++i) out.emplace_back(r.record(i));
  return out;
}

// Polls `reader` until kEnd (at most `max_polls` polls), collecting every record.
inline RawRecords read_all(SourceReader& reader, size_t max_records = 4096, int max_polls = 100000) {
  RawRecords all, batch;
  for (int i = 0; i < max_polls; ++i) {
    batch.clear();
    auto st = reader.poll(batch, max_records);
    EXPECT_TRUE(st.is_ok()) << st.status().message();
    if (!st.is_ok()) break;
    for (size_t k = 0; k < batch.size(); ++k) {
      all.append_record(batch.record(k), batch.offsets[k], batch.lines[k]);
    }
    if (st.value() == PollStatus::kEnd) break;
  }
  return all;
}

}  // namespace sluice::testing
