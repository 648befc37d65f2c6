#include "connectors/postgres/postgres_sink.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/logging.h"
#include "connectors/connector_util.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/retry.h"
#include "connectors/transactional_sink.h"

namespace sluice {
namespace {

// Undo entries an append table keeps per sink (as the SQLite sink: the newest checkpoints').
constexpr int64_t kUndoRetention = 1000;
// The advisory lock key sluice's DDL takes (any constant; "sluice" in ASCII).
constexpr int64_t kDdlLockKey = 0x736c75696365;
// COPY data is sent in pieces of about this size.
constexpr size_t kCopyChunkBytes = 1 << 20;
// Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01 (binary timestamps).
constexpr int64_t kPgEpochMicros = 946684800LL * 1000000;

// TableKey: upsert, key, value and all columns (connector_util.h).
struct PgSinkConfig : TableKey {
  std::string context;
  std::string dsn;
  std::string password_env;
  std::string table;         // as given ("t" or "schema.t")
  std::string quoted_table;  // "schema"."t"
  std::string quoted_schema_prefix;  // "schema". or "" (the bookkeeping tables live beside)
  SchemaPtr schema;
  bool create_table = false;
};

const char* pg_type(TypeId t) {
  switch (t) {
    case TypeId::kBool: return "BOOLEAN";
    case TypeId::kInt64: return "BIGINT";
    case TypeId::kFloat64: return "DOUBLE PRECISION";
    case TypeId::kTimestamp: return "TIMESTAMPTZ";
    case TypeId::kInterval: return "INTERVAL";
    case TypeId::kString:
    case TypeId::kNull: return "TEXT";
  }
  return "TEXT";
}

// Whether a column of PostgreSQL type `format_type` (pg_catalog.format_type) takes this
// type's binary COPY representation as it is (else rows go through a staging table and an
// INSERT ... SELECT with PostgreSQL's assignment casts).
bool binary_compatible(TypeId t, const std::string& format_type) {
  switch (t) {
    case TypeId::kBool: return format_type == "boolean";
    case TypeId::kInt64: return format_type == "bigint";
    case TypeId::kFloat64: return format_type == "double precision";
    case TypeId::kTimestamp:
      return format_type == "timestamp with time zone" || format_type == "timestamp without time zone";
    case TypeId::kInterval: return format_type == "interval";
    case TypeId::kString: return format_type == "text" || format_type.rfind("character varying", 0) == 0;
    case TypeId::kNull: return true;  // only NULLs
  }
  return false;
}

std::string column_list(const PgSinkConfig& c, const std::vector<int>& cols, std::string_view prefix = "") {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += std::string(prefix) + PgConnection::quote_ident(c.schema->field(static_cast<size_t>(cols[i])).name);
  }
  return out;
}

// ---- Binary COPY encoding (PostgreSQL docs, "COPY ... Binary Format") ----

void put16(std::string& out, int16_t v) {
  const uint16_t u = static_cast<uint16_t>(v);
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u));
}
void put32(std::string& out, int32_t v) {
  const uint32_t u = static_cast<uint32_t>(v);
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(u >> s));
}
void put64(std::string& out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(u >> s));
}

void copy_header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";
  out.append(kSignature, sizeof(kSignature));  // 11 bytes, its terminating NUL included
  put32(out, 0);  // flags
  put32(out, 0);  // header extension length
}

void copy_trailer(std::string& out) { put16(out, -1); }

