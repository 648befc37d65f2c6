// Specification tests for the built-in scalar functions, one behaviour per test, including
// edge cases (out-of-range positions, NULLs, multibyte text, timestamps before 1970).
#include "expr/functions.h"

#include <gtest/gtest.h>

#include <cmath>

#include "expr/expr_test_util.h"

namespace sluice {
namespace {

using namespace expr_test;  // NOLINT(google-build-using-namespace)

constexpr TypeId kI = TypeId::kInt64;
constexpr TypeId kD = TypeId::kFloat64;
constexpr TypeId kS = TypeId::kString;
constexpr TypeId kTS = TypeId::kTimestamp;

// ---------------------------------------------------------------------------------------
// Case mapping

TEST(LowerUpperTest, MapAsciiLetters) {
  EXPECT_EQ(eval("lower", {S("Hello, World 42!")}), "'hello, world 42!'");
  EXPECT_EQ(eval("upper", {S("Hello, World 42!")}), "'HELLO, WORLD 42!'");
}

TEST(LowerUpperTest, MapLatinGreekAndCyrillicLetters) {
  EXPECT_EQ(eval("lower", {S("ÀÉÎ ŁÓDŹ ČŠŽ ΣΑΣ ΆΈ ПРИВЕТ Ё")}), "'àéî łódź čšž σασ άέ привет ё'");
  EXPECT_EQ(eval("upper", {S("àéî łódź čšž σας άέ привет ё ÿ")}), "'ÀÉÎ ŁÓDŹ ČŠŽ ΣΑΣ ΆΈ ПРИВЕТ Ё Ÿ'");
}

TEST(LowerUpperTest, LeaveUnmappedCharactersUnchanged) {
  EXPECT_EQ(eval("upper", {S("straße 日本 ×÷")}), "'STRAßE 日本 ×÷'");
  EXPECT_EQ(eval("lower", {S("日本 ×÷ µ")}), "'日本 ×÷ µ'");
}

TEST(LowerUpperTest, NullGivesNull) { EXPECT_EQ(eval("lower", {NullOf(kS)}), "NULL"); }

TEST(InitcapTest, CapitalizesEachWord) {
  EXPECT_EQ(eval("initcap", {S("hello wORLD foo_bar 3rd")}), "'Hello World Foo_Bar 3rd'");
  EXPECT_EQ(eval("initcap", {S("élan vital")}), "'Élan Vital'");
}

// ---------------------------------------------------------------------------------------
// Lengths

TEST(LengthTest, CountsCharactersNotBytes) {
  EXPECT_EQ(eval("length", {S("héllo")}), "5");
  EXPECT_EQ(eval("char_length", {S("日本語")}), "3");
  EXPECT_EQ(eval("character_length", {S("")}), "0");
  EXPECT_EQ(call("length", {S("x")})->type(), kI);
}

TEST(LengthTest, OctetLengthCountsBytes) {
  EXPECT_EQ(eval("octet_length", {S("héllo")}), "6");
  EXPECT_EQ(eval("octet_length", {S("日本語")}), "9");
}

TEST(LengthTest, NullGivesNull) { EXPECT_EQ(eval("length", {NullOf(kS)}), "NULL"); }

// ---------------------------------------------------------------------------------------
// substr

TEST(SubstrTest, FromStartToTheEnd) {
  EXPECT_EQ(eval("substr", {S("hello"), I(2)}), "'ello'");
  EXPECT_EQ(eval("substring", {S("hello"), I(1)}), "'hello'");
}

TEST(SubstrTest, WithLength) {
  EXPECT_EQ(eval("substr", {S("hello"), I(2), I(3)}), "'ell'");
  EXPECT_EQ(eval("substr", {S("hello"), I(3), I(100)}), "'llo'");
}

TEST(SubstrTest, StartBeforeOneShortensTheResult) {
  EXPECT_EQ(eval("substr", {S("hello"), I(0), I(3)}), "'he'");
  EXPECT_EQ(eval("substr", {S("hello"), I(-5), I(3)}), "''");
  EXPECT_EQ(eval("substr", {S("hello"), I(-1)}), "'hello'");
}

TEST(SubstrTest, StartPastTheEndIsEmpty) {
  EXPECT_EQ(eval("substr", {S("hello"), I(10)}), "''");
  EXPECT_EQ(eval("substr", {S("hello"), I(6), I(2)}), "''");
  EXPECT_EQ(eval("substr", {S("hello"), I(INT64_MAX), I(INT64_MAX)}), "''");
}

TEST(SubstrTest, NegativeLengthIsNull) { EXPECT_EQ(eval("substr", {S("hello"), I(1), I(-1)}), "NULL"); }

TEST(SubstrTest, CountsCharacters) {
  EXPECT_EQ(eval("substr", {S("héllo"), I(2), I(2)}), "'él'");
  EXPECT_EQ(eval("substr", {S("日本語"), I(3)}), "'語'");
}

TEST(SubstrTest, NullArgumentGivesNull) {
  EXPECT_EQ(eval("substr", {S("hello"), Null()}), "NULL");
  EXPECT_EQ(eval("substr", {NullOf(kS), I(1), I(2)}), "NULL");
}

// ---------------------------------------------------------------------------------------
// concat / concat_ws

TEST(ConcatTest, SkipsNullsAndConvertsAnyTypeToText) {
  EXPECT_EQ(eval("concat", {S("a"), Null(), I(1), D(2.5), B(true), NullOf(kS)}), "'a12.5true'");
  EXPECT_EQ(eval("concat", {TS("2024-01-01 10:00:00"), S(" "), IV("90s")}), "'2024-01-01 10:00:00 1m30s'");
}

TEST(ConcatTest, AllNullIsEmptyNotNull) { EXPECT_EQ(eval("concat", {NullOf(kS), Null()}), "''"); }

TEST(ConcatWsTest, JoinsNonNullValuesWithTheSeparator) {
  EXPECT_EQ(eval("concat_ws", {S(","), S("a"), Null(), S("b"), I(3)}), "'a,b,3'");
  EXPECT_EQ(eval("concat_ws", {S("-"), NullOf(kS)}), "''");
}

TEST(ConcatWsTest, NullSeparatorGivesNull) { EXPECT_EQ(eval("concat_ws", {NullOf(kS), S("a")}), "NULL"); }

// ---------------------------------------------------------------------------------------
// trim family

TEST(TrimTest, RemovesSpacesByDefault) {
  EXPECT_EQ(eval("trim", {S("  hi  ")}), "'hi'");
  EXPECT_EQ(eval("btrim", {S("  hi  ")}), "'hi'");
  EXPECT_EQ(eval("ltrim", {S("  hi  ")}), "'hi  '");
  EXPECT_EQ(eval("rtrim", {S("  hi  ")}), "'  hi'");
  EXPECT_EQ(eval("trim", {S("\thi")}), "'\thi'");  // only spaces, like PostgreSQL
}

TEST(TrimTest, RemovesAnyOfTheGivenCharacters) {
  EXPECT_EQ(eval("btrim", {S("xxhixx"), S("x")}), "'hi'");
  EXPECT_EQ(eval("ltrim", {S("zzzytrim"), S("xyz")}), "'trim'");
  EXPECT_EQ(eval("rtrim", {S("trimxxyz"), S("xyz")}), "'trim'");
  EXPECT_EQ(eval("trim", {S("xxxx"), S("x")}), "''");
}

TEST(TrimTest, HandlesMultibyteCharacters) {
  EXPECT_EQ(eval("trim", {S("ééhié"), S("é")}), "'hi'");
  EXPECT_EQ(eval("trim", {S("日x日"), S("日本")}), "'x'");
}

TEST(TrimTest, EmptyCharacterSetRemovesNothing) { EXPECT_EQ(eval("trim", {S(" a "), S("")}), "' a '"); }

// ---------------------------------------------------------------------------------------
// replace, split_part, strpos

TEST(ReplaceTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(eval("replace", {S("abcabc"), S("b"), S("XX")}), "'aXXcaXXc'");
  EXPECT_EQ(eval("replace", {S("aaa"), S("aa"), S("b")}), "'ba'");
  EXPECT_EQ(eval("replace", {S("abc"), S("b"), S("")}), "'ac'");
}

TEST(ReplaceTest, EmptySearchStringLeavesTheInput) { EXPECT_EQ(eval("replace", {S("abc"), S(""), S("x")}), "'abc'"); }

TEST(SplitPartTest, ReturnsTheNthField) {
  EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(1)}), "'a'");
  EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(2)}), "'b'");
  EXPECT_EQ(eval("split_part", {S("a--b--c"), S("--"), I(3)}), "'c'");
  EXPECT_EQ(eval("split_part", {S("a,,c"), S(","), I(2)}), "''");
}

