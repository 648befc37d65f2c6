// The C++ API in one program (docs/cpp-api.md):
//
//  1. a builder pipeline: clicks per page per minute from the generator into SQLite;
//  2. a process function with keyed state and event-time timers: alert on users who view
//     more than 60 pages in one minute, into SQLite;
//  3. a scalar UDF registered in C++ and called from a SQL job in the same program.
//
// Usage: cpp_pipeline_example [OUTPUT_DIR]   (default: the current directory)
// Writes OUTPUT_DIR/cpp_pipeline.db and prints what each table holds. Deterministic: the
// generator is seeded, and the output is the same at any parallelism.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "sluice/pipeline.h"
#include "sluice/udf.h"

using namespace sluice::api;  // NOLINT: the whole API is in this namespace
using namespace std::chrono_literals;

namespace {

constexpr Micros kMinute = kMicrosPerMinute;

// --- 2. A process function -----------------------------------------------------------------
//
// Counts each user's page views per minute in keyed state (a map minute -> views, so rows
// arriving out of order within the watermark delay still count) and sets a timer for the
// end of each minute. When the watermark passes it, the minute is complete: a user with
// more than `threshold` views gets an alert row, and the minute's count is dropped.
class ViewBurstAlert : public ProcessFunction<ViewBurstAlert> {
 public:
  explicit ViewBurstAlert(int64_t threshold) : threshold_(threshold) {}

  std::string name() const override { return "view_burst_alert"; }

  Result<std::vector<Field>> output_columns(const Schema&) const override {
    return std::vector<Field>{field("user_id", TypeId::kInt64), field("minute", TypeId::kTimestamp),
                              field("views", TypeId::kInt64)};
  }

  Status process_element(const RowView&, ProcessContext& ctx) override {
    Micros minute = sluice::floor_div(*ctx.timestamp(), kMinute) * kMinute;
    // Too late: that minute's timer may have fired already.
    if (minute + kMinute <= ctx.current_watermark()) return Status::ok();
    auto& views = ctx.state<std::map<Micros, int64_t>>("views").get_or_create();
    if (views[minute]++ == 0) ctx.register_event_time_timer(minute + kMinute);
    return Status::ok();
  }

  Status on_timer(Micros timestamp, ProcessContext& ctx) override {
    auto state = ctx.state<std::map<Micros, int64_t>>("views");
    auto& views = state.get_or_create();
    auto it = views.find(timestamp - kMinute);
    if (it == views.end()) return Status::ok();
    Status s = Status::ok();
    if (it->second > threshold_) s = ctx.emit(ctx.key().get<int64_t>(0), Timestamp{it->first}, it->second);
    views.erase(it);
    if (views.empty()) state.clear();
    return s;
  }

 private:
  int64_t threshold_;
};

// --- 3. A scalar UDF -------------------------------------------------------------------------

std::string page_category(std::string_view page) {
  if (page.rfind("/product/", 0) == 0) return "product";
  if (page == "/cart" || page == "/checkout") return "checkout";
  if (page == "/health") return "monitoring";
  return "browse";
}

// The clickstream every part reads: 10 minutes of generated events.
TableOptions generator_options(const std::string& dir) {
  return {{"connector", "generator"}, {"seed", "42"}, {"events", "60000"}, {"users", "200"}, {"pages", "20"},
          {"out_of_order", "0.05"}, {"max_out_of_orderness", "5 seconds"}, {"event_time", "ts"},
          {"watermark_delay", "5 seconds"}, {"dlq", dir + "/clicks.dlq.jsonl"},
          {"late_output", dir + "/clicks.late.jsonl"}};
}

std::string query(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(db_path.c_str(), &db) == SQLITE_OK) {
    auto row = [](void* acc, int n, char** values, char**) -> int {
      auto* s = static_cast<std::string*>(acc);
      for (int i = 0; i < n; ++i) *s += std::string(values[i] ? values[i] : "NULL") + (i + 1 < n ? " | " : "\n");
      return 0;
    };
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), row, &out, &error) != SQLITE_OK) {
      out = std::string("sqlite error: ") + (error ? error : "?") + "\n";
      sqlite3_free(error);
    }
  }
  sqlite3_close(db);
  return out;
}

