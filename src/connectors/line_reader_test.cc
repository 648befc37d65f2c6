// Specification of the line splitter shared by the file and stdin sources.
#include "connectors/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::records_of;
using testing::TempDir;
using testing::write_file;

class LineReaderTest : public ::testing::Test {
 protected:
  // A reader over a file holding `content`.
  LineReader& reader_for(const std::string& content, LineReader::Options o = {}) {
    write_file(path_, content);
    fd_ = ::open(path_.c_str(), O_RDONLY);
    EXPECT_GE(fd_, 0);
    reader_ = std::make_unique<LineReader>(fd_, "file 'in.jsonl'", o);
    return *reader_;
  }
  ~LineReaderTest() override {
    if (fd_ >= 0) ::close(fd_);
  }

  TempDir dir_;
  std::string path_ = dir_.file("in.jsonl");
  int fd_ = -1;
  std::unique_ptr<LineReader> reader_;
};

TEST_F(LineReaderTest, EachLineIsARecordWithItsOffsetAndLineNumber) {
  LineReader& r = reader_for("a\nbb\nccc\n");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_EQ(out.offsets, (std::vector<int64_t>{0, 2, 5}));
  EXPECT_EQ(out.lines, (std::vector<int64_t>{1, 2, 3}));
  out.clear();
  EXPECT_EQ(r.poll(out, 100).value(), PollStatus::kEnd);
}

TEST_F(LineReaderTest, FinalLineWithoutNewlineIsStillARecord) {
  LineReader& r = reader_for("a\nlast");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"a", "last"}));
  EXPECT_EQ(out.offsets[1], 2);
  EXPECT_EQ(out.lines[1], 2);
}

TEST_F(LineReaderTest, BlankLinesAreSkippedButCounted) {
  LineReader& r = reader_for("\n  \t\nx\n\r\ny\n");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(out.lines, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(out.offsets, (std::vector<int64_t>{5, 9}));
}

TEST_F(LineReaderTest, WindowsLineEndsAreStripped) {
  LineReader& r = reader_for("a\r\nb\r\n");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LineReaderTest, MaxRecordsIsRespectedAndReadingResumes) {
  LineReader& r = reader_for("1\n2\n3\n4\n5\n");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 2).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(r.position(), 4);
  out.clear();
  ASSERT_EQ(r.poll(out, 2).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"3", "4"}));
  out.clear();
  ASSERT_EQ(r.poll(out, 2).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"5"}));
  EXPECT_EQ(r.position(), 10);
}

TEST_F(LineReaderTest, LinesSpanningReadChunksAreJoined) {
  LineReader::Options o;
  o.chunk_bytes = 3;  // every line crosses a read boundary
  std::string content;
  for (int i = 0; i < 50; ++i) content += "line-" + std::to_string(i) + "\n";
  LineReader& r = reader_for(content, o);
  RawRecords all, out;
  for (int i = 0; i < 1000; ++i) {
    out.clear();
    auto st = r.poll(out, 7).value();
    for (size_t k = 0; k < out.size(); ++k) all.append_record(out.record(k), out.offsets[k], out.lines[k]);
    if (st == PollStatus::kEnd) break;
  }
  ASSERT_EQ(all.size(), 50u);
  EXPECT_EQ(all.record(49), "line-49");
  EXPECT_EQ(all.lines[49], 50);
  EXPECT_EQ(content.substr(static_cast<size_t>(all.offsets[49]), 7), "line-49");
}

// Polls until kEnd (or `max_polls`), collecting records and oversized records.
RawRecords drain(LineReader& r, size_t max_records = 100, int max_polls = 10000) {
  RawRecords all, out;
  for (int i = 0; i < max_polls; ++i) {
    out.clear();
    auto st = r.poll(out, max_records);
    EXPECT_TRUE(st.is_ok()) << st.status().message();
    if (!st.is_ok()) break;
    for (size_t k = 0; k < out.size(); ++k) all.append_record(out.record(k), out.offsets[k], out.lines[k]);
    for (size_t k = 0; k < out.oversized.size(); ++k) {
      const OversizedRecord& o = out.oversized[k];
      all.append_oversized(out.oversized_prefix(k), o.offset, o.line, o.size_bytes, o.limit_bytes);
    }
    if (st.value() == PollStatus::kEnd) break;
  }
  return all;
}

