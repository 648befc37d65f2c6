// Sources resume from a recorded position and then return exactly the records a reader
// that never stopped would have returned (with the same offsets and line numbers): what
// checkpoint recovery needs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "connectors/source.h"

namespace sluice {
namespace {

// What a reader returns (offset, line, bytes), oversized records included as
// "!oversized <size>".
std::vector<std::tuple<int64_t, int64_t, std::string>> drain(SourceReader& r, size_t batch, size_t limit = SIZE_MAX) {
  std::vector<std::tuple<int64_t, int64_t, std::string>> out;
  RawRecords raw;
  while (out.size() < limit) {
    raw.clear();
    auto st = r.poll(raw, std::min(batch, limit - out.size()));
    EXPECT_TRUE(st.is_ok());
    if (!st.is_ok() || st.value() == PollStatus::kEnd) break;
    // Both lists are in source order: merge them by offset.
    size_t k = 0;
    for (size_t i = 0; i < raw.size(); ++i) {
      for (; k < raw.oversized.size() && raw.oversized[k].offset < raw.offsets[i]; ++k) {
        out.emplace_back(raw.oversized[k].offset, raw.oversized[k].line,
                         "!oversized " + std::to_string(raw.oversized[k].size_bytes));
      }
      out.emplace_back(raw.offsets[i], raw.lines[i], std::string(raw.record(i)));
    }
    for (; k < raw.oversized.size(); ++k) {
      out.emplace_back(raw.oversized[k].offset, raw.oversized[k].line,
                       "!oversized " + std::to_string(raw.oversized[k].size_bytes));
    }
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

TEST(ResumeTest, CsvWithHeaderQuotedLineBreaksAndOversizedRecordsResumesAnywhere) {
  auto path = (std::filesystem::temp_directory_path() / "sluice-resume-test.csv").string();
  {
    std::ofstream f(path, std::ios::binary);
    f << "\xEF\xBB\xBFuser_id,note\n";
    for (int i = 0; i < 60; ++i) {
      f << i << ",";
      if (i % 5 == 0) f << "\"multi\nline \"\"" << i << "\"\"\"";
      if (i % 11 == 0) f << std::string(300, 'x');
      f << (i % 3 == 0 ? "\r\n" : "\n");
    }
  }
  auto f = factory("file", {{"path", path}, {"format", "csv"}, {"header", "true"}, {"max_line_bytes", "200"}});
  auto full_reader = f->create_reader(0).value();
  ASSERT_TRUE(full_reader->open().is_ok());
  auto all = drain(*full_reader, 7);
  ASSERT_EQ(all.size(), 61u);  // the header and 60 records, 6 of them oversized
  EXPECT_EQ(std::get<2>(all[0]), "user_id,note");
  EXPECT_EQ(std::get<0>(all[0]), 3);
  for (size_t stop : {size_t{1}, size_t{2}, size_t{12}, size_t{13}, size_t{40}}) {
    auto first = f->create_reader(0).value();
    ASSERT_TRUE(first->open().is_ok());
    auto head = drain(*first, 3, stop);
    ASSERT_EQ(head.size(), stop);
    SourcePosition pos = first->resume_position();
    auto resumed = f->create_reader(0).value();
    ASSERT_TRUE(resumed->open().is_ok());
    ASSERT_TRUE(resumed->seek(pos).is_ok());
    auto tail = drain(*resumed, 5);
    // The resumed reader gives the header again first (the decoder maps columns by it).
    ASSERT_FALSE(tail.empty());
    EXPECT_EQ(tail[0], all[0]) << stop;
    head.insert(head.end(), tail.begin() + 1, tail.end());
    EXPECT_EQ(head, all) << "resumed after " << stop << " records";
  }
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
