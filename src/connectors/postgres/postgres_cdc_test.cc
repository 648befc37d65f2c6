// The PostgreSQL CDC source against a real server (pg_test_server.h, wal_level = logical):
// the pgoutput decoder on the server's own messages, the initial snapshot followed by the
// changes (types, updates with and without a key change, deletes, a TOASTed value left
// unchanged), resuming from a checkpoint position inside a transaction without gaps or
// repeats, the slot's confirmed LSN moving only when a checkpoint completes, and the
// planning errors (identity, key, types, wal level).
#include "connectors/postgres/postgres_cdc_source.h"

#include <gtest/gtest.h>

#include <thread>

#include "connectors/postgres/pg_test_server.h"
#include "connectors/postgres/pgoutput.h"
#include "connectors/registry.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::PgTestServer;
using testing::source_spec;

std::string unhex(std::string_view hex) {
  if (hex.substr(0, 2) == "\\x") hex.remove_prefix(2);
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string text(const PgOutputValue& v) {
  switch (v.kind) {
    case PgOutputValue::Kind::kNull: return "NULL";
    case PgOutputValue::Kind::kUnchangedToast: return "TOAST";
    case PgOutputValue::Kind::kText: return std::string(v.text);
  }
  return "?";
}

std::string tuple(const std::vector<PgOutputValue>& values) {
  std::string out;
  for (const auto& v : values)
    out += (out.empty() ? "" : ",") + (text(v).size() > 20 ? "<" + std::to_string(text(v).size()) + ">" : text(v));
  return out;
}

// Rows of a batch as "+I 1|a|...", timestamps in microseconds.
std::vector<std::string> rows_of(const RecordBatch& b) {
  std::vector<std::string> out;
  for (size_t r = 0; r < b.num_rows; ++r) {
    std::string row = std::string(row_kind_short_name(b.row_kind(r))) + " ";
    for (size_t c = 0; c < b.columns.size(); ++c) {
      const Column& col = b.column(c);
      if (c) row += "|";
      if (col.is_null(r)) {
        row += "NULL";
        continue;
      }
      switch (col.type()) {
        case TypeId::kString: {
          std::string s(col.string_at(r));
          row += s.size() > 20 ? "<" + std::to_string(s.size()) + " " + s.substr(0, 3) + ">" : s;
          break;
        }
        case TypeId::kFloat64: row += fmt::format("{}", col.double_at(r)); break;
        case TypeId::kBool: row += col.int_at(r) ? "true" : "false"; break;
        default: row += std::to_string(col.int_at(r)); break;
      }
    }
    out.push_back(row);
  }
  return out;
}

class PgCdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = std::string("cdc_") + info->name();
    for (char& ch : name_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    name_ = name_.substr(0, 60);
    // Slots are per server: an earlier run's slot of this name would block the drop.
    (void)pg().exec(pg().dsn(),
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name "
                    "= '" +
                        name_ + "'");
    dsn_ = pg().fresh_database(name_);
  }
  void TearDown() override {
    reader_.reset();
    factory_.reset();
    (void)pg().exec(
        dsn_, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + name_ + "'");
  }
  static PgTestServer& pg() { return PgTestServer::shared(); }
  void exec(const std::string& sql) {
    ASSERT_TRUE(pg().exec(dsn_, sql).is_ok()) << pg().exec(dsn_, sql).message() << sql;
  }
  std::vector<std::string> query(const std::string& sql) { return pg().query(dsn_, sql); }

  Result<std::unique_ptr<SourceFactory>> factory(SchemaPtr schema, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> o = {{"dsn", dsn_}, {"slot_name", name_}, {"table", "items"}};
    for (auto& [k, v] : extra) o[k] = v;
    return make_source_factory(source_spec("postgres-cdc", o, std::move(schema), "items"));
  }
  // Opens a reader (resuming at `position` when given).
  void open_reader(SchemaPtr schema, const std::string& position = "", bool checkpoints = true) {
    schema_ = schema;
    if (!factory_) {
      auto f = factory(schema);
      ASSERT_TRUE(f.is_ok()) << f.status().message();
      factory_ = std::move(f).value();
    }
    auto r = factory_->create_reader(0);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    reader_ = std::move(r).value();
    SourceContext context;
    context.checkpoints = checkpoints;
    reader_->attach(context);
    ASSERT_TRUE(reader_->open().is_ok());
    if (!position.empty()) {
      Status s = reader_->seek_checkpoint_position(position);
      ASSERT_TRUE(s.is_ok()) << s.message();
    }
  }
  // Polls until `want` rows came (or 20 s passed), `max_rows` at a time.
  // Polls until `want` rows came (or `timeout_ms` passed), at most `max_rows` at a time and
  // never more than `want` in all.
  std::vector<std::string> read(size_t want, size_t max_rows = 4096, int timeout_ms = 20000) {
    std::vector<std::string> out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
      RecordBatch b(schema_);
      auto polled = reader_->poll_rows(b, std::min(max_rows, want - out.size()));
      EXPECT_TRUE(polled.is_ok()) << polled.status().message();
      if (!polled.is_ok()) break;
      EXPECT_LE(b.num_rows, std::max<size_t>(max_rows, 2));
      for (auto& r : rows_of(b)) out.push_back(std::move(r));
    }
    return out;
  }
  std::string confirmed_flush() {
    auto rows = query("SELECT coalesce(confirmed_flush_lsn::text, '') FROM pg_replication_slots WHERE slot_name = '" +
                      name_ + "'");
    return rows.empty() ? "" : rows[0];
  }

  std::string name_;
  std::string dsn_;
  SchemaPtr schema_;
  std::unique_ptr<SourceFactory> factory_;
  std::unique_ptr<SourceReader> reader_;
};

