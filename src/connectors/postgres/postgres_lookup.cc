// SELECT of the declared columns (TIMESTAMP and INTERVAL as microseconds, so the server's
// DateStyle and time zone do not matter) on one connection kept between reads; a lost
// connection is opened again at the next read.
#include "connectors/postgres/postgres_lookup.h"

#include <fmt/format.h>

#include "connectors/postgres/pg_connection.h"
#include "formats/field_convert.h"

namespace sluice {
namespace {

class PostgresLookupReader : public LookupReader {
 public:
  PostgresLookupReader(LookupSpec spec, std::string dsn, std::string password_env, std::string table)
      : spec_(std::move(spec)), dsn_(std::move(dsn)), password_env_(std::move(password_env)), table_(std::move(table)) {
    sql_ = "SELECT ";
    for (size_t i = 0; i < spec_.schema->size(); ++i) {
      const Field& f = spec_.schema->field(i);
      const std::string col = PgConnection::quote_ident(f.name);
      sql_ += i ? ", " : "";
      if (f.type == TypeId::kTimestamp || f.type == TypeId::kInterval) {
        sql_ += fmt::format("(extract(epoch from {}) * 1000000)::bigint", col);
      } else {
        sql_ += col;
      }
    }
    sql_ += " FROM " + PgConnection::quote_qualified(table_);
  }

  Result<MutableBatchPtr> read_all() override {
    if (!conn_ || !conn_->ok()) {
      conn_.reset();
      ASSIGN_OR_RETURN(conn_, PgConnection::connect(dsn_, password_env_, spec_.options.context()));
    }
    auto out = make_batch(spec_.schema);
    Status s = conn_->query_result(sql_, [&](const PGresult* res) -> Status {
      const int rows = PQntuples(res);
      for (int r = 0; r < rows; ++r) {
        for (size_t c = 0; c < spec_.schema->size(); ++c) {
          const int i = static_cast<int>(c);
          Column& col = out->columns[c];
          if (PQgetisnull(res, r, i)) {
            col.append_null();
            continue;
          }
          const std::string_view value(PQgetvalue(res, r, i), static_cast<size_t>(PQgetlength(res, r, i)));
          if (formats_internal::append_text(col, value, 1) != formats_internal::Conv::kOk) {
            return invalid_argument("{}: row {} of {}: column {} holds '{}', not a {}", spec_.options.context(), r + 1,
                                    table_, spec_.schema->field(c).name, value,
                                    type_name(spec_.schema->field(c).type));
          }
        }
        out->num_rows++;
      }
      return Status::ok();
    });
    if (!s.is_ok()) {
      if (s.code() == StatusCode::kUnavailable) conn_.reset();
      return s;
    }
    return out;
  }

  std::string describe() const override { return fmt::format("postgres table {}", table_); }

 private:
  LookupSpec spec_;
  std::string dsn_;
  std::string password_env_;
  std::string table_;
  std::string sql_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<LookupReader>> make_postgres_lookup_reader(const LookupSpec& spec) {
  ASSIGN_OR_RETURN(std::string dsn, spec.options.require_string("dsn"));
  std::string password_env = spec.options.get_string("password_env", "");
  std::string table = spec.options.get_string("table", spec.table);
  spec.options.mark_used("primary_key");   // the sink's upsert key; a lookup uses the declared PRIMARY KEY
  spec.options.mark_used("create_table");  // a sink's option: a lookup table must exist
  return std::unique_ptr<LookupReader>(std::make_unique<PostgresLookupReader>(spec, dsn, password_env, table));
}

}  // namespace sluice
