// Specification of the stdin source, fed through a pipe instead of fd 0.
#include "connectors/stdio/stdin_source.h"

#include <unistd.h>

#include <thread>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::read_all;
using testing::records_of;
using testing::source_spec;

TEST(StdinSourceTest, ReadsLinesUntilTheWriterClosesThePipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto f = make_stdin_source_factory(source_spec("stdin", {{"format", "csv"}}), fds[0]);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_TRUE(f.value()->bounded());
  EXPECT_EQ(f.value()->format().format, "csv");
  EXPECT_EQ(f.value()->describe(), "stdin (csv)");
  auto reader = std::move(f.value()->create_reader(0)).value();
  ASSERT_TRUE(reader->open().is_ok());

  std::thread writer([w = fds[1]] {
    const std::string parts[] = {"1,a\n2,", "b\n\n", "3,c"};
    for (const auto& p : parts) {
      EXPECT_EQ(::write(w, p.data(), p.size()), static_cast<ssize_t>(p.size()));
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    ::close(w);
  });
  RawRecords all = read_all(*reader);
  writer.join();
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"1,a", "2,b", "3,c"}));
  EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(all.offsets, (std::vector<int64_t>{0, 4, 9}));
  ::close(fds[0]);
}

TEST(StdinSourceTest, OversizedRecordIsSetAsideAndCsvQuotesMaySpanLines) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto f = make_stdin_source_factory(
      source_spec("stdin", {{"format", "csv"}, {"header", "true"}, {"max_line_bytes", "64"}}), fds[0]);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto reader = std::move(f.value()->create_reader(0)).value();
  ASSERT_TRUE(reader->open().is_ok());
  std::thread writer([w = fds[1]] {
    const std::string parts[] = {"\xEF\xBB\xBFv\n1,\"a\n", "b\"\n" + std::string(100000, 'l'), "\n3,c\n"};
    for (const auto& p : parts) {
      EXPECT_EQ(::write(w, p.data(), p.size()), static_cast<ssize_t>(p.size()));
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    ::close(w);
  });
  RawRecords all, batch;
  size_t oversized = 0;
  for (int i = 0; i < 1000; ++i) {
    batch.clear();
    auto st = reader->poll(batch, 100);
    ASSERT_TRUE(st.is_ok()) << st.status().message();
    for (size_t k = 0; k < batch.size(); ++k) all.append_record(batch.record(k), batch.offsets[k], batch.lines[k]);
    for (const OversizedRecord& o : batch.oversized) {
      EXPECT_EQ(o.line, 4);
      EXPECT_EQ(o.size_bytes, 100000);
      ++oversized;
    }
    if (st.value() == PollStatus::kEnd) break;
  }
  writer.join();
  EXPECT_EQ(records_of(all), (std::vector<std::string>{"v", "1,\"a\nb\"", "3,c"}));
  EXPECT_EQ(all.lines, (std::vector<int64_t>{1, 2, 5}));
  EXPECT_EQ(oversized, 1u);
  ::close(fds[0]);
}

TEST(StdinSourceTest, RejectsOptionsItDoesNotKnow) {
  auto f = make_source_factory(source_spec("stdin", {{"path", "x"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("unknown option 'path'"), std::string::npos) << f.status().message();
}

}  // namespace
}  // namespace sluice