TEST(SplitPartTest, FieldPastTheEndIsEmpty) { EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(4)}), "''"); }

TEST(SplitPartTest, NegativeFieldCountsFromTheEnd) {
  EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(-1)}), "'c'");
  EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(-3)}), "'a'");
  EXPECT_EQ(eval("split_part", {S("a,b,c"), S(","), I(-4)}), "''");
  EXPECT_EQ(eval("split_part", {S("a--b--c"), S("--"), I(-2)}), "'b'");
  EXPECT_EQ(eval("split_part", {S("a,b,"), S(","), I(-1)}), "''");
}

TEST(SplitPartTest, FieldZeroIsNull) { EXPECT_EQ(eval("split_part", {S("a,b"), S(","), I(0)}), "NULL"); }

TEST(SplitPartTest, EmptyDelimiterMakesOneField) {
  EXPECT_EQ(eval("split_part", {S("abc"), S(""), I(1)}), "'abc'");
  EXPECT_EQ(eval("split_part", {S("abc"), S(""), I(2)}), "''");
}

TEST(StrposTest, ReturnsTheCharacterPosition) {
  EXPECT_EQ(eval("strpos", {S("héllo"), S("llo")}), "3");
  EXPECT_EQ(eval("position", {S("abc"), S("c")}), "3");
  EXPECT_EQ(eval("strpos", {S("abc"), S("x")}), "0");
  EXPECT_EQ(eval("strpos", {S("abc"), S("")}), "1");
  EXPECT_EQ(eval("strpos", {NullOf(kS), S("a")}), "NULL");
}