Status copy_row(std::string& out, const RecordBatch& b, size_t row, const std::vector<int>& cols,
                const std::string& context) {
  put16(out, static_cast<int16_t>(cols.size()));
  for (int c : cols) {
    const Column& col = b.column(static_cast<size_t>(c));
    if (col.is_null(row)) {
      put32(out, -1);
      continue;
    }
    switch (col.type()) {
      case TypeId::kBool:
        put32(out, 1);
        out.push_back(col.int_at(row) != 0 ? 1 : 0);
        break;
      case TypeId::kInt64:
        put32(out, 8);
        put64(out, col.int_at(row));
        break;
      case TypeId::kFloat64: {
        const double d = col.double_at(row);
        int64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        put32(out, 8);
        put64(out, bits);
        break;
      }
      case TypeId::kTimestamp:
        put32(out, 8);
        put64(out, col.int_at(row) - kPgEpochMicros);
        break;
      case TypeId::kInterval:
        put32(out, 16);
        put64(out, col.int_at(row));  // microseconds
        put32(out, 0);                // days
        put32(out, 0);                // months
        break;
      case TypeId::kString: {
        const std::string_view s = col.string_at(row);
        if (s.size() > static_cast<size_t>(INT32_MAX)) {
          return invalid_argument("{}: a text value of {} bytes is larger than PostgreSQL takes", context, s.size());
        }
        put32(out, static_cast<int32_t>(s.size()));
        out.append(s);
        break;
      }
      case TypeId::kNull: put32(out, -1); break;
    }
  }
  return Status::ok();
}

// One connection to the target and everything that writes through it.
class PgTarget {
 public:
  explicit PgTarget(const PgSinkConfig& c) : c_(c) {}

  // Connects (a server that is briefly unavailable, restarting, is retried with backoff)
  // and checks the table.
  Status open(bool probe) {
    RETURN_IF_ERROR(retry(RetryPolicy{}, "connect", [&]() -> Status {
      auto conn = PgConnection::connect(c_.dsn, c_.password_env, c_.context);
      if (!conn.is_ok()) return conn.status();
      conn_ = std::move(conn).value();
      return Status::ok();
    }));
    return check_table(probe);
  }
  PgConnection& conn() { return *conn_; }
  bool direct_copy() const { return direct_copy_; }

  // Connects again if the connection was lost (staging tables die with the session).
  Status ensure_connected() {
    if (conn_->ok()) return Status::ok();
    staged_ = false;
    return conn_->reconnect();
  }

  Status begin() { return conn_->exec("BEGIN"); }
  // Runs DDL (CREATE TABLE IF NOT EXISTS) under a transaction-scoped advisory lock: the
  // IF NOT EXISTS check is not safe against a concurrent CREATE (two sinks of one job, or
  // several writers, creating the same table fail with a duplicate pg_type key).
  Status exec_ddl(const std::string& sql) {
    RETURN_IF_ERROR(begin());
    Status s = conn_->exec("SELECT pg_advisory_xact_lock(" + std::to_string(kDdlLockKey) + ")");
    if (s.is_ok()) s = conn_->exec(sql);
    if (!s.is_ok()) {
      rollback();
      return s;
    }
    return commit();
  }
  Status commit() { return conn_->exec("COMMIT"); }
  void rollback() {
    if (conn_->ok()) (void)conn_->exec("ROLLBACK");
  }

