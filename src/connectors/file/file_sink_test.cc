// Specification of the file sink.
#include "connectors/file/file_sink.h"

#include <unistd.h>

#include <cstdio>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::read_file;
using testing::sink_spec;
using testing::TempDir;
using testing::write_file;

SchemaPtr schema() { return make_schema({{"id", TypeId::kInt64}, {"name", TypeId::kString}}); }

RecordBatch batch(std::vector<std::pair<int64_t, std::string>> rows, std::vector<RowKind> kinds = {}) {
  RecordBatch b(schema());
  for (auto& [id, name] : rows) {
    b.mutable_column(0).append_int(id);
    b.mutable_column(1).append_string(name);
  }
  b.sync_num_rows();
  b.row_kinds = std::move(kinds);
  return b;
}

std::unique_ptr<SinkFactory> file_sink(std::map<std::string, std::string> options) {
  auto f = make_sink_factory(sink_spec("file", std::move(options), schema()));
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return f.is_ok() ? std::move(f).value() : nullptr;
}

Status write_batches(SinkFactory& f, const std::vector<RecordBatch>& batches) {
  auto w = std::move(f.create_writer()).value();
  RETURN_IF_ERROR(w->open());
  for (const auto& b : batches) RETURN_IF_ERROR(w->write(b));
  return w->close();
}

TEST(FileSinkTest, OverwriteReplacesTheFile) {
  TempDir dir;
  const std::string path = dir.file("out.jsonl");
  write_file(path, "old content\n");
  auto f = file_sink({{"path", path}});
  EXPECT_EQ(read_file(path), "old content\n");  // nothing happens before the writer opens
  ASSERT_TRUE(write_batches(*f, {batch({{1, "a"}}), batch({{2, "b"}})}).is_ok());
  EXPECT_EQ(read_file(path), "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n");
  EXPECT_EQ(f->describe(), "file " + path + " (json, overwrite)");
}

TEST(FileSinkTest, AppendKeepsExistingContent) {
  TempDir dir;
  const std::string path = dir.file("out.jsonl");
  write_file(path, "{\"id\":0,\"name\":\"z\"}\n");
  auto f = file_sink({{"path", path}, {"mode", "append"}});
  ASSERT_TRUE(write_batches(*f, {batch({{1, "a"}})}).is_ok());
  EXPECT_EQ(read_file(path), "{\"id\":0,\"name\":\"z\"}\n{\"id\":1,\"name\":\"a\"}\n");
}

TEST(FileSinkTest, CsvHeaderIsWrittenOnlyIntoAnEmptyFile) {
  TempDir dir;
  const std::string path = dir.file("out.csv");
  ASSERT_TRUE(write_batches(*file_sink({{"path", path}, {"format", "csv"}, {"mode", "append"}}),
                            {batch({{1, "a,b"}})})
                  .is_ok());
  ASSERT_TRUE(write_batches(*file_sink({{"path", path}, {"format", "csv"}, {"mode", "append"}}),
                            {batch({{2, "c"}})})
                  .is_ok());
  EXPECT_EQ(read_file(path), "id,name\n1,\"a,b\"\n2,c\n");
}

TEST(FileSinkTest, FlushMakesRowsVisibleBeforeClose) {
  TempDir dir;
  const std::string path = dir.file("out.jsonl");
  auto w = std::move(file_sink({{"path", path}})->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_EQ(read_file(path), "{\"id\":1,\"name\":\"a\"}\n");
  ASSERT_TRUE(w->close().is_ok());
}

TEST(FileSinkTest, ChangelogWritesTheOpOfEveryRow) {
  TempDir dir;
  const std::string path = dir.file("out.csv");
  auto f = file_sink({{"path", path}, {"format", "csv"}, {"changelog", "true"}});
  EXPECT_TRUE(f->capabilities().changelog_append);
  ASSERT_TRUE(write_batches(*f, {batch({{1, "a"}, {1, "a"}, {1, "b"}},
                                       {RowKind::kInsert, RowKind::kUpdateBefore, RowKind::kUpdateAfter})})
                  .is_ok());
  EXPECT_EQ(read_file(path), "op,id,name\n+I,1,a\n-U,1,a\n+U,1,b\n");
}

TEST(FileSinkTest, WithoutChangelogAnUpdateRowIsAnError) {
  TempDir dir;
  auto f = file_sink({{"path", dir.file("out.jsonl")}});
  EXPECT_FALSE(f->capabilities().changelog_append);
  EXPECT_EQ(f->capabilities().guarantee, SinkGuarantee::kExactlyOnce);  // with checkpoints
  Status s = write_batches(*f, {batch({{1, "a"}}, {RowKind::kDelete})});
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("append-only but received a -D row"), std::string::npos) << s.message();
}

TEST(FileSinkTest, MissingDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/out.jsonl");
  auto f = make_sink_factory(sink_spec("file", {{"path", path}}, schema()));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("table out: cannot write '" + path + "'"), std::string::npos)
      << f.status().message();
}

TEST(FileSinkTest, ModeMustBeKnown) {
  TempDir dir;
  auto f = make_sink_factory(sink_spec("file", {{"path", dir.file("o")}, {"mode", "upsert"}}, schema()));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(), "table out: option 'mode' must be 'overwrite' or 'append', got 'upsert'");
}

// Issue 9 point 7: the output deleted (or replaced) while the job writes it: flush() and
// close() fail instead of writing on into a file that is no longer there.
TEST(FileSinkTest, AnOutputDeletedWhileWritingFailsTheFlush) {
  TempDir dir;
  auto f = file_sink({{"path", dir.file("out.jsonl")}});
  auto w = std::move(f->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  ASSERT_EQ(::unlink(dir.file("out.jsonl").c_str()), 0);
  ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
  Status s = w->flush();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("was deleted while the job wrote it"), std::string::npos) << s.message();
  EXPECT_FALSE(w->close().is_ok());
}

TEST(FileSinkTest, AnOutputReplacedWhileWritingFailsTheClose) {
  TempDir dir;
  auto f = file_sink({{"path", dir.file("out.jsonl")}});
  auto w = std::move(f->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  ASSERT_EQ(::rename(dir.file("out.jsonl").c_str(), dir.file("moved.jsonl").c_str()), 0);
  write_file(dir.file("out.jsonl"), "someone else's file\n");
  Status s = w->close();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("was replaced or moved"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sluice
