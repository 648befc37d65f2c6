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

TEST_F(LineReaderTest, LineLongerThanTheLimitIsAnErrorNamingTheLine) {
  LineReader::Options o;
  o.chunk_bytes = 16;
  o.max_line_bytes = 100;
  LineReader& r = reader_for("ok\n" + std::string(1000, 'x') + "\n", o);
  RawRecords out;
  Result<PollStatus> st = PollStatus::kIdle;
  for (int i = 0; i < 100 && st.is_ok() && st.value() != PollStatus::kEnd; ++i) st = r.poll(out, 100);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.status().message().find("file 'in.jsonl' line 2"), std::string::npos) << st.status().message();
  EXPECT_NE(st.status().message().find("longer than"), std::string::npos);
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