  // Applies `rows` inside the open PostgreSQL transaction.
  Status apply(const RecordBatch& rows) {
    if (rows.num_rows == 0) return Status::ok();
    if (!c_.upsert) {
      for (size_t r = 0; r < rows.num_rows; ++r) {
        if (rows.row_kind(r) != RowKind::kInsert) return append_only_error(rows.row_kind(r));
      }
      return insert_rows(rows, nullptr);
    }
    // Each key's last change: the row (+I/+U) or a delete (-D); -U is superseded by its +U.
    std::vector<uint32_t> upserts, deletes;
    if (c_.key_columns.empty()) {  // one global row: the last change wins
      for (size_t r = rows.num_rows; r-- > 0;) {
        const RowKind k = rows.row_kind(r);
        if (k == RowKind::kUpdateBefore) continue;
        RETURN_IF_ERROR(conn_->exec("DELETE FROM " + c_.quoted_table));
        if (k != RowKind::kDelete) upserts.push_back(static_cast<uint32_t>(r));
        break;
      }
      return upserts.empty() ? Status::ok() : insert_rows(rows, &upserts);
    }
    last_change_per_key(rows, c_.key_columns, upserts, deletes);
    RETURN_IF_ERROR(ensure_staging());
    // Keys compare with IS semantics (sink.h). Under a unique index that is NULLS DISTINCT
    // (PostgreSQL's default) ON CONFLICT never fires for a key with a NULL part, so every
    // update of that key added a row: such rows replace their key's rows explicitly, deleted
    // first (IS NOT DISTINCT FROM, which also removes duplicates left by an older sluice).
    if (nulls_distinct_) {
      for (uint32_t r : upserts) {
        if (null_key_column(rows, r, c_.key_columns) >= 0) deletes.push_back(r);
      }
    }
    if (!deletes.empty()) {
      RETURN_IF_ERROR(copy_rows("pg_temp._sluice_stage_keys", rows, &deletes, &c_.key_columns));
      std::string on;
      for (int k : c_.key_columns) {
        const std::string n = PgConnection::quote_ident(c_.schema->field(static_cast<size_t>(k)).name);
        on += std::string(on.empty() ? "" : " AND ") + "t." + n + " IS NOT DISTINCT FROM d." + n;
      }
      RETURN_IF_ERROR(conn_->exec("DELETE FROM " + c_.quoted_table + " AS t USING pg_temp._sluice_stage_keys AS d WHERE " +
                                  on));
    }
    if (!upserts.empty()) {
      RETURN_IF_ERROR(copy_rows("pg_temp._sluice_stage", rows, &upserts));
      std::string sql = "INSERT INTO " + c_.quoted_table + " (" + column_list(c_, c_.all_columns) + ") SELECT " +
                        column_list(c_, c_.all_columns) + " FROM pg_temp._sluice_stage ON CONFLICT (" +
                        column_list(c_, c_.key_columns) + ") DO ";
      if (c_.value_columns.empty()) {
        sql += "NOTHING";
      } else {
        sql += "UPDATE SET ";
        for (size_t i = 0; i < c_.value_columns.size(); ++i) {
          const std::string n =
              PgConnection::quote_ident(c_.schema->field(static_cast<size_t>(c_.value_columns[i])).name);
          sql += (i ? ", " : "") + n + " = EXCLUDED." + n;
        }
      }
      RETURN_IF_ERROR(conn_->exec(sql));
    }
    return clear_staging();
  }

  Status append_only_error(RowKind kind) const {
    return invalid_argument(
        "{}: postgres table '{}' is append-only but received a {} row; set primary_key to keep it up to date",
        c_.context, c_.table, row_kind_short_name(kind));
  }

 private:
  // Checks (or creates) the table: its columns exist, an upsert key has a unique index.
  Status check_table(bool probe) {
    ASSIGN_OR_RETURN(PgRows exists, conn_->query("SELECT to_regclass($1) IS NOT NULL", {c_.quoted_table}));
    const bool found = !exists.rows.empty() && exists.rows[0][0] == "t";
    if (!found) {
      if (!c_.create_table) {
        return invalid_argument(
            "{}: postgres table '{}' does not exist in {}; create it, or set create_table = 'true' to let sluice "
            "create it from the query's columns",
            c_.context, c_.table, conn_->describe());
      }
      if (probe) {  // the writer creates it; its columns are the query's
        direct_copy_ = true;
        return Status::ok();
      }
      RETURN_IF_ERROR(exec_ddl(create_sql()));
    }
    // Column types: binary COPY straight into the table only where every type matches.
    ASSIGN_OR_RETURN(PgRows cols,
                     conn_->query("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                                  "to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                                  {c_.quoted_table}));
    std::map<std::string, std::string> types;
    for (const auto& row : cols.rows) types[row[0]] = row[1];
    direct_copy_ = true;
    for (int i : c_.all_columns) {
      const Field& f = c_.schema->field(static_cast<size_t>(i));
      auto it = types.find(f.name);
      if (it == types.end()) {
        return invalid_argument("{}: postgres table '{}' has no column '{}' (it has: {})", c_.context, c_.table,
                                f.name, join_keys(types));
      }
      direct_copy_ = direct_copy_ && binary_compatible(f.type, it->second);
    }
    if (c_.upsert && !c_.key_columns.empty()) RETURN_IF_ERROR(check_unique_key());
    return Status::ok();
  }