int fail(const Status& s) {
  std::fprintf(stderr, "cpp_pipeline: error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/cpp_pipeline.db";
  std::filesystem::remove(db);

  // --- 1 and 2: one builder pipeline, two sinks -------------------------------------------
  Pipeline p;
  Stream clicks = p.source("clicks",
                           {field("user_id", TypeId::kInt64), field("page", TypeId::kString),
                            field("event_type", TypeId::kString), field("ts", TypeId::kTimestamp)},
                           generator_options(dir));
  Table page_minutes = p.sink("page_minutes", {{"connector", "sqlite"},
                                               {"path", db},
                                               {"table", "page_minutes"},
                                               {"primary_key", "window_start,page"}});
  Table alerts = p.sink("alerts", {{"connector", "sqlite"}, {"path", db}, {"table", "alerts"}});

  // INSERT INTO page_minutes SELECT window_start, window_end, page, COUNT(*) AS clicks,
  //   COUNT(DISTINCT user_id) AS users FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
  // WHERE page <> '/health' GROUP BY window_start, window_end, page
  clicks.filter(col("page") != "/health")
      .tumble("ts", 1min)
      .key_by("page")
      .aggregate(count().as("clicks"), count_distinct("user_id").as("users"))
      .to(page_minutes);

  clicks.filter(col("event_type") == "view")
      .key_by("user_id")
      .process(std::make_unique<ViewBurstAlert>(/*threshold=*/60))
      .to(alerts);

  RunOptions options;
  options.parallelism = 2;
  auto plan = p.explain(options);
  if (!plan.is_ok()) return fail(plan.status());
  std::printf("%s", plan.value().c_str());
  auto run = p.run(options);
  if (!run.is_ok()) return fail(run.status());
  std::printf("cpp_pipeline: builder pipeline read %llu records\n",
              static_cast<unsigned long long>(run.value().records_in));

  // --- 3: a C++ function called from SQL ------------------------------------------------------
  Status registered = register_scalar_function("page_category", page_category);
  if (!registered.is_ok()) return fail(registered);
  std::string sql = R"(
    CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
      WITH (connector = 'generator', seed = '42', events = '60000', users = '200', pages = '20',
            out_of_order = '0.05', max_out_of_orderness = '5 seconds',
            event_time = 'ts', watermark_delay = '5 seconds',
            dlq = ')" + dir + R"(/sql.dlq.jsonl', late_output = ')" + dir + R"(/sql.late.jsonl');
    CREATE TABLE category_minutes (window_start TIMESTAMP, category TEXT, views BIGINT)
      WITH (connector = 'sqlite', path = ')" + db + R"(', primary_key = 'window_start,category');
    INSERT INTO category_minutes
    SELECT window_start, page_category(page) AS category, COUNT(*) AS views
    FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
    GROUP BY window_start, window_end, page_category(page);
  )";
  auto sql_run = run_sql(sql, options, "categories.sql");
  if (!sql_run.is_ok()) return fail(sql_run.status());

  // --- What landed in SQLite --------------------------------------------------------------
  std::string page_rows = query(db, "SELECT COUNT(*) FROM page_minutes");
  std::string alert_rows = query(db, "SELECT COUNT(*) FROM alerts");
  std::string category_rows = query(db, "SELECT COUNT(*) FROM category_minutes");
  std::printf("cpp_pipeline: page_minutes rows: %s", page_rows.c_str());
  std::printf("%s", query(db, "SELECT window_start, page, clicks, users FROM page_minutes "
                              "ORDER BY clicks DESC, window_start, page LIMIT 3")
                        .c_str());
  std::printf("cpp_pipeline: alerts rows: %s", alert_rows.c_str());
  std::printf("%s", query(db, "SELECT user_id, minute, views FROM alerts ORDER BY views DESC, minute, user_id LIMIT 3")
                        .c_str());
  std::printf("cpp_pipeline: category_minutes rows: %s", category_rows.c_str());
  std::printf("%s", query(db, "SELECT category, SUM(views) FROM category_minutes GROUP BY category ORDER BY category")
                        .c_str());

  // The parts agree: every non-/health click counted per page is counted per category.
  std::string per_page = query(db, "SELECT SUM(clicks) FROM page_minutes");
  std::string per_category = query(db, "SELECT SUM(views) FROM category_minutes WHERE category <> 'monitoring'");
  if (page_rows == "0\n" || alert_rows == "0\n" || category_rows == "0\n" || per_page != per_category) {
    std::fprintf(stderr, "cpp_pipeline: unexpected results (clicks per page %s, per category %s)\n",
                 per_page.c_str(), per_category.c_str());
    return 1;
  }
  std::printf("cpp_pipeline: OK\n");
  return 0;
}
