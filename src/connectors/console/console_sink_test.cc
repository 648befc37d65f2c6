// Specification of the console sink, printing into a temporary file instead of stdout.
#include "connectors/console/console_sink.h"

#include <cstdio>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::sink_spec;

SchemaPtr schema() { return make_schema({{"page", TypeId::kString}, {"n", TypeId::kInt64}}); }

RecordBatch batch(std::vector<std::pair<std::string, int64_t>> rows, std::vector<RowKind> kinds = {}) {
  RecordBatch b(schema());
  for (auto& [p, n] : rows) {
    b.mutable_column(0).append_string(p);
    b.mutable_column(1).append_int(n);
  }
  b.sync_num_rows();
  b.row_kinds = std::move(kinds);
  return b;
}

// Runs the console sink over `batches` and returns what it printed.
std::string print(std::map<std::string, std::string> options, const std::vector<RecordBatch>& batches) {
  FILE* out = std::tmpfile();
  auto f = make_console_sink_factory(sink_spec("console", std::move(options), schema()), out);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  auto w = std::move(f.value()->create_writer()).value();
  EXPECT_TRUE(w->open().is_ok());
  for (const auto& b : batches) EXPECT_TRUE(w->write(b).is_ok());
  EXPECT_TRUE(w->close().is_ok());
  std::rewind(out);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) text.append(buf, n);
  std::fclose(out);
  return text;
}

TEST(ConsoleSinkTest, PrintsJsonLinesByDefault) {
  EXPECT_EQ(print({}, {batch({{"/a", 1}, {"/b", 2}})}), "{\"page\":\"/a\",\"n\":1}\n{\"page\":\"/b\",\"n\":2}\n");
}

TEST(ConsoleSinkTest, ShowsTheOpFromTheFirstUpdatingBatchOn) {
  EXPECT_EQ(print({}, {batch({{"/a", 1}}),
                       batch({{"/a", 1}, {"/a", 2}}, {RowKind::kUpdateBefore, RowKind::kUpdateAfter}),
                       batch({{"/b", 1}})}),
            "{\"page\":\"/a\",\"n\":1}\n"
            "{\"op\":\"-U\",\"page\":\"/a\",\"n\":1}\n{\"op\":\"+U\",\"page\":\"/a\",\"n\":2}\n"
            "{\"op\":\"+I\",\"page\":\"/b\",\"n\":1}\n");
}

TEST(ConsoleSinkTest, ChangelogShowsTheOpOnEveryRow) {
  EXPECT_EQ(print({{"changelog", "true"}}, {batch({{"/a", 1}})}), "{\"op\":\"+I\",\"page\":\"/a\",\"n\":1}\n");
}

TEST(ConsoleSinkTest, CsvStartsWithAHeader) {
  EXPECT_EQ(print({{"format", "csv"}}, {batch({{"/a", 1}})}), "page,n\n/a,1\n");
  EXPECT_EQ(print({{"format", "csv"}, {"header", "false"}}, {batch({{"/a", 1}})}), "/a,1\n");
}

TEST(ConsoleSinkTest, AcceptsChangelogsAndSaysSo) {
  auto f = make_sink_factory(sink_spec("console", {}, schema()));
  ASSERT_TRUE(f.is_ok());
  EXPECT_TRUE(f.value()->capabilities().changelog_append);
  EXPECT_FALSE(f.value()->capabilities().upsert);
  EXPECT_EQ(f.value()->describe(), "console (json)");
}

}  // namespace
}  // namespace sluice
