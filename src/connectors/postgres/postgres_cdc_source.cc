#include "connectors/postgres/postgres_cdc_source.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/logging.h"
#include "common/time_util.h"
#include "connectors/connector_util.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pgoutput.h"
#include "connectors/retry.h"

namespace sluice {
namespace {

// Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
constexpr int64_t kPgEpochMicros = 946684800LL * 1000000;
// The longest a poll waits for the server when nothing is buffered.
constexpr int kPollWaitMs = 50;
// A status update at least this often keeps the walsender from timing out (60 s default).
constexpr Micros kStatusInterval = 10 * kMicrosPerSecond;
constexpr const char* kCursor = "sluice_cdc_snapshot";

// PostgreSQL type OIDs (pg_type.dat) the source converts.
enum : uint32_t {
  kBoolOid = 16,
  kInt8Oid = 20,
  kInt2Oid = 21,
  kInt4Oid = 23,
  kOidOid = 26,
  kFloat4Oid = 700,
  kFloat8Oid = 701,
  kDateOid = 1082,
  kTimestampOid = 1114,
  kTimestampTzOid = 1184,
  kIntervalOid = 1186,
  kNumericOid = 1700,
};

bool is_integer_oid(uint32_t oid) { return oid == kInt8Oid || oid == kInt2Oid || oid == kInt4Oid || oid == kOidOid; }

// Whether a PostgreSQL column of type `oid` converts to the Sluice type `t`: every type
// reads as STRING (its text form); numbers, booleans and times as their own kinds.
bool converts(uint32_t oid, TypeId t) {
  switch (t) {
    case TypeId::kString: return true;
    case TypeId::kBool: return oid == kBoolOid;
    case TypeId::kInt64: return is_integer_oid(oid);
    case TypeId::kFloat64: return is_integer_oid(oid) || oid == kFloat4Oid || oid == kFloat8Oid || oid == kNumericOid;
    case TypeId::kTimestamp: return oid == kTimestampOid || oid == kTimestampTzOid || oid == kDateOid;
    case TypeId::kInterval: return oid == kIntervalOid;
    case TypeId::kNull: return false;
  }
  return false;
}

// An interval as PostgreSQL writes it (IntervalStyle 'postgres', the default):
// "[-]N day[s] [-]HH:MM:SS[.ffffff]", either part optional. Months and years have no fixed
// length: false.
bool parse_pg_interval(std::string_view t, Micros* out) {
  Micros total = 0;
  size_t i = 0;
  bool any = false;
  auto number = [&](int64_t* v) {
    auto [p, ec] = std::from_chars(t.data() + i, t.data() + t.size(), *v);
    if (ec != std::errc()) return false;
    i = static_cast<size_t>(p - t.data());
    return true;
  };
  while (i < t.size()) {
    if (t[i] == ' ') {
      ++i;
      continue;
    }
    const size_t end = std::min(t.find(' ', i), t.size());
    if (t.substr(i, end - i).find(':') != std::string_view::npos) {  // [-]HH:MM:SS[.f]
      const bool negative = t[i] == '-';
      if (negative || t[i] == '+') ++i;
      int64_t h = 0, m = 0, sec = 0;
      if (!number(&h) || i >= t.size() || t[i++] != ':' || !number(&m) || i >= t.size() || t[i++] != ':' ||
          !number(&sec)) {
        return false;
      }
      if (h > 1000000000 || m > 59 || sec > 59) return false;  // beyond int64 microseconds (with the days)
      Micros part = ((h * 60 + m) * 60 + sec) * kMicrosPerSecond;
      if (i < end && t[i] == '.') {
        ++i;
        int64_t scale = 100000;
        while (i < end && t[i] >= '0' && t[i] <= '9') {
          part += (t[i++] - '0') * scale;
          scale /= 10;
        }
      }
      if (i != end) return false;
      total += negative ? -part : part;
    } else {  // N day[s]
      int64_t n = 0;
      if (!number(&n) || i >= t.size() || t[i] != ' ') return false;
      const size_t unit_end = std::min(t.find(' ', i + 1), t.size());
      const std::string_view unit = t.substr(i + 1, unit_end - i - 1);
      if ((unit != "day" && unit != "days") || n > 50000000 || n < -50000000) return false;
      total += n * 86400 * kMicrosPerSecond;
      i = unit_end;
    }
    any = true;
  }
  *out = total;
  return any;
}

// A PostgreSQL value's text form (what pgoutput and a text query both send) into `col`.
Status append_text(Column& col, TypeId type, std::string_view text, std::string& scratch) {
  switch (type) {
    case TypeId::kString: col.append_string(text); return Status::ok();
    case TypeId::kBool:
      if (text == "t" || text == "f") {
        col.append_bool(text == "t");
        return Status::ok();
      }
      break;
    case TypeId::kInt64: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) {
        col.append_int(v);
        return Status::ok();
      }
      break;
    }
    case TypeId::kFloat64: {
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
        col.append_double(text == "NaN"    ? std::numeric_limits<double>::quiet_NaN()
                          : text[0] == '-' ? -std::numeric_limits<double>::infinity()
                                           : std::numeric_limits<double>::infinity());
        return Status::ok();
      }
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) {
        col.append_double(v);
        return Status::ok();
      }
      break;
    }
    case TypeId::kTimestamp: {
      // timestamptz ends in "+00" (sessions run in UTC) or "+05:30": parse_timestamp wants
      // "+hh:mm".
      std::string_view t = text;
      const size_t n = t.size();
      const size_t colon = t.find(':');  // a time part (a date's "-02" is no offset)
      if (n > 3 && colon != std::string_view::npos && colon < n - 3 && (t[n - 3] == '+' || t[n - 3] == '-') &&
          t[n - 1] >= '0' && t[n - 2] >= '0' && t[n - 1] <= '9' && t[n - 2] <= '9' && t[n - 4] >= '0' &&
          t[n - 4] <= '9') {
        scratch.assign(t);
        scratch += ":00";
        t = scratch;
      }
      Micros v = 0;
      if (try_parse_timestamp(t, &v)) {
        col.append_int(v);
        return Status::ok();
      }
      break;
    }
    case TypeId::kInterval: {
      Micros v = 0;
      if (parse_pg_interval(text, &v)) {
        col.append_int(v);
        return Status::ok();
      }
      if (text.find("mon") != std::string_view::npos || text.find("year") != std::string_view::npos) {
        return invalid_argument("interval '{}' has months or years, which have no fixed length in microseconds",
                                text.substr(0, 64));
      }
      break;
    }
    case TypeId::kNull: break;
  }
  return invalid_argument("value '{}' does not convert to {}", text.substr(0, 64), type_name(type));
}