  static std::string join_keys(const std::map<std::string, std::string>& m) {
    std::string out;
    for (const auto& [k, v] : m) out += (out.empty() ? "" : ", ") + k;
    return out;
  }

  // ON CONFLICT needs a unique index (or constraint) on exactly the key columns; whether it
  // is NULLS NOT DISTINCT decides how keys with a NULL part are upserted (apply()).
  // indnullsnotdistinct is read through to_jsonb: servers before PostgreSQL 15 lack it
  // (their unique indexes all treat NULLs as distinct).
  Status check_unique_key() {
    ASSIGN_OR_RETURN(PgRows idx, conn_->query("SELECT string_agg(a.attname, ',' ORDER BY a.attname), "
                                              "coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false) FROM "
                                              "pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum "
                                              "= ANY (i.indkey) WHERE i.indrelid = to_regclass($1) AND i.indisunique "
                                              "AND i.indpred IS NULL GROUP BY i.indexrelid",
                                              {c_.quoted_table}));
    std::vector<std::string> want;
    for (int k : c_.key_columns) want.push_back(c_.schema->field(static_cast<size_t>(k)).name);
    std::sort(want.begin(), want.end());
    std::string joined;
    for (const auto& w : want) joined += (joined.empty() ? "" : ",") + w;
    bool found = false;
    for (const auto& row : idx.rows) {
      if (row[0] != joined) continue;
      found = true;
      if (row[1] == "t") nulls_distinct_ = false;
    }
    if (found) return Status::ok();
    return invalid_argument(
        "{}: postgres table '{}' has no unique index or constraint on exactly ({}), which an upsert on primary_key "
        "needs (CREATE UNIQUE INDEX ... NULLS NOT DISTINCT ({}))",
        c_.context, c_.table, joined, joined);
  }

  std::string create_sql() const {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + c_.quoted_table + " (";
    for (size_t i = 0; i < c_.all_columns.size(); ++i) {
      const Field& f = c_.schema->field(static_cast<size_t>(c_.all_columns[i]));
      sql += (i ? ", " : "") + PgConnection::quote_ident(f.name) + " " + pg_type(f.type);
    }
    if (c_.upsert && !c_.key_columns.empty()) {
      // Not a PRIMARY KEY: group keys may be NULL, and NULLS NOT DISTINCT makes a NULL key
      // one key (PostgreSQL 15).
      sql += ", UNIQUE NULLS NOT DISTINCT (" + column_list(c_, c_.key_columns) + ")";
    }
    return sql + ")";
  }

  // Appends rows `which` (all when null): binary COPY straight into the table when its
  // column types take the binary values as they are, else through the staging table and an
  // INSERT ... SELECT (PostgreSQL's assignment casts: BIGINT into INTEGER, etc.).
  Status insert_rows(const RecordBatch& rows, const std::vector<uint32_t>* which) {
    if (direct_copy_) return copy_rows(c_.quoted_table, rows, which);
    RETURN_IF_ERROR(ensure_staging());
    RETURN_IF_ERROR(copy_rows("pg_temp._sluice_stage", rows, which));
    RETURN_IF_ERROR(conn_->exec("INSERT INTO " + c_.quoted_table + " (" + column_list(c_, c_.all_columns) +
                                ") SELECT " + column_list(c_, c_.all_columns) + " FROM pg_temp._sluice_stage"));
    return clear_staging();
  }

  // The staging tables are emptied at COMMIT (ON COMMIT DELETE ROWS); within one
  // transaction several applies (a commit of several checkpoints) empty them themselves.
  Status clear_staging() { return conn_->exec("TRUNCATE pg_temp._sluice_stage, pg_temp._sluice_stage_keys"); }