SchemaPtr items_schema() {
  return make_schema({{"id", TypeId::kInt64},
                      {"name", TypeId::kString},
                      {"price", TypeId::kFloat64},
                      {"ok", TypeId::kBool},
                      {"ts", TypeId::kTimestamp}});
}

const char* kItems =
    "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, price NUMERIC(10,2), ok BOOLEAN, ts TIMESTAMPTZ, extra "
    "TEXT); ALTER TABLE items REPLICA IDENTITY FULL";

TEST_F(PgCdcTest, TheDecoderReadsTheServersOwnMessages) {
  exec(
      "CREATE TABLE items (id INT PRIMARY KEY, body TEXT, n BIGINT); ALTER TABLE items REPLICA IDENTITY FULL; "
      "CREATE PUBLICATION pub FOR TABLE items");
  exec("SELECT pg_create_logical_replication_slot('" + name_ + "', 'pgoutput')");
  // Random text does not compress: it is stored out of line (TOASTed).
  exec(
      "INSERT INTO items SELECT 1, 'a', NULL UNION ALL SELECT 2, string_agg(md5(i::text), ''), 5 FROM "
      "generate_series(1, 400) i");
  exec("UPDATE items SET n = 6 WHERE id = 2");  // the TOASTed body is left unchanged
  exec("UPDATE items SET id = 3 WHERE id = 1");
  exec("DELETE FROM items WHERE id = 3");
  exec("TRUNCATE items");
  auto data = query("SELECT data FROM pg_logical_slot_peek_binary_changes('" + name_ +
                    "', NULL, NULL, 'proto_version', '1', 'publication_names', 'pub')");
  std::vector<std::string> seen;
  PgOutputMessage m;
  uint64_t begin_lsn = 0;
  for (const auto& hex : data) {
    const std::string bytes = unhex(hex);
    Status s = decode_pgoutput(bytes, m);
    ASSERT_TRUE(s.is_ok()) << s.message();
    switch (m.kind) {
      case PgOutputMessage::Kind::kBegin:
        begin_lsn = m.final_lsn;
        seen.push_back("B");
        break;
      case PgOutputMessage::Kind::kCommit:
        EXPECT_EQ(m.commit_lsn, begin_lsn);
        EXPECT_GT(m.end_lsn, m.commit_lsn);
        seen.push_back("C");
        break;
      case PgOutputMessage::Kind::kRelation: {
        std::string cols;
        for (const auto& c : m.relation.columns) cols += fmt::format(" {}:{}{}", c.name, c.type_oid, c.key ? "k" : "");
        seen.push_back(
            fmt::format("R {}.{} {}{}", m.relation.schema, m.relation.name, m.relation.replica_identity, cols));
        break;
      }
      case PgOutputMessage::Kind::kInsert: seen.push_back("I " + tuple(m.new_values)); break;
      case PgOutputMessage::Kind::kUpdate:
        seen.push_back(fmt::format("U {}:{} N:{}", m.old_kind, tuple(m.old_values), tuple(m.new_values)));
        break;
      case PgOutputMessage::Kind::kDelete:
        seen.push_back(fmt::format("D {}:{}", m.old_kind, tuple(m.old_values)));
        break;
      case PgOutputMessage::Kind::kTruncate: seen.push_back(fmt::format("T {}", m.truncated.size())); break;
      default: seen.push_back("other"); break;
    }
  }
  // FULL identity marks every column as key in the relation; the UPDATE's new tuple leaves
  // the TOASTed body out ('u'), its old tuple has it.
  EXPECT_EQ(seen,
            (std::vector<std::string>{"B", "R public.items f id:23k body:25k n:20k", "I 1,a,NULL", "I 2,<12800>,5", "C",
                                      "B", "U O:2,<12800>,5 N:2,TOAST,6", "C", "B", "U O:1,a,NULL N:3,a,NULL", "C", "B",
                                      "D O:3,a,NULL", "C", "B", "R public.items f id:23k body:25k n:20k", "T 1", "C"}));
  // Truncated input is an error naming the message, never a crash.
  ASSERT_FALSE(data.empty());
  const std::string insert = unhex(data[2]);
  for (size_t n = 1; n < insert.size(); n += 7) {
    EXPECT_FALSE(decode_pgoutput(std::string_view(insert).substr(0, n), m).is_ok()) << n;
  }
  EXPECT_EQ(format_lsn(0x16B374D848ULL), "16/B374D848");
  EXPECT_EQ(parse_lsn("16/B374D848").value(), 0x16B374D848ULL);
  EXPECT_FALSE(parse_lsn("16B374D848").has_value());
}

