// The sqlite connector's lookup reader (connectors/lookup.h): `SELECT <declared columns>
// FROM <table>` on a read-only connection opened for each read, so a refresh sees what other
// writers committed since. Values convert as the JSON decoder converts text (TIMESTAMP:
// ISO-8601 text as the sqlite sink writes it, or an integer of microseconds).
#include "connectors/sqlite/sqlite_lookup.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include "formats/field_convert.h"

namespace sluice {
namespace {

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class SqliteLookupReader : public LookupReader {
 public:
  SqliteLookupReader(LookupSpec spec, std::string path, std::string table)
      : spec_(std::move(spec)), path_(std::move(path)), table_(std::move(table)) {}

  Result<MutableBatchPtr> read_all() override {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      std::string err = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      return unavailable("{}: cannot open {}: {}", spec_.options.context(), path_, err);
    }
    sqlite3_busy_timeout(db, 5000);
    std::string sql = "SELECT ";
    for (size_t i = 0; i < spec_.schema->size(); ++i) {
      sql += (i ? ", " : "") + quote_ident(spec_.schema->field(i).name);
    }
    sql += " FROM " + quote_ident(table_);
    sqlite3_stmt* stmt = nullptr;
    auto fail = [&](const std::string& what) -> Status {
      Status s = unavailable("{}: {} {}: {}", spec_.options.context(), what, path_, sqlite3_errmsg(db));
      sqlite3_finalize(stmt);
      sqlite3_close(db);
      return s;
    };
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return fail("cannot read table " + table_ + " of");
    auto out = make_batch(spec_.schema);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (size_t c = 0; c < spec_.schema->size(); ++c) {
        Column& col = out->columns[c];
        const int i = static_cast<int>(c);
        const int type = sqlite3_column_type(stmt, i);
        if (type == SQLITE_NULL) {
          col.append_null();
          continue;
        }
        const TypeId want = spec_.schema->field(c).type;
        if (type == SQLITE_INTEGER && want != TypeId::kString && want != TypeId::kFloat64) {
          col.append_int(sqlite3_column_int64(stmt, i));
          continue;
        }
        if (type == SQLITE_FLOAT && want == TypeId::kFloat64) {
          col.append_double(sqlite3_column_double(stmt, i));
          continue;
        }
        const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        const std::string_view value(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
        if (formats_internal::append_text(col, value, 1) != formats_internal::Conv::kOk) {
          Status s = invalid_argument("{}: row {} of {}: column {} holds '{}', not a {}", spec_.options.context(),
                                      out->num_rows + 1, table_, spec_.schema->field(c).name, value, type_name(want));
          sqlite3_finalize(stmt);
          sqlite3_close(db);
          return s;
        }
      }
      out->num_rows++;
    }
    if (rc != SQLITE_DONE) return fail("cannot read table " + table_ + " of");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  std::string describe() const override { return fmt::format("sqlite {} table {}", path_, table_); }

 private:
  LookupSpec spec_;
  std::string path_;
  std::string table_;
};

}  // namespace

Result<std::unique_ptr<LookupReader>> make_sqlite_lookup_reader(const LookupSpec& spec) {
  ASSIGN_OR_RETURN(std::string path, spec.options.require_string("path"));
  std::string table = spec.options.get_string("table", spec.table);
  spec.options.mark_used("primary_key");  // the sink's upsert key; a lookup uses the declared PRIMARY KEY
  return std::unique_ptr<LookupReader>(std::make_unique<SqliteLookupReader>(spec, path, table));
}

}  // namespace sluice
