// Specification tests for expression nodes, operators, binding (implicit casts, type errors)
// and batch evaluation. One behaviour per test.
#include "expr/expr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "expr/expr_test_util.h"
#include "expr/functions.h"

namespace sluice {
namespace {

using namespace expr_test;  // NOLINT(google-build-using-namespace)

constexpr TypeId kB = TypeId::kBool;
constexpr TypeId kI = TypeId::kInt64;
constexpr TypeId kD = TypeId::kFloat64;
constexpr TypeId kS = TypeId::kString;
constexpr TypeId kTS = TypeId::kTimestamp;
constexpr TypeId kIV = TypeId::kInterval;

// ---------------------------------------------------------------------------------------
// Leaves

TEST(ColumnRefTest, ReturnsTheInputColumnWithoutCopying) {
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::int64(2)})});
  EvalScratch scratch;
  ExprPtr e = Col(0, kI, "x");
  EXPECT_EQ(&e->eval(batch, scratch), &batch.column(0));
  EXPECT_EQ(column_ref_index(*e), 0);
  EXPECT_EQ(column_ref_index(*I(1)), -1);
}

TEST(LiteralTest, FillsOneValuePerInputRow) {
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::int64(2), Value::int64(3)})});
  EXPECT_EQ(eval_rows(S("x"), batch), (Rows{"'x'", "'x'", "'x'"}));
  EXPECT_EQ(eval_rows(D(1.5), batch), (Rows{"1.5", "1.5", "1.5"}));
  EXPECT_EQ(eval_rows(NullOf(kS), batch), (Rows{"NULL", "NULL", "NULL"}));
  EXPECT_EQ(eval_rows(NullOf(kI), batch), (Rows{"NULL", "NULL", "NULL"}));
}

TEST(LiteralTest, ExposesItsValue) {
  ASSERT_NE(literal_value(*I(7)), nullptr);
  EXPECT_EQ(literal_value(*I(7))->i, 7);
  EXPECT_EQ(literal_value(*Col(0, kI)), nullptr);
}

// ---------------------------------------------------------------------------------------
// Arithmetic

TEST(ArithmeticTest, BigintOperatorsReturnBigint) {
  EXPECT_EQ(eval("+", {I(2), I(3)}), "5");
  EXPECT_EQ(eval("-", {I(2), I(3)}), "-1");
  EXPECT_EQ(eval("*", {I(4), I(3)}), "12");
  EXPECT_EQ(call("+", {I(2), I(3)})->type(), kI);
}

TEST(ArithmeticTest, IntegerDivisionTruncatesTowardZero) {
  EXPECT_EQ(eval("/", {I(7), I(2)}), "3");
  EXPECT_EQ(eval("/", {I(-7), I(2)}), "-3");
  EXPECT_EQ(eval("/", {I(7), I(-2)}), "-3");
}

TEST(ArithmeticTest, ModuloTakesTheSignOfTheDividend) {
  EXPECT_EQ(eval("%", {I(7), I(3)}), "1");
  EXPECT_EQ(eval("%", {I(-7), I(3)}), "-1");
  EXPECT_EQ(eval("%", {I(7), I(-3)}), "1");
  EXPECT_EQ(eval("%", {I(INT64_MIN), I(-1)}), "0");
}

TEST(ArithmeticTest, DoubleOperatorsReturnDouble) {
  EXPECT_EQ(eval("+", {D(0.5), D(0.25)}), "0.75");
  EXPECT_EQ(eval("/", {D(7), D(2)}), "3.5");
  EXPECT_EQ(eval("%", {D(7.5), D(2)}), "1.5");
  EXPECT_EQ(call("*", {D(1), D(2)})->type(), kD);
}

TEST(ArithmeticTest, BigintWithDoubleCastsTheBigintToDouble) {
  ExprPtr e = call("+", {Col(0, kI, "n"), D(0.5)});
  EXPECT_EQ(e->type(), kD);
  EXPECT_EQ(e->to_string(), "(CAST(n AS DOUBLE) + 0.5)");
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::null(kI)})});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"1.5", "NULL"}));
}

TEST(ArithmeticTest, BigintLiteralNextToDoubleIsFoldedToADoubleLiteral) {
  ExprPtr e = call("*", {Col(0, kD, "price"), I(2)});
  EXPECT_EQ(e->to_string(), "(price * 2.0)");
}

TEST(ArithmeticTest, NullOperandGivesNull) {
  EXPECT_EQ(eval("+", {I(1), Null()}), "NULL");
  EXPECT_EQ(eval("*", {NullOf(kD), D(2)}), "NULL");
  EXPECT_EQ(call("+", {I(1), Null()})->type(), kI);
}

TEST(ArithmeticTest, DivisionByZeroIsNull) {
  EXPECT_EQ(eval("/", {I(1), I(0)}), "NULL");
  EXPECT_EQ(eval("/", {D(1), D(0)}), "NULL");
  EXPECT_EQ(eval("/", {D(0), D(0)}), "NULL");
}

TEST(ArithmeticTest, ModuloByZeroIsNull) {
  EXPECT_EQ(eval("%", {I(1), I(0)}), "NULL");
  EXPECT_EQ(eval("%", {D(1), D(0)}), "NULL");
}

TEST(ArithmeticTest, IntegerOverflowIsNull) {
  EXPECT_EQ(eval("+", {I(INT64_MAX), I(1)}), "NULL");
  EXPECT_EQ(eval("-", {I(INT64_MIN), I(1)}), "NULL");
  EXPECT_EQ(eval("*", {I(INT64_MAX / 2 + 1), I(2)}), "NULL");
  EXPECT_EQ(eval("/", {I(INT64_MIN), I(-1)}), "NULL");
  EXPECT_EQ(eval("neg", {I(INT64_MIN)}), "NULL");
}

TEST(ArithmeticTest, UnaryMinusNegatesColumnsAndFoldsLiterals) {
  EXPECT_EQ(eval("neg", {I(5)}), "-5");
  EXPECT_EQ(eval("-", {D(2.5)}), "-2.5");
  EXPECT_EQ(call("-", {I(5)})->kind(), Expr::Kind::kLiteral);
  ExprPtr e = call("-", {Col(0, kI, "x")});
  EXPECT_EQ(e->to_string(), "(-x)");
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(3), Value::null(kI)})});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"-3", "NULL"}));
  EXPECT_EQ(eval("neg", {IV("5s")}), "-5s");
}