  // Temporary staging tables of this session, typed as the query's columns.
  Status ensure_staging() {
    if (staged_) return Status::ok();
    std::string cols, keys;
    for (int i : c_.all_columns) {
      const Field& f = c_.schema->field(static_cast<size_t>(i));
      cols += (cols.empty() ? "" : ", ") + PgConnection::quote_ident(f.name) + " " + pg_type(f.type);
    }
    for (int i : c_.key_columns) {
      const Field& f = c_.schema->field(static_cast<size_t>(i));
      keys += (keys.empty() ? "" : ", ") + PgConnection::quote_ident(f.name) + " " + pg_type(f.type);
    }
    if (keys.empty()) keys = "_unused BOOLEAN";
    RETURN_IF_ERROR(conn_->exec("CREATE TEMP TABLE IF NOT EXISTS _sluice_stage (" + cols +
                                ") ON COMMIT DELETE ROWS; CREATE TEMP TABLE IF NOT EXISTS _sluice_stage_keys (" + keys +
                                ") ON COMMIT DELETE ROWS"));
    staged_ = true;
    return Status::ok();
  }

  // COPY `target` (columns) FROM STDIN (FORMAT binary): the rows `which` (all when null) of
  // `rows`, columns `cols` (all when null).
  Status copy_rows(const std::string& target, const RecordBatch& rows, const std::vector<uint32_t>* which,
                   const std::vector<int>* cols = nullptr) {
    const std::vector<int>& columns = cols ? *cols : c_.all_columns;
    RETURN_IF_ERROR(
        conn_->copy_begin("COPY " + target + " (" + column_list(c_, columns) + ") FROM STDIN (FORMAT binary)"));
    buffer_.clear();
    copy_header(buffer_);
    Status s;
    const size_t n = which ? which->size() : rows.num_rows;
    for (size_t i = 0; i < n && s.is_ok(); ++i) {
      s = copy_row(buffer_, rows, which ? (*which)[i] : i, columns, c_.context);
      if (s.is_ok() && buffer_.size() >= kCopyChunkBytes) {
        s = conn_->copy_send(buffer_);
        buffer_.clear();
      }
    }
    if (s.is_ok()) {
      copy_trailer(buffer_);
      s = conn_->copy_send(buffer_);
    }
    Status end = conn_->copy_end();
    buffer_.clear();
    return s.is_ok() ? end : s;
  }

  const PgSinkConfig& c_;
  std::unique_ptr<PgConnection> conn_;
  bool direct_copy_ = false;
  bool staged_ = false;
  // The key's unique index treats NULLs as distinct (no NULLS NOT DISTINCT index on it).
  bool nulls_distinct_ = true;
  std::string buffer_;
};

// The PostgreSQL sink's TransactionTarget (transactional_sink.h).
class PostgresSinkTarget : public BufferedRowsTarget {
 public:
  explicit PostgresSinkTarget(PgSinkConfig config)
      : BufferedRowsTarget(config.schema, config.context), config_(std::move(config)), target_(config_) {}
  ~PostgresSinkTarget() override { (void)drain_applier(); }

  std::string describe() const override { return fmt::format("postgres table '{}'", config_.table); }

  Status open() override { return target_.open(/*probe=*/false); }

  // Plain: what was written is applied first. Transactional: rows not pre-committed are
  // dropped (the job writes them again after a restart).
  Status close() override { return flush(); }

  Status begin_transactions(const CommitKey& key) override {
    key_ = key;
    set_transactional();
    const std::string p = config_.quoted_schema_prefix;
    return target_.exec_ddl(
        "CREATE TABLE IF NOT EXISTS " + p +
        "_sluice_commits (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, table_name TEXT NOT NULL, checkpoint_id "
        "BIGINT NOT NULL, PRIMARY KEY (job_id, sink_id)); ALTER TABLE " +
        p +
        // Added later: the checkpoint directory a commit was made from (empty in older rows).
        "_sluice_commits ADD COLUMN IF NOT EXISTS checkpoint_dir TEXT NOT NULL DEFAULT ''; CREATE TABLE IF NOT "
        "EXISTS " +
        p +
        "_sluice_undo (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, checkpoint_id BIGINT NOT NULL, xid BIGINT, "
        "PRIMARY KEY (job_id, sink_id, checkpoint_id))");
  }