struct PgCdcTable {
  std::string given;   // as in the option
  std::string schema;  // resolved
  std::string name;
  std::string quoted;                 // "schema"."name"
  std::vector<uint32_t> column_oids;  // per declared column
};

struct PgCdcConfig {
  std::string context;
  std::string dsn;
  std::string password_env;
  std::string slot;
  std::string publication;
  bool create_publication = true;
  bool snapshot = true;
  SchemaPtr schema;
  std::vector<PgCdcTable> tables;
  std::vector<int> key_columns;  // declared columns, in the key's order
  std::string select_list;       // the declared columns, quoted
};

// Sluice columns of a relation as pgoutput describes it: per declared column, the tuple
// index and its type.
struct RelationMap {
  bool ours = false;
  std::string name;              // schema.name, for errors
  std::vector<int> tuple_index;  // per declared column
  std::vector<uint32_t> oids;    // per declared column
};

class PgCdcReader : public SourceReader {
 public:
  explicit PgCdcReader(std::shared_ptr<const PgCdcConfig> config) : c_(std::move(config)) {}

  void attach(const SourceContext& context) override {
    if (context.retry) retry_ = *context.retry;
    checkpoints_ = context.checkpoints;
  }

  Status open() override { return Status::ok(); }

  Status close() override {
    snapshot_conn_.reset();
    repl_.reset();
    return Status::ok();
  }

  int64_t position() const override { return static_cast<int64_t>(resume_lsn_); }

  std::string checkpoint_position() const override {
    PgCdcPosition pos{resume_lsn_, 0, 0};
    if (in_transaction_ && transaction_changes_ > 0) {
      pos.transaction_lsn = transaction_lsn_;
      pos.changes = transaction_changes_;
    }
    return encode_pg_cdc_position(pos);
  }
  Status check_checkpoint_position(std::string_view bytes) override {
    if (!decode_pg_cdc_position(bytes))
      return invalid_argument("{}: '{}' is not a postgres-cdc position", c_->context, bytes);
    return Status::ok();
  }
  Status seek_checkpoint_position(std::string_view bytes) override {
    auto pos = decode_pg_cdc_position(bytes);
    if (!pos) return invalid_argument("{}: '{}' is not a postgres-cdc position", c_->context, bytes);
    if (phase_ != Phase::kNotStarted) return internal_error("{}: seek after the first poll", c_->context);
    resume_lsn_ = pos->lsn;
    skip_transaction_lsn_ = pos->transaction_lsn;
    skip_changes_ = pos->changes;
    restored_ = true;
    return Status::ok();
  }

  // Positions exist once streaming (or once given by a checkpoint): a fresh reader's slot
  // and snapshot are made at its first poll, and a crash before streaming starts over.
  bool can_checkpoint() const override { return phase_ == Phase::kStreaming || restored_; }

  void note_checkpoint(uint64_t id) override {
    if (phase_ == Phase::kStreaming) noted_.emplace_back(id, resume_lsn_);
  }

  // The slot's confirmed LSN moves to what checkpoint `id` recorded, never further.
  Status on_checkpoint_complete(uint64_t id) override {
    uint64_t lsn = 0;
    while (!noted_.empty() && noted_.front().first <= id) {
      lsn = noted_.front().second;
      noted_.pop_front();
    }
    if (lsn > confirmed_) return send_status(lsn, false);
    return Status::ok();
  }

  Result<PollStatus> poll(RawRecords&, size_t) override {
    return internal_error("{}: the postgres-cdc source produces rows", c_->context);
  }

  Result<PollStatus> poll_rows(RecordBatch& out, size_t max_rows) override {
    if (phase_ == Phase::kNotStarted) RETURN_IF_ERROR(start());
    if (phase_ == Phase::kSnapshot) return poll_snapshot(out, max_rows);
    return poll_stream(out, max_rows);
  }

 private:
  enum class Phase { kNotStarted, kSnapshot, kStreaming };

  Result<std::unique_ptr<PgConnection>> connect(bool replication) {
    std::unique_ptr<PgConnection> conn;
    RETURN_IF_ERROR(retry(retry_, "connect", [&]() -> Status {
      auto made = PgConnection::connect(c_->dsn, c_->password_env, c_->context, replication);
      if (!made.is_ok()) return made.status();
      conn = std::move(made).value();
      return Status::ok();
    }));
    return conn;
  }

