// Specification of the file source (bounded and follow mode), through the registry.
#include "connectors/file/file_source.h"

#include <chrono>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::read_all;
using testing::records_of;
using testing::source_spec;
using testing::TempDir;
using testing::write_file;

std::unique_ptr<SourceReader> open_reader(SourceFactory& f) {
  auto r = f.create_reader(0);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r.value()->open().is_ok());
  return std::move(r).value();
}

TEST(FileSourceTest, BoundedFileYieldsEveryLineThenEnds) {
  TempDir dir;
  write_file(dir.file("c.jsonl"), "{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}");
  auto f = make_source_factory(source_spec("file", {{"path", dir.file("c.jsonl")}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_TRUE(f.value()->bounded());
  EXPECT_EQ(f.value()->num_splits(), 1);
  auto reader = open_reader(*f.value());
  RawRecords all = read_all(*reader);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}));
  EXPECT_EQ(all.offsets, (std::vector<int64_t>{0, 9, 17}));
  EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(reader->position(), 24);
  EXPECT_TRUE(reader->close().is_ok());
}

TEST(FileSourceTest, PollReturnsAtMostMaxRecords) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 10; ++i) content += std::to_string(i) + "\n";
  write_file(dir.file("n.jsonl"), content);
  auto f = make_source_factory(source_spec("file", {{"path", dir.file("n.jsonl")}}));
  ASSERT_TRUE(f.is_ok());
  auto reader = open_reader(*f.value());
  RawRecords out;
  ASSERT_EQ(reader->poll(out, 3).value(), PollStatus::kData);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(reader->position(), 6);
}

