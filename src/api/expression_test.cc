// The expression DSL: how it renders, and that each DSL expression binds to exactly the
// expression the SQL binder makes of the same SQL text.
#include "sluice/expression.h"

#include <gtest/gtest.h>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"
#include "sql/compiler.h"

namespace sluice::api {
namespace {

TEST(Expression, RendersLikeSql) {
  EXPECT_EQ((col("price") * 2 > lit(10)).to_string(), "((price * 2) > 10)");
  EXPECT_EQ((col("page") != "/health" && !is_null(col("user_id"))).to_string(),
            "((page <> '/health') AND (NOT (user_id IS NULL)))");
  EXPECT_EQ(call("lower", col("page")).as("p").to_string(), "lower(page) AS p");
  EXPECT_EQ(cast(col("x"), TypeId::kFloat64).to_string(), "CAST(x AS DOUBLE)");
  EXPECT_EQ(in_list(col("x"), {lit(1), lit(2)}).to_string(), "(x IN (1, 2))");
  EXPECT_EQ(case_when({{col("a") > 1, lit("big")}}, lit("small")).to_string(), "CASE WHEN (a > 1) THEN 'big' ELSE 'small' END");
  EXPECT_EQ(Expression().to_string(), "NULL");
}

TEST(Expression, CppValuesBecomeTypedLiterals) {
  EXPECT_EQ(lit(5).to_string(), "5");
  EXPECT_EQ(lit(int64_t{-3}).to_string(), "-3");
  EXPECT_EQ(lit(2.5).to_string(), "2.5");
  EXPECT_EQ(lit(true).to_string(), "TRUE");
  EXPECT_EQ(lit(std::string("it's")).to_string(), "'it''s'");
}

class ExpressionBinding : public ::testing::Test {
 protected:
  // The plan of `SELECT <e> AS x FROM t`, as the builder makes it.
  std::string plan_of(const Expression& e) {
    Pipeline p;
    p.source("t",
             {field("a", TypeId::kInt64), field("b", TypeId::kFloat64), field("s", TypeId::kString),
              field("ts", TypeId::kTimestamp), field("flag", TypeId::kBool)},
             {{"connector", "stdin"}})
        .select(e.as("x"))
        .to(p.sink("o", {{"connector", "console"}}));
    auto job = p.build();
    if (!job.is_ok()) return "error: " + job.status().message();
    return testing::dump_job(job.value());
  }
};

// Pairs of a DSL expression and the SQL it stands for.
struct Pair {
  Expression dsl;
  std::string sql;
};

TEST_F(ExpressionBinding, EveryFormBindsLikeItsSql) {
  std::vector<Pair> pairs = {
      {col("a") + 1, "a + 1"},
      {col("a") * 2 > lit(10), "a * 2 > 10"},
      {col("b") / col("a") - 0.5, "b / a - 0.5"},
      {col("a") % 3 == 0, "a % 3 = 0"},
      {-col("a"), "-a"},
      {col("s") != "x", "s <> 'x'"},
      {col("s") <= "m" || col("flag"), "s <= 'm' OR flag"},
      {col("a") > 1 && col("b") < 2 && col("flag"), "a > 1 AND b < 2 AND flag"},
      {!col("flag"), "NOT flag"},
      {is_null(col("s")), "s IS NULL"},
      {is_not_null(col("b")), "b IS NOT NULL"},
      {call("upper", col("s")), "upper(s)"},
      {call("date_trunc", "minute", col("ts")), "date_trunc('minute', ts)"},
      {concat(col("s"), "!"), "s || '!'"},
      {like(col("s"), "/product/%"), "s LIKE '/product/%'"},
      {cast(col("a"), TypeId::kString), "CAST(a AS TEXT)"},
      {cast(lit("5"), TypeId::kInt64), "CAST('5' AS BIGINT)"},
      {case_when({{col("a") > 1, lit("big")}, {col("a") > 0, lit("small")}}), "CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' END"},
      {case_when({{col("flag"), col("a")}}, col("b")), "CASE WHEN flag THEN a ELSE b END"},
      {coalesce({col("s"), lit("none")}), "COALESCE(s, 'none')"},
      {in_list(col("a"), {lit(1), lit(2), lit(3)}), "a IN (1, 2, 3)"},
      {col("ts") > lit(Timestamp{1704067200000000}), "ts > TIMESTAMP '2024-01-01 00:00:00'"},
      {col("ts") - lit(Interval{60000000}), "ts - INTERVAL '1 minute'"},
      {Expression(), "NULL"},
  };
  for (const auto& [dsl, sql] : pairs) {
    std::string a = plan_of(dsl), b = plan_of(sql_expr(sql));
    EXPECT_EQ(a, b) << dsl.to_string() << "  vs  " << sql;
    EXPECT_EQ(a.find("error:"), std::string::npos) << a;
  }
}

TEST_F(ExpressionBinding, ColumnsAreCaseInsensitive) {
  EXPECT_EQ(plan_of(col("A") + 1), plan_of(col("a") + 1));
}

TEST_F(ExpressionBinding, AndNeedsBooleans) {
  EXPECT_EQ(plan_of(col("a") && col("flag")),
            "error: select((a AND flag) AS x): argument of AND must be BOOLEAN, not BIGINT (a)");
}

TEST_F(ExpressionBinding, BadCastLiteralsFailAtBuild) {
  EXPECT_EQ(plan_of(cast(lit("five"), TypeId::kInt64)),
            "error: select(CAST('five' AS BIGINT) AS x): invalid BIGINT literal 'five'");
}

TEST_F(ExpressionBinding, WindowFunctionsAreNotScalarFunctions) {
  EXPECT_NE(plan_of(call("tumble", col("ts"))).find("use Stream::tumble(time_column, ...)"), std::string::npos);
}

TEST_F(ExpressionBinding, SqlTextMustBeOneScalarExpression) {
  EXPECT_NE(plan_of(sql_expr("a, b")).find("expected one scalar expression"), std::string::npos);
  EXPECT_NE(plan_of(sql_expr("count(*)")).find("expected one scalar expression"), std::string::npos);
  EXPECT_NE(plan_of(sql_expr("nope + 1")).find("line 1 column 1: unknown column 'nope'"), std::string::npos)
      << plan_of(sql_expr("nope + 1"));
}

TEST_F(ExpressionBinding, SqlTextTakesItsNameFromSql) {
  Pipeline p;
  auto s = p.source("t", {field("s", TypeId::kString)}, {{"connector", "stdin"}}).select(sql_expr("upper(s)"), sql_expr("s"));
  auto schema = s.schema();
  ASSERT_TRUE(schema.is_ok()) << schema.status().message();
  EXPECT_EQ(schema.value()->to_string(), "(upper TEXT, s TEXT)");
}

// bind_scalar_sql: one SQL expression bound over a schema without a job around it.
TEST(BindScalar, ColumnsBindByPositionAndTypesFollowSql) {
  Schema schema({{"a", TypeId::kInt64, true}, {"price", TypeId::kFloat64, true}, {"page", TypeId::kString, true}});
  auto b = bind_scalar_sql("price * 2 > 10 AND page LIKE '/p/%'", schema);
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_EQ(b.value().expr->type(), TypeId::kBool);
  auto c = bind_scalar_sql("a + 1", schema);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c.value().expr->type(), TypeId::kInt64);
  EXPECT_EQ(column_ref_index(*c.value().expr->children()[0]), 0);
  auto p = bind_scalar_sql("page", schema);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(column_ref_index(*p.value().expr), 2);
  auto n = bind_scalar_sql("upper(page)", schema);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(n.value().name, "upper");
}

TEST(BindScalar, RefusesWhatIsNotOneScalarExpression) {
  Schema schema({{"a", TypeId::kInt64, true}});
  for (const char* text : {"count(*)", "a, a", "a FROM t", "*", "a AS x", "a; SELECT 1"}) {
    auto b = bind_scalar_sql(text, schema);
    ASSERT_FALSE(b.is_ok()) << text;
    EXPECT_NE(b.status().message().find("expected one scalar expression"), std::string::npos)
        << text << ": " << b.status().message();
  }
  auto bad = bind_scalar_sql("a +", schema);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("syntax error"), std::string::npos) << bad.status().message();
  auto unknown = bind_scalar_sql("a + nope", schema);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("line 1 column 5: unknown column 'nope'"), std::string::npos)
      << unknown.status().message();
}

}  // namespace
}  // namespace sluice::api
