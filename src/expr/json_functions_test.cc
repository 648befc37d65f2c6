// Specification tests for the JSON functions and operators (json_functions.cc), one
// behaviour per test: paths through nested objects and arrays, escapes and non-ASCII text,
// missing paths, invalid JSON, NULL inputs, the PostgreSQL operators and whole batches.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "expr/expr_test_util.h"

namespace sluice {
namespace {

using namespace expr_test;  // NOLINT(google-build-using-namespace)

constexpr TypeId kB = TypeId::kBool;
constexpr TypeId kI = TypeId::kInt64;
constexpr TypeId kD = TypeId::kFloat64;
constexpr TypeId kS = TypeId::kString;

const char* const kDoc =
    R"({"user":"ann","n":42,"f":-1.50e2,"ok":true,"no":false,"nil":null,)"
    R"("cart":{"total":19.99,"items":[{"sku":"a1","qty":2},{"sku":"b2","qty":1,"tags":["x","y"]}]},)"
    R"("empty":{},"list":[],"esc":"a\"b\\c\nd\u00e9\ud83d\ude00","caf\u00e9":"key escaped",)"
    R"("日本":"語","a.b":"dotted","big":123456789012345678901234567890})";

std::string jv(const std::string& doc, const std::string& path) { return eval("json_value", {S(doc), S(path)}); }
std::string jq(const std::string& doc, const std::string& path) { return eval("json_query", {S(doc), S(path)}); }
std::string je(const std::string& doc, const std::string& path) { return eval("json_exists", {S(doc), S(path)}); }

// ---------------------------------------------------------------------------------------
// json_value

TEST(JsonValueTest, ReturnsATopLevelString) { EXPECT_EQ(jv(kDoc, "$.user"), "'ann'"); }

TEST(JsonValueTest, AcceptsPathsWithoutTheDollar) {
  EXPECT_EQ(jv(kDoc, "user"), "'ann'");
  EXPECT_EQ(jv(kDoc, "cart.total"), "'19.99'");
  EXPECT_EQ(jv(kDoc, "cart.items[1].sku"), "'b2'");
}

TEST(JsonValueTest, FollowsNestedObjectsAndArrays) {
  EXPECT_EQ(jv(kDoc, "$.cart.items[0].sku"), "'a1'");
  EXPECT_EQ(jv(kDoc, "$.cart.items[1].qty"), "'1'");
  EXPECT_EQ(jv(kDoc, "$.cart.items[1].tags[1]"), "'y'");
}

TEST(JsonValueTest, NumbersKeepTheirJsonText) {
  EXPECT_EQ(jv(kDoc, "$.n"), "'42'");
  EXPECT_EQ(jv(kDoc, "$.f"), "'-1.50e2'");
  EXPECT_EQ(jv(kDoc, "$.cart.total"), "'19.99'");
}

TEST(JsonValueTest, IntegersBeyond64BitsAreNumbersToo) {
  EXPECT_EQ(jv(kDoc, "$.big"), "'123456789012345678901234567890'");
}

TEST(JsonValueTest, BooleansAreTrueOrFalse) {
  EXPECT_EQ(jv(kDoc, "$.ok"), "'true'");
  EXPECT_EQ(jv(kDoc, "$.no"), "'false'");
}

TEST(JsonValueTest, JsonNullIsNull) { EXPECT_EQ(jv(kDoc, "$.nil"), "NULL"); }

TEST(JsonValueTest, ObjectsAndArraysAreNotScalarsSoNull) {
  EXPECT_EQ(jv(kDoc, "$.cart"), "NULL");
  EXPECT_EQ(jv(kDoc, "$.cart.items"), "NULL");
  EXPECT_EQ(jv(kDoc, "$"), "NULL");
}

TEST(JsonValueTest, StringsAreUnescaped) {
  EXPECT_EQ(jv(kDoc, "$.esc"), "'a\"b\\c\nd\xc3\xa9\xf0\x9f\x98\x80'");
}

TEST(JsonValueTest, MatchesEscapedKeysByTheirUnescapedText) {
  EXPECT_EQ(jv(kDoc, "$.café"), "'key escaped'");
  EXPECT_EQ(jv(kDoc, "$.日本"), "'語'");
}

TEST(JsonValueTest, QuotedMembersMayContainDotsAndQuotes) {
  EXPECT_EQ(jv(kDoc, "$.\"a.b\""), "'dotted'");
  EXPECT_EQ(jv(kDoc, "$['a.b']"), "'dotted'");
  EXPECT_EQ(jv(kDoc, "$[\"a.b\"]"), "'dotted'");
  EXPECT_EQ(jv(R"({"it's":1,"q\"":2})", R"($['it\'s'])"), "'1'");
  EXPECT_EQ(jv(R"({"it's":1,"q\"":2})", R"($."q\"")"), "'2'");
}

TEST(JsonValueTest, ReturnsTheRootScalar) {
  EXPECT_EQ(jv(R"("just text")", "$"), "'just text'");
  EXPECT_EQ(jv("  7 ", "$"), "'7'");
}

TEST(JsonValueTest, NegativeIndexesAndLastCountFromTheEnd) {
  EXPECT_EQ(jv("[10,20,30]", "$[-1]"), "'30'");
  EXPECT_EQ(jv("[10,20,30]", "$[last]"), "'30'");
  EXPECT_EQ(jv("[10,20,30]", "$[last - 2]"), "'10'");
  EXPECT_EQ(jv("[10,20,30]", "$[-4]"), "NULL");
}

TEST(JsonValueTest, MissingPathsGiveNull) {
  EXPECT_EQ(jv(kDoc, "$.nope"), "NULL");
  EXPECT_EQ(jv(kDoc, "$.cart.items[5].sku"), "NULL");
  EXPECT_EQ(jv(kDoc, "$.user.first"), "NULL");  // a string has no members
  EXPECT_EQ(jv(kDoc, "$.cart[0]"), "NULL");      // an object is not an array
  EXPECT_EQ(jv(kDoc, "$.list[0]"), "NULL");
  EXPECT_EQ(jv(kDoc, "$.USER"), "NULL");  // member names are case-sensitive
}

TEST(JsonValueTest, TheLastOfDuplicateKeysWins) {
  EXPECT_EQ(jv(R"({"a":1,"a":2})", "$.a"), "'2'");
  EXPECT_EQ(jv(R"({"a":{"b":1},"a":{"c":2}})", "$.a.b"), "NULL");
}

TEST(JsonValueTest, InvalidJsonGivesNull) {
  EXPECT_EQ(jv(R"({"user":"ann")", "$.user"), "NULL");  // truncated
  EXPECT_EQ(jv(R"({"user":"ann",})", "$.user"), "NULL");
  EXPECT_EQ(jv(R"({"user":"ann"} x)", "$.user"), "NULL");  // trailing content
  EXPECT_EQ(jv("not json", "$"), "NULL");
  EXPECT_EQ(jv("", "$"), "NULL");
  EXPECT_EQ(jv("   ", "$"), "NULL");
  EXPECT_EQ(jv("{\"user\":\"\xff\"}", "$.user"), "NULL");  // invalid UTF-8
}

TEST(JsonValueTest, InvalidJsonAfterThePathStillGivesNull) {
  EXPECT_EQ(jv(R"({"user":"ann","x":tru})", "$.user"), "NULL");
  EXPECT_EQ(jv(R"({"user":"ann","x":"\q"})", "$.user"), "NULL");
  EXPECT_EQ(jv(R"({"user":"ann","x":[1,2})", "$.user"), "NULL");
  EXPECT_EQ(jv(R"({"user":"ann","x":01})", "$.user"), "NULL");
}

TEST(JsonValueTest, NestingDeeperThan256LevelsIsInvalid) {
  const std::string ok = "{\"a\":" + std::string(255, '[') + std::string(255, ']') + "}";
  const std::string deep = "{\"a\":" + std::string(300, '[') + std::string(300, ']') + "}";
  EXPECT_EQ(je(ok, "$.a"), "true");
  EXPECT_EQ(je(deep, "$.a"), "NULL");
}

TEST(JsonValueTest, NullArgumentsGiveNull) {
  EXPECT_EQ(eval("json_value", {NullOf(kS), S("$.a")}), "NULL");
  EXPECT_EQ(eval("json_value", {S("{}"), NullOf(kS)}), "NULL");
  EXPECT_EQ(eval("json_value", {Null(), Null()}), "NULL");
}

TEST(JsonValueTest, AnInvalidLiteralPathIsAPlanningError) {
  EXPECT_EQ(error_of(make_call("json_value", {Col(0, kS, "p"), S("$.a[")})),
            "json_value: invalid JSON path '$.a[': expected an array index or a quoted name");
  EXPECT_NE(error_of(make_call("json_query", {Col(0, kS, "p"), S("$.a[*]")})).find("wildcards are not supported"),
            std::string::npos);
  EXPECT_NE(error_of(make_call("json_exists", {Col(0, kS, "p"), S("$..a")})).find("recursive descent"),
            std::string::npos);
  EXPECT_NE(error_of(make_call("json_value", {Col(0, kS, "p"), S("")})).find("empty path"), std::string::npos);
}

TEST(JsonValueTest, AnInvalidPathFromAColumnGivesNull) {
  RecordBatch b = batch_of({column_of(kS, {Value::string(R"({"a":1})"), Value::string(R"({"a":1})")}),
                            column_of(kS, {Value::string("$.a"), Value::string("$.a[")})});
  EXPECT_EQ(eval_rows(call("json_value", {Col(0, kS), Col(1, kS)}), b), (Rows{"'1'", "NULL"}));
}

TEST(JsonValueTest, CastGivesTypedValues) {
  EXPECT_EQ(eval(cast(call("json_value", {S(kDoc), S("$.n")}), kI)), "42");
  EXPECT_EQ(eval(cast(call("json_value", {S(kDoc), S("$.cart.total")}), kD)), "19.99");
  EXPECT_EQ(eval(cast(call("json_value", {S(kDoc), S("$.ok")}), kB)), "true");
  EXPECT_EQ(eval(cast(call("json_value", {S(kDoc), S("$.cart.total")}), kI)), "NULL");  // not an integer
}

TEST(JsonValueTest, ReturnsText) { EXPECT_EQ(call("json_value", {S("{}"), S("$")})->type(), kS); }

// ---------------------------------------------------------------------------------------
// json_query and json_exists

TEST(JsonQueryTest, ReturnsObjectsAndArraysAsWritten) {
  EXPECT_EQ(jq(R"({"a": {"b" : [1, 2]} , "c":0})", "$.a"), R"('{"b" : [1, 2]}')");
  EXPECT_EQ(jq(R"({"a": {"b" : [1, 2]} , "c":0})", "$.a.b"), "'[1, 2]'");
  EXPECT_EQ(jq(kDoc, "$.empty"), "'{}'");
  EXPECT_EQ(jq(kDoc, "$.list"), "'[]'");
}

TEST(JsonQueryTest, ReturnsScalarsAsJsonText) {
  EXPECT_EQ(jq(kDoc, "$.user"), "'\"ann\"'");
  EXPECT_EQ(jq(kDoc, "$.esc"), R"('"a\"b\\c\nd\u00e9\ud83d\ude00"')");
  EXPECT_EQ(jq(kDoc, "$.f"), "'-1.50e2'");
  EXPECT_EQ(jq(kDoc, "$.nil"), "'null'");
}

TEST(JsonQueryTest, TheRootPathReturnsTheWholeDocumentTrimmed) {
  EXPECT_EQ(jq(" [1,{\"a\":2}] \n", "$"), R"('[1,{"a":2}]')");
}

TEST(JsonQueryTest, MissingOrInvalidGivesNull) {
  EXPECT_EQ(jq(kDoc, "$.nope"), "NULL");
  EXPECT_EQ(jq("[1,2", "$"), "NULL");
}

TEST(JsonExistsTest, TrueForAnyValueIncludingNull) {
  EXPECT_EQ(je(kDoc, "$.nil"), "true");
  EXPECT_EQ(je(kDoc, "$.cart.items[1].tags"), "true");
  EXPECT_EQ(je(kDoc, "$"), "true");
}

TEST(JsonExistsTest, FalseForMissingPaths) {
  EXPECT_EQ(je(kDoc, "$.nope"), "false");
  EXPECT_EQ(je(kDoc, "$.cart.items[2]"), "false");
}

TEST(JsonExistsTest, NullForInvalidJsonOrNullInput) {
  EXPECT_EQ(je("{", "$"), "NULL");
  EXPECT_EQ(eval("json_exists", {NullOf(kS), S("$")}), "NULL");
  EXPECT_EQ(call("json_exists", {S("{}"), S("$")})->type(), kB);
}

// ---------------------------------------------------------------------------------------
// Operators -> ->> #> #>>

TEST(JsonOperatorTest, ArrowReturnsJsonText) {
  EXPECT_EQ(eval("->", {S(kDoc), S("user")}), "'\"ann\"'");
  EXPECT_EQ(eval("->", {S(kDoc), S("empty")}), "'{}'");
  EXPECT_EQ(eval("->", {S(kDoc), S("nil")}), "'null'");
}

TEST(JsonOperatorTest, DoubleArrowReturnsUnescapedText) {
  EXPECT_EQ(eval("->>", {S(kDoc), S("user")}), "'ann'");
  EXPECT_EQ(eval("->>", {S(kDoc), S("esc")}), "'a\"b\\c\nd\xc3\xa9\xf0\x9f\x98\x80'");
  EXPECT_EQ(eval("->>", {S(kDoc), S("n")}), "'42'");
  EXPECT_EQ(eval("->>", {S(kDoc), S("ok")}), "'true'");
}

TEST(JsonOperatorTest, DoubleArrowReturnsContainersAsJsonText) {
  EXPECT_EQ(eval("->>", {S(R"({"a":{"b":[1, 2]}})"), S("a")}), R"('{"b":[1, 2]}')");
}

TEST(JsonOperatorTest, DoubleArrowOfJsonNullIsNull) { EXPECT_EQ(eval("->>", {S(kDoc), S("nil")}), "NULL"); }

TEST(JsonOperatorTest, TextKeyIsTakenLiterallyNotAsAPath) {
  EXPECT_EQ(eval("->>", {S(kDoc), S("a.b")}), "'dotted'");
  EXPECT_EQ(eval("->>", {S(R"({"$":1})"), S("$")}), "'1'");
}

TEST(JsonOperatorTest, IntegerIndexesArrays) {
  EXPECT_EQ(eval("->>", {S(R"(["x","y","z"])"), I(1)}), "'y'");
  EXPECT_EQ(eval("->", {S(R"(["x","y","z"])"), I(-1)}), "'\"z\"'");
  EXPECT_EQ(eval("->>", {S(R"(["x","y","z"])"), I(3)}), "NULL");
}

TEST(JsonOperatorTest, KeyOnAnArrayOrIndexOnAnObjectIsNull) {
  EXPECT_EQ(eval("->>", {S(R"(["x"])"), S("0")}), "NULL");
  EXPECT_EQ(eval("->>", {S(R"({"0":"x"})"), I(0)}), "NULL");
}

TEST(JsonOperatorTest, OperatorsChain) {
  ExprPtr items = call("->", {S(kDoc), S("cart")});
  items = call("->", {items, S("items")});
  EXPECT_EQ(eval(call("->>", {call("->", {items, I(1)}), S("sku")})), "'b2'");
}

TEST(JsonOperatorTest, NullOrInvalidGivesNull) {
  EXPECT_EQ(eval("->>", {NullOf(kS), S("a")}), "NULL");
  EXPECT_EQ(eval("->>", {S(R"({"a":1})"), NullOf(kS)}), "NULL");
  EXPECT_EQ(eval("->>", {S(R"({"a":1})"), NullOf(kI)}), "NULL");
  EXPECT_EQ(eval("->>", {S(R"({"a":1})"), Null()}), "NULL");
  EXPECT_EQ(eval("->>", {S(R"({"a":1)"), S("a")}), "NULL");
}

TEST(JsonOperatorTest, NeedTextOnTheLeft) {
  EXPECT_EQ(error_of(make_call("->>", {I(1), S("a")})).rfind("function ->>(BIGINT, TEXT) does not exist", 0), 0u);
}

TEST(JsonOperatorTest, HashArrowFollowsAnArrayLiteralPath) {
  EXPECT_EQ(eval("#>>", {S(kDoc), S("{cart,items,1,sku}")}), "'b2'");
  EXPECT_EQ(eval("#>", {S(kDoc), S("{cart,items,1,tags}")}), R"('["x","y"]')");
  EXPECT_EQ(eval("#>>", {S(kDoc), S(R"({ "a.b" })")}), "'dotted'");
  EXPECT_EQ(eval("#>>", {S(R"({"0":{"1":"k"}})"), S("{0,1}")}), "'k'");  // numbers name members too
  EXPECT_EQ(eval("#>>", {S("[1,[2,3]]"), S("{-1,0}")}), "'2'");
  EXPECT_EQ(eval("#>", {S(" {\"a\":1} "), S("{}")}), R"('{"a":1}')");
}

TEST(JsonOperatorTest, HashArrowInvalidLiteralPathIsAPlanningError) {
  EXPECT_EQ(error_of(make_call("#>>", {Col(0, kS, "p"), S("a,b")})),
            "#>>: invalid JSON path 'a,b': expected an array literal such as '{a,b,0}'");
  EXPECT_NE(error_of(make_call("#>", {Col(0, kS, "p"), S("{a,NULL}")})).find("NULL element"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// json_extract_path, json_array_length, json_typeof, is_json

TEST(JsonExtractPathTest, FollowsKeysAndIndexes) {
  EXPECT_EQ(eval("json_extract_path_text", {S(kDoc), S("cart"), S("items"), S("0"), S("sku")}), "'a1'");
  EXPECT_EQ(eval("json_extract_path", {S(kDoc), S("cart"), S("items"), S("0")}), R"('{"sku":"a1","qty":2}')");
  EXPECT_EQ(eval("json_extract_path_text", {S(kDoc), S("cart"), S("nope")}), "NULL");
  EXPECT_EQ(eval("json_extract_path_text", {S(kDoc), S("cart"), NullOf(kS)}), "NULL");
}

TEST(JsonArrayLengthTest, CountsTopLevelElements) {
  EXPECT_EQ(eval("json_array_length", {S(R"([1,[2,3],{"a":[4]},"x"])")}), "4");
  EXPECT_EQ(eval("json_array_length", {S("[]")}), "0");
  EXPECT_EQ(call("json_array_length", {S("[]")})->type(), kI);
}

TEST(JsonArrayLengthTest, NullForNonArraysInvalidJsonAndNull) {
  EXPECT_EQ(eval("json_array_length", {S(R"({"a":1})")}), "NULL");
  EXPECT_EQ(eval("json_array_length", {S("[1,")}), "NULL");
  EXPECT_EQ(eval("json_array_length", {NullOf(kS)}), "NULL");
}

TEST(JsonArrayLengthTest, ComposesWithArrow) {
  EXPECT_EQ(eval(call("json_array_length", {call("#>", {S(kDoc), S("{cart,items}")})})), "2");
}

TEST(JsonTypeofTest, NamesEveryType) {
  EXPECT_EQ(eval("json_typeof", {S(R"({"a":1})")}), "'object'");
  EXPECT_EQ(eval("json_typeof", {S("[1]")}), "'array'");
  EXPECT_EQ(eval("json_typeof", {S(R"("s")")}), "'string'");
  EXPECT_EQ(eval("json_typeof", {S("-1.5e3")}), "'number'");
  EXPECT_EQ(eval("json_typeof", {S("false")}), "'boolean'");
  EXPECT_EQ(eval("json_typeof", {S(" null ")}), "'null'");
}

TEST(JsonTypeofTest, NullForInvalidJsonAndNull) {
  EXPECT_EQ(eval("json_typeof", {S("nul")}), "NULL");
  EXPECT_EQ(eval("json_typeof", {S("truex")}), "NULL");
  EXPECT_EQ(eval("json_typeof", {NullOf(kS)}), "NULL");
}

TEST(IsJsonTest, TrueForAnyValidValue) {
  for (const char* doc : {"{}", "[]", R"({"a":[1,2,{"b":null}]})", "1", "-0.5e-3", R"("x")", "true", "null",
                          " \n{\"a\" : 1}\t "}) {
    EXPECT_EQ(eval("is_json", {S(doc)}), "true") << doc;
  }
}

TEST(IsJsonTest, FalseForInvalidText) {
  for (const char* doc : {"", " ", "{", "}", "[1,]", R"({"a"})", R"({"a":1,})", "01", "1.", ".5", "+1", "tru",
                          "nulll", "'x'", R"("a" "b")", "[1] [2]", R"({a:1})", "NaN", "\"\t\"", "[1}", "{]"}) {
    EXPECT_EQ(eval("is_json", {S(doc)}), "false") << doc;
  }
}

TEST(IsJsonTest, ScalarDocumentsMustBeExactlyOneToken) {
  // simdjson 3.0.1's root-scalar parsers accept some of these on their own.
  EXPECT_EQ(eval("is_json", {S(" null \n")}), "true");
  EXPECT_EQ(eval("is_json", {S(" false")}), "true");
  for (const char* doc : {"nullx ", "null x", "nul", " falsen", "truee", "1 2", "1,2", "1]", "\"a\"x", "\"a\" \"b\""}) {
    EXPECT_EQ(eval("is_json", {S(doc)}), "false") << doc;
  }
  const std::string long_number = "0." + std::string(2000, '5');
  EXPECT_EQ(eval("is_json", {S(long_number)}), "true");
  EXPECT_EQ(eval("is_json", {S(long_number + "x")}), "false");
  EXPECT_EQ(eval("is_json", {S(long_number + "e")}), "false");
}

TEST(IsJsonTest, NullForNull) { EXPECT_EQ(eval("is_json", {NullOf(kS)}), "NULL"); }

// ---------------------------------------------------------------------------------------
// Batches

std::string order_json(int i) {
  return fmt::format(R"({{"id":{},"user":"u{}","cart":{{"total":{}.5,"items":[{{"sku":"s{}"}}]}}}})", i, i % 7, i,
                     i);
}

TEST(JsonBatchTest, EvaluatesA5000RowBatchRowByRow) {
  std::vector<Value> docs;
  for (int i = 0; i < 5000; ++i) {
    if (i % 10 == 3) {
      docs.push_back(Value::null(kS));
    } else if (i % 10 == 7) {
      docs.push_back(Value::string("{broken"));
    } else {
      docs.push_back(Value::string(order_json(i)));
    }
  }
  RecordBatch b = batch_of({column_of(kS, docs)});
  const Rows users = eval_rows(call("->>", {Col(0, kS), S("user")}), b);
  const Rows totals = eval_rows(cast(call("json_value", {Col(0, kS), S("$.cart.total")}), kD), b);
  const Rows skus = eval_rows(call("json_value", {Col(0, kS), S("cart.items[0].sku")}), b);
  const Rows valid = eval_rows(call("is_json", {Col(0, kS)}), b);
  ASSERT_EQ(users.size(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    const bool null = i % 10 == 3, broken = i % 10 == 7;
    EXPECT_EQ(users[i], null || broken ? "NULL" : fmt::format("'u{}'", i % 7)) << i;
    EXPECT_EQ(totals[i], null || broken ? "NULL" : fmt::format("{}.5", i)) << i;
    EXPECT_EQ(skus[i], null || broken ? "NULL" : fmt::format("'s{}'", i)) << i;
    EXPECT_EQ(valid[i], null ? "NULL" : (broken ? "false" : "true")) << i;
  }
}

TEST(JsonBatchTest, PathsMayDifferPerRow) {
  RecordBatch b = batch_of({column_of(kS, {Value::string(R"({"a":1,"b":[5,6]})"), Value::string(R"({"a":1,"b":[5,6]})"),
                                           Value::string(R"({"a":1,"b":[5,6]})"), Value::string(R"({"a":1,"b":[5,6]})")}),
                            column_of(kS, {Value::string("$.a"), Value::string("$.b[1]"), Value::null(kS),
                                           Value::string("$.b[1]")})});
  EXPECT_EQ(eval_rows(call("json_value", {Col(0, kS), Col(1, kS)}), b), (Rows{"'1'", "'6'", "NULL", "'6'"}));
}

TEST(JsonBatchTest, LargeDocumentsAndLaterSmallOnesDoNotInterfere) {
  std::string big = R"({"pad":")" + std::string(20 << 20, 'x') + R"(","k":"big"})";
  RecordBatch b = batch_of({column_of(kS, {Value::string(big), Value::string(R"({"k":"small"})"),
                                           Value::string("{\"k\":1")})});
  EXPECT_EQ(eval_rows(call("->>", {Col(0, kS), S("k")}), b), (Rows{"'big'", "'small'", "NULL"}));
  RecordBatch small = batch_of({column_of(kS, {Value::string("[1,2,3]")})});
  EXPECT_EQ(eval_rows(call("json_array_length", {Col(0, kS)}), small), (Rows{"3"}));
}

TEST(JsonBatchTest, ThreadsEvaluateConcurrently) {
  std::vector<Value> docs;
  for (int i = 0; i < 2000; ++i) docs.push_back(Value::string(order_json(i)));
  RecordBatch b = batch_of({column_of(kS, docs)});
  ExprPtr e = call("json_value", {Col(0, kS), S("$.cart.items[0].sku")});
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        const Rows rows = eval_rows(e, b);
        for (int i = 0; i < 2000; ++i) mismatches[t] += rows[i] != fmt::format("'s{}'", i);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

TEST(JsonDocsTest, FunctionsAreListed) {
  std::vector<std::string> names = function_names();
  for (const char* n : {"json_value", "json_query", "json_exists", "json_typeof", "is_json", "->>"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

}  // namespace
}  // namespace sluice