TEST(FileSourceTest, MissingFileIsAnErrorWhenTheTableIsCreated) {
  auto f = make_source_factory(source_spec("file", {{"path", "x.jsonl"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(), "table clicks: cannot open 'x.jsonl': No such file or directory");
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

// A directory path reads the directory's files (issue 10: sources with dynamic splits), one
// split per file in name order; it used to be refused.
TEST(FileSourceTest, DirectoryIsReadAsOneSplitPerFileInNameOrder) {
  TempDir dir;
  write_file(dir.file("b.jsonl"), "{}\n");
  write_file(dir.file("a.jsonl"), "{}\n");
  auto f = make_source_factory(source_spec("file", {{"path", dir.file("")}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto e = f.value()->create_enumerator();
  ASSERT_TRUE(e.is_ok());
  auto splits = e.value()->discover();
  ASSERT_TRUE(splits.is_ok());
  ASSERT_EQ(splits.value().added.size(), 2u);
  EXPECT_EQ(splits.value().added[0].id, "a.jsonl");
  EXPECT_EQ(splits.value().added[1].id, "b.jsonl");
  EXPECT_TRUE(splits.value().complete);
  EXPECT_TRUE(f.value()->reads_splits_in_order());
}

TEST(FileSourceTest, PathIsRequired) {
  auto f = make_source_factory(source_spec("file", {}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(), "table clicks: missing required option 'path'");
}

TEST(FileSourceTest, FormatOptionsReachTheDecoderOptions) {
  TempDir dir;
  write_file(dir.file("c.csv"), "a;b\n");
  auto f = make_source_factory(source_spec(
      "file", {{"path", dir.file("c.csv")}, {"format", "csv"}, {"delimiter", ";"}, {"header", "true"},
               {"timestamp_unit", "s"}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  const FormatOptions& fo = f.value()->format();
  EXPECT_EQ(fo.format, "csv");
  EXPECT_EQ(fo.csv_delimiter, ';');
  EXPECT_TRUE(fo.csv_header);
  EXPECT_EQ(fo.timestamp_unit, "s");
  EXPECT_EQ(f.value()->describe(), "file " + dir.file("c.csv") + " (csv)");
}

TEST(FileSourceTest, DefaultFormatIsJsonWithMilliseconds) {
  TempDir dir;
  write_file(dir.file("c.jsonl"), "");
  auto f = make_source_factory(source_spec("file", {{"path", dir.file("c.jsonl")}}));
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f.value()->format().format, "json");
  EXPECT_EQ(f.value()->format().timestamp_unit, "ms");
}

TEST(FileSourceTest, CsvOnlyOptionsAreRejectedForJson) {
  TempDir dir;
  write_file(dir.file("c.jsonl"), "");
  auto f = make_source_factory(source_spec("file", {{"path", dir.file("c.jsonl")}, {"delimiter", ";"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("option 'delimiter' only applies to format 'csv'"), std::string::npos);
}

TEST(FileSourceTest, BadFormatValuesAreExplained) {
  TempDir dir;
  write_file(dir.file("c"), "");
  auto f1 = make_source_factory(source_spec("file", {{"path", dir.file("c")}, {"format", "xml"}}));
  ASSERT_FALSE(f1.is_ok());
  EXPECT_NE(f1.status().message().find("'format' must be 'json' or 'csv', got 'xml'"), std::string::npos);
  auto f2 = make_source_factory(
      source_spec("file", {{"path", dir.file("c")}, {"format", "csv"}, {"delimiter", "ab"}}));
  ASSERT_FALSE(f2.is_ok());
  EXPECT_NE(f2.status().message().find("'delimiter' must be a single character"), std::string::npos);
  auto f3 = make_source_factory(source_spec("file", {{"path", dir.file("c")}, {"timestamp_unit", "ns"}}));
  ASSERT_FALSE(f3.is_ok());
  EXPECT_NE(f3.status().message().find("'timestamp_unit' must be"), std::string::npos);
}

TEST(FileSourceTest, RecordOverMaxLineBytesIsSetAsideAndReadingGoesOn) {
  TempDir dir;
  const std::string path = dir.file("huge.jsonl");
  write_file(path, "{\"a\":1}\n" + std::string(5000, 'x') + "\n{\"a\":2}\n");
  auto f = make_source_factory(source_spec("file", {{"path", path}, {"max_line_bytes", "1000"}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto reader = open_reader(*f.value());
  RawRecords out;
  size_t records = 0, oversized = 0;
  Result<PollStatus> st = PollStatus::kIdle;
  for (int i = 0; i < 1000 && st.is_ok() && st.value() != PollStatus::kEnd; ++i) {
    out.clear();
    st = reader->poll(out, 100);
    records += out.size();
    for (const OversizedRecord& o : out.oversized) {
      EXPECT_EQ(o.line, 2);
      EXPECT_EQ(o.offset, 8);
      EXPECT_EQ(o.size_bytes, 5000);
      EXPECT_EQ(o.limit_bytes, 1000);
      ++oversized;
    }
  }
  ASSERT_TRUE(st.is_ok()) << st.status().message();
  EXPECT_EQ(records, 2u);
  EXPECT_EQ(oversized, 1u);
}

TEST(FileSourceTest, MaxLineBytesMustBeAPositiveByteCount) {
  TempDir dir;
  write_file(dir.file("c.jsonl"), "");
  for (const char* bad : {"0", "-5", "abc", "2147483648"}) {
    auto f = make_source_factory(source_spec("file", {{"path", dir.file("c.jsonl")}, {"max_line_bytes", bad}}));
    ASSERT_FALSE(f.is_ok()) << bad;
    EXPECT_NE(f.status().message().find("max_line_bytes"), std::string::npos) << f.status().message();
  }
}

// Polls until a record arrives (or ~2 s pass); every poll must return within ~100 ms.
RawRecords poll_until_data(SourceReader& r) {
  RawRecords out;
  for (int i = 0; i < 100; ++i) {
    out.clear();
    auto t0 = std::chrono::steady_clock::now();
    auto st = r.poll(out, 100);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    EXPECT_TRUE(st.is_ok());
    EXPECT_NE(st.value(), PollStatus::kEnd);
    if (st.value() == PollStatus::kData) break;
  }
  return out;
}

TEST(FileSourceFollowTest, SeesLinesAppendedLaterAndHoldsBackAPartialLine) {
  TempDir dir;
  const std::string path = dir.file("live.jsonl");
  write_file(path, "one\n");
  auto f = make_source_factory(source_spec("file", {{"path", path}, {"follow", "true"}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_FALSE(f.value()->bounded());
  EXPECT_EQ(f.value()->describe(), "file " + path + " (json, follow)");
  auto reader = open_reader(*f.value());

  EXPECT_EQ(records_of(poll_until_data(*reader)), (std::vector<std::string>{"one"}));
  RawRecords out;
  EXPECT_EQ(reader->poll(out, 100).value(), PollStatus::kIdle);  // at EOF: idle, not the end

  write_file(path, "two\nthr", /*append=*/true);
  RawRecords got = poll_until_data(*reader);
  EXPECT_EQ(records_of(got), (std::vector<std::string>{"two"}));
  EXPECT_EQ(got.lines[0], 2);
  EXPECT_EQ(reader->position(), 8);  // "thr" is not consumed yet
  out.clear();
  EXPECT_EQ(reader->poll(out, 100).value(), PollStatus::kIdle);

  write_file(path, "ee\n", /*append=*/true);
  got = poll_until_data(*reader);
  EXPECT_EQ(records_of(got), (std::vector<std::string>{"three"}));
  EXPECT_EQ(got.offsets[0], 8);
  EXPECT_EQ(got.lines[0], 3);
}

TEST(FileSourceFollowTest, WaitsForAFileThatDoesNotExistYet) {
  TempDir dir;
  const std::string path = dir.file("later.jsonl");
  auto f = make_source_factory(source_spec("file", {{"path", path}, {"follow", "true"}}));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto reader = open_reader(*f.value());
  RawRecords out;
  EXPECT_EQ(reader->poll(out, 100).value(), PollStatus::kIdle);
  write_file(path, "hello\n");
  EXPECT_EQ(records_of(poll_until_data(*reader)), (std::vector<std::string>{"hello"}));
}

}  // namespace
}  // namespace sluice