TEST(ArithmeticTest, UnaryPlusIsTheIdentityOnNumbers) {
  ExprPtr x = Col(0, kI, "x");
  EXPECT_EQ(call("+", {x}), x);
  EXPECT_EQ(error_of(make_call("+", {S("a")})), "operator + cannot be applied to TEXT");
}

TEST(ArithmeticTest, TextOperandIsATypeError) {
  auto r = make_call("+", {Col(0, kS), I(1)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(r.status().message(), "operator + cannot be applied to TEXT and BIGINT");
}

// ---------------------------------------------------------------------------------------
// Timestamp and interval arithmetic

TEST(TimeArithmeticTest, TimestampPlusIntervalIsTimestamp) {
  ExprPtr e = call("+", {TS("2024-01-01 10:00:00"), IV("90m")});
  EXPECT_EQ(e->type(), kTS);
  EXPECT_EQ(eval(e), "2024-01-01 11:30:00");
  EXPECT_EQ(eval("+", {IV("1d"), TS("2024-02-28 10:00:00")}), "2024-02-29 10:00:00");
}

TEST(TimeArithmeticTest, TimestampMinusIntervalIsTimestamp) {
  EXPECT_EQ(eval("-", {TS("2024-01-01 00:00:00"), IV("1s")}), "2023-12-31 23:59:59");
}

TEST(TimeArithmeticTest, TimestampMinusTimestampIsInterval) {
  ExprPtr e = call("-", {TS("2024-01-01 10:00:00"), TS("2024-01-01 08:30:00")});
  EXPECT_EQ(e->type(), kIV);
  EXPECT_EQ(eval(e), "1h30m");
}

TEST(TimeArithmeticTest, IntervalsAddAndSubtract) {
  EXPECT_EQ(eval("+", {IV("1h"), IV("30m")}), "1h30m");
  EXPECT_EQ(eval("-", {IV("1h"), IV("2h")}), "-1h");
}

TEST(TimeArithmeticTest, IntervalScalesByNumbers) {
  EXPECT_EQ(eval("*", {IV("10m"), I(3)}), "30m");
  EXPECT_EQ(eval("*", {I(3), IV("10m")}), "30m");
  EXPECT_EQ(eval("*", {IV("1h"), D(1.5)}), "1h30m");
  EXPECT_EQ(eval("*", {D(0.5), IV("1m")}), "30s");
  EXPECT_EQ(eval("/", {IV("1h"), I(4)}), "15m");
  EXPECT_EQ(eval("/", {IV("1m"), D(0.5)}), "2m");
  EXPECT_EQ(call("/", {IV("1h"), I(4)})->type(), kIV);
}

TEST(TimeArithmeticTest, IntervalDivisionByZeroIsNull) {
  EXPECT_EQ(eval("/", {IV("1h"), I(0)}), "NULL");
  EXPECT_EQ(eval("/", {IV("1h"), D(0)}), "NULL");
}

TEST(TimeArithmeticTest, TimestampOverflowIsNull) {
  EXPECT_EQ(eval("+", {make_literal(Value::timestamp(INT64_MAX - 5)), IV("1s")}), "NULL");
  EXPECT_EQ(eval("*", {IV("1d"), D(1e300)}), "NULL");
}

TEST(TimeArithmeticTest, TimestampPlusTimestampIsATypeError) {
  EXPECT_EQ(error_of(make_call("+", {TS("2024-01-01"), TS("2024-01-01")})),
            "operator + cannot be applied to TIMESTAMP and TIMESTAMP");
}

TEST(TimeArithmeticTest, TextLiteralBecomesAnIntervalNextToATimestamp) {
  ExprPtr e = call("+", {Col(0, kTS, "ts"), S("1 hour")});
  EXPECT_EQ(e->to_string(), "(ts + INTERVAL '1h')");
  RecordBatch batch = batch_of({column_of(kTS, {Value::timestamp(parse_timestamp("2024-01-01 10:00:00").value())})});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"2024-01-01 11:00:00"}));
}

TEST(TimeArithmeticTest, InvalidTextLiteralForAnIntervalIsAnError) {
  EXPECT_EQ(error_of(make_call("+", {Col(0, kTS), S("soon")})),
            "invalid INTERVAL literal 'soon' (expected e.g. '5 minutes' or '1h30m')");
}

// ---------------------------------------------------------------------------------------
// Comparisons

TEST(ComparisonTest, AllSixOperatorsOnBigint) {
  EXPECT_EQ(eval("=", {I(1), I(1)}), "true");
  EXPECT_EQ(eval("<>", {I(1), I(1)}), "false");
  EXPECT_EQ(eval("<", {I(1), I(2)}), "true");
  EXPECT_EQ(eval("<=", {I(2), I(2)}), "true");
  EXPECT_EQ(eval(">", {I(1), I(2)}), "false");
  EXPECT_EQ(eval(">=", {I(1), I(2)}), "false");
  EXPECT_EQ(call("=", {I(1), I(1)})->type(), kB);
}

TEST(ComparisonTest, NullOnEitherSideIsNull) {
  EXPECT_EQ(eval("=", {I(1), Null()}), "NULL");
  EXPECT_EQ(eval("<", {NullOf(kS), S("a")}), "NULL");
  EXPECT_EQ(eval("=", {Null(), Null()}), "NULL");
}

TEST(ComparisonTest, BigintAgainstDoubleComparesAsDouble) {
  EXPECT_EQ(eval("<", {I(1), D(1.5)}), "true");
  EXPECT_EQ(eval("=", {I(2), D(2.0)}), "true");
  EXPECT_EQ(call("=", {Col(0, kI, "n"), D(2.5)})->to_string(), "(CAST(n AS DOUBLE) = 2.5)");
}

TEST(ComparisonTest, StringsCompareBytewise) {
  EXPECT_EQ(eval("<", {S("B"), S("a")}), "true");   // uppercase sorts first
  EXPECT_EQ(eval("<", {S("z"), S("é")}), "true");   // multibyte after ASCII
  EXPECT_EQ(eval("<", {S("ab"), S("abc")}), "true");
  EXPECT_EQ(eval("=", {S("abc"), S("abc")}), "true");
}