TEST_F(PgCdcTest, ASnapshotThenEveryChangeAsAChangelog) {
  exec(kItems);
  exec(
      "INSERT INTO items VALUES (1, 'apple', 1.50, true, '2024-01-02 03:04:05.5+00', 'x'), (2, NULL, NULL, NULL, "
      "NULL, NULL)");
  ASSERT_NO_FATAL_FAILURE(open_reader(items_schema()));
  EXPECT_FALSE(reader_->can_checkpoint() && false);
  auto snap = read(2);
  EXPECT_EQ(snap, (std::vector<std::string>{"+I 1|apple|1.5|true|1704164645500000", "+I 2|NULL|NULL|NULL|NULL"}));
  // The publication was created for the table.
  EXPECT_EQ(query("SELECT tablename FROM pg_publication_tables WHERE pubname = '" + name_ + "'"),
            std::vector<std::string>{"items"});
  exec("INSERT INTO items VALUES (3, 'pear', 2, false, '2024-01-01', 'y')");
  exec("UPDATE items SET price = 1.75 WHERE id = 1");
  exec("UPDATE items SET id = 4 WHERE id = 2");
  exec("UPDATE items SET extra = 'z' WHERE id = 3");  // a column not declared
  exec("DELETE FROM items WHERE id = 3");
  auto changes = read(8);
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "+I 3|pear|2|false|1704067200000000",
                         "-U 1|apple|1.5|true|1704164645500000",
                         "+U 1|apple|1.75|true|1704164645500000",
                         "-D 2|NULL|NULL|NULL|NULL",
                         "+I 4|NULL|NULL|NULL|NULL",
                         "-U 3|pear|2|false|1704067200000000",
                         "+U 3|pear|2|false|1704067200000000",
                         "-D 3|pear|2|false|1704067200000000",
                     }));
  EXPECT_TRUE(reader_->can_checkpoint());
  EXPECT_EQ(factory_->changelog_key(), std::optional<std::vector<int>>(std::vector<int>{0}));
}