  // The slot's row of pg_replication_slots, if it exists: plugin, confirmed_flush_lsn.
  Result<std::optional<std::pair<std::string, uint64_t>>> find_slot(PgConnection& conn) {
    ASSIGN_OR_RETURN(PgRows rows, conn.query("SELECT plugin, coalesce(confirmed_flush_lsn::text, '0/0'), "
                                             "database = current_database() FROM pg_replication_slots WHERE "
                                             "slot_name = $1",
                                             {c_->slot}));
    if (rows.rows.empty()) return std::optional<std::pair<std::string, uint64_t>>();
    if (rows.rows[0][2] != "t") {
      return invalid_argument("{}: replication slot '{}' belongs to another database", c_->context, c_->slot);
    }
    if (rows.rows[0][1].empty() || rows.rows[0][0] != "pgoutput") {
      return invalid_argument("{}: replication slot '{}' is not a logical slot of the pgoutput plugin (plugin '{}')",
                              c_->context, c_->slot, rows.rows[0][0]);
    }
    return std::optional<std::pair<std::string, uint64_t>>(
        std::make_pair(rows.rows[0][0], parse_lsn(rows.rows[0][1]).value_or(0)));
  }

  // Creates the publication FOR TABLE ... when it is missing (and allowed), or checks that
  // it publishes every table.
  Status ensure_publication(PgConnection& conn) {
    ASSIGN_OR_RETURN(PgRows pub,
                     conn.query("SELECT pubtruncate FROM pg_publication WHERE pubname = $1", {c_->publication}));
    if (pub.rows.empty()) {
      if (!c_->create_publication) {
        return invalid_argument(
            "{}: publication '{}' does not exist (create_publication = 'false'); CREATE PUBLICATION "
            "{} FOR TABLE ...",
            c_->context, c_->publication, PgConnection::quote_ident(c_->publication));
      }
      std::string list;
      for (const auto& t : c_->tables) list += (list.empty() ? "" : ", ") + t.quoted;
      Status s = conn.exec("CREATE PUBLICATION " + PgConnection::quote_ident(c_->publication) + " FOR TABLE " + list);
      // Two readers racing to create it: the other one won.
      if (!s.is_ok() && s.message().find("already exists") == std::string::npos) return s;
      log_info("{}: created publication '{}' for {}", c_->context, c_->publication, list);
      return Status::ok();
    }
    for (const auto& t : c_->tables) {
      ASSIGN_OR_RETURN(PgRows found, conn.query("SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname "
                                                "= $2 AND tablename = $3",
                                                {c_->publication, t.schema, t.name}));
      if (found.rows.empty()) {
        return invalid_argument("{}: publication '{}' does not publish table {}; ALTER PUBLICATION {} ADD TABLE {}",
                                c_->context, c_->publication, t.quoted, PgConnection::quote_ident(c_->publication),
                                t.quoted);
      }
    }
    return Status::ok();
  }

