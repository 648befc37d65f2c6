// libFuzzer target for the JSON functions and operators (src/expr/json_functions.cc).
// Beyond "no crash, no sanitizer report" it checks on every input:
//  - every function returns one value per row, deterministically: the document is
//    evaluated in rows 0 and 2 of a batch, around an unrelated document, and twice;
//  - differential: is_json agrees with simdjson's fully validating DOM parser (with the
//    known, accepted differences listed in README.md);
//  - differential: for valid documents, `doc -> key`, `doc -> n` and json_query(doc, '$')
//    are the same JSON values as the DOM parser finds (compared minified; the last of
//    duplicate keys wins);
//  - consistency: invalid JSON makes every function NULL; json_value, json_exists, ->>
//    and #>> agree with json_query / -> / #> on the same path, and every JSON result is
//    itself valid JSON.
// Input: the first byte picks an array index for `->`; the rest is "<path>\n<document>"
// (no newline: the whole rest is the document and the path is empty). The path is used
// as a JSONPath-lite path, a `->` key and a `#>` array literal.
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "expr/expr.h"

namespace {

using namespace sluice;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_json_functions: invariant violated: %s\n", what);
    std::abort();
  }
}

ExprPtr must(Result<ExprPtr> r) {
  check(r.is_ok(), "make_call failed");
  return std::move(r).value();
}

// Results of one function over the batch, as optional strings (NULL = nullopt).
struct Values {
  std::vector<bool> valid;
  std::vector<std::string> text;
  bool null(size_t r) const { return !valid[r]; }
};

Values run(const ExprPtr& e, const RecordBatch& batch) {
  EvalScratch scratch;
  const Column& c = e->eval(batch, scratch);
  check(c.size() == batch.num_rows, "wrong number of result rows");
  check(c.type() == e->type(), "wrong result type");
  Values v;
  for (size_t r = 0; r < c.size(); ++r) {
    v.valid.push_back(c.is_valid(r));
    if (!c.is_valid(r)) {
      v.text.emplace_back();
    } else if (c.type() == TypeId::kString) {
      v.text.emplace_back(c.string_at(r));
    } else {
      v.text.push_back(std::to_string(c.int_at(r)));
    }
  }
  return v;
}

bool has_long_exponent(std::string_view r) {
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] != 'e' && r[i] != 'E') continue;
    size_t k = i + 1;
    if (k < r.size() && (r[k] == '+' || r[k] == '-')) ++k;
    size_t digits = 0;
    while (k < r.size() && r[k] >= '0' && r[k] <= '9') ++k, ++digits;
    if (digits >= 4) return true;
  }
  return false;
}

// Nesting depth of a DOM value (iterative over the parse tree is not needed: the DOM's own
// limit is 1024, and this recursion only runs on documents it accepted).
int depth_of(simdjson::dom::element e) {
  int d = 0;
  simdjson::dom::array a;
  simdjson::dom::object o;
  if (e.get_array().get(a) == simdjson::SUCCESS) {
    for (simdjson::dom::element c : a) d = std::max(d, depth_of(c));
    return d + 1;
  }
  if (e.get_object().get(o) == simdjson::SUCCESS) {
    for (simdjson::dom::key_value_pair kv : o) d = std::max(d, depth_of(kv.value));
    return d + 1;
  }
  return 0;
}