  // One PostgreSQL transaction: the transactions newer than the recorded checkpoint (and
  // than `skip_through`), their undo entries (append tables) and the record of `id`.
  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t recorded, recorded_id(key_, /*lock=*/true));
      if (recorded >= id) return Status::ok();  // committed before (a replayed commit)
      const bool undo = !config_.upsert;
      for (const auto& [tid, transaction] : transactions) {
        if (tid <= recorded || tid <= skip_through) continue;
        const auto& rows = static_cast<const BufferedRowsTransaction&>(*transaction).rows();
        RETURN_IF_ERROR(target_.apply(rows));
        if (undo) {
          ASSIGN_OR_RETURN(PgRows ignored,
                           target_.conn().query("INSERT INTO " + config_.quoted_schema_prefix +
                                                    "_sluice_undo VALUES ($1, $2, $3, txid_current() % 4294967296) ON "
                                                    "CONFLICT (job_id, sink_id, checkpoint_id) DO UPDATE SET xid = "
                                                    "EXCLUDED.xid",
                                                {key_.job_id, key_.sink_id, std::to_string(tid)}));
        }
      }
      if (undo) {
        ASSIGN_OR_RETURN(PgRows ignored,
                         target_.conn().query("DELETE FROM " + config_.quoted_schema_prefix +
                                                  "_sluice_undo WHERE job_id = $1 AND sink_id = $2 AND checkpoint_id "
                                                  "<= $3",
                                              {key_.job_id, key_.sink_id,
                                               std::to_string(static_cast<int64_t>(id) - kUndoRetention)}));
      }
      return record(id);
    });
  }

  Result<uint64_t> committed_id(const SinkIdentity&) override {
    RETURN_IF_ERROR(target_.ensure_connected());
    return recorded_id(key_, /*lock=*/false);
  }
  Result<uint64_t> foreign_committed_id(const CommitKey& other) override {
    RETURN_IF_ERROR(target_.ensure_connected());
    return recorded_id(other, /*lock=*/false);
  }

  // Upsert tables: replaying the changes after `id` ends with the same table, so only the
  // record moves back. Append tables: the rows of newer checkpoints are deleted by their
  // PostgreSQL transaction ids (xmin).
  Status roll_back(uint64_t id) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t recorded, recorded_id(key_, /*lock=*/true));
      if (recorded <= id) return Status::ok();
      if (!config_.upsert) {
        const std::string undo = config_.quoted_schema_prefix + "_sluice_undo";
        ASSIGN_OR_RETURN(PgRows entries,
                         target_.conn().query("SELECT checkpoint_id, xid FROM " + undo +
                                                  " WHERE job_id = $1 AND sink_id = $2 AND checkpoint_id > $3",
                                              {key_.job_id, key_.sink_id, std::to_string(id)}));
        // A checkpoint without an entry (pruned) cannot be rolled back: say so.
        if (entries.rows.size() < recorded - id) {
          log_warn("{}: postgres table '{}': some of the rows of checkpoints {}..{} cannot be rolled back (only the "
                   "newest {} checkpoints keep undo entries) and may appear twice",
                   config_.context, config_.table, id + 1, recorded, kUndoRetention);
        }
        // Transactions committed together share an xid: one at or below `id` keeps it.
        ASSIGN_OR_RETURN(PgRows deleted,
                         target_.conn().query(
                             "DELETE FROM " + config_.quoted_table + " WHERE xmin::text::bigint IN (SELECT xid FROM " +
                                 undo + " WHERE job_id = $1 AND sink_id = $2 AND checkpoint_id > $3 EXCEPT SELECT xid "
                                        "FROM " +
                                 undo + " WHERE job_id = $1 AND sink_id = $2 AND checkpoint_id <= $3)",
                             {key_.job_id, key_.sink_id, std::to_string(id)}));
        ASSIGN_OR_RETURN(PgRows forgotten,
                         target_.conn().query("DELETE FROM " + undo +
                                                  " WHERE job_id = $1 AND sink_id = $2 AND checkpoint_id > $3",
                                              {key_.job_id, key_.sink_id, std::to_string(id)}));
      }
      return record(id);
    });
  }

  bool replay_is_idempotent() const override { return config_.upsert; }

  void set_checkpoint_dir(const std::string& dir) override { checkpoint_dir_ = dir; }

  Result<std::vector<EarlierJobCommit>> commits_from_directory(const std::string& dir) override {
    RETURN_IF_ERROR(target_.ensure_connected());
    ASSIGN_OR_RETURN(PgRows rows,
                     target_.conn().query("SELECT job_id, sink_id, checkpoint_id FROM " + config_.quoted_schema_prefix +
                                              "_sluice_commits WHERE checkpoint_dir = $1 AND job_id <> $2 AND "
                                              "(sink_id = $3 OR table_name = $4) AND checkpoint_id > 0 ORDER BY "
                                              "job_id, sink_id",
                                          {dir, key_.job_id, key_.sink_id, config_.table}));
    std::vector<EarlierJobCommit> out;
    for (const auto& r : rows.rows) out.push_back({CommitKey{r[0], r[1]}, static_cast<uint64_t>(std::stoll(r[2]))});
    return out;
  }

  // The record and undo entries of `earlier` become this sink's, while it has none.
  Status adopt_records(const CommitKey& earlier) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t own, recorded_id(key_, /*lock=*/true));
      if (own > 0) return Status::ok();
      for (const char* table : {"_sluice_commits", "_sluice_undo"}) {
        ASSIGN_OR_RETURN(PgRows ignored, target_.conn().query("UPDATE " + config_.quoted_schema_prefix + table +
                                                                  " SET job_id = $1, sink_id = $2 WHERE job_id = $3 "
                                                                  "AND sink_id = $4",
                                                              {key_.job_id, key_.sink_id, earlier.job_id,
                                                               earlier.sink_id}));
      }
      return Status::ok();
    });
  }

  Status start_fresh(const SinkIdentity& identity) override {
    std::vector<std::string> others;
    RETURN_IF_ERROR(in_transaction([&]() -> Status {
      RETURN_IF_ERROR(record(0));
      if (!config_.upsert) {
        ASSIGN_OR_RETURN(PgRows ignored, target_.conn().query("DELETE FROM " + config_.quoted_schema_prefix +
                                                                  "_sluice_undo WHERE job_id = $1 AND sink_id = $2",
                                                              {key_.job_id, key_.sink_id}));
      }
      if (identity.new_job) {
        ASSIGN_OR_RETURN(PgRows rows, target_.conn().query("SELECT job_id FROM " + config_.quoted_schema_prefix +
                                                               "_sluice_commits WHERE table_name = $1 AND job_id <> "
                                                               "$2 AND checkpoint_id > 0",
                                                           {config_.table, key_.job_id}));
        for (const auto& r : rows.rows) others.push_back(r[0]);
      }
      return Status::ok();
    }));
    if (!others.empty()) {
      std::string list;
      for (const auto& o : others) list += (list.empty() ? "" : ", ") + o;
      log_warn("{}: postgres table '{}' also holds rows committed by other jobs ({}); fine when several jobs load it, "
               "but if one of them was this job before its checkpoint directory was deleted, stop now: this run "
               "writes its rows again",
               config_.context, config_.table, list);
    }
    return Status::ok();
  }

 private:
  // Plain mode, on the applier thread: one PostgreSQL transaction, retried (after
  // reconnecting) while the connection is lost.
  Status apply_plain(const RecordBatch& rows) override {
    return retry(retry_, "apply", [&] { return in_transaction([&] { return target_.apply(rows); }); });
  }
  Status check_rows(const RecordBatch& batch) override {
    for (size_t r = 0; r < batch.num_rows && !config_.upsert; ++r) {
      if (batch.row_kind(r) != RowKind::kInsert) return target_.append_only_error(batch.row_kind(r));
    }
    return Status::ok();
  }

  // Runs `body` in one PostgreSQL transaction (reconnecting first if the connection was
  // lost); rolls back on an error.
  Status in_transaction(const std::function<Status()>& body) {
    RETURN_IF_ERROR(target_.ensure_connected());
    RETURN_IF_ERROR(target_.begin());
    Status s = body();
    if (!s.is_ok()) {
      target_.rollback();
      return s;
    }
    return target_.commit();
  }

  Result<uint64_t> recorded_id(const CommitKey& key, bool lock) {
    ASSIGN_OR_RETURN(PgRows rows, target_.conn().query("SELECT checkpoint_id FROM " + config_.quoted_schema_prefix +
                                                           "_sluice_commits WHERE job_id = $1 AND sink_id = $2" +
                                                           (lock ? " FOR UPDATE" : ""),
                                                       {key.job_id, key.sink_id}));
    if (rows.rows.empty()) return uint64_t{0};
    return static_cast<uint64_t>(std::stoll(rows.rows[0][0]));
  }

  Status record(uint64_t id) {
    ASSIGN_OR_RETURN(PgRows ignored,
                     target_.conn().query("INSERT INTO " + config_.quoted_schema_prefix +
                                              "_sluice_commits (job_id, sink_id, table_name, checkpoint_id, "
                                              "checkpoint_dir) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id, "
                                              "sink_id) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, "
                                              "table_name = EXCLUDED.table_name, checkpoint_dir = "
                                              "EXCLUDED.checkpoint_dir",
                                          {key_.job_id, key_.sink_id, config_.table, std::to_string(id),
                                           checkpoint_dir_}));
    return Status::ok();
  }

  PgSinkConfig config_;
  PgTarget target_;
  CommitKey key_;
  std::string checkpoint_dir_;  // set_checkpoint_dir(): recorded with each commit
  RetryPolicy retry_{};
};