TEST(ComparisonTest, FalseIsLessThanTrue) {
  EXPECT_EQ(eval("<", {B(false), B(true)}), "true");
  EXPECT_EQ(eval("=", {B(true), B(true)}), "true");
}

TEST(ComparisonTest, NanEqualsNanAndSortsAboveEverything) {
  const double nan = std::nan("");
  EXPECT_EQ(eval("=", {D(nan), D(nan)}), "true");
  EXPECT_EQ(eval(">", {D(nan), D(1e308)}), "true");
  EXPECT_EQ(eval("<", {D(-0.0), D(0.0)}), "false");
}

TEST(ComparisonTest, TimestampsAndIntervalsCompare) {
  EXPECT_EQ(eval("<", {TS("2024-01-01"), TS("2024-01-02")}), "true");
  EXPECT_EQ(eval(">", {IV("1h"), IV("59m")}), "true");
}

TEST(ComparisonTest, TextLiteralIsCastToTimestamp) {
  ExprPtr e = call(">=", {Col(0, kTS, "ts"), S("2024-01-01 10:00:00")});
  EXPECT_EQ(e->to_string(), "(ts >= TIMESTAMP '2024-01-01 10:00:00')");
  RecordBatch batch = batch_of({column_of(kTS, {Value::timestamp(parse_timestamp("2024-01-01 09:00:00").value()),
                                                Value::timestamp(parse_timestamp("2024-01-01 10:00:00").value())})});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"false", "true"}));
  EXPECT_EQ(eval("<", {S("2023-12-31"), TS("2024-01-01")}), "true");
}

TEST(ComparisonTest, TextColumnIsNotImplicitlyCastToTimestamp) {
  EXPECT_EQ(error_of(make_call("=", {Col(0, kTS), Col(1, kS)})),
            "operator = cannot be applied to TIMESTAMP and TEXT");
}

TEST(ComparisonTest, InvalidTimestampLiteralIsAnError) {
  EXPECT_EQ(error_of(make_call("<", {Col(0, kTS), S("yesterday")})),
            "invalid TIMESTAMP literal 'yesterday' (expected e.g. '2024-01-31 12:00:00')");
}

TEST(ComparisonTest, PgQueryOperatorSpellingsAreAccepted) {
  EXPECT_EQ(eval("!=", {I(1), I(2)}), "true");
  EXPECT_EQ(eval("~~", {S("abc"), S("a%")}), "true");
  EXPECT_EQ(eval("~~*", {S("ABC"), S("a%")}), "true");
  EXPECT_EQ(eval("!~~", {S("abc"), S("a%")}), "false");
  EXPECT_EQ(eval("not ilike", {S("ABC"), S("x%")}), "true");
}

// ---------------------------------------------------------------------------------------
// String operators

TEST(ConcatOperatorTest, ConcatenatesText) { EXPECT_EQ(eval("||", {S("ab"), S("cd")}), "'abcd'"); }

TEST(ConcatOperatorTest, NullOperandGivesNull) {
  EXPECT_EQ(eval("||", {S("ab"), NullOf(kS)}), "NULL");
  EXPECT_EQ(eval("||", {S("ab"), Null()}), "NULL");
}

TEST(ConcatOperatorTest, NonTextOperandIsCastToText) {
  EXPECT_EQ(eval("||", {S("n="), I(42)}), "'n=42'");
  EXPECT_EQ(eval("||", {D(1.5), S("x")}), "'1.5x'");
  EXPECT_EQ(eval("||", {S("at "), TS("2024-01-01 10:00:00")}), "'at 2024-01-01 10:00:00'");
  EXPECT_EQ(call("||", {Col(0, kI, "n"), S("!")})->to_string(), "(CAST(n AS TEXT) || '!')");
}

TEST(ConcatOperatorTest, NeedsATextOperand) {
  EXPECT_EQ(error_of(make_call("||", {I(1), I(2)})), "operator || cannot be applied to BIGINT and BIGINT");
}

TEST(LikeTest, PercentMatchesAnyRun) {
  EXPECT_EQ(eval("like", {S("hello"), S("h%o")}), "true");
  EXPECT_EQ(eval("like", {S("ho"), S("h%o")}), "true");
  EXPECT_EQ(eval("like", {S("hello"), S("%")}), "true");
  EXPECT_EQ(eval("like", {S(""), S("%")}), "true");
  EXPECT_EQ(eval("like", {S("hello"), S("%l%l%")}), "true");
  EXPECT_EQ(eval("like", {S("hello"), S("h%x")}), "false");
}

TEST(LikeTest, UnderscoreMatchesExactlyOneCharacter) {
  EXPECT_EQ(eval("like", {S("cat"), S("c_t")}), "true");
  EXPECT_EQ(eval("like", {S("ct"), S("c_t")}), "false");
  EXPECT_EQ(eval("like", {S("caat"), S("c_t")}), "false");
}

TEST(LikeTest, PatternIsAnchoredAtBothEnds) {
  EXPECT_EQ(eval("like", {S("abc"), S("b")}), "false");
  EXPECT_EQ(eval("like", {S("abc"), S("ab")}), "false");
  EXPECT_EQ(eval("like", {S("abc"), S("abc")}), "true");
}

TEST(LikeTest, UnderscoreMatchesOneMultibyteCharacter) {
  EXPECT_EQ(eval("like", {S("café"), S("caf_")}), "true");
  EXPECT_EQ(eval("like", {S("日本語"), S("_本_")}), "true");
  EXPECT_EQ(eval("like", {S("日本語"), S("__")}), "false");
  EXPECT_EQ(eval("like", {S("añb"), S("a%b")}), "true");
}

TEST(LikeTest, BackslashEscapesWildcards) {
  EXPECT_EQ(eval("like", {S("100%"), S("100\\%")}), "true");
  EXPECT_EQ(eval("like", {S("1000"), S("100\\%")}), "false");
  EXPECT_EQ(eval("like", {S("a_b"), S("a\\_b")}), "true");
  EXPECT_EQ(eval("like", {S("axb"), S("a\\_b")}), "false");
  EXPECT_EQ(eval("like", {S("a\\b"), S("a\\\\b")}), "true");
}

TEST(LikeTest, TrailingEscapeMatchesItself) { EXPECT_EQ(eval("like", {S("a\\"), S("a\\")}), "true"); }