TEST(StartsWithTest, ChecksPrefixesAndSuffixes) {
  EXPECT_EQ(eval("starts_with", {S("hello"), S("he")}), "true");
  EXPECT_EQ(eval("starts_with", {S("he"), S("hello")}), "false");
  EXPECT_EQ(eval("starts_with", {S("hello"), S("")}), "true");
  EXPECT_EQ(eval("ends_with", {S("hello"), S("lo")}), "true");
  EXPECT_EQ(eval("ends_with", {S("hello"), S("he")}), "false");
  EXPECT_EQ(eval("starts_with", {S("hello"), NullOf(kS)}), "NULL");
}

// ---------------------------------------------------------------------------------------
// left, right, lpad, rpad, reverse, repeat

TEST(LeftRightTest, TakeCharactersFromEitherEnd) {
  EXPECT_EQ(eval("left", {S("héllo"), I(2)}), "'hé'");
  EXPECT_EQ(eval("right", {S("héllo"), I(2)}), "'lo'");
  EXPECT_EQ(eval("left", {S("hello"), I(10)}), "'hello'");
  EXPECT_EQ(eval("right", {S("hello"), I(0)}), "''");
}

TEST(LeftRightTest, NegativeCountDropsFromTheOtherEnd) {
  EXPECT_EQ(eval("left", {S("hello"), I(-2)}), "'hel'");
  EXPECT_EQ(eval("right", {S("hello"), I(-2)}), "'llo'");
  EXPECT_EQ(eval("left", {S("hello"), I(-10)}), "''");
  EXPECT_EQ(eval("right", {S("hello"), I(INT64_MIN)}), "''");
}

TEST(PadTest, PadsToTheTargetLength) {
  EXPECT_EQ(eval("lpad", {S("hi"), I(5)}), "'   hi'");
  EXPECT_EQ(eval("rpad", {S("hi"), I(5)}), "'hi   '");
  EXPECT_EQ(eval("lpad", {S("hi"), I(5), S("xy")}), "'xyxhi'");
  EXPECT_EQ(eval("rpad", {S("hi"), I(5), S("é")}), "'hiééé'");
}

TEST(PadTest, LongerInputIsTruncated) {
  EXPECT_EQ(eval("lpad", {S("hello"), I(2)}), "'he'");
  EXPECT_EQ(eval("rpad", {S("héllo"), I(2)}), "'hé'");
}

TEST(PadTest, EdgeCases) {
  EXPECT_EQ(eval("lpad", {S("hi"), I(5), S("")}), "'hi'");
  EXPECT_EQ(eval("lpad", {S("hi"), I(-1)}), "''");
  EXPECT_EQ(eval("lpad", {S("x"), I(1000000000)}), "NULL");  // over the result size limit
}

TEST(ReverseTest, ReversesCharacters) {
  EXPECT_EQ(eval("reverse", {S("héllo")}), "'olléh'");
  EXPECT_EQ(eval("reverse", {S("")}), "''");
}

TEST(RepeatTest, RepeatsTheString) {
  EXPECT_EQ(eval("repeat", {S("ab"), I(3)}), "'ababab'");
  EXPECT_EQ(eval("repeat", {S("ab"), I(0)}), "''");
  EXPECT_EQ(eval("repeat", {S("ab"), I(-1)}), "''");
  EXPECT_EQ(eval("repeat", {S("ab"), I(1000000000000)}), "NULL");  // over the result size limit
}

TEST(Md5Test, ReturnsTheHexDigest) {
  EXPECT_EQ(eval("md5", {S("")}), "'d41d8cd98f00b204e9800998ecf8427e'");
  EXPECT_EQ(eval("md5", {S("abc")}), "'900150983cd24fb0d6963f7d28e17f72'");
  EXPECT_EQ(eval("md5", {S("The quick brown fox jumps over the lazy dog")}), "'9e107d9d372bb6826bd81d3542a419d6'");
  EXPECT_EQ(eval("md5", {S("héllo")}), "'be50e8478cf24ff3595bc7307fb91b50'");
}