  // The first poll: snapshot + new slot (fresh start), or streaming from the position.
  Status start() {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> admin, connect(false));
    RETURN_IF_ERROR(ensure_publication(*admin));
    ASSIGN_OR_RETURN(auto slot, find_slot(*admin));
    ASSIGN_OR_RETURN(repl_, connect(true));
    if (restored_) {
      if (!slot) {
        return not_found(
            "{}: replication slot '{}' no longer exists, so the changes after the checkpoint (LSN {}) "
            "are lost; start the job over (--start-over, without the checkpoint) to take a new snapshot",
            c_->context, c_->slot, format_lsn(resume_lsn_));
      }
      if (slot->second > resume_lsn_) {
        return invalid_argument(
            "{}: replication slot '{}' was confirmed up to LSN {}, past the checkpoint's LSN {} "
            "(resuming an older checkpoint or savepoint than the slot's): the changes in between "
            "are gone from the slot",
            c_->context, c_->slot, format_lsn(slot->second), format_lsn(resume_lsn_));
      }
      return start_streaming_retried();
    }
    if (!c_->snapshot && slot) {
      resume_lsn_ = slot->second;  // the slot's own progress
      return start_streaming_retried();
    }
    if (slot) {
      // A fresh start (no checkpoint): the slot of an earlier run cannot give a snapshot
      // consistent with its position, so it is made again.
      log_warn(
          "{}: replication slot '{}' exists from an earlier run; dropping and recreating it for a consistent "
          "snapshot",
          c_->context, c_->slot);
      RETURN_IF_ERROR(retry(retry_, "drop replication slot", [&]() -> Status {
        if (!admin->ok()) RETURN_IF_ERROR(admin->reconnect());
        return admin->exec("SELECT pg_drop_replication_slot(" + PgConnection::quote_literal(c_->slot) + ")");
      }));
    }
    admin.reset();
    // The pre-15 syntax, which 15 still takes.
    const std::string create = "CREATE_REPLICATION_SLOT " + PgConnection::quote_ident(c_->slot) + " LOGICAL pgoutput " +
                               (c_->snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    // Replication commands take the simple query protocol only.
    std::string consistent_text, snapshot_name;
    RETURN_IF_ERROR(repl_->query_result(create, [&](const PGresult* r) -> Status {
      if (PQntuples(r) < 1 || PQnfields(r) < 3) {
        return internal_error("{}: CREATE_REPLICATION_SLOT returned no row", c_->context);
      }
      consistent_text = PQgetvalue(r, 0, 1);
      snapshot_name = PQgetvalue(r, 0, 2);
      return Status::ok();
    }));
    auto consistent = parse_lsn(consistent_text);
    if (!consistent) return internal_error("{}: bad consistent point '{}'", c_->context, consistent_text);
    resume_lsn_ = *consistent;
    log_info("{}: created replication slot '{}' at LSN {}", c_->context, c_->slot, format_lsn(resume_lsn_));
    if (!c_->snapshot) return start_streaming_retried();
    // The exported snapshot lives while the replication connection stays idle: import it in
    // a REPEATABLE READ transaction on another connection, then read the tables there.
    ASSIGN_OR_RETURN(snapshot_conn_, connect(false));
    RETURN_IF_ERROR(snapshot_conn_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " +
                                         PgConnection::quote_literal(snapshot_name)));
    phase_ = Phase::kSnapshot;
    snapshot_table_ = 0;
    return open_cursor();
  }

  Status open_cursor() {
    return snapshot_conn_->exec(fmt::format("DECLARE {} NO SCROLL CURSOR FOR SELECT {} FROM {}", kCursor,
                                            c_->select_list, c_->tables[snapshot_table_].quoted));
  }

  Result<PollStatus> poll_snapshot(RecordBatch& out, size_t max_rows) {
    const PgCdcTable& table = c_->tables[snapshot_table_];
    size_t got = 0;
    Status s = snapshot_conn_->query_result(
        fmt::format("FETCH FORWARD {} FROM {}", std::max<size_t>(1, max_rows), kCursor),
        [&](const PGresult* r) -> Status {
          const int n = PQntuples(r);
          got = static_cast<size_t>(n);
          for (int i = 0; i < n; ++i) {
            for (size_t col = 0; col < c_->schema->size(); ++col) {
              Column& column = out.mutable_column(col);
              const int j = static_cast<int>(col);
              if (PQgetisnull(r, i, j)) {
                column.append_null();
                continue;
              }
              Status v = append_text(column, c_->schema->field(col).type,
                                     std::string_view(PQgetvalue(r, i, j), static_cast<size_t>(PQgetlength(r, i, j))),
                                     scratch_);
              if (!v.is_ok()) return column_error(v, table.quoted, c_->schema->field(col).name);
            }
          }
          return Status::ok();
        });
    if (!s.is_ok()) return s.with_context("reading the initial snapshot");
    out.sync_num_rows();
    if (got > 0) return PollStatus::kData;
    RETURN_IF_ERROR(snapshot_conn_->exec(fmt::format("CLOSE {}", kCursor)));
    if (++snapshot_table_ < c_->tables.size()) {
      RETURN_IF_ERROR(open_cursor());
      return PollStatus::kIdle;
    }
    RETURN_IF_ERROR(snapshot_conn_->exec("COMMIT"));
    snapshot_conn_.reset();
    log_info("{}: initial snapshot read; streaming changes from LSN {}", c_->context, format_lsn(resume_lsn_));
    RETURN_IF_ERROR(start_streaming());
    return PollStatus::kIdle;
  }

  Status column_error(const Status& s, const std::string& table, const std::string& column) const {
    return invalid_argument("{}: postgres table {} column '{}': {}", c_->context, table, column, s.message());
  }

  // The slot may still be held for a moment by the server process of a client that just
  // died (kill -9): "object in use" is retried like a lost connection.
  Status start_streaming_retried() {
    return retry(retry_, "start replication", [&]() -> Status {
      if (!repl_->ok()) RETURN_IF_ERROR(repl_->reconnect());
      return start_streaming();
    });
  }

  Status start_streaming() {
    relations_.clear();
    in_transaction_ = false;
    const std::string sql =
        fmt::format("START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {})",
                    PgConnection::quote_ident(c_->slot), format_lsn(resume_lsn_),
                    PgConnection::quote_literal(PgConnection::quote_ident(c_->publication)));
    RETURN_IF_ERROR(repl_->copy_both_begin(sql));
    phase_ = Phase::kStreaming;
    last_status_ = system_retry_clock().now();
    return Status::ok();
  }

  // After a lost connection: waits out the backoff, reconnects and starts again where the
  // emitted changes end.
  Result<bool> reconnect_if_due() {
    const Micros now = system_retry_clock().now();
    if (now < retry_at_) return false;
    Status s = repl_->reconnect();
    if (s.is_ok()) s = start_streaming();
    if (s.is_ok()) {
      log_info("{}: replication connection back; resuming at LSN {}", c_->context, format_lsn(resume_lsn_));
      disconnected_ = false;
      backoff_.reset();
      return true;
    }
    RETURN_IF_ERROR(lost(s));
    return false;
  }

  // A failure while streaming: a lost connection is retried (with backoff), anything else
  // fails the job.
  Status lost(const Status& s) {
    if (s.code() != StatusCode::kUnavailable) return s;
    const Micros now = system_retry_clock().now();
    if (!backoff_) backoff_.emplace(retry_, now);
    auto delay = backoff_->next_delay(now);
    if (!delay) {
      return Status(s.code(), fmt::format("{} (gave up after {} attempts)", s.message(), backoff_->attempts()));
    }
    if (!disconnected_) log_warn("{}; reconnecting", s.message());  // the message names the table
    disconnected_ = true;
    retry_at_ = now + *delay;
    // The transaction in flight is streamed again from its start: skip what was emitted.
    if (in_transaction_ && transaction_changes_ > 0) {
      skip_transaction_lsn_ = transaction_lsn_;
      skip_changes_ = transaction_changes_;
    }
    in_transaction_ = false;
    return Status::ok();
  }

  Status send_status(uint64_t flush, bool reply_requested) {
    if (phase_ != Phase::kStreaming || disconnected_ || !repl_) return Status::ok();
    const int64_t now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() -
        kPgEpochMicros;
    Status s =
        repl_->copy_send(standby_status_update(std::max(received_, flush), flush, flush, now_us, reply_requested));
    if (s.is_ok()) s = repl_->copy_flush();
    if (!s.is_ok()) return lost(s);
    confirmed_ = std::max(confirmed_, flush);
    last_status_ = system_retry_clock().now();
    return Status::ok();
  }

  Result<PollStatus> poll_stream(RecordBatch& out, size_t max_rows) {
    if (disconnected_) {
      ASSIGN_OR_RETURN(bool back, reconnect_if_due());
      if (!back) return PollStatus::kIdle;
    }
    const Micros deadline = system_retry_clock().now() + kPollWaitMs * kMicrosPerMilli;
    // A change becomes at most two rows; an empty batch takes one whatever its size.
    while (out.num_rows == 0 || out.num_rows + 2 <= max_rows) {
      const Micros now = system_retry_clock().now();
      const int wait_ms =
          out.num_rows > 0 || now >= deadline ? 0 : static_cast<int>((deadline - now) / kMicrosPerMilli) + 1;
      std::string_view bytes;
      Result<bool> got = repl_->copy_receive(bytes, wait_ms);
      if (!got.is_ok()) {
        RETURN_IF_ERROR(lost(got.status()));
        break;
      }
      if (!got.value()) {
        if (wait_ms == 0) break;
        continue;
      }
      RETURN_IF_ERROR(decode_replication_frame(bytes, frame_).with_context(c_->context));
      if (frame_.kind == ReplicationFrame::Kind::kKeepalive) {
        received_ = std::max(received_, frame_.wal_end);
        // Every transaction committed before the server's sent position has reached us.
        if (!in_transaction_ && frame_.wal_end > resume_lsn_ && skip_transaction_lsn_ == 0) {
          resume_lsn_ = frame_.wal_end;
        }
        if (frame_.reply_requested) RETURN_IF_ERROR(send_status(confirmed_, false));
        continue;
      }
      received_ = std::max(received_, frame_.wal_start);
      RETURN_IF_ERROR(handle(frame_.data, out));
      if (disconnected_) break;
    }
    // Without checkpoints what was emitted is confirmed as it goes (about once a second);
    // with them only on_checkpoint_complete() moves the slot.
    const Micros since = system_retry_clock().now() - last_status_;
    if (!disconnected_ && !checkpoints_ && since >= kMicrosPerSecond && resume_lsn_ > confirmed_) {
      RETURN_IF_ERROR(send_status(resume_lsn_, false));
    } else if (!disconnected_ && since >= kStatusInterval) {
      RETURN_IF_ERROR(send_status(confirmed_, false));
    }
    out.sync_num_rows();
    return out.num_rows > 0 ? PollStatus::kData : PollStatus::kIdle;
  }

  Status handle(std::string_view bytes, RecordBatch& out) {
    RETURN_IF_ERROR(decode_pgoutput(bytes, message_).with_context(c_->context));
    using Kind = PgOutputMessage::Kind;
    switch (message_.kind) {
      case Kind::kBegin: {
        in_transaction_ = true;
        transaction_lsn_ = message_.final_lsn;
        transaction_changes_ = 0;
        skip_transaction_ = message_.final_lsn < resume_lsn_;  // emitted before (the position is past it)
        skip_remaining_ = 0;
        if (skip_transaction_lsn_ != 0 && !skip_transaction_) {
          if (message_.final_lsn != skip_transaction_lsn_) {
            return internal_error(
                "{}: resuming inside the transaction committed at LSN {}, but the slot streams the "
                "one committed at {} first",
                c_->context, format_lsn(skip_transaction_lsn_), format_lsn(message_.final_lsn));
          }
          skip_remaining_ = skip_changes_;
          skip_transaction_lsn_ = 0;
          skip_changes_ = 0;
        }
        return Status::ok();
      }
      case Kind::kCommit:
        in_transaction_ = false;
        transaction_changes_ = 0;
        if (message_.end_lsn > resume_lsn_) resume_lsn_ = message_.end_lsn;
        return Status::ok();
      case Kind::kRelation: return map_relation(message_.relation);
      case Kind::kInsert:
      case Kind::kUpdate:
      case Kind::kDelete: {
        ++transaction_changes_;
        if (skip_transaction_) return Status::ok();
        if (skip_remaining_ > 0) {
          --skip_remaining_;
          return Status::ok();
        }
        auto it = relations_.find(message_.relation_id);
        if (it == relations_.end()) {
          return internal_error("{}: a change of relation {} came before its description", c_->context,
                                message_.relation_id);
        }
        if (!it->second.ours) return Status::ok();
        return emit_change(it->second, out);
      }
      case Kind::kTruncate:
        for (uint32_t id : message_.truncated) {
          auto it = relations_.find(id);
          if (it != relations_.end() && it->second.ours && !skip_transaction_) {
            return unsupported(
                "{}: postgres table {} was truncated (LSN {}); a TRUNCATE has no rows to delete in the "
                "changelog: take a new snapshot (drop the slot '{}' and start the job over)",
                c_->context, it->second.name, format_lsn(transaction_lsn_), c_->slot);
          }
        }
        return Status::ok();
      case Kind::kOrigin:
      case Kind::kType:
      case Kind::kMessage: return Status::ok();
    }
    return Status::ok();
  }

  Status map_relation(const PgOutputRelation& rel) {
    RelationMap& m = relations_[rel.id];
    m = RelationMap{};
    m.name = rel.schema + "." + rel.name;
    for (const auto& t : c_->tables) m.ours = m.ours || (t.schema == rel.schema && t.name == rel.name);
    if (!m.ours) return Status::ok();
    for (size_t col = 0; col < c_->schema->size(); ++col) {
      const Field& f = c_->schema->field(col);
      int found = -1;
      for (size_t j = 0; j < rel.columns.size(); ++j) {
        if (rel.columns[j].name == f.name) found = static_cast<int>(j);
      }
      if (found < 0) {
        return invalid_argument("{}: postgres table {} no longer has column '{}' (changed while the job ran)",
                                c_->context, m.name, f.name);
      }
      const uint32_t oid = rel.columns[static_cast<size_t>(found)].type_oid;
      if (!converts(oid, f.type)) {
        return invalid_argument("{}: postgres table {} column '{}' is now of type oid {}, which does not convert to {}",
                                c_->context, m.name, f.name, oid, type_name(f.type));
      }
      m.tuple_index.push_back(found);
      m.oids.push_back(oid);
    }
    return Status::ok();
  }

  // The value of declared column `col` in `values`; an unchanged TOASTed value is taken
  // from `old` (the whole old row, REPLICA IDENTITY FULL).
  const PgOutputValue* value_of(const RelationMap& m, size_t col, const std::vector<PgOutputValue>& values,
                                const std::vector<PgOutputValue>* old) const {
    const size_t j = static_cast<size_t>(m.tuple_index[col]);
    if (j >= values.size()) return nullptr;
    const PgOutputValue* v = &values[j];
    if (v->kind == PgOutputValue::Kind::kUnchangedToast) {
      if (old == nullptr || j >= old->size() || (*old)[j].kind == PgOutputValue::Kind::kUnchangedToast) return nullptr;
      v = &(*old)[j];
    }
    return v;
  }

  Status append_row(const RelationMap& m, RowKind kind, const std::vector<PgOutputValue>& values,
                    const std::vector<PgOutputValue>* old, RecordBatch& out) {
    for (size_t col = 0; col < c_->schema->size(); ++col) {
      Column& column = out.mutable_column(col);
      const PgOutputValue* v = value_of(m, col, values, old);
      if (v == nullptr) {
        return invalid_argument(
            "{}: postgres table {} column '{}': an UPDATE left its TOASTed value unchanged, so the "
            "change does not carry it; ALTER TABLE {} REPLICA IDENTITY FULL",
            c_->context, m.name, c_->schema->field(col).name, m.name);
      }
      if (v->kind == PgOutputValue::Kind::kNull) {
        column.append_null();
        continue;
      }
      Status s = append_text(column, c_->schema->field(col).type, v->text, scratch_);
      if (!s.is_ok()) return column_error(s, m.name, c_->schema->field(col).name);
    }
    out.row_kinds.push_back(kind);
    return Status::ok();
  }

  bool key_changed(const RelationMap& m, const std::vector<PgOutputValue>& old_values,
                   const std::vector<PgOutputValue>& new_values) const {
    for (int k : c_->key_columns) {
      const PgOutputValue* a = value_of(m, static_cast<size_t>(k), old_values, nullptr);
      const PgOutputValue* b = value_of(m, static_cast<size_t>(k), new_values, &old_values);
      if (!a || !b) continue;
      if (a->kind != b->kind || a->text != b->text) return true;
    }
    return false;
  }

  Status emit_change(const RelationMap& m, RecordBatch& out) {
    // Row kinds are listed for every row of a streamed batch.
    if (out.row_kinds.size() < out.num_rows) out.row_kinds.resize(out.num_rows, RowKind::kInsert);
    const PgOutputMessage& msg = message_;
    switch (msg.kind) {
      case PgOutputMessage::Kind::kInsert:
        RETURN_IF_ERROR(append_row(m, RowKind::kInsert, msg.new_values, nullptr, out));
        break;
      case PgOutputMessage::Kind::kDelete:
        RETURN_IF_ERROR(append_row(m, RowKind::kDelete, msg.old_values, nullptr, out));
        break;
      case PgOutputMessage::Kind::kUpdate: {
        const std::vector<PgOutputValue>* old = msg.old_kind == 'O' ? &msg.old_values : nullptr;
        if (msg.old_kind == 'K' || (old && key_changed(m, msg.old_values, msg.new_values))) {
          // The key changed: the old key's row goes, the new one comes.
          RETURN_IF_ERROR(append_row(m, RowKind::kDelete, msg.old_values, nullptr, out));
          RETURN_IF_ERROR(append_row(m, RowKind::kInsert, msg.new_values, old, out));
        } else {
          if (old) RETURN_IF_ERROR(append_row(m, RowKind::kUpdateBefore, msg.old_values, nullptr, out));
          RETURN_IF_ERROR(append_row(m, RowKind::kUpdateAfter, msg.new_values, old, out));
        }
        break;
      }
      default: break;
    }
    out.sync_num_rows();
    return Status::ok();
  }

  std::shared_ptr<const PgCdcConfig> c_;
  RetryPolicy retry_{};
  bool checkpoints_ = false;
  Phase phase_ = Phase::kNotStarted;
  bool restored_ = false;
  std::unique_ptr<PgConnection> repl_;
  std::unique_ptr<PgConnection> snapshot_conn_;
  size_t snapshot_table_ = 0;
  // Streaming progress (see the header).
  uint64_t resume_lsn_ = 0;
  bool in_transaction_ = false;
  uint64_t transaction_lsn_ = 0;
  uint64_t transaction_changes_ = 0;
  bool skip_transaction_ = false;
  uint64_t skip_remaining_ = 0;
  uint64_t skip_transaction_lsn_ = 0;  // resuming inside this transaction ...
  uint64_t skip_changes_ = 0;          // ... after this many of its changes
  uint64_t received_ = 0;
  uint64_t confirmed_ = 0;
  Micros last_status_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> noted_;  // (checkpoint id, position LSN)
  // Reconnecting.
  bool disconnected_ = false;
  std::optional<Backoff> backoff_;
  Micros retry_at_ = 0;
  std::unordered_map<uint32_t, RelationMap> relations_;
  ReplicationFrame frame_;
  PgOutputMessage message_;
  std::string scratch_;
};