TEST(LikeTest, ExplicitEscapeCharacter) {
  EXPECT_EQ(eval("like", {S("50%"), S("50#%"), S("#")}), "true");
  EXPECT_EQ(eval("like", {S("50\\x"), S("50\\%"), S("")}), "true");  // '' disables escaping
  EXPECT_EQ(eval("like", {S("a"), S("a"), S("##")}), "NULL");        // invalid escape
  EXPECT_EQ(call("like", {Col(0, kS, "s"), S("a#%"), S("#")})->to_string(), "(s LIKE 'a#%' ESCAPE '#')");
}

TEST(LikeTest, BacktracksAcrossManyPercents) {
  EXPECT_EQ(eval("like", {S("abababababababababab"), S("%ab%ab%ab%abc")}), "false");
  EXPECT_EQ(eval("like", {S("xaaaaaaaaaaaaaaaaaab"), S("%a%a%a%a%b")}), "true");
}

// Straightforward exponential reference: pattern tokens matched recursively.
bool reference_like(std::string_view s, std::string_view p) {
  if (p.empty()) return s.empty();
  if (p[0] == '%') {
    for (size_t k = 0; k <= s.size(); k = k < s.size() ? expr_internal::next_char(s, k) : k + 1) {
      if (reference_like(s.substr(std::min(k, s.size())), p.substr(1))) return true;
    }
    return false;
  }
  if (s.empty()) return false;
  if (p[0] == '_') return reference_like(s.substr(expr_internal::next_char(s, 0)), p.substr(1));
  size_t plen = 1;
  char c = p[0];
  if (c == '\\' && p.size() > 1) {
    c = p[1];
    plen = 2;
  }
  return s[0] == c && reference_like(s.substr(1), p.substr(plen));
}

TEST(LikeTest, AgreesWithAReferenceMatcherOnRandomInputs) {
  std::mt19937 rng(123);
  const std::string s_alphabet[] = {"a", "b", "%", "_", "\\", "é"};
  const std::string p_alphabet[] = {"a", "b", "%", "_", "\\", "é", "%", "_"};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s, p;
    for (int n = rng() % 7; n > 0; --n) s += s_alphabet[rng() % 6];
    for (int n = rng() % 6; n > 0; --n) p += p_alphabet[rng() % 8];
    ASSERT_EQ(expr_internal::like_match(s, p, '\\', false), reference_like(s, p)) << "'" << s << "' LIKE '" << p << "'";
  }
}

TEST(LikeTest, IlikeIgnoresAsciiCase) {
  EXPECT_EQ(eval("ilike", {S("Hello"), S("hE%")}), "true");
  EXPECT_EQ(eval("like", {S("Hello"), S("hE%")}), "false");
  EXPECT_EQ(eval("ilike", {S("É"), S("é")}), "false");  // only ASCII folds
}

TEST(LikeTest, NullOperandGivesNull) {
  EXPECT_EQ(eval("like", {NullOf(kS), S("%")}), "NULL");
  EXPECT_EQ(eval("like", {S("a"), Null()}), "NULL");
}

TEST(LikeTest, NonTextOperandIsATypeError) {
  EXPECT_EQ(error_of(make_call("like", {Col(0, kI), S("1%")})), "operator LIKE cannot be applied to BIGINT and TEXT");
}

// ---------------------------------------------------------------------------------------
// Logic

// Truth tables: T, F, N (NULL).
ExprPtr tv(char c) { return c == 'T' ? B(true) : c == 'F' ? B(false) : NullOf(kB); }
std::string tname(const std::string& s) { return s == "true" ? "T" : s == "false" ? "F" : "N"; }

TEST(LogicTest, AndTruthTable) {
  const char* vals = "TFN";
  const char* expected[3] = {"TFN", "FFF", "NFN"};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(tname(eval(ok(make_and({tv(vals[a]), tv(vals[b])})))), std::string(1, expected[a][b]))
          << vals[a] << " AND " << vals[b];
    }
  }
}

TEST(LogicTest, OrTruthTable) {
  const char* vals = "TFN";
  const char* expected[3] = {"TTT", "TFN", "TNN"};
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(tname(eval(ok(make_or({tv(vals[a]), tv(vals[b])})))), std::string(1, expected[a][b]))
          << vals[a] << " OR " << vals[b];
    }
  }
}

TEST(LogicTest, NotTruthTable) {
  EXPECT_EQ(eval(ok(make_not(B(true)))), "false");
  EXPECT_EQ(eval(ok(make_not(B(false)))), "true");
  EXPECT_EQ(eval(ok(make_not(NullOf(kB)))), "NULL");
}

TEST(LogicTest, AndOfManyArgumentsOverABatch) {
  // Rows: (T,T,T) (T,N,T) (T,N,F) (N,N,N)
  auto col = [](std::vector<int> v) {
    std::vector<Value> vals;
    for (int x : v) vals.push_back(x < 0 ? Value::null(kB) : Value::boolean(x != 0));
    return column_of(kB, vals);
  };
  RecordBatch batch = batch_of({col({1, 1, 1, -1}), col({1, -1, -1, -1}), col({1, 1, 0, -1})});
  ExprPtr a = ok(make_and({Col(0, kB), Col(1, kB), Col(2, kB)}));
  ExprPtr o = ok(make_or({Col(0, kB), Col(1, kB), Col(2, kB)}));
  EXPECT_EQ(eval_rows(a, batch), (Rows{"true", "NULL", "false", "NULL"}));
  EXPECT_EQ(eval_rows(o, batch), (Rows{"true", "true", "true", "NULL"}));
}

TEST(LogicTest, NestedAndIsFlattened) {
  ExprPtr inner = ok(make_and({Col(0, kB, "a"), Col(1, kB, "b")}));
  ExprPtr outer = ok(make_and({inner, Col(2, kB, "c")}));
  EXPECT_EQ(outer->to_string(), "(a AND b AND c)");
  EXPECT_EQ(outer->children().size(), 3u);
}

TEST(LogicTest, UntypedNullIsAcceptedAsBoolean) { EXPECT_EQ(eval(ok(make_and({B(false), Null()}))), "false"); }