// The snapshot (a text query) and the stream (pgoutput) give the same values.
TEST_F(PgCdcTest, TypesConvertTheSameFromTheSnapshotAndTheStream) {
  exec(
      "CREATE TABLE items (id SMALLINT PRIMARY KEY, r REAL, n NUMERIC, d DATE, t TIMESTAMP, tz TIMESTAMPTZ, i "
      "INTERVAL, u UUID, j JSONB, b BOOLEAN, big BIGINT); ALTER TABLE items REPLICA IDENTITY FULL");
  const std::string values =
      "1.5, 12345.678, '2024-02-29', '2024-02-29 23:59:59.123456', '2024-02-29 "
      "23:00:00-02:30', '1 day 02:03:04.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": "
      "1}', true, -9223372036854775808";
  exec("INSERT INTO items VALUES (1, " + values + ")");
  auto schema = make_schema({{"id", TypeId::kInt64},
                             {"r", TypeId::kFloat64},
                             {"n", TypeId::kFloat64},
                             {"d", TypeId::kTimestamp},
                             {"t", TypeId::kTimestamp},
                             {"tz", TypeId::kTimestamp},
                             {"i", TypeId::kInterval},
                             {"u", TypeId::kString},
                             {"j", TypeId::kString},
                             {"b", TypeId::kBool},
                             {"big", TypeId::kInt64}});
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));
  const std::string row =
      "1|1.5|12345.678|1709164800000000|1709251199123456|1709256600000000|93784500000|"
      "<36 a0e>|{\"a\": 1}|true|-9223372036854775808";
  EXPECT_EQ(read(1), std::vector<std::string>{"+I " + row});
  exec("INSERT INTO items VALUES (2, " + values + ")");
  EXPECT_EQ(read(1), std::vector<std::string>{"+I 2" + row.substr(1)});
  // Intervals: days and time, signs; months have no length in microseconds.
  exec("CREATE TABLE iv (id INT PRIMARY KEY, i INTERVAL); ALTER TABLE iv REPLICA IDENTITY FULL; ALTER PUBLICATION " +
       name_ + " ADD TABLE iv");
  exec("INSERT INTO iv VALUES (1, '-3 days'), (2, '00:00:00.000001'), (3, '-1 days +01:00:00'), (4, '1 mon')");
  reader_.reset();
  factory_.reset();
  auto f = factory(make_schema({{"id", TypeId::kInt64}, {"i", TypeId::kInterval}}), {{"table", "iv"}});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  factory_ = std::move(f).value();
  ASSERT_NO_FATAL_FAILURE(open_reader(make_schema({{"id", TypeId::kInt64}, {"i", TypeId::kInterval}})));
  RecordBatch b(schema_);
  auto polled = reader_->poll_rows(b, 3);
  ASSERT_TRUE(polled.is_ok()) << polled.status().message();
  EXPECT_EQ(rows_of(b), (std::vector<std::string>{"+I 1|-259200000000", "+I 2|1", "+I 3|-82800000000"}));
  polled = reader_->poll_rows(b, 3);
  ASSERT_FALSE(polled.is_ok());
  EXPECT_NE(polled.status().message().find("interval '1 mon' has months"), std::string::npos)
      << polled.status().message();
}

TEST_F(PgCdcTest, AnUnchangedToastedValueKeepsItsValue) {
  exec("CREATE TABLE items (id INT PRIMARY KEY, body TEXT, n INT); ALTER TABLE items REPLICA IDENTITY FULL");
  ASSERT_NO_FATAL_FAILURE(
      open_reader(make_schema({{"id", TypeId::kInt64}, {"body", TypeId::kString}, {"n", TypeId::kInt64}})));
  EXPECT_TRUE(read(1, 16, 500).empty());
  // Random text does not compress: stored out of line (TOASTed).
  exec("INSERT INTO items SELECT 1, string_agg(md5(i::text), '') , 0 FROM generate_series(1, 400) i");
  exec("UPDATE items SET n = 1 WHERE id = 1");
  auto rows = read(3);
  ASSERT_EQ(rows.size(), 3u);
  const std::string body = rows[0].substr(5, rows[0].rfind('|') - 5);
  EXPECT_EQ(body.substr(0, 7), "<12800 ");
  EXPECT_EQ(rows, (std::vector<std::string>{"+I 1|" + body + "|0", "-U 1|" + body + "|0", "+U 1|" + body + "|1"}));
}