// Minified DOM text of a JSON text that the DOM parser accepts; false otherwise.
bool minified(simdjson::dom::parser& p, std::string_view text, std::string* out) {
  simdjson::dom::element e;
  if (p.parse(text.data(), text.size()).get(e)) return false;
  *out = simdjson::minify(e);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int64_t index = static_cast<int64_t>(data[0] % 16) - 8;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view path, doc = rest;
  if (size_t nl = rest.find('\n'); nl != std::string_view::npos) {
    path = rest.substr(0, nl);
    doc = rest.substr(nl + 1);
  }

  // Rows 0 and 2 hold the document, row 1 an unrelated one in between.
  Column docs(TypeId::kString), paths(TypeId::kString);
  docs.append_string(doc);
  docs.append_string(R"({"k":[1,{"x":"y"}],"n":null})");
  docs.append_string(doc);
  for (int i = 0; i < 3; ++i) paths.append_string(path);
  RecordBatch batch(make_schema({{"doc", TypeId::kString, true}, {"path", TypeId::kString, true}}));
  batch.num_rows = 3;
  batch.columns = {std::move(docs), std::move(paths)};

  const ExprPtr d = make_column_ref(0, TypeId::kString, "doc");
  const ExprPtr p = make_column_ref(1, TypeId::kString, "path");
  const ExprPtr n = make_literal(Value::int64(index));
  const ExprPtr root = make_literal(Value::string("$"));
  struct Fn {
    const char* name;
    ExprPtr e;
  };
  const std::vector<Fn> fns = {
      {"is_json", must(make_call("is_json", {d}))},
      {"json_typeof", must(make_call("json_typeof", {d}))},
      {"json_array_length", must(make_call("json_array_length", {d}))},
      {"json_query_root", must(make_call("json_query", {d, root}))},
      {"json_value", must(make_call("json_value", {d, p}))},
      {"json_query", must(make_call("json_query", {d, p}))},
      {"json_exists", must(make_call("json_exists", {d, p}))},
      {"->key", must(make_call("->", {d, p}))},
      {"->>key", must(make_call("->>", {d, p}))},
      {"->n", must(make_call("->", {d, n}))},
      {"->>n", must(make_call("->>", {d, n}))},
      {"#>", must(make_call("#>", {d, p}))},
      {"#>>", must(make_call("#>>", {d, p}))},
      {"json_extract_path", must(make_call("json_extract_path", {d, p}))},
      {"json_extract_path_text", must(make_call("json_extract_path_text", {d, p}))},
  };
  std::vector<Values> out;
  for (const Fn& f : fns) {
    Values first = run(f.e, batch);
    Values again = run(f.e, batch);
    check(first.valid == again.valid && first.text == again.text, "non-deterministic across calls");
    check(first.valid[0] == first.valid[2] && first.text[0] == first.text[2], "result depends on the previous row");
    out.push_back(std::move(first));
  }
  auto get = [&](const char* name) -> const Values& {
    for (size_t i = 0; i < fns.size(); ++i) {
      if (std::string_view(fns[i].name) == name) return out[i];
    }
    std::abort();
  };

  const Values& is_json = get("is_json");
  check(!is_json.null(0), "is_json of a non-NULL text is NULL");
  const bool valid = is_json.text[0] == "1";
  if (!valid) {
    for (size_t i = 1; i < fns.size(); ++i) check(out[i].null(0), "a function returned a value for invalid JSON");
  }

  // Differential validity check against the DOM parser.
  static simdjson::dom::parser dom;
  static simdjson::dom::parser dom2;
  simdjson::dom::element element;
  const simdjson::error_code dom_error = dom.parse(doc.data(), doc.size()).get(element);
  if (valid) {
    if (dom_error == simdjson::NUMBER_ERROR) {
      // simdjson 3.0's DOM rejects integers beyond 64 bits, which count as numbers here.
      nlohmann::json j = nlohmann::json::parse(doc, nullptr, /*allow_exceptions=*/false);
      check(!j.is_discarded(), "is_json accepted JSON that DOM and nlohmann reject");
      return 0;  // the DOM cannot serve as a reference for this document
    }
    check(dom_error == simdjson::SUCCESS, "is_json accepted JSON that the DOM parser rejects");
  } else if (dom_error == simdjson::SUCCESS) {
    // Known, accepted differences: nesting beyond 256 levels, and exponents too long for
    // On Demand that the DOM parser clamps.
    check(depth_of(element) > 256 || has_long_exponent(doc), "is_json rejected JSON that the DOM parser accepts");
    return 0;
  }
  if (!valid) return 0;

  std::string want, got;
  // json_query(doc, '$') is the document.
  const Values& whole = get("json_query_root");
  check(!whole.null(0), "json_query(doc, '$') is NULL for valid JSON");
  check(minified(dom2, whole.text[0], &got), "json_query(doc, '$') is not valid JSON");
  check(got == simdjson::minify(element), "json_query(doc, '$') differs from the document");
  check(get("json_typeof").text[0] == std::string(element.is_object()   ? "object"
                                                  : element.is_array()  ? "array"
                                                  : element.is_string() ? "string"
                                                  : element.is_bool()   ? "boolean"
                                                  : element.is_null()   ? "null"
                                                                        : "number"),
        "json_typeof differs from the DOM type");
  simdjson::dom::array root_array;
  simdjson::dom::object root_object;
  const bool is_array = element.get_array().get(root_array) == simdjson::SUCCESS;
  const bool is_object = element.get_object().get(root_object) == simdjson::SUCCESS;
  const Values& length = get("json_array_length");
  check(is_array ? !length.null(0) && length.text[0] == std::to_string(root_array.size()) : length.null(0),
        "json_array_length differs from the DOM array size");

  // doc -> key: the last member named `path`.
  bool found = false;
  if (is_object) {
    for (simdjson::dom::key_value_pair kv : root_object) {
      if (kv.key == path) {
        found = true;
        want = simdjson::minify(kv.value);
      }
    }
  }
  const Values& arrow_key = get("->key");
  check(arrow_key.null(0) == !found, "-> key finds a different member than the DOM");
  if (found) {
    check(minified(dom2, arrow_key.text[0], &got) && got == want, "-> key differs from the DOM member");
  }
  // doc -> n
  found = false;
  if (is_array) {
    const int64_t size = static_cast<int64_t>(root_array.size());
    const int64_t i = index < 0 ? size + index : index;
    simdjson::dom::element at;
    if (i >= 0 && i < size && root_array.at(static_cast<size_t>(i)).get(at) == simdjson::SUCCESS) {
      found = true;
      want = simdjson::minify(at);
    }
  }
  const Values& arrow_n = get("->n");
  check(arrow_n.null(0) == !found, "-> n finds a different element than the DOM");
  if (found) check(minified(dom2, arrow_n.text[0], &got) && got == want, "-> n differs from the DOM element");

  // Text forms agree with JSON forms on the same path.
  auto text_of = [&](const Values& json, const Values& text, bool scalars_only, const char* what) {
    if (json.null(0)) {
      check(text.null(0), what);
      return;
    }
    simdjson::dom::element v;
    check(dom2.parse(json.text[0].data(), json.text[0].size()).get(v) == simdjson::SUCCESS, what);
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) {
      check(!text.null(0) && text.text[0] == s, what);
    } else if (v.is_null() || (scalars_only && (v.is_object() || v.is_array()))) {
      check(text.null(0), what);
    } else {
      check(!text.null(0) && text.text[0] == json.text[0], what);
    }
  };
  text_of(get("json_query"), get("json_value"), true, "json_value disagrees with json_query");
  text_of(get("->key"), get("->>key"), false, "->> key disagrees with -> key");
  text_of(get("->n"), get("->>n"), false, "->> n disagrees with -> n");
  text_of(get("#>"), get("#>>"), false, "#>> disagrees with #>");
  text_of(get("json_extract_path"), get("json_extract_path_text"), false,
          "json_extract_path_text disagrees with json_extract_path");
  const Values& exists = get("json_exists");
  const Values& query = get("json_query");
  if (exists.null(0)) {
    check(query.null(0) && get("json_value").null(0), "json_exists NULL (invalid path) but a value found");
  } else {
    check((exists.text[0] == "1") == !query.null(0), "json_exists disagrees with json_query");
  }
  // One step of json_extract_path is one step of #> with an unquoted element, and of -> for
  // a key on an object.
  if (is_object) {
    check(get("json_extract_path").null(0) == arrow_key.null(0) &&
              get("json_extract_path").text[0] == arrow_key.text[0],
          "json_extract_path with one key disagrees with ->");
  }
  return 0;
}