TEST(LogicTest, NonBooleanArgumentIsATypeError) {
  EXPECT_EQ(error_of(make_and({B(true), I(1)})), "argument of AND must be BOOLEAN, not BIGINT");
  EXPECT_EQ(error_of(make_or({S("x"), B(true)})), "argument of OR must be BOOLEAN, not TEXT");
  EXPECT_EQ(error_of(make_not(I(1))), "argument of NOT must be BOOLEAN, not BIGINT");
}

TEST(IsNullTest, IsNeverNull) {
  EXPECT_EQ(eval(make_is_null(Null(), false)), "true");
  EXPECT_EQ(eval(make_is_null(I(1), false)), "false");
  EXPECT_EQ(eval(make_is_null(Null(), true)), "false");
  EXPECT_EQ(eval(make_is_null(S("x"), true)), "true");
  EXPECT_EQ(make_is_null(Col(0, kI, "x"), true)->to_string(), "(x IS NOT NULL)");
}

// ---------------------------------------------------------------------------------------
// CASE

TEST(CaseTest, FirstTrueWhenWins) {
  ExprPtr e = ok(make_case({{B(false), I(1)}, {B(true), I(2)}, {B(true), I(3)}}, I(4)));
  EXPECT_EQ(eval(e), "2");
}

TEST(CaseTest, NullConditionIsNotTaken) {
  EXPECT_EQ(eval(ok(make_case({{NullOf(kB), I(1)}}, I(2)))), "2");
  EXPECT_EQ(eval(ok(make_case({{Null(), I(1)}}, I(2)))), "2");
}

TEST(CaseTest, MissingElseGivesNull) {
  ExprPtr e = ok(make_case({{B(false), S("x")}}, nullptr));
  EXPECT_EQ(e->type(), kS);
  EXPECT_EQ(eval(e), "NULL");
}

TEST(CaseTest, BranchTypesAreUnified) {
  ExprPtr e = ok(make_case({{B(true), I(1)}}, D(2.5)));
  EXPECT_EQ(e->type(), kD);
  EXPECT_EQ(eval(e), "1");
  EXPECT_EQ(ok(make_case({{B(true), Null()}}, S("x")))->type(), kS);
}

TEST(CaseTest, IncompatibleBranchesAreATypeError) {
  EXPECT_EQ(error_of(make_case({{B(true), S("a")}}, I(1))), "CASE branches have incompatible types TEXT and BIGINT");
  EXPECT_EQ(error_of(make_case({{B(true), I(1)}}, Col(0, kS))),
            "CASE branches have incompatible types BIGINT and TEXT");
}

TEST(CaseTest, NonBooleanConditionIsATypeError) {
  EXPECT_EQ(error_of(make_case({{I(1), I(1)}}, nullptr)), "CASE WHEN condition must be BOOLEAN, not BIGINT");
}

TEST(CaseTest, EvaluatesPerRowOverABatch) {
  // CASE WHEN x < 0 THEN 'neg' WHEN x = 0 THEN 'zero' ELSE s END
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(-1), Value::int64(0), Value::int64(5), Value::null(kI)}),
                                column_of(kS, {Value::string("a"), Value::string("b"), Value::string("pos"),
                                               Value::null(kS)})});
  ExprPtr x = Col(0, kI, "x");
  ExprPtr e = ok(make_case({{call("<", {x, I(0)}), S("neg")}, {call("=", {x, I(0)}), S("zero")}}, Col(1, kS, "s")));
  EXPECT_EQ(eval_rows(e, batch), (Rows{"'neg'", "'zero'", "'pos'", "NULL"}));
  EXPECT_EQ(e->to_string(), "CASE WHEN (x < 0) THEN 'neg' WHEN (x = 0) THEN 'zero' ELSE s END");
}

TEST(CaseTest, TextLiteralBranchBecomesTimestamp) {
  ExprPtr e = ok(make_case({{B(false), Col(0, kTS)}}, S("2024-01-01")));
  EXPECT_EQ(e->type(), kTS);
}

// ---------------------------------------------------------------------------------------
// COALESCE

TEST(CoalesceTest, ReturnsTheFirstNonNull) {
  EXPECT_EQ(eval(ok(make_coalesce({Null(), I(2), I(3)}))), "2");
  EXPECT_EQ(eval(ok(make_coalesce({NullOf(kS), S("b")}))), "'b'");
}

TEST(CoalesceTest, AllNullGivesNull) { EXPECT_EQ(eval(ok(make_coalesce({NullOf(kI), Null()}))), "NULL"); }

TEST(CoalesceTest, TypesAreUnified) {
  ExprPtr e = ok(make_coalesce({Col(0, kI, "a"), D(0.5)}));
  EXPECT_EQ(e->type(), kD);
  EXPECT_EQ(e->to_string(), "COALESCE(CAST(a AS DOUBLE), 0.5)");
  EXPECT_EQ(error_of(make_coalesce({Col(0, kI), S("x")})), "COALESCE arguments have incompatible types BIGINT and TEXT");
}

TEST(CoalesceTest, PicksPerRowOverABatch) {
  RecordBatch batch = batch_of({column_of(kS, {Value::string("a"), Value::null(kS), Value::null(kS)}),
                                column_of(kS, {Value::string("x"), Value::string("b"), Value::null(kS)})});
  ExprPtr e = ok(make_coalesce({Col(0, kS), Col(1, kS), S("none")}));
  EXPECT_EQ(eval_rows(e, batch), (Rows{"'a'", "'b'", "'none'"}));
}

// ---------------------------------------------------------------------------------------
// IN

TEST(InListTest, MatchIsTrue) { EXPECT_EQ(eval(ok(make_in_list(I(2), {I(1), I(2)}, false))), "true"); }

TEST(InListTest, NoMatchIsFalse) { EXPECT_EQ(eval(ok(make_in_list(I(3), {I(1), I(2)}, false))), "false"); }

TEST(InListTest, NoMatchWithNullInListIsNull) {
  EXPECT_EQ(eval(ok(make_in_list(I(3), {I(1), Null()}, false))), "NULL");
}

TEST(InListTest, MatchWithNullInListIsTrue) { EXPECT_EQ(eval(ok(make_in_list(I(1), {I(1), Null()}, false))), "true"); }

TEST(InListTest, NullNeedleIsNull) { EXPECT_EQ(eval(ok(make_in_list(NullOf(kI), {I(1)}, false))), "NULL"); }

