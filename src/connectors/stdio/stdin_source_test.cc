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

TEST(StdinSourceTest, RejectsOptionsItDoesNotKnow) {
  auto f = make_source_factory(source_spec("stdin", {{"path", "x"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("unknown option 'path'"), std::string::npos) << f.status().message();
}

}  // namespace
}  // namespace sluice