TEST_F(LineReaderTest, LineOverTheLimitIsReportedAsOversizedAndReadingGoesOn) {
  LineReader::Options o;
  o.chunk_bytes = 16;
  o.max_line_bytes = 100;
  LineReader& r = reader_for("ok\n" + std::string(1000, 'x') + "\r\n{\"a\":2}\nlast", o);
  RawRecords all = drain(r);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"ok", "{\"a\":2}", "last"}));
  EXPECT_EQ(all.offsets, (std::vector<int64_t>{0, 1005, 1013}));
  EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 3, 4}));
  ASSERT_EQ(all.oversized.size(), 1u);
  EXPECT_EQ(all.oversized[0].offset, 3);
  EXPECT_EQ(all.oversized[0].line, 2);
  EXPECT_EQ(all.oversized[0].size_bytes, 1001);  // with its '\r'
  EXPECT_EQ(all.oversized[0].limit_bytes, 100);
  EXPECT_EQ(all.oversized_prefix(0), std::string(100, 'x')) << "the kept bytes are bounded";
  EXPECT_EQ(r.position(), 1017);
  EXPECT_EQ(r.lines_consumed(), 4);
}

TEST_F(LineReaderTest, OversizedLastLineWithoutNewlineIsReported) {
  LineReader::Options o;
  o.chunk_bytes = 8;
  o.max_line_bytes = 10;
  LineReader& r = reader_for("a\n" + std::string(50, 'y'), o);
  RawRecords all = drain(r);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"a"}));
  ASSERT_EQ(all.oversized.size(), 1u);
  EXPECT_EQ(all.oversized[0].size_bytes, 50);
  EXPECT_EQ(all.oversized[0].line, 2);
}

TEST_F(LineReaderTest, SkippingAHugeLineKeepsMemoryBounded) {
  LineReader::Options o;
  o.chunk_bytes = 64 << 10;
  o.max_line_bytes = 1 << 20;
  const size_t huge = size_t{24} << 20;
  LineReader& r = reader_for("first\n" + std::string(huge, 'z') + "\nafter\n", o);
  RawRecords all = drain(r, 100, 100000);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"first", "after"}));
  ASSERT_EQ(all.oversized.size(), 1u);
  EXPECT_EQ(all.oversized[0].size_bytes, static_cast<int64_t>(huge));
  EXPECT_EQ(all.offsets[1], static_cast<int64_t>(6 + huge + 1));
  EXPECT_LE(r.buffer_bytes(), o.max_line_bytes + 2 * o.chunk_bytes) << "the line was buffered whole";
}

TEST_F(LineReaderTest, FollowModeSkipsALongLineAsItGrowsAndResumesBeforeIt) {
  LineReader::Options o;
  o.follow = true;
  o.chunk_bytes = 16;
  o.max_line_bytes = 20;
  o.idle_wait_ms = 1;
  LineReader& r = reader_for("a\n" + std::string(30, 'q'), o);
  RawRecords all = drain(r, 100, 5);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(all.oversized.empty()) << "the long line has not ended yet";
  EXPECT_EQ(r.position(), 2) << "a checkpoint now resumes at the start of the long line";
  EXPECT_EQ(r.lines_consumed(), 1);
  write_file(path_, std::string(40, 'q') + "\nb\n", /*append=*/true);
  all = drain(r, 100, 5);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"b"}));
  ASSERT_EQ(all.oversized.size(), 1u);
  EXPECT_EQ(all.oversized[0].size_bytes, 70);
  EXPECT_EQ(all.oversized[0].offset, 2);
  EXPECT_EQ(all.lines, (std::vector<int64_t>{3}));
  EXPECT_EQ(r.position(), 75);
}