TEST(InListTest, NotInNegatesWithTheSameNullRules) {
  EXPECT_EQ(eval(ok(make_in_list(I(3), {I(1), I(2)}, true))), "true");
  EXPECT_EQ(eval(ok(make_in_list(I(1), {I(1), I(2)}, true))), "false");
  EXPECT_EQ(eval(ok(make_in_list(I(3), {I(1), Null()}, true))), "NULL");
  EXPECT_EQ(eval(ok(make_in_list(I(1), {I(1), Null()}, true))), "false");
}

TEST(InListTest, ConstantListsOfEveryTypeOverABatch) {
  RecordBatch batch = batch_of({column_of(kS, {Value::string("b"), Value::string("z"), Value::null(kS)}),
                                column_of(kD, {Value::float64(1.5), Value::float64(2), Value::null(kD)}),
                                column_of(kI, {Value::int64(7), Value::int64(8), Value::int64(9)})});
  EXPECT_EQ(eval_rows(ok(make_in_list(Col(0, kS), {S("a"), S("b"), S("c")}, false)), batch),
            (Rows{"true", "false", "NULL"}));
  EXPECT_EQ(eval_rows(ok(make_in_list(Col(1, kD), {D(1.5), I(3)}, false)), batch), (Rows{"true", "false", "NULL"}));
  std::vector<ExprPtr> many;
  for (int i = 0; i < 100; i += 2) many.push_back(I(i));  // even numbers
  EXPECT_EQ(eval_rows(ok(make_in_list(Col(2, kI), many, false)), batch), (Rows{"false", "true", "false"}));
}

TEST(InListTest, NonConstantItemsAreComparedPerRow) {
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::int64(2), Value::int64(3)}),
                                column_of(kI, {Value::int64(1), Value::null(kI), Value::int64(0)})});
  ExprPtr e = ok(make_in_list(Col(0, kI, "a"), {Col(1, kI, "b"), I(2)}, false));
  EXPECT_EQ(eval_rows(e, batch), (Rows{"true", "true", "false"}));
  ExprPtr n = ok(make_in_list(Col(0, kI, "a"), {Col(1, kI, "b"), I(9)}, true));
  EXPECT_EQ(eval_rows(n, batch), (Rows{"false", "NULL", "true"}));
  EXPECT_EQ(n->to_string(), "(a NOT IN (b, 9))");
}

TEST(InListTest, BigintNeedleAgainstDoubleListComparesAsDouble) {
  EXPECT_EQ(eval(ok(make_in_list(I(2), {D(2.0), D(3.5)}, false))), "true");
}

TEST(InListTest, TextLiteralsBecomeTimestamps) {
  EXPECT_EQ(eval(ok(make_in_list(TS("2024-01-01"), {S("2024-01-01 00:00:00"), S("2024-01-02")}, false))), "true");
}

TEST(InListTest, IncompatibleItemsAreATypeError) {
  EXPECT_EQ(error_of(make_in_list(Col(0, kI), {S("a")}, false)), "IN list items have incompatible types BIGINT and TEXT");
}

// ---------------------------------------------------------------------------------------
// Binding: resolution, implicit casts and error messages

TEST(BindingTest, UnknownFunctionSuggestsTheClosestName) {
  auto r = make_call("lowr", {S("x")});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(r.status().message(), "unknown function 'lowr'; did you mean 'lower'?");
  EXPECT_EQ(error_of(make_call("frobnicate", {})), "unknown function 'frobnicate'");
}

TEST(BindingTest, WrongArgumentTypesListTheCandidates) {
  EXPECT_EQ(error_of(make_call("lower", {I(1)})), "function lower(BIGINT) does not exist; candidates: lower(TEXT)");
  EXPECT_EQ(error_of(make_call("substr", {S("x")})),
            "function substr(TEXT) does not exist; candidates: substr(TEXT, BIGINT), substr(TEXT, BIGINT, BIGINT)");
}

TEST(BindingTest, FunctionNamesAreCaseInsensitive) { EXPECT_EQ(eval("LOWER", {S("AbC")}), "'abc'"); }

TEST(BindingTest, ExactOverloadWinsOverImplicitCast) {
  EXPECT_EQ(call("abs", {I(-3)})->type(), kI);
  EXPECT_EQ(call("abs", {D(-3)})->type(), kD);
}

TEST(BindingTest, UntypedNullTakesTheParameterType) {
  ExprPtr e = call("lower", {Null()});
  EXPECT_EQ(e->type(), kS);
  EXPECT_EQ(eval(e), "NULL");
}

TEST(BindingTest, ImplicitCastRules) {
  EXPECT_TRUE(implicitly_castable(kI, kD));
  EXPECT_FALSE(implicitly_castable(kD, kI));
  EXPECT_TRUE(implicitly_castable(TypeId::kNull, kTS));
  EXPECT_FALSE(implicitly_castable(kS, kTS));
  EXPECT_TRUE(implicitly_castable(*S("2024-01-01"), kTS));
  EXPECT_TRUE(implicitly_castable(*S("5m"), kIV));
  EXPECT_FALSE(implicitly_castable(*Col(0, kS), kTS));
}

TEST(BindingTest, CommonTypes) {
  EXPECT_EQ(common_type(kI, kD), kD);
  EXPECT_EQ(common_type(kD, kI), kD);
  EXPECT_EQ(common_type(kI, kI), kI);
  EXPECT_EQ(common_type(TypeId::kNull, kS), kS);
  EXPECT_EQ(common_type(kS, kI), TypeId::kNull);
  EXPECT_EQ(common_type(kTS, kIV), TypeId::kNull);
}

TEST(BindingTest, MakeImplicitCastConvertsOrFails) {
  EXPECT_EQ(ok(make_implicit_cast(Col(0, kI, "n"), kD))->to_string(), "CAST(n AS DOUBLE)");
  EXPECT_EQ(eval(ok(make_implicit_cast(S("2024-01-01"), kTS))), "2024-01-01 00:00:00");
  EXPECT_EQ(error_of(make_implicit_cast(Col(0, kD), kI)), "cannot implicitly convert DOUBLE to BIGINT (use CAST)");
}