TEST(Md5Test, HandlesBlockBoundaries) {
  EXPECT_EQ(eval("md5", {S(std::string(55, 'a'))}), "'ef1772b6dff9a122358552954ad0df65'");
  EXPECT_EQ(eval("md5", {S(std::string(56, 'a'))}), "'3b0c8ac703f828b04c6c197006d17218'");
  EXPECT_EQ(eval("md5", {S(std::string(64, 'a'))}), "'014842d480b571495a4a0363793f7367'");
  EXPECT_EQ(eval("md5", {S(std::string(100, 'a'))}), "'36a92cc94a9e0fa21f625f8bfb007adf'");
}

TEST(LikeEscapeTest, RewritesACustomEscapeToBackslash) {
  EXPECT_EQ(eval("like_escape", {S("50#%"), S("#")}), "'50\\%'");
  EXPECT_EQ(eval("like_escape", {S("a#_b##"), S("#")}), "'a\\_b#'");
  EXPECT_EQ(eval("like_escape", {S("a\\b%"), S("#")}), "'a\\\\b%'");  // a plain backslash becomes literal
  EXPECT_EQ(eval("like_escape", {S("a\\%"), S("")}), "'a\\\\%'");     // '' disables escaping
  EXPECT_EQ(eval("like_escape", {S("xé%"), S("é")}), "'x\\%'");         // multibyte escape character
  EXPECT_EQ(eval("like_escape", {S("x"), S("ab")}), "NULL");
}

TEST(LikeEscapeTest, ComposesWithLikeAsTheParserEmitsIt) {
  // s LIKE p ESCAPE e  ==>  s LIKE like_escape(p, e)
  auto like = [](const char* s, const char* p, const char* e) {
    return eval("like", {S(s), call("like_escape", {S(p), S(e)})});
  };
  EXPECT_EQ(like("50%", "50#%", "#"), "true");
  EXPECT_EQ(like("500", "50#%", "#"), "false");
  EXPECT_EQ(like("a\\b", "a\\b", "#"), "true");
  EXPECT_EQ(like("a\\bc", "a\\%", ""), "true");
  EXPECT_EQ(like("a#", "a##", "#"), "true");
}

// ---------------------------------------------------------------------------------------
// Math

TEST(AbsTest, KeepsTheArgumentType) {
  EXPECT_EQ(eval("abs", {I(-3)}), "3");
  EXPECT_EQ(eval("abs", {D(-2.5)}), "2.5");
}

TEST(AbsTest, MostNegativeBigintOverflowsToNull) { EXPECT_EQ(eval("abs", {I(INT64_MIN)}), "NULL"); }

TEST(RoundTest, RoundsHalfAwayFromZero) {
  EXPECT_EQ(eval("round", {D(2.5)}), "3");
  EXPECT_EQ(eval("round", {D(-2.5)}), "-3");
  EXPECT_EQ(eval("round", {D(2.4)}), "2");
  EXPECT_EQ(eval("round", {D(-0.4)}), "0");
  EXPECT_EQ(call("round", {I(2)})->type(), kD);
}

TEST(RoundTest, RoundsToDecimalDigits) {
  EXPECT_EQ(eval("round", {D(1234.5678), I(2)}), "1234.57");
  EXPECT_EQ(eval("round", {D(1.005), I(2)}), "1.01");  // decimal, not binary, rounding
  EXPECT_EQ(eval("round", {D(0.45), I(1)}), "0.5");
  EXPECT_EQ(eval("round", {D(9.995), I(2)}), "10");
  EXPECT_EQ(eval("round", {D(-0.5), I(0)}), "-1");
  EXPECT_EQ(eval("round", {D(0.0001), I(2)}), "0");
  EXPECT_EQ(eval("round", {D(123), I(5)}), "123");
}

TEST(RoundTest, NegativeDigitsRoundToTensAndHundreds) {
  EXPECT_EQ(eval("round", {D(1234.5), I(-2)}), "1200");
  EXPECT_EQ(eval("round", {I(1250), I(-2)}), "1300");
  EXPECT_EQ(eval("round", {D(449), I(-3)}), "0");
  EXPECT_EQ(eval("round", {D(551), I(-3)}), "1000");
  EXPECT_EQ(eval("round", {D(1e300), I(-299)}), "1e+300");
}

TEST(RoundTest, NonFiniteStaysNonFinite) { EXPECT_EQ(eval("round", {D(std::nan("")), I(2)}), "NaN"); }

TEST(TruncTest, TruncatesTowardZero) {
  EXPECT_EQ(eval("trunc", {D(2.7)}), "2");
  EXPECT_EQ(eval("trunc", {D(-2.7)}), "-2");
  EXPECT_EQ(eval("trunc", {D(1.999), I(2)}), "1.99");
  EXPECT_EQ(eval("trunc", {D(-1.999), I(2)}), "-1.99");
  EXPECT_EQ(eval("trunc", {D(1299), I(-2)}), "1200");
}