TEST_F(PgCdcTest, AResumedReaderSkipsExactlyTheChangesEmittedInsideATransaction) {
  exec("CREATE TABLE items (id INT PRIMARY KEY, v INT); ALTER TABLE items REPLICA IDENTITY FULL");
  auto schema = make_schema({{"id", TypeId::kInt64}, {"v", TypeId::kInt64}});
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));
  EXPECT_TRUE(read(1, 16, 500).empty());  // empty snapshot, streaming
  exec("INSERT INTO items SELECT i, 0 FROM generate_series(1, 100) i");
  exec("UPDATE items SET v = 1");
  auto first = read(30, 10);  // 30 of the 100 inserts, in polls of 10
  ASSERT_EQ(first.size(), 30u);
  const std::string mid = reader_->checkpoint_position();
  reader_->note_checkpoint(1);
  EXPECT_NE(mid.find(' '), std::string::npos) << mid << ": inside the transaction";
  auto rest_first_run = read(70 + 200, 64);
  ASSERT_EQ(rest_first_run.size(), 270u);
  const std::string before = confirmed_flush();
  // Nothing confirmed before the checkpoint completes; then its position's LSN exactly.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(confirmed_flush(), before);
  ASSERT_TRUE(reader_->on_checkpoint_complete(1).is_ok());
  const std::string lsn_of_mid = mid.substr(0, mid.find(' '));
  for (int i = 0; i < 50 && confirmed_flush() != lsn_of_mid; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(confirmed_flush(), lsn_of_mid);
  // A new reader resuming at `mid`: the rest, exactly once.
  ASSERT_TRUE(reader_->close().is_ok());
  reader_.reset();
  ASSERT_NO_FATAL_FAILURE(open_reader(schema, mid));
  auto resumed = read(270, 50);
  EXPECT_EQ(resumed, rest_first_run);
  EXPECT_TRUE(read(1, 50, 500).empty());
}

TEST_F(PgCdcTest, ALostReplicationConnectionIsResumedWithoutGapsOrRepeats) {
  exec("CREATE TABLE items (id INT PRIMARY KEY, v INT); ALTER TABLE items REPLICA IDENTITY FULL");
  auto schema = make_schema({{"id", TypeId::kInt64}, {"v", TypeId::kInt64}});
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));
  EXPECT_TRUE(read(1, 16, 500).empty());
  exec("INSERT INTO items SELECT i, 0 FROM generate_series(1, 100) i");
  auto first = read(30, 10);
  ASSERT_EQ(first.size(), 30u);
  // The server ends the walsender (as a restart or a network cut would) inside the
  // transaction: the reader reconnects with backoff and skips the 30 changes it emitted.
  exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + name_ + "'");
  exec("INSERT INTO items VALUES (101, 1)");
  auto rest = read(71, 10);
  ASSERT_EQ(rest.size(), 71u);
  EXPECT_EQ(rest.front(), "+I 31|0");
  EXPECT_EQ(rest[69], "+I 100|0");
  EXPECT_EQ(rest.back(), "+I 101|1");
  EXPECT_TRUE(read(1, 10, 500).empty());
}

TEST_F(PgCdcTest, SeveralTablesWithTheSameColumnsFeedOneSource) {
  exec(
      "CREATE SCHEMA shard; CREATE TABLE items (id INT PRIMARY KEY, v INT); CREATE TABLE shard.items2 (id INT "
      "PRIMARY KEY, v INT, other TEXT); INSERT INTO items VALUES (1, 1); INSERT INTO shard.items2 VALUES (2, 2, 'x')");
  auto schema = make_schema({{"id", TypeId::kInt64}, {"v", TypeId::kInt64}});
  auto f = factory(schema, {{"table", "items, shard.items2"}});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  factory_ = std::move(f).value();
  EXPECT_EQ(factory_->describe(),
            "postgres-cdc public.items,shard.items2 (slot " + name_ + ", publication " + name_ + ")");
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));
  EXPECT_EQ(read(2), (std::vector<std::string>{"+I 1|1", "+I 2|2"}));
  EXPECT_EQ(query("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '" + name_ +
                  "' ORDER BY 1"),
            (std::vector<std::string>{"public.items", "shard.items2"}));
  exec("UPDATE shard.items2 SET v = 3; DELETE FROM items");  // DEFAULT identity, fixed-width columns: +U, -D by key
  EXPECT_EQ(read(2), (std::vector<std::string>{"+U 2|3", "-D 1|NULL"}));
  // Tables keyed differently cannot share a source.
  exec("CREATE TABLE other (k INT PRIMARY KEY, id INT, v INT)");
  f = factory(make_schema({{"id", TypeId::kInt64}, {"v", TypeId::kInt64}, {"k", TypeId::kInt64}}),
              {{"table", "other, items"}});
  ASSERT_FALSE(f.is_ok());
}

