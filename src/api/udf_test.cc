// Scalar UDFs: registered from C++, called from SQL and from the expression DSL.
// Function names are unique per test: the registry is global to the process.
#include "sluice/udf.h"

#include <gtest/gtest.h>

#include <chrono>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"
#include "sql/compiler.h"

namespace sluice::api {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

std::string page_category(std::string_view page) {
  if (page.rfind("/product/", 0) == 0) return "product";
  if (page == "/cart") return "checkout";
  return "browse";
}

Result<Value> evaluate(const std::string& function, std::vector<ExprPtr> args) {
  ASSIGN_OR_RETURN(ExprPtr call, make_call(function, std::move(args)));
  return evaluate_constant(call);
}

TEST(ScalarUdf, ARowLambdaIsCallableFromSql) {
  ASSERT_TRUE(register_scalar_function("udf_test_category", page_category).is_ok());
  TempDir dir;
  testing::write_file(dir.file("clicks.jsonl"), testing::clicks_jsonl(200, 1));
  std::string sql = testing::replace_all(R"(
    CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE PRECISION)
      WITH (connector = 'file', path = '{DIR}/clicks.jsonl', format = 'json', dlq = '{DIR}/dlq.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.csv', format = 'csv');
    INSERT INTO out SELECT page, UDF_TEST_CATEGORY(page) AS category FROM clicks WHERE page IN ('/cart', '/product/1', '/home');
  )", "{DIR}", dir.path());
  auto job = compile_sql(sql, "udf.sql");
  ASSERT_TRUE(job.is_ok()) << job.status().message();
  ASSERT_TRUE(testing::run_logical_job(job.value(), 1, 4096).is_ok());
  std::string out = testing::read_file(dir.file("out.csv"));
  EXPECT_NE(out.find("/cart,checkout\n"), std::string::npos) << out;
  EXPECT_NE(out.find("/product/1,product\n"), std::string::npos) << out;
  EXPECT_NE(out.find("/home,browse\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("/search"), std::string::npos) << out;
}

TEST(ScalarUdf, ABatchKernelIsCallableFromTheExpressionDsl) {
  Status s = register_scalar_function(
      "udf_test_twice", {TypeId::kInt64}, TypeId::kInt64,
      [](const Column* const* args, size_t, size_t rows, Column& out) {
        for (size_t r = 0; r < rows; ++r) {
          if (args[0]->is_null(r)) {
            out.append_null();
          } else {
            out.append_int(args[0]->int_at(r) * 2);
          }
        }
      });
  ASSERT_TRUE(s.is_ok()) << s.message();
  TempDir dir;
  testing::write_file(dir.file("in.jsonl"), "{\"x\": 1}\n{\"x\": null}\n{\"x\": 21}\n");
  Pipeline p;
  p.source("numbers", {field("x", TypeId::kInt64)},
           {{"connector", "file"}, {"path", dir.file("in.jsonl")}, {"dlq", dir.file("dlq.jsonl")}})
      .select(call("udf_test_twice", col("x")).as("y"))
      .to(p.sink("out", {{"connector", "file"}, {"path", dir.file("out.jsonl")}}));
  auto r = p.run();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(testing::read_file(dir.file("out.jsonl")), "{\"y\":2}\n{\"y\":null}\n{\"y\":42}\n");
}

TEST(ScalarUdf, NullArgumentsGiveNullUnlessTheFunctionTakesOptionals) {
  ASSERT_TRUE(register_scalar_function("udf_test_plus_one", [](int64_t x) { return x + 1; }).is_ok());
  ASSERT_TRUE(register_scalar_function("udf_test_or_zero",
                                       [](std::optional<int64_t> x) -> int64_t { return x.value_or(0); })
                  .is_ok());
  auto null_arg = [] { return std::vector<ExprPtr>{make_literal(Value::null(TypeId::kInt64))}; };
  auto a = evaluate("udf_test_plus_one", null_arg());
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_TRUE(a.value().is_null);
  auto b = evaluate("udf_test_or_zero", null_arg());
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b.value().to_string(), "0");
}

TEST(ScalarUdf, ReturningNulloptGivesNull) {
  ASSERT_TRUE(register_scalar_function("udf_test_positive",
                                       [](double x) -> std::optional<double> {
                                         if (x > 0) return x;
                                         return std::nullopt;
                                       })
                  .is_ok());
  auto neg = evaluate("udf_test_positive", {make_literal(Value::float64(-1))});
  ASSERT_TRUE(neg.is_ok());
  EXPECT_TRUE(neg.value().is_null);
  // BIGINT arguments are converted to DOUBLE, like for built-ins.
  auto pos = evaluate("udf_test_positive", {make_literal(Value::int64(3))});
  ASSERT_TRUE(pos.is_ok()) << pos.status().message();
  EXPECT_EQ(pos.value().d, 3.0);
}

TEST(ScalarUdf, TimestampsAndIntervalsKeepTheirTypes) {
  ASSERT_TRUE(register_scalar_function("udf_test_later",
                                       [](Timestamp t, Interval by) { return Timestamp{t.micros + by.micros}; })
                  .is_ok());
  auto r = evaluate("udf_test_later", {make_literal(Value::timestamp(0)), make_literal(Value::interval(kMicrosPerSecond))});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r.value().type, TypeId::kTimestamp);
  EXPECT_EQ(r.value().i, kMicrosPerSecond);
}