TEST(FloorCeilTest, RoundDownAndUp) {
  EXPECT_EQ(eval("floor", {D(-2.5)}), "-3");
  EXPECT_EQ(eval("floor", {D(2.5)}), "2");
  EXPECT_EQ(eval("ceil", {D(-2.5)}), "-2");
  EXPECT_EQ(eval("ceiling", {D(2.1)}), "3");
  EXPECT_EQ(eval("floor", {I(7)}), "7");
}

TEST(SqrtTest, NegativeIsNull) {
  EXPECT_EQ(eval("sqrt", {D(16)}), "4");
  EXPECT_EQ(eval("sqrt", {I(2)}), "1.4142135623730951");
  EXPECT_EQ(eval("sqrt", {D(-1)}), "NULL");
  EXPECT_NEAR(evaluate_constant(call("cbrt", {D(-27)})).value().d, -3.0, 1e-15);
}

TEST(PowerTest, ComputesPowersWithDomainErrorsAsNull) {
  EXPECT_EQ(eval("power", {I(2), I(10)}), "1024");
  EXPECT_EQ(eval("pow", {D(2), D(-1)}), "0.5");
  EXPECT_EQ(eval("power", {D(-2), D(3)}), "-8");
  EXPECT_EQ(eval("power", {D(0), D(-1)}), "NULL");
  EXPECT_EQ(eval("power", {D(-8), D(0.5)}), "NULL");
  EXPECT_EQ(eval("power", {D(10), D(400)}), "NULL");
}

TEST(LogTest, LogarithmsOfNonPositiveNumbersAreNull) {
  EXPECT_EQ(eval("ln", {D(1)}), "0");
  EXPECT_EQ(eval("ln", {D(0)}), "NULL");
  EXPECT_EQ(eval("ln", {D(-1)}), "NULL");
  EXPECT_EQ(eval("log10", {D(0)}), "NULL");
  EXPECT_EQ(eval("log", {D(-5)}), "NULL");
}

TEST(LogTest, LogIsBaseTenLikePostgres) {
  EXPECT_EQ(eval("log", {I(100)}), "2");
  EXPECT_EQ(eval("log10", {D(1000)}), "3");
  EXPECT_EQ(eval("log", {D(2), D(8)}), "3");
  EXPECT_EQ(eval("log", {D(1), D(8)}), "NULL");
  auto r = evaluate_constant(call("ln", {D(std::exp(1.0))}));
  EXPECT_NEAR(r.value().d, 1.0, 1e-15);
}

TEST(ExpTest, OverflowIsNull) {
  EXPECT_EQ(eval("exp", {D(0)}), "1");
  EXPECT_EQ(eval("exp", {D(1000)}), "NULL");
  EXPECT_EQ(eval("exp", {D(-1000)}), "0");
}

TEST(ModTest, MatchesTheOperator) {
  EXPECT_EQ(eval("mod", {I(7), I(3)}), "1");
  EXPECT_EQ(eval("mod", {I(-7), I(3)}), "-1");
  EXPECT_EQ(eval("mod", {I(7), I(0)}), "NULL");
  EXPECT_EQ(eval("mod", {D(7.5), I(2)}), "1.5");
}

TEST(SignTest, ReturnsMinusOneZeroOrOne) {
  EXPECT_EQ(eval("sign", {I(-5)}), "-1");
  EXPECT_EQ(eval("sign", {I(0)}), "0");
  EXPECT_EQ(eval("sign", {D(2.5)}), "1");
  EXPECT_EQ(call("sign", {I(1)})->type(), kI);
}

TEST(PiTest, IsPi) { EXPECT_EQ(eval("pi", {}), "3.141592653589793"); }

TEST(GreatestLeastTest, PickTheExtremeIgnoringNulls) {
  EXPECT_EQ(eval("greatest", {I(1), I(5), I(3)}), "5");
  EXPECT_EQ(eval("least", {I(4), Null(), I(3)}), "3");
  EXPECT_EQ(eval("greatest", {NullOf(kI), I(3)}), "3");
  EXPECT_EQ(eval("least", {S("b"), S("a"), S("c")}), "'a'");
  EXPECT_EQ(eval("greatest", {B(false), B(true)}), "true");
}

TEST(GreatestLeastTest, AllNullIsNull) { EXPECT_EQ(eval("greatest", {NullOf(kI), Null()}), "NULL"); }

TEST(GreatestLeastTest, MixedNumbersUnifyToDouble) {
  ExprPtr e = call("greatest", {I(1), D(2.5)});
  EXPECT_EQ(e->type(), kD);
  EXPECT_EQ(eval(e), "2.5");
}

TEST(GreatestLeastTest, TextLiteralJoinsTimestamps) {
  ExprPtr e = call("greatest", {TS("2024-01-01"), S("2024-06-01")});
  EXPECT_EQ(e->type(), kTS);
  EXPECT_EQ(eval(e), "2024-06-01 00:00:00");
}