TEST(BindingTest, FunctionNamesListFunctionsButNotOperators) {
  std::vector<std::string> names = function_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "lower"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "date_trunc"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "+"), names.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(BindingTest, UserDefinedFunctionsCanBeRegistered) {
  ScalarFunction fn;
  fn.name = "Test_Twice";
  fn.arg_types = {kI};
  fn.return_type = kI;
  fn.kernel = expr_internal::unary_fixed<int64_t, int64_t>([](int64_t x, int64_t* r) {
    *r = 2 * x;
    return true;
  });
  FunctionRegistry::global().add(fn);
  EXPECT_TRUE(FunctionRegistry::global().has("test_twice"));
  EXPECT_EQ(eval("test_twice", {I(21)}), "42");
  EXPECT_EQ(eval("test_twice", {D(1.5)}), "error: function test_twice(DOUBLE) does not exist; candidates: test_twice(BIGINT)");
}

TEST(BindingTest, RegistryResolveReportsCasts) {
  std::vector<TypeId> cast_to;
  auto r = FunctionRegistry::global().resolve("power", {kI, kD}, &cast_to);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(cast_to, (std::vector<TypeId>{kD, kD}));
  EXPECT_EQ(FunctionRegistry::signature(*r.value()), "power(DOUBLE, DOUBLE) -> DOUBLE");
}

TEST(BindingTest, LiteralUnitIsValidatedAtBindTime) {
  auto r = make_call("date_trunc", {S("fortnight"), Col(0, kTS)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "date_trunc: unit 'fortnight' not recognized (expected microseconds, milliseconds, second, minute, hour, "
            "day, week, month, quarter or year)");
}

// ---------------------------------------------------------------------------------------
// Rendering, constants, tree access

TEST(ToStringTest, RendersSqlLikeText) {
  ExprPtr price = Col(0, kD, "price");
  EXPECT_EQ(call("*", {price, D(2)})->to_string(), "(price * 2.0)");
  EXPECT_EQ(call("lower", {Col(1, kS, "page")})->to_string(), "lower(page)");
  EXPECT_EQ(Col(3, kI)->to_string(), "$3");
  EXPECT_EQ(S("it's")->to_string(), "'it''s'");
  EXPECT_EQ(B(true)->to_string(), "TRUE");
  EXPECT_EQ(Null()->to_string(), "NULL");
  EXPECT_EQ(TS("2024-01-01 10:00:00.5")->to_string(), "TIMESTAMP '2024-01-01 10:00:00.500'");
  EXPECT_EQ(IV("90s")->to_string(), "INTERVAL '1m30s'");
  EXPECT_EQ(cast(Col(0, kI, "n"), kS)->to_string(), "CAST(n AS TEXT)");
  EXPECT_EQ(ok(make_not(Col(0, kB, "f")))->to_string(), "(NOT f)");
  EXPECT_EQ(ok(make_in_list(Col(0, kI, "n"), {I(1), I(2)}, false))->to_string(), "(n IN (1, 2))");
}

TEST(EvaluateConstantTest, EvaluatesNestedConstantExpressions) {
  auto r = evaluate_constant(call("*", {call("+", {I(1), I(2)}), I(4)}));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().type, kI);
  EXPECT_EQ(r.value().i, 12);
  EXPECT_EQ(evaluate_constant(IV("5m")).value().i, 5 * kMicrosPerMinute);
}

TEST(EvaluateConstantTest, RejectsColumnReferences) {
  auto r = evaluate_constant(call("+", {Col(0, kI, "x"), I(1)}));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "expression (x + 1) is not constant");
  EXPECT_FALSE(is_constant(*Col(0, kI)));
  EXPECT_TRUE(is_constant(*call("+", {I(1), I(1)})));
}

TEST(ChildrenTest, ExposesOperands) {
  ExprPtr x = Col(0, kI, "x");
  ExprPtr e = call("+", {x, I(1)});
  ASSERT_EQ(e->children().size(), 2u);
  EXPECT_EQ(e->children()[0], x);
  EXPECT_EQ(e->kind(), Expr::Kind::kCall);
  EXPECT_EQ(ok(make_case({{B(true), x}}, I(0)))->children().size(), 3u);
}

// ---------------------------------------------------------------------------------------
// Batch sizes and scratch reuse

RecordBatch numbers(size_t n) {
  Column a(kI), s(kS);
  for (size_t i = 0; i < n; ++i) {
    if (i % 7 == 3) {
      a.append_null();
      s.append_null();
    } else {
      a.append_int(static_cast<int64_t>(i));
      s.append_string("Row" + std::to_string(i));
    }
  }
  return batch_of({std::move(a), std::move(s)});
}

TEST(BatchTest, EmptyBatchGivesEmptyResults) {
  RecordBatch batch = numbers(0);
  ExprPtr x = Col(0, kI, "x");
  EXPECT_TRUE(eval_rows(call("+", {x, I(1)}), batch).empty());
  EXPECT_TRUE(eval_rows(call("lower", {Col(1, kS)}), batch).empty());
  EXPECT_TRUE(eval_rows(ok(make_case({{call(">", {x, I(0)}), S("p")}}, nullptr)), batch).empty());
  EXPECT_TRUE(eval_rows(ok(make_in_list(x, {I(1)}, false)), batch).empty());
  EXPECT_TRUE(eval_rows(S("lit"), batch).empty());
}

TEST(BatchTest, OneRowBatch) {
  RecordBatch batch = numbers(1);
  EXPECT_EQ(eval_rows(call("*", {Col(0, kI), I(10)}), batch), (Rows{"0"}));
  EXPECT_EQ(eval_rows(call("upper", {Col(1, kS)}), batch), (Rows{"'ROW0'"}));
}

TEST(BatchTest, LargeBatchOfArithmeticMatchesRowByRow) {
  constexpr size_t kRows = 5000;
  RecordBatch batch = numbers(kRows);
  ExprPtr e = call("+", {call("*", {Col(0, kI), I(3)}), I(1)});
  Rows rows = eval_rows(e, batch);
  ASSERT_EQ(rows.size(), kRows);
  for (size_t i = 0; i < kRows; ++i) {
    EXPECT_EQ(rows[i], i % 7 == 3 ? "NULL" : std::to_string(3 * i + 1)) << i;
  }
}