class PgCdcFactory : public SourceFactory {
 public:
  explicit PgCdcFactory(std::shared_ptr<const PgCdcConfig> config) : c_(std::move(config)) {}
  Result<std::unique_ptr<SourceReader>> create_reader(int) override {
    return std::unique_ptr<SourceReader>(std::make_unique<PgCdcReader>(c_));
  }
  int default_readers() const override { return 1; }
  bool produces_rows() const override { return true; }
  std::optional<std::vector<int>> changelog_key() const override { return c_->key_columns; }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return false; }
  std::string describe() const override {
    std::string tables;
    for (const auto& t : c_->tables) tables += (tables.empty() ? "" : ",") + t.schema + "." + t.name;
    return fmt::format("postgres-cdc {} (slot {}, publication {})", tables, c_->slot, c_->publication);
  }
  // What is read: the tables through the slot (the server's address may change).
  std::string identity() const override {
    std::string tables;
    for (const auto& t : c_->tables) tables += (tables.empty() ? "" : ",") + t.schema + "." + t.name;
    return fmt::format("postgres-cdc tables={} slot={}", tables, c_->slot);
  }

 private:
  std::shared_ptr<const PgCdcConfig> c_;
  FormatOptions format_;
};

// Checks one table against the declared columns: it exists, every declared column is there
// with a convertible type, its key is declared, and its replica identity gives what the
// changelog needs. Returns the key's column names.
Result<std::vector<std::string>> check_table(PgConnection& conn, PgCdcConfig& c, PgCdcTable& t) {
  ASSIGN_OR_RETURN(PgRows rel, conn.query("SELECT n.nspname, c.relname, c.relreplident, c.relkind FROM pg_class c JOIN "
                                          "pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                                          {t.quoted}));
  if (rel.rows.empty()) {
    return invalid_argument("{}: postgres table '{}' does not exist in {}", c.context, t.given, conn.describe());
  }
  t.schema = rel.rows[0][0];
  t.name = rel.rows[0][1];
  t.quoted = PgConnection::quote_ident(t.schema) + "." + PgConnection::quote_ident(t.name);
  const std::string identity = rel.rows[0][2];
  if (rel.rows[0][3] != "r" && rel.rows[0][3] != "p") {
    return invalid_argument("{}: '{}' is not a table (logical replication publishes tables only)", c.context, t.given);
  }
  if (identity == "n") {
    return invalid_argument(
        "{}: postgres table {} has REPLICA IDENTITY NOTHING: its updates and deletes cannot be "
        "replicated; ALTER TABLE {} REPLICA IDENTITY FULL",
        c.context, t.quoted, t.quoted);
  }
  ASSIGN_OR_RETURN(PgRows cols, conn.query("SELECT attname, atttypid::bigint, format_type(atttypid, atttypmod), "
                                           "attstorage FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > "
                                           "0 AND NOT attisdropped ORDER BY attnum",
                                           {t.quoted}));
  ASSIGN_OR_RETURN(PgRows key,
                   conn.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                              "i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = to_regclass($1) "
                              "AND CASE WHEN $2::text = 'i' THEN i.indisreplident ELSE i.indisprimary END ORDER "
                              "BY array_position(i.indkey::int2[], a.attnum)",
                              {t.quoted, identity}));
  std::vector<std::string> key_names;
  for (const auto& r : key.rows) key_names.push_back(r[0]);
  if (key_names.empty()) {
    return invalid_argument(
        "{}: postgres table {} has no primary key; the changelog applies updates and deletes by "
        "key: add a primary key (or REPLICA IDENTITY USING INDEX of a unique index)",
        c.context, t.quoted);
  }
  std::string have;
  for (const auto& r : cols.rows) have += (have.empty() ? "" : ", ") + r[0];
  t.column_oids.clear();
  for (size_t i = 0; i < c.schema->size(); ++i) {
    const Field& f = c.schema->field(i);
    const std::vector<std::string>* found = nullptr;
    for (const auto& r : cols.rows) {
      if (r[0] == f.name) found = &r;
    }
    if (!found) {
      return invalid_argument("{}: postgres table {} has no column '{}' (it has: {})", c.context, t.quoted, f.name,
                              have);
    }
    const uint32_t oid = static_cast<uint32_t>(std::stoul((*found)[1]));
    if (!converts(oid, f.type)) {
      return invalid_argument("{}: postgres table {} column '{}' is {}, which does not convert to {}; declare it {}",
                              c.context, t.quoted, f.name, (*found)[2], type_name(f.type),
                              is_integer_oid(oid)                                                   ? "BIGINT"
                              : oid == kBoolOid                                                     ? "BOOLEAN"
                              : (oid == kFloat4Oid || oid == kFloat8Oid || oid == kNumericOid)      ? "DOUBLE"
                              : (oid == kTimestampOid || oid == kTimestampTzOid || oid == kDateOid) ? "TIMESTAMP"
                                                                                                    : "TEXT");
    }
    t.column_oids.push_back(oid);
    const bool in_key = std::find(key_names.begin(), key_names.end(), f.name) != key_names.end();
    // An UPDATE that leaves a TOASTed value unchanged sends it only in a FULL old row.
    if (identity != "f" && !in_key && (*found)[3] != "p") {
      return invalid_argument(
          "{}: postgres table {} has REPLICA IDENTITY {} and column '{}' ({}) can be TOASTed: an "
          "UPDATE that leaves a TOASTed value unchanged does not carry it; ALTER TABLE {} REPLICA "
          "IDENTITY FULL",
          c.context, t.quoted, identity == "d" ? "DEFAULT" : "USING INDEX", f.name, (*found)[2], t.quoted);
    }
  }
  for (const auto& k : key_names) {
    if (c.schema->find(k) < 0) {
      return invalid_argument(
          "{}: declare the key column '{}' of postgres table {}: updates and deletes are applied "
          "by the key ({})",
          c.context, k, t.quoted, fmt::format("{}", fmt::join(key_names, ", ")));
    }
  }
  return key_names;
}

bool valid_slot_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

std::string encode_pg_cdc_position(const PgCdcPosition& pos) {
  if (pos.transaction_lsn == 0) return format_lsn(pos.lsn);
  return fmt::format("{} {} {}", format_lsn(pos.lsn), format_lsn(pos.transaction_lsn), pos.changes);
}

std::optional<PgCdcPosition> decode_pg_cdc_position(std::string_view bytes) {
  PgCdcPosition pos;
  const size_t a = bytes.find(' ');
  auto lsn = parse_lsn(bytes.substr(0, a));
  if (!lsn) return std::nullopt;
  pos.lsn = *lsn;
  if (a == std::string_view::npos) return pos;
  const std::string_view rest = bytes.substr(a + 1);
  const size_t b = rest.find(' ');
  if (b == std::string_view::npos) return std::nullopt;
  auto txn = parse_lsn(rest.substr(0, b));
  if (!txn || *txn == 0) return std::nullopt;
  pos.transaction_lsn = *txn;
  const std::string_view n = rest.substr(b + 1);
  auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), pos.changes);
  if (ec != std::errc() || p != n.data() + n.size() || n.empty()) return std::nullopt;
  return pos;
}