TEST(GreatestLeastTest, NanIsTheGreatestDouble) {
  EXPECT_EQ(eval("greatest", {D(1), D(std::nan(""))}), "NaN");
  EXPECT_EQ(eval("least", {D(std::nan("")), D(1)}), "1");
}

// ---------------------------------------------------------------------------------------
// nullif

TEST(NullifTest, NullWhenEqual) {
  EXPECT_EQ(eval("nullif", {I(1), I(1)}), "NULL");
  EXPECT_EQ(eval("nullif", {I(1), I(2)}), "1");
  EXPECT_EQ(eval("nullif", {S("a"), S("a")}), "NULL");
  EXPECT_EQ(eval("nullif", {S("a"), S("b")}), "'a'");
}

TEST(NullifTest, NullArguments) {
  EXPECT_EQ(eval("nullif", {Null(), I(1)}), "NULL");
  EXPECT_EQ(eval("nullif", {I(1), Null()}), "1");
  EXPECT_EQ(eval("nullif", {S("a"), NullOf(kS)}), "'a'");
}

TEST(NullifTest, ArgumentsAreUnified) {
  ExprPtr e = call("nullif", {I(1), D(1.0)});
  EXPECT_EQ(e->type(), kD);
  EXPECT_EQ(eval(e), "NULL");
}

// ---------------------------------------------------------------------------------------
// date_trunc

TEST(DateTruncTest, TruncatesToEachUnit) {
  const char* ts = "2024-03-15 10:37:12.123456";
  EXPECT_EQ(eval("date_trunc", {S("microseconds"), TS(ts)}), "2024-03-15 10:37:12.123456");
  EXPECT_EQ(eval("date_trunc", {S("milliseconds"), TS(ts)}), "2024-03-15 10:37:12.123");
  EXPECT_EQ(eval("date_trunc", {S("second"), TS(ts)}), "2024-03-15 10:37:12");
  EXPECT_EQ(eval("date_trunc", {S("minute"), TS(ts)}), "2024-03-15 10:37:00");
  EXPECT_EQ(eval("date_trunc", {S("hour"), TS(ts)}), "2024-03-15 10:00:00");
  EXPECT_EQ(eval("date_trunc", {S("day"), TS(ts)}), "2024-03-15 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("week"), TS(ts)}), "2024-03-11 00:00:00");  // Monday
  EXPECT_EQ(eval("date_trunc", {S("month"), TS(ts)}), "2024-03-01 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("quarter"), TS(ts)}), "2024-01-01 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("year"), TS(ts)}), "2024-01-01 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("quarter"), TS("2024-11-30")}), "2024-10-01 00:00:00");
}

TEST(DateTruncTest, UnitIsCaseInsensitiveAndAcceptsPlurals) {
  EXPECT_EQ(eval("date_trunc", {S("HOUR"), TS("2024-03-15 10:37:12")}), "2024-03-15 10:00:00");
  EXPECT_EQ(eval("date_trunc", {S("minutes"), TS("2024-03-15 10:37:12")}), "2024-03-15 10:37:00");
}