TEST_F(PgCdcTest, AFreshStartRecreatesTheSlotAndReadsTheSnapshotAgain) {
  exec("CREATE TABLE items (id INT PRIMARY KEY, v INT); ALTER TABLE items REPLICA IDENTITY FULL");
  exec("INSERT INTO items VALUES (1, 1)");
  auto schema = make_schema({{"id", TypeId::kInt64}, {"v", TypeId::kInt64}});
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));
  EXPECT_EQ(read(1), std::vector<std::string>{"+I 1|1"});
  reader_.reset();
  exec("INSERT INTO items VALUES (2, 2)");
  ASSERT_NO_FATAL_FAILURE(open_reader(schema));  // no position: from the start
  EXPECT_EQ(read(2), (std::vector<std::string>{"+I 1|1", "+I 2|2"}));
  exec("INSERT INTO items VALUES (3, 3)");
  EXPECT_EQ(read(1), std::vector<std::string>{"+I 3|3"});
}

TEST_F(PgCdcTest, PlanningRefusesWhatCannotGiveACorrectChangelog) {
  exec("CREATE TABLE items (id INT PRIMARY KEY, body TEXT, n INT)");
  auto f = factory(make_schema({{"id", TypeId::kInt64}, {"body", TypeId::kString}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("REPLICA IDENTITY DEFAULT and column 'body' (text) can be TOASTed"),
            std::string::npos)
      << f.status().message();
  // Fixed-width columns need no FULL identity.
  EXPECT_TRUE(factory(make_schema({{"id", TypeId::kInt64}, {"n", TypeId::kInt64}})).is_ok());
  f = factory(make_schema({{"n", TypeId::kInt64}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("declare the key column 'id'"), std::string::npos) << f.status().message();
  f = factory(make_schema({{"id", TypeId::kBool}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("column 'id' is integer, which does not convert to BOOLEAN; declare it BIGINT"),
            std::string::npos)
      << f.status().message();
  f = factory(make_schema({{"id", TypeId::kInt64}, {"missing", TypeId::kInt64}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("has no column 'missing' (it has: id, body, n)"), std::string::npos)
      << f.status().message();
  exec("CREATE TABLE nokey (id INT); ALTER TABLE nokey REPLICA IDENTITY FULL");
  f = factory(make_schema({{"id", TypeId::kInt64}}), {{"table", "nokey"}});
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("has no primary key"), std::string::npos) << f.status().message();
  f = factory(make_schema({{"id", TypeId::kInt64}}), {{"table", "nope"}});
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("postgres table 'nope' does not exist"), std::string::npos)
      << f.status().message();
  f = factory(make_schema({{"id", TypeId::kInt64}}), {{"slot_name", "Bad-Name"}});
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("option 'slot_name' = 'Bad-Name'"), std::string::npos) << f.status().message();
}

TEST(PgCdcPositionTest, PositionsRoundTrip) {
  EXPECT_EQ(encode_pg_cdc_position({0x1000, 0, 0}), "0/1000");
  EXPECT_EQ(encode_pg_cdc_position({0x1000, 0x2000, 7}), "0/1000 0/2000 7");
  auto p = decode_pg_cdc_position("0/1000 0/2000 7");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->lsn, 0x1000u);
  EXPECT_EQ(p->transaction_lsn, 0x2000u);
  EXPECT_EQ(p->changes, 7u);
  EXPECT_FALSE(decode_pg_cdc_position("0/1000 0/2000").has_value());
  EXPECT_FALSE(decode_pg_cdc_position("x").has_value());
}

}  // namespace
}  // namespace sluice