TEST(BatchTest, ManyStringResultsHaveCorrectOffsets) {
  constexpr size_t kRows = 5000;
  RecordBatch batch = numbers(kRows);
  // concat with a variable-width number exercises offsets of every row.
  ExprPtr e = call("||", {call("lower", {Col(1, kS)}), call("||", {S("/"), Col(0, kI)})});
  EvalScratch scratch;
  const Column& c = e->eval(batch, scratch);
  ASSERT_EQ(c.size(), kRows);
  for (size_t i = 0; i < kRows; ++i) {
    if (i % 7 == 3) {
      EXPECT_TRUE(c.is_null(i)) << i;
    } else {
      EXPECT_EQ(c.string_at(i), "row" + std::to_string(i) + "/" + std::to_string(i)) << i;
    }
  }
}

TEST(BatchTest, ScratchIsReusableAcrossBatches) {
  ExprPtr e = call("||", {Col(1, kS), S("!")});
  EvalScratch scratch;
  for (size_t n : {10u, 3u, 50u, 0u, 7u}) {
    RecordBatch batch = numbers(n);
    scratch.reset();
    const Column& c = e->eval(batch, scratch);
    ASSERT_EQ(c.size(), n);
    for (size_t i = 0; i < n; ++i) {
      if (i % 7 != 3) {
        EXPECT_EQ(c.string_at(i), "Row" + std::to_string(i) + "!");
      }
    }
  }
}

TEST(BatchTest, CaseAndCoalesceOverALargeBatch) {
  constexpr size_t kRows = 5000;
  RecordBatch batch = numbers(kRows);
  ExprPtr x = Col(0, kI, "x");
  ExprPtr e = ok(make_coalesce(
      {ok(make_case({{call("=", {call("%", {x, I(2)}), I(0)}), Col(1, kS)}}, nullptr)), S("odd-or-null")}));
  Rows rows = eval_rows(e, batch);
  for (size_t i = 0; i < kRows; ++i) {
    const std::string expected = (i % 7 != 3 && i % 2 == 0) ? "'Row" + std::to_string(i) + "'" : "'odd-or-null'";
    ASSERT_EQ(rows[i], expected) << i;
  }
}

TEST(BatchTest, OneTreeEvaluatesConcurrentlyWithOneScratchPerThread) {
  // Plans share immutable trees across operator instances; only the scratch is per thread.
  constexpr size_t kRows = 5000;
  RecordBatch batch = numbers(kRows);
  ExprPtr e = call("concat", {call("upper", {Col(1, kS)}), S("#"), call("*", {Col(0, kI), I(2)})});
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EvalScratch scratch;
      for (int round = 0; round < 20; ++round) {
        scratch.reset();
        const Column& c = e->eval(batch, scratch);
        for (size_t i = 0; i < kRows; ++i) {
          const std::string expected =
              i % 7 == 3 ? "#" : "ROW" + std::to_string(i) + "#" + std::to_string(2 * i);
          mismatches[t] += c.string_at(i) != expected;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

// ---------------------------------------------------------------------------------------
// Documentation

TEST(DocsTest, EveryFunctionIsDocumented) {
  const char* root = std::getenv("SLUICE_SOURCE_DIR");
  if (root == nullptr) GTEST_SKIP() << "SLUICE_SOURCE_DIR not set (run through ctest)";
  std::ifstream in(std::string(root) + "/docs/sql-functions.md");
  ASSERT_TRUE(in.good()) << "docs/sql-functions.md missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const std::string& name : function_names()) {
    if (name.rfind("test_", 0) == 0) continue;  // registered by tests
    EXPECT_NE(text.str().find("`" + name + "("), std::string::npos) << name << " is not documented";
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

using namespace expr_test;  // NOLINT(google-build-using-namespace)

// a + b + c ... binds left-deep, one call per operator: evaluation, printing and freeing
// walk the chain in loops, so a chain far deeper than the stack allows still works.
TEST(DeepChainTest, ALeftDeepChainEvaluatesWithoutRecursion) {
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::null(kI), Value::int64(3)})});
  ExprPtr e = Col(0, kI, "x");
  for (int i = 0; i < 200000; ++i) e = call(i % 2 ? "+" : "-", {e, call("-", {I(i), I(i - 1)})});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"1", "NULL", "3"}));  // +1 and -1 in turn
}

TEST(DeepChainTest, ALeftDeepChainPrintsAndFreesWithoutRecursion) {
  ExprPtr e = Col(0, kI, "x");
  for (int i = 0; i < 200000; ++i) e = call("+", {e, I(1)});
  const std::string text = e->to_string();
  EXPECT_EQ(text.substr(0, 5), "(((((");
  EXPECT_EQ(text.substr(text.size() - 10), " + 1) + 1)");
  EXPECT_EQ(referenced_columns(e), std::vector<int>{0});
  EXPECT_FALSE(is_constant(*e));
  e.reset();  // must not overflow the stack
}

TEST(DeepChainTest, ASharedPartOfAChainOutlivesTheWhole) {
  ExprPtr inner = Col(0, kI, "x");
  for (int i = 0; i < 100; ++i) inner = call("+", {inner, I(1)});
  ExprPtr outer = inner;
  for (int i = 0; i < 100; ++i) outer = call("+", {outer, I(1)});
  outer.reset();
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1)})});
  EXPECT_EQ(eval_rows(inner, batch), (Rows{"101"}));
}

TEST(AddMonthsTest, KeepsTheDayClampedToTheMonthsEndAndTheTime) {
  EXPECT_EQ(eval("add_months", {TS("2024-01-31 10:30:00"), I(1)}), "2024-02-29 10:30:00");
  EXPECT_EQ(eval("add_months", {TS("2024-03-31 00:00:00"), I(-1)}), "2024-02-29 00:00:00");
  EXPECT_EQ(eval("add_months", {TS("2020-02-29 23:59:59"), I(-24)}), "2018-02-28 23:59:59");
  EXPECT_EQ(eval("add_months", {TS("2024-01-15 00:00:00"), I(13)}), "2025-02-15 00:00:00");
  EXPECT_EQ(eval("add_months", {TS("1969-12-31 23:00:00"), I(2)}), "1970-02-28 23:00:00");
  EXPECT_EQ(eval("add_months", {TS("2024-01-15 00:00:00"), I(INT64_MAX)}), "NULL");
}

}  // namespace
}  // namespace sluice