TEST(DateTruncTest, TimestampsBefore1970TruncateDownwards) {
  EXPECT_EQ(eval("date_trunc", {S("hour"), TS("1969-12-31 23:30:00")}), "1969-12-31 23:00:00");
  EXPECT_EQ(eval("date_trunc", {S("day"), TS("1969-12-31 23:30:00")}), "1969-12-31 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("second"), TS("1969-12-31 23:59:59.5")}), "1969-12-31 23:59:59");
  EXPECT_EQ(eval("date_trunc", {S("month"), TS("1960-02-15 12:00:00")}), "1960-02-01 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("week"), TS("1970-01-01 12:00:00")}), "1969-12-29 00:00:00");
  EXPECT_EQ(eval("date_trunc", {S("year"), TS("1900-07-04")}), "1900-01-01 00:00:00");
}

TEST(DateTruncTest, TextLiteralTimestampIsAccepted) {
  EXPECT_EQ(eval("date_trunc", {S("day"), S("2024-03-15 10:37:12")}), "2024-03-15 00:00:00");
}

TEST(DateTruncTest, UnitFromAColumnIsParsedPerRowAndUnknownIsNull) {
  Value t = Value::timestamp(parse_timestamp("2024-03-15 10:37:12").value());
  RecordBatch batch = batch_of({column_of(kS, {Value::string("hour"), Value::string("hour"), Value::string("bogus"),
                                               Value::null(kS), Value::string("year")}),
                                column_of(kTS, {t, t, t, t, t})});
  ExprPtr e = call("date_trunc", {Col(0, kS, "unit"), Col(1, kTS, "ts")});
  EXPECT_EQ(eval_rows(e, batch), (Rows{"2024-03-15 10:00:00", "2024-03-15 10:00:00", "NULL", "NULL",
                                       "2024-01-01 00:00:00"}));
}

TEST(DateTruncTest, NullTimestampGivesNull) { EXPECT_EQ(eval("date_trunc", {S("day"), NullOf(kTS)}), "NULL"); }

// ---------------------------------------------------------------------------------------
// extract / date_part

TEST(ExtractTest, CalendarFields) {
  const char* ts = "2024-03-15 10:37:12.5";
  EXPECT_EQ(eval("extract", {S("year"), TS(ts)}), "2024");
  EXPECT_EQ(eval("extract", {S("quarter"), TS(ts)}), "1");
  EXPECT_EQ(eval("extract", {S("month"), TS(ts)}), "3");
  EXPECT_EQ(eval("extract", {S("day"), TS(ts)}), "15");
  EXPECT_EQ(eval("extract", {S("doy"), TS(ts)}), "75");
  EXPECT_EQ(call("extract", {S("year"), TS(ts)})->type(), kD);
}

TEST(ExtractTest, TimeOfDayFieldsIncludeFractions) {
  const char* ts = "2024-03-15 10:37:12.5";
  EXPECT_EQ(eval("extract", {S("hour"), TS(ts)}), "10");
  EXPECT_EQ(eval("extract", {S("minute"), TS(ts)}), "37");
  EXPECT_EQ(eval("extract", {S("second"), TS(ts)}), "12.5");
  EXPECT_EQ(eval("extract", {S("milliseconds"), TS(ts)}), "12500");
  EXPECT_EQ(eval("extract", {S("microsecond"), TS(ts)}), "12500000");
}

TEST(ExtractTest, DowCountsFromSundayAndIsodowFromMonday) {
  EXPECT_EQ(eval("extract", {S("dow"), TS("2024-03-15")}), "5");  // Friday
  EXPECT_EQ(eval("extract", {S("dow"), TS("2024-03-17")}), "0");  // Sunday
  EXPECT_EQ(eval("extract", {S("isodow"), TS("2024-03-17")}), "7");
  EXPECT_EQ(eval("extract", {S("isodow"), TS("2024-03-18")}), "1");
  EXPECT_EQ(eval("extract", {S("dow"), TS("1969-12-31 23:00:00")}), "3");  // Wednesday
}

TEST(ExtractTest, WeekIsTheIsoWeek) {
  EXPECT_EQ(eval("extract", {S("week"), TS("2024-03-15")}), "11");
  EXPECT_EQ(eval("extract", {S("week"), TS("2021-01-03")}), "53");
  EXPECT_EQ(eval("extract", {S("isoyear"), TS("2021-01-03")}), "2020");
  EXPECT_EQ(eval("extract", {S("week"), TS("2024-12-30")}), "1");
  EXPECT_EQ(eval("extract", {S("isoyear"), TS("2024-12-30")}), "2025");
}

TEST(ExtractTest, EpochIsSecondsAsDouble) {
  EXPECT_EQ(eval("extract", {S("epoch"), TS("1970-01-01 00:00:01.5")}), "1.5");
  EXPECT_EQ(eval("extract", {S("epoch"), TS("1969-12-31 23:59:59")}), "-1");
  EXPECT_EQ(eval("date_part", {S("epoch"), TS("2024-01-01")}), "1704067200");
}

TEST(ExtractTest, FieldsOfTimestampsBefore1970) {
  const char* ts = "1969-12-31 23:59:58.25";
  EXPECT_EQ(eval("extract", {S("year"), TS(ts)}), "1969");
  EXPECT_EQ(eval("extract", {S("hour"), TS(ts)}), "23");
  EXPECT_EQ(eval("extract", {S("second"), TS(ts)}), "58.25");
}

TEST(ExtractTest, IntervalFields) {
  EXPECT_EQ(eval("extract", {S("epoch"), IV("1d3h")}), "97200");
  EXPECT_EQ(eval("extract", {S("day"), IV("1d3h")}), "1");
  EXPECT_EQ(eval("extract", {S("hour"), IV("1d3h")}), "3");
  EXPECT_EQ(eval("extract", {S("minute"), IV("90m")}), "30");
  EXPECT_EQ(eval("extract", {S("second"), IV("1m30.5s")}), "30.5");
  EXPECT_EQ(eval("extract", {S("hour"), IV("-25h")}), "-1");
  EXPECT_EQ(eval("date_part", {S("milliseconds"), IV("1.5s")}), "1500");
}

TEST(ExtractTest, UnknownLiteralFieldIsAnError) {
  EXPECT_EQ(eval("extract", {S("fortnight"), TS("2024-01-01")}),
            "error: extract: unit 'fortnight' not recognized (expected year, quarter, month, week, day, dow, isodow, "
            "doy, isoyear, hour, minute, second, milliseconds, microseconds or epoch)");
  EXPECT_EQ(eval("extract", {S("month"), IV("1h")}),
            "error: extract from INTERVAL: unit 'month' not recognized (expected day, hour, minute, second, "
            "milliseconds, microseconds or epoch)");
}

// ---------------------------------------------------------------------------------------
// to_timestamp, epoch_ms

TEST(ToTimestampTest, ConvertsEpochSeconds) {
  EXPECT_EQ(eval("to_timestamp", {I(1700000000)}), "2023-11-14 22:13:20");
  EXPECT_EQ(eval("to_timestamp", {D(1.5)}), "1970-01-01 00:00:01.500");
  EXPECT_EQ(eval("to_timestamp", {D(-1)}), "1969-12-31 23:59:59");
  EXPECT_EQ(call("to_timestamp", {D(0)})->type(), kTS);
}

TEST(ToTimestampTest, OutOfRangeIsNull) {
  EXPECT_EQ(eval("to_timestamp", {D(1e300)}), "NULL");
  EXPECT_EQ(eval("to_timestamp", {D(std::nan(""))}), "NULL");
}

TEST(EpochMsTest, TimestampToMilliseconds) {
  EXPECT_EQ(eval("epoch_ms", {TS("2024-01-01")}), "1704067200000");
  EXPECT_EQ(eval("epoch_ms", {make_literal(Value::timestamp(-500))}), "-1");  // floors
  EXPECT_EQ(call("epoch_ms", {TS("2024-01-01")})->type(), kI);
}

TEST(EpochMsTest, MillisecondsToTimestamp) {
  EXPECT_EQ(eval("epoch_ms", {I(1704067200000)}), "2024-01-01 00:00:00");
  EXPECT_EQ(eval("epoch_ms", {I(INT64_MAX)}), "NULL");
}

// ---------------------------------------------------------------------------------------
// Functions over batches

TEST(FunctionBatchTest, StringFunctionsOverManyRows) {
  constexpr size_t kRows = 5000;
  Column s(kS);
  for (size_t i = 0; i < kRows; ++i) {
    if (i % 11 == 5) {
      s.append_null();
    } else {
      s.append_string(std::string(i % 13, 'x') + "é" + std::to_string(i));
    }
  }
  RecordBatch batch = batch_of({std::move(s)});
  ExprPtr col = Col(0, kS, "s");
  EvalScratch scratch;
  const Column& up = call("upper", {col})->eval(batch, scratch);
  const Column& len = call("length", {col})->eval(batch, scratch);
  const Column& sub = call("substr", {col, I(2), I(3)})->eval(batch, scratch);
  const Column& pad = call("lpad", {col, I(20), S("-")})->eval(batch, scratch);
  ASSERT_EQ(up.size(), kRows);
  ASSERT_EQ(pad.size(), kRows);
  for (size_t i = 0; i < kRows; ++i) {
    if (i % 11 == 5) {
      EXPECT_TRUE(up.is_null(i) && len.is_null(i) && sub.is_null(i) && pad.is_null(i)) << i;
      continue;
    }
    const std::string digits = std::to_string(i);
    const std::string text = std::string(i % 13, 'x') + "é" + digits;
    ASSERT_EQ(up.string_at(i), std::string(i % 13, 'X') + "É" + digits) << i;
    ASSERT_EQ(len.int_at(i), static_cast<int64_t>(i % 13 + 1 + digits.size())) << i;
    const int64_t chars = len.int_at(i);
    ASSERT_EQ(pad.string_at(i).size(), static_cast<size_t>(20 - chars + static_cast<int64_t>(text.size()))) << i;
  }
  EXPECT_EQ(sub.string_at(0), "0");  // "é0" -> from 2nd character
}

TEST(FunctionBatchTest, NullifAndGreatestPerRow) {
  RecordBatch batch = batch_of({column_of(kI, {Value::int64(1), Value::int64(2), Value::null(kI)}),
                                column_of(kI, {Value::int64(1), Value::int64(5), Value::int64(4)})});
  EXPECT_EQ(eval_rows(call("nullif", {Col(0, kI), Col(1, kI)}), batch), (Rows{"NULL", "2", "NULL"}));
  EXPECT_EQ(eval_rows(call("greatest", {Col(0, kI), Col(1, kI)}), batch), (Rows{"1", "5", "4"}));
}

TEST(FunctionBatchTest, EmptyBatch) {
  RecordBatch batch = batch_of({Column(kS), Column(kTS)});
  EXPECT_TRUE(eval_rows(call("concat", {Col(0, kS), S("x")}), batch).empty());
  EXPECT_TRUE(eval_rows(call("extract", {S("hour"), Col(1, kTS)}), batch).empty());
  EXPECT_TRUE(eval_rows(call("pi", {}), batch).empty());
}

}  // namespace
}  // namespace sluice
