// Sources resume from a recorded position and then return exactly the records a reader
// that never stopped would have returned (with the same offsets and line numbers): what
// checkpoint recovery needs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "connectors/source.h"

namespace sluice {
namespace {

std::vector<std::tuple<int64_t, int64_t, std::string>> drain(SourceReader& r, size_t batch, size_t limit = SIZE_MAX) {
  std::vector<std::tuple<int64_t, int64_t, std::string>> out;
  RawRecords raw;
  while (out.size() < limit) {
    raw.clear();
    auto st = r.poll(raw, std::min(batch, limit - out.size()));
    EXPECT_TRUE(st.is_ok());
    if (!st.is_ok() || st.value() == PollStatus::kEnd) break;
    for (size_t i = 0; i < raw.size(); ++i) out.emplace_back(raw.offsets[i], raw.lines[i], std::string(raw.record(i)));
  }
  return out;
}

std::unique_ptr<SourceFactory> factory(const std::string& connector, std::map<std::string, std::string> options) {
  SourceSpec spec;
  spec.table = "t";
  spec.connector = connector;
  spec.schema = make_schema({{"user_id", TypeId::kInt64, true}});
  spec.options = ConnectorOptions(std::move(options), "table t");
  auto f = make_source_factory(spec);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return std::move(f).value();
}

TEST(ResumeTest, FileSourceResumesAtTheRecordedOffsetAndLine) {
  auto path = (std::filesystem::temp_directory_path() / "sluice-resume-test.jsonl").string();
  {
    std::ofstream f(path);
    for (int i = 0; i < 100; ++i) f << "{\"user_id\": " << i << "}\n" << (i % 7 == 0 ? "\n" : "");
  }
  auto f = factory("file", {{"path", path}});
  auto full_reader = f->create_reader(0).value();
  ASSERT_TRUE(full_reader->open().is_ok());
  auto all = drain(*full_reader, 9);
  ASSERT_EQ(all.size(), 100u);
  auto first = f->create_reader(0).value();
  ASSERT_TRUE(first->open().is_ok());
  auto head = drain(*first, 9, 37);
  SourcePosition pos = first->resume_position();
  auto resumed = f->create_reader(0).value();
  ASSERT_TRUE(resumed->open().is_ok());
  ASSERT_TRUE(resumed->seek(pos).is_ok());
  auto tail = drain(*resumed, 5);
  head.insert(head.end(), tail.begin(), tail.end());
  EXPECT_EQ(head, all);
  std::filesystem::remove(path);
}

TEST(ResumeTest, GeneratorResumesAtTheRecordedEventIndex) {
  auto f = factory("generator", {{"seed", "5"}, {"events", "5000"}, {"splits", "2"}, {"malformed", "0.01"}});
  auto full_reader = f->create_reader(1).value();
  ASSERT_TRUE(full_reader->open().is_ok());
  auto all = drain(*full_reader, 100);
  auto first = f->create_reader(1).value();
  ASSERT_TRUE(first->open().is_ok());
  auto head = drain(*first, 100, 1234);
  SourcePosition pos = first->resume_position();
  auto resumed = f->create_reader(1).value();
  ASSERT_TRUE(resumed->seek(pos).is_ok());
  auto tail = drain(*resumed, 64);
  head.insert(head.end(), tail.begin(), tail.end());
  EXPECT_EQ(head, all);
  EXPECT_FALSE(resumed->seek(SourcePosition{2, 0, {}}).is_ok()) << "index 2 belongs to split 0";
}

}  // namespace
}  // namespace sluice