Result<std::unique_ptr<SourceFactory>> make_postgres_cdc_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  auto config = std::make_shared<PgCdcConfig>();
  PgCdcConfig& c = *config;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.dsn, o.require_string("dsn"));
  ASSIGN_OR_RETURN(c.slot, o.require_string("slot_name"));
  if (!valid_slot_name(c.slot)) {
    return invalid_argument(
        "{}: option 'slot_name' = '{}': a replication slot name has lower-case letters, digits and "
        "underscores only (at most 63)",
        c.context, c.slot);
  }
  c.publication = o.get_string("publication", c.slot);
  if (c.publication.empty()) return invalid_argument("{}: option 'publication' must not be empty", c.context);
  ASSIGN_OR_RETURN(c.create_publication, o.get_bool("create_publication", true));
  const std::string snapshot = o.get_string("snapshot", "initial");
  if (snapshot != "initial" && snapshot != "never") {
    return invalid_argument("{}: option 'snapshot' must be 'initial' or 'never', got '{}'", c.context, snapshot);
  }
  c.snapshot = snapshot == "initial";
  c.password_env = o.get_string("password_env", "");
  const std::string tables = o.get_string("table", spec.table);
  for (size_t b = 0; b <= tables.size();) {
    size_t e = tables.find(',', b);
    if (e == std::string::npos) e = tables.size();
    std::string name = tables.substr(b, e - b);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty()) return invalid_argument("{}: option 'table' has an empty name in '{}'", c.context, tables);
    PgCdcTable t;
    t.given = name;
    t.quoted = PgConnection::quote_qualified(name);
    c.tables.push_back(std::move(t));
    b = e + 1;
  }
  RETURN_IF_ERROR(o.check_all_used());
  if (c.schema == nullptr || c.schema->size() == 0) {
    return invalid_argument("{}: declare the table's columns (the postgres-cdc source reads them by name)", c.context);
  }
  for (size_t i = 0; i < c.schema->size(); ++i) {
    c.select_list += (i ? ", " : "") + PgConnection::quote_ident(c.schema->field(i).name);
  }
  // The server and the tables are checked now, not when the job runs.
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::connect(c.dsn, c.password_env, c.context));
  ASSIGN_OR_RETURN(PgRows wal, conn->query("SHOW wal_level"));
  if (wal.rows.empty() || wal.rows[0][0] != "logical") {
    return invalid_argument(
        "{}: the PostgreSQL server has wal_level = '{}'; logical replication needs wal_level = "
        "logical (postgresql.conf, then restart the server)",
        c.context, wal.rows.empty() ? "?" : wal.rows[0][0]);
  }
  std::vector<std::string> key_names;
  for (auto& t : c.tables) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, check_table(*conn, c, t));
    if (!key_names.empty() && names != key_names) {
      return invalid_argument("{}: the tables of one postgres-cdc source need the same key; {} has ({}), {} has ({})",
                              c.context, c.tables[0].quoted, fmt::format("{}", fmt::join(key_names, ", ")), t.quoted,
                              fmt::format("{}", fmt::join(names, ", ")));
    }
    key_names = std::move(names);
  }
  for (const auto& k : key_names) c.key_columns.push_back(c.schema->find(k));
  return std::unique_ptr<SourceFactory>(std::make_unique<PgCdcFactory>(std::move(config)));
}

}  // namespace sluice