TEST(ScalarUdf, OverloadsAreChosenByArgumentTypes) {
  ASSERT_TRUE(register_scalar_function("udf_test_describe", [](int64_t) { return std::string("number"); }).is_ok());
  ASSERT_TRUE(register_scalar_function("udf_test_describe", [](std::string_view) { return std::string("text"); }).is_ok());
  EXPECT_EQ(evaluate("udf_test_describe", {make_literal(Value::int64(1))}).value().s, "number");
  EXPECT_EQ(evaluate("udf_test_describe", {make_literal(Value::string("x"))}).value().s, "text");
}

TEST(ScalarUdf, UsableInKeysAtAnyParallelism) {
  ASSERT_TRUE(register_scalar_function("udf_test_category2", page_category).is_ok());
  TempDir dir;
  testing::write_file(dir.file("clicks.jsonl"), testing::clicks_jsonl(2000, 9));
  Pipeline p;
  p.source("clicks",
           {field("user_id", TypeId::kInt64), field("page", TypeId::kString), field("ts", TypeId::kTimestamp),
            field("amount", TypeId::kFloat64)},
           {{"connector", "file"}, {"path", dir.file("clicks.jsonl")}, {"event_time", "ts"},
            {"dlq", dir.file("dlq.jsonl")}, {"late_output", dir.file("late.jsonl")}})
      .tumble("ts", 1min)
      .key_by(call("udf_test_category2", col("page")).as("category"))
      .aggregate(count().as("n"))
      .to(p.sink("out", {{"connector", "file"}, {"path", dir.file("out.jsonl")}}));
  ASSERT_TRUE(p.run({1, 0}).is_ok());
  std::string one = testing::read_file(dir.file("out.jsonl"));
  EXPECT_NE(one.find("\"category\":\"product\""), std::string::npos) << one;
  std::filesystem::remove(dir.file("out.jsonl"));
  ASSERT_TRUE(p.run({4, 100}).is_ok());
  EXPECT_EQ(testing::read_file(dir.file("out.jsonl")), one);
}

TEST(ScalarUdfMisuse, ASignatureCanBeRegisteredOnce) {
  ASSERT_TRUE(register_scalar_function("udf_test_once", [](int64_t x) { return x; }).is_ok());
  Status s = register_scalar_function("UDF_TEST_ONCE", [](int64_t x) { return x * 2; });
  EXPECT_EQ(s.message(),
            "register_scalar_function(udf_test_once(BIGINT) -> BIGINT): function udf_test_once(BIGINT) -> BIGINT "
            "already exists");
  Status builtin = register_scalar_function("lower", [](std::string_view s) { return std::string(s); });
  EXPECT_NE(builtin.message().find("function lower(TEXT) -> TEXT already exists"), std::string::npos)
      << builtin.message();
}

TEST(ScalarUdfMisuse, NamesMustBeIdentifiersAndNotSqlConstructs) {
  EXPECT_NE(register_scalar_function("2fast", [](int64_t x) { return x; }).message().find("not a valid function name"),
            std::string::npos);
  EXPECT_NE(register_scalar_function("my-func", [](int64_t x) { return x; }).message().find("not a valid function name"),
            std::string::npos);
  EXPECT_NE(register_scalar_function("count", [](int64_t x) { return x; }).message().find("cannot be redefined"),
            std::string::npos);
  EXPECT_NE(register_scalar_function("udf_test_nokernel", {TypeId::kInt64}, TypeId::kInt64, nullptr).message().find(
                "no kernel"),
            std::string::npos);
}

TEST(ScalarUdfMisuse, WrongArgumentTypesInSqlNameTheCandidates) {
  ASSERT_TRUE(register_scalar_function("udf_test_typed", [](int64_t x) { return x; }).is_ok());
  auto job = compile_sql(R"(CREATE TABLE t (s TEXT) WITH (connector = 'stdin');
CREATE TABLE o () WITH (connector = 'console');
INSERT INTO o SELECT udf_test_typed(s) FROM t;)",
                         "bad.sql");
  ASSERT_FALSE(job.is_ok());
  EXPECT_EQ(job.status().message(),
            "bad.sql:3:22: function udf_test_typed(TEXT) does not exist; candidates: udf_test_typed(BIGINT)");
}

// Compile-time checks of the row adapter's types.
static_assert(udf_internal::ParameterBase<int64_t> && udf_internal::ParameterBase<std::string_view>);
static_assert(!udf_internal::ParameterBase<int> && !udf_internal::ParameterBase<std::string>,
              "parameters are int64_t and std::string_view, so no value is silently narrowed or copied");
static_assert(udf_internal::ReturnBase<int> && udf_internal::ReturnBase<std::string>);
static_assert(!udf_internal::ReturnBase<const char*>, "a returned pointer could dangle");

}  // namespace
}  // namespace sluice::api