class PostgresSinkFactory : public SinkFactory {
 public:
  explicit PostgresSinkFactory(PgSinkConfig config) : config_(std::move(config)) {}

  // Exactly-once with checkpoints; each writer its own connection and commit record.
  SinkCapabilities capabilities() const override { return config_.capabilities(*config_.schema); }

  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(
        std::make_unique<TransactionalSinkWriter>(std::make_unique<PostgresSinkTarget>(config_), config_.context));
  }

  std::string describe() const override {
    return fmt::format("postgres table {} ({})", config_.table, config_.describe(*config_.schema));
  }

 private:
  PgSinkConfig config_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_postgres_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  PgSinkConfig c;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.dsn, o.require_string("dsn"));
  c.table = o.get_string("table", spec.table);
  if (c.table.empty()) return invalid_argument("{}: option 'table' must not be empty", c.context);
  const size_t dot = c.table.find('.');
  const std::string bare = dot == std::string::npos ? c.table : c.table.substr(dot + 1);
  if (bare.empty() || (dot != std::string::npos && dot == 0) || bare.find('.') != std::string::npos) {
    return invalid_argument("{}: option 'table' = '{}' is not a table name or schema.table", c.context, c.table);
  }
  if (bare.size() >= 8 && iequals(std::string_view(bare).substr(0, 8), "_sluice_")) {
    return invalid_argument("{}: postgres table name '{}' is reserved: names beginning with '_sluice_' hold sluice's "
                            "own bookkeeping (commit records); choose another name",
                            c.context, c.table);
  }
  c.quoted_table = PgConnection::quote_qualified(c.table);
  c.quoted_schema_prefix = dot == std::string::npos ? "" : PgConnection::quote_ident(c.table.substr(0, dot)) + ".";
  c.password_env = o.get_string("password_env", "");
  ASSIGN_OR_RETURN(c.create_table, o.get_bool("create_table", false));
  ASSIGN_OR_RETURN(static_cast<TableKey&>(c), read_table_key(o, *c.schema, c.context));
  RETURN_IF_ERROR(o.check_all_used());
  // The server and the table are checked now (reachable, columns, key index), not when the
  // job runs.
  {
    PgTarget probe(c);
    RETURN_IF_ERROR(probe.open(/*probe=*/true));
  }
  return std::unique_ptr<SinkFactory>(std::make_unique<PostgresSinkFactory>(std::move(c)));
}

}  // namespace sluice