TEST_F(LineReaderTest, ByteOrderMarkAtTheStartIsNotData) {
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{1} << 20}) {
    LineReader::Options o;
    o.chunk_bytes = chunk;
    LineReader& r = reader_for("\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}\n", o);
    RawRecords all = drain(r);
    EXPECT_EQ(records_of(all), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}"})) << chunk;
    EXPECT_EQ(all.offsets, (std::vector<int64_t>{3, 11}));
    EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 2}));
  }
  // Only at offset 0: a reader resuming mid-file starts after it anyway.
  LineReader& r = reader_for("\xEF\xBB");
  EXPECT_EQ(records_of(drain(r)), (std::vector<std::string>{"\xEF\xBB"}));
}

TEST_F(LineReaderTest, CsvQuotedFieldsMaySpanLines) {
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{1} << 20}) {
    LineReader::Options o;
    o.csv_quoting = true;
    o.chunk_bytes = chunk;
    const std::string content =
        "id,text\n"
        "1,\"two\nlines\"\n"
        "2,\"a \"\"quoted\"\"\r\nword\",x\r\n"
        "3,5'11\",plain\n"
        "4,\"\"\n"
        "5,\"three\n\nlines\"\n"
        "6,last";
    LineReader& r = reader_for(content, o);
    RawRecords all = drain(r);
    EXPECT_EQ(records_of(all), (std::vector<std::string>{"id,text", "1,\"two\nlines\"",
                                                         "2,\"a \"\"quoted\"\"\r\nword\",x", "3,5'11\",plain",
                                                         "4,\"\"", "5,\"three\n\nlines\"", "6,last"}))
        << chunk;
    EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 2, 4, 6, 7, 8, 11})) << chunk;
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(content.substr(static_cast<size_t>(all.offsets[i]), all.record(i).size()), all.record(i));
    }
    EXPECT_EQ(r.lines_consumed(), 11);
  }
}

TEST_F(LineReaderTest, CsvUnterminatedQuoteRunsToTheEndOrTheLimit) {
  LineReader::Options o;
  o.csv_quoting = true;
  LineReader& r = reader_for("1,ok\n2,\"open\n3,x\n", o);
  RawRecords all = drain(r);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"1,ok", "2,\"open\n3,x\n"}));
  o.max_line_bytes = 8;
  o.chunk_bytes = 4;
  LineReader& limited = reader_for("1,ok\n2,\"open\n3,x\n4,\"y\"\n", o);
  all = drain(limited);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"1,ok"}));
  ASSERT_EQ(all.oversized.size(), 1u);
  EXPECT_EQ(all.oversized[0].line, 2);
}

TEST_F(LineReaderTest, CsvHeaderIsReturnedAgainWhenStartingPastIt) {
  write_file(path_, "\xEF\xBB\xBFid,name\n1,a\n2,\"b\nc\"\n3,d\n");
  fd_ = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd_, 0);
  ASSERT_EQ(::lseek(fd_, 15, SEEK_SET), 15);
  LineReader::Options o;
  o.csv_quoting = true;
  o.csv_header = true;
  LineReader r(fd_, "file 'in.csv'", o, 15, 2);
  RawRecords all = drain(r);
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"id,name", "2,\"b\nc\"", "3,d"}));
  EXPECT_EQ(all.offsets, (std::vector<int64_t>{3, 15, 23}));
  EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 3, 5}));
}

TEST_F(LineReaderTest, RecordsKeepPaddingForSimdParsers) {
  LineReader& r = reader_for("{\"a\":1}\n");
  RawRecords out;
  ASSERT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_GE(out.data.capacity(), out.data.size() + kRawPadding);
}

TEST(LineReaderPipeTest, AnEmptyPipeMakesPollReturnIdleQuickly) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  LineReader r(fds[0], "stdin", LineReader::Options{});
  RawRecords out;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.poll(out, 100).value(), PollStatus::kIdle);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  ASSERT_EQ(::write(fds[1], "x\ny", 3), 3);
  EXPECT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"x"}));
  ::close(fds[1]);
  out.clear();
  EXPECT_EQ(r.poll(out, 100).value(), PollStatus::kData);
  EXPECT_EQ(records_of(out), (std::vector<std::string>{"y"}));
  EXPECT_EQ(r.poll(out, 100).value(), PollStatus::kEnd);
  ::close(fds[0]);
}

}  // namespace
}  // namespace sluice
