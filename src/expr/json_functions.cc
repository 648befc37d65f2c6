// JSON functions on TEXT holding JSON: json_value, json_query, json_exists,
// json_extract_path[_text], json_array_length, json_typeof, is_json, and PostgreSQL's
// operators ->, ->>, #>, #>> (registered as functions of those names: the binder hands an
// A_Expr's operator name straight to make_call).
//
// Each row is parsed with simdjson On Demand and walked completely in one pass: the walk
// validates every value (as the JSON decoder does, with the same nesting bound) and picks
// up the value at the path on the way, so a document that is not valid JSON gives NULL
// however early the path ends. Nothing here throws. Results are spans of the document
// (raw JSON text, number tokens as written) or strings unescaped by simdjson.
//
// Per-thread state (JsonState): the On Demand parser, a padded copy of the current row
// (simdjson reads up to SIMDJSON_PADDING bytes past the end), and the parsed path of the
// previous row, which is reused while the path text does not change (paths are usually
// literals). Steady state does no heap allocation; buffers grown by an unusually large
// document are released at the end of the batch. Kernels do not nest, so one state per
// thread suffices.
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "expr/expr_internal.h"

namespace sluice::expr_internal {

namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;


// Nesting bound for the validating walk (it recurses): the JSON decoder's, so a document
// the decoder accepts is never rejected here.
constexpr int kMaxNesting = 256;
// Buffers larger than this after a batch are released rather than kept per thread.
constexpr size_t kRetainBytes = size_t{16} << 20;

// ---------------------------------------------------------------------------------------
// Paths

// One step of a path: a member name, an array index (negative counts from the end), or
// both (#> paths and json_extract_path: the name applies to objects, the index to arrays).
struct Step {
  std::string_view key;
  int64_t index = 0;
  bool by_key = false;
  bool by_index = false;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Optional '-' and decimal digits filling all of `s`, within int64.
bool parse_index(std::string_view s, int64_t* out) {
  size_t i = 0;
  const bool neg = !s.empty() && s[0] == '-';
  if (neg) ++i;
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v)) return false;
  }
  *out = neg ? -v : v;
  return true;
}

// Parses JSONPath-lite into `steps`, with unescaped member names stored in `names` (whose
// capacity is reserved up front, so the steps' views stay valid). Grammar, surrounding
// whitespace ignored:
//   path    := '$' segment* | first segment*        ('a.b' means '$.a.b')
//   first   := name | quoted | '.' member | '[' sub ']'
//   segment := '.' member | '[' ws* sub ws* ']'
//   member  := name | quoted
//   sub     := quoted | integer | 'last' [ws* '-' ws* digits]
//   name    := one or more characters other than . [ ] ' " * and whitespace
//   quoted  := '...' or "..." with \\, \' and \" as the only escapes
// Negative integers and `last` count from the end of the array (-1 = last).
bool parse_json_path(std::string_view p, std::string& names, std::vector<Step>& steps, const char** why) {
  names.clear();
  names.reserve(p.size());
  steps.clear();
  p = trim_ascii_space(p);
  if (p.empty()) {
    *why = "empty path";
    return false;
  }
  size_t i = 0;
  auto quoted = [&](std::string_view* out) {
    const char q = p[i++];
    const size_t start = names.size();
    for (;;) {
      if (i >= p.size()) {
        *why = "unterminated quoted name";
        return false;
      }
      char c = p[i++];
      if (c == q) break;
      if (c == '\\') {
        if (i >= p.size() || (p[i] != '\\' && p[i] != '\'' && p[i] != '"')) {
          *why = "unsupported escape in a quoted name (only \\\\, \\' and \\\")";
          return false;
        }
        c = p[i++];
      }
      names.push_back(c);
    }
    *out = std::string_view(names.data() + start, names.size() - start);
    return true;
  };
  auto member = [&]() {
    Step s;
    s.by_key = true;
    if (i < p.size() && (p[i] == '"' || p[i] == '\'')) {
      if (!quoted(&s.key)) return false;
    } else {
      const size_t start = i;
      while (i < p.size() && p[i] != '.' && p[i] != '[' && p[i] != ']' && p[i] != '\'' && p[i] != '"' &&
             p[i] != '*' && !is_space(p[i])) {
        ++i;
      }
      if (i == start) {
        *why = i < p.size() && p[i] == '*' ? "wildcards are not supported"
               : i < p.size() && p[i] == '.' ? "recursive descent (..) is not supported"
                                             : "expected a member name";
        return false;
      }
      s.key = p.substr(start, i - start);
    }
    steps.push_back(s);
    return true;
  };
  auto skip_space = [&] {
    while (i < p.size() && is_space(p[i])) ++i;
  };
  auto subscript = [&]() {  // after '['
    skip_space();
    Step s;
    if (i < p.size() && (p[i] == '"' || p[i] == '\'')) {
      s.by_key = true;
      if (!quoted(&s.key)) return false;
    } else if (p.substr(i, 4) == "last") {
      i += 4;
      skip_space();
      s.by_index = true;
      s.index = -1;
      if (i < p.size() && p[i] == '-') {
        ++i;
        skip_space();
        const size_t start = i;
        while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
        int64_t k = 0;
        if (i == start || !parse_index(p.substr(start, i - start), &k)) {
          *why = "expected a number after 'last -'";
          return false;
        }
        s.index = -1 - k;
      }
    } else {
      const size_t start = i;
      if (i < p.size() && p[i] == '-') ++i;
      while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
      if (!parse_index(p.substr(start, i - start), &s.index)) {
        *why = i < p.size() && p[i] == '*' ? "wildcards are not supported" : "expected an array index or a quoted name";
        return false;
      }
      s.by_index = true;
    }
    skip_space();
    if (i >= p.size() || p[i] != ']') {
      *why = "expected ']'";
      return false;
    }
    ++i;
    steps.push_back(s);
    return true;
  };
  if (p[0] == '$') {
    ++i;
  } else if (p[0] != '.' && p[0] != '[') {
    if (!member()) return false;
  }
  while (i < p.size()) {
    const char c = p[i++];
    if (c == '.') {
      if (!member()) return false;
    } else if (c == '[') {
      if (!subscript()) return false;
    } else {
      *why = "expected '.' or '[' between path steps";
      return false;
    }
  }
  return true;
}

// Parses a PostgreSQL text-array literal path ('{a,b,0}', elements optionally in double
// quotes with backslash escapes) into key-or-index steps. '{}' is the empty path. An
// unquoted NULL element is rejected (PostgreSQL returns NULL for it).
bool parse_array_path(std::string_view p, std::string& names, std::vector<Step>& steps, const char** why) {
  names.clear();
  names.reserve(p.size());
  steps.clear();
  p = trim_ascii_space(p);
  if (p.size() < 2 || p.front() != '{' || p.back() != '}') {
    *why = "expected an array literal such as '{a,b,0}'";
    return false;
  }
  p = p.substr(1, p.size() - 2);
  if (trim_ascii_space(p).empty()) return true;
  size_t i = 0;
  for (;;) {
    while (i < p.size() && is_space(p[i])) ++i;
    Step s;
    s.by_key = true;
    const size_t start = names.size();
    bool was_quoted = false;
    if (i < p.size() && p[i] == '"') {
      was_quoted = true;
      ++i;
      for (;;) {
        if (i >= p.size()) {
          *why = "unterminated quoted element";
          return false;
        }
        char c = p[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= p.size()) {
            *why = "unterminated quoted element";
            return false;
          }
          c = p[i++];
        }
        names.push_back(c);
      }
      while (i < p.size() && is_space(p[i])) ++i;
    } else {
      while (i < p.size() && p[i] != ',') {
        char c = p[i++];
        if (c == '{' || c == '}' || c == '"') {
          *why = "nested arrays and stray quotes are not supported";
          return false;
        }
        if (c == '\\') {
          if (i >= p.size()) {
            *why = "trailing backslash";
            return false;
          }
          c = p[i++];
        }
        names.push_back(c);
      }
      while (names.size() > start && is_space(names.back())) names.pop_back();
    }
    s.key = std::string_view(names.data() + start, names.size() - start);
    if (!was_quoted && (s.key.empty() || iequals_ascii(s.key, "null"))) {
      *why = s.key.empty() ? "empty element" : "NULL element";
      return false;
    }
    s.by_index = parse_index(s.key, &s.index);
    steps.push_back(s);
    if (i >= p.size()) return true;
    if (p[i] != ',') {
      *why = "expected ',' between elements";
      return false;
    }
    ++i;
  }
}

using PathParser = bool (*)(std::string_view, std::string&, std::vector<Step>&, const char**);

// ---------------------------------------------------------------------------------------
// The validating walk

// What the walk found at the path.
struct Target {
  bool found = false;
  od::json_type type = od::json_type::null;
  std::string_view raw;   // the value's JSON text as written (no surrounding whitespace)
  std::string_view text;  // strings: the unescaped value
  int64_t count = 0;      // arrays: the number of elements
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view rtrim_json_space(std::string_view s) {
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view token_of(od::value& v) { return v.raw_json_token(); }
std::string_view token_of(od::document& d) {
  std::string_view s;
  if (d.raw_json_token().get(s)) return {};
  return s;
}

class Walker {
 public:
  // `end`: the end of the document's text. `wrapped`: the document is a scalar that
  // find() wrapped in [ ] (see there); its one element is the root.
  Walker(od::document& doc, const char* end, bool wrapped, const Step* steps, size_t num_steps, Target* target)
      : doc_(doc), end_(end), wrapped_(wrapped), steps_(steps), num_steps_(num_steps), target_(target) {}

  error_code run() {
    if (wrapped_) {
      od::array array;
      SIMDJSON_TRY(doc_.get_array().get(array));
      size_t n = 0;
      for (auto element_result : array) {
        od::value element;
        SIMDJSON_TRY(std::move(element_result).get(element));
        if (n++ > 0) return simdjson::TRAILING_CONTENT;  // "1, 2" wrapped
        SIMDJSON_TRY(visit(element, 1, 0));
      }
      if (n != 1) return simdjson::EMPTY;
    } else {
      SIMDJSON_TRY(visit(doc_, 1, 0));
    }
    // On Demand does not look past the root value by itself.
    const char* location = nullptr;
    if (doc_.current_location().get(location) != simdjson::OUT_OF_BOUNDS) return simdjson::TRAILING_CONTENT;
    return simdjson::SUCCESS;
  }

 private:
  static constexpr size_t kOff = SIZE_MAX;  // not on the path

  // `step`: the index of the next path step to apply to this value, num_steps_ when this
  // value is the target, kOff when it is off the path (validated only).
  template <typename V>
  error_code visit(V& v, int depth, size_t step) {
    od::json_type type;
    SIMDJSON_TRY(v.type().get(type));
    const bool is_target = step == num_steps_;
    const std::string_view token = is_target ? token_of(v) : std::string_view();
    std::string_view text;
    int64_t count = 0;
    switch (type) {
      case od::json_type::object: {
        if (depth > kMaxNesting) return simdjson::DEPTH_ERROR;
        od::object object;
        SIMDJSON_TRY(v.get_object().get(object));
        SIMDJSON_TRY(visit_object(object, depth, is_target ? kOff : step));
        break;
      }
      case od::json_type::array: {
        if (depth > kMaxNesting) return simdjson::DEPTH_ERROR;
        od::array array;
        SIMDJSON_TRY(v.get_array().get(array));
        SIMDJSON_TRY(visit_array(array, depth, is_target ? kOff : step, &count));
        break;
      }
      case od::json_type::number:
        SIMDJSON_TRY(check_number(v));
        break;
      case od::json_type::string:
        SIMDJSON_TRY(v.get_string().get(text));
        break;
      case od::json_type::boolean: {
        bool b = false;
        SIMDJSON_TRY(v.get_bool().get(b));  // a misspelled true/false fails here
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        SIMDJSON_TRY(v.is_null().get(is_null));
        if (!is_null) return simdjson::N_ATOM_ERROR;
        break;
      }
      default:
        return simdjson::TAPE_ERROR;
    }
    if (is_target) {
      target_->found = true;
      target_->type = type;
      target_->text = text;
      target_->count = count;
      if (type == od::json_type::object || type == od::json_type::array) {
        // A container's text runs from its first byte to the token after it.
        const char* end = nullptr;
        if (doc_.current_location().get(end) || end < token.data() || end > end_) end = end_;
        target_->raw = rtrim_json_space(std::string_view(token.data(), static_cast<size_t>(end - token.data())));
      } else {
        target_->raw = rtrim_json_space(token);  // scalar tokens run up to the next structural
      }
    }
    return simdjson::SUCCESS;
  }

  error_code visit_object(od::object& object, int depth, size_t step) {
    const Step* s = step == kOff ? nullptr : &steps_[step];
    for (auto field_result : object) {
      od::field field;
      SIMDJSON_TRY(std::move(field_result).get(field));
      std::string_view key;
      SIMDJSON_TRY(field.unescaped_key().get(key));  // also checks the key's escapes
      size_t next = kOff;
      if (s != nullptr && s->by_key && key == s->key) {
        next = step + 1;
        target_->found = false;  // a later duplicate key wins, as in PostgreSQL
      }
      SIMDJSON_TRY(visit(field.value(), depth + 1, next));
    }
    return simdjson::SUCCESS;
  }

  error_code visit_array(od::array& array, int depth, size_t step, int64_t* count) {
    int64_t want = -1;
    if (step != kOff && steps_[step].by_index) {
      want = steps_[step].index;
      if (want < 0) {
        size_t n = 0;
        SIMDJSON_TRY(array.count_elements().get(n));  // rewinds the array
        want += static_cast<int64_t>(n);
      }
    }
    int64_t i = 0;
    for (auto element_result : array) {
      od::value element;
      SIMDJSON_TRY(std::move(element_result).get(element));
      SIMDJSON_TRY(visit(element, depth + 1, i == want ? step + 1 : kOff));
      ++i;
    }
    *count = i;
    return simdjson::SUCCESS;
  }

  // Validates a number the way the JSON decoder reads it: integers beyond 64 bits are
  // still numbers (read as doubles), so only malformed or unrepresentable text fails.
  template <typename V>
  static error_code check_number(V& v) {
    od::number_type kind;
    SIMDJSON_TRY(v.get_number_type().get(kind));
    if (kind == od::number_type::floating_point_number) {
      double d = 0;
      return v.get_double().get(d);
    }
    if (kind == od::number_type::signed_integer) {
      int64_t i = 0;
      if (v.get_int64().get(i) == simdjson::SUCCESS) return simdjson::SUCCESS;
    } else {
      uint64_t u = 0;
      if (v.get_uint64().get(u) == simdjson::SUCCESS) return simdjson::SUCCESS;
    }
    double d = 0;  // a failed get_int64/get_uint64 does not advance: re-read as a double
    return v.get_double().get(d);
  }

  od::document& doc_;
  const char* end_;
  bool wrapped_;
  const Step* steps_;
  size_t num_steps_;
  Target* target_;
};

// ---------------------------------------------------------------------------------------
// Per-thread state

struct JsonState {
  od::parser parser;
  std::string padded;  // the current row plus SIMDJSON_PADDING zero bytes
  // The parsed path of a previous row, reused while the path text stays the same.
  std::string path_text;
  PathParser path_parser = nullptr;
  bool path_ok = false;
  std::string names;
  std::vector<Step> steps;
  std::vector<Step> row_steps;  // steps built from arguments per row (operators)
};

JsonState& state() {
  thread_local JsonState s;
  return s;
}

// After a batch: drop buffers that an unusually large document grew.
void release_large_buffers(JsonState& st) {
  if (st.padded.capacity() > kRetainBytes) std::string().swap(st.padded);
  if (st.parser.capacity() > kRetainBytes) st.parser = od::parser();
}

// Walks `json` along `steps`; false when it is not valid JSON (then `t` is meaningless).
//
// A document whose root is a scalar is parsed again wrapped in [ ], with the element as the
// root: simdjson 3.0.1's root-scalar parsers copy the token into a small buffer and ignore
// what does not fit ("falsen", "nullx " and numbers followed by garbage past ~1 KB pass),
// while scalars inside an array are checked up to the next structural character.
bool find(JsonState& st, std::string_view json, const Step* steps, size_t num_steps, Target* t) {
  const size_t len = json.size();
  // Layout: '[' document ']'? zeros. Byte 0 is reserved for the wrapping '['.
  const size_t need = len + 2 + simdjson::SIMDJSON_PADDING;
  if (st.padded.size() < need) st.padded.resize(std::max(need, st.padded.size() * 2));
  char* buf = st.padded.data();
  std::memcpy(buf + 1, json.data(), len);
  // Zero padding, so bytes of an earlier row never follow this one.
  std::memset(buf + 1 + len, 0, simdjson::SIMDJSON_PADDING + 1);
  od::document doc;
  if (st.parser.iterate(buf + 1, len, st.padded.size() - 1).get(doc)) return false;
  od::json_type type;
  if (doc.type().get(type)) return false;
  const bool wrapped = type != od::json_type::object && type != od::json_type::array;
  if (wrapped) {
    buf[0] = '[';
    buf[len + 1] = ']';
    if (st.parser.iterate(buf, len + 2, st.padded.size()).get(doc)) return false;
  }
  Walker walker(doc, buf + 1 + len, wrapped, steps, num_steps, t);
  return walker.run() == simdjson::SUCCESS;
}

// The steps of a path argument, parsed once per run of equal path texts.
bool cached_path(JsonState& st, PathParser parse, std::string_view path) {
  if (st.path_parser == parse && std::string_view(st.path_text) == path) return st.path_ok;
  st.path_text.assign(path);
  st.path_parser = parse;
  const char* why = nullptr;
  st.path_ok = parse(st.path_text, st.names, st.steps, &why);
  return st.path_ok;
}

// ---------------------------------------------------------------------------------------
// Kernels

// How a found value becomes the result.
enum class Out {
  kValue,   // json_value: scalars as text (strings unescaped); NULL for null/object/array
  kText,    // ->>, #>>, json_extract_path_text: unescaped strings, other values as JSON text, null -> NULL
  kJson,    // json_query, ->, #>, json_extract_path: the JSON text
  kExists,  // json_exists: whether the path exists
};

void emit(Out mode, const Target& t, Column& out) {
  if (mode == Out::kExists) {
    out.append_bool(t.found);
    return;
  }
  if (!t.found) {
    out.append_null();
    return;
  }
  switch (t.type) {
    case od::json_type::string:
      if (mode == Out::kJson) {
        out.append_string(t.raw);
      } else {
        out.append_string(t.text);
      }
      return;
    case od::json_type::null:
      if (mode == Out::kJson) {
        out.append_string(t.raw);
      } else {
        out.append_null();
      }
      return;
    case od::json_type::object:
    case od::json_type::array:
      if (mode == Out::kValue) {
        out.append_null();
      } else {
        out.append_string(t.raw);
      }
      return;
    default:  // number, boolean: as written
      out.append_string(t.raw);
      return;
  }
}

// (json TEXT, path TEXT): the path parsed by `parse`.
ScalarKernel parsed_path_kernel(Out mode, PathParser parse) {
  return [mode, parse](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    JsonState& st = state();
    const Column& json = *args[0];
    const Column& path = *args[1];
    for_rows(args, num_args, rows, out, [&](size_t row) {
      Target t;
      if (!cached_path(st, parse, path.string_at(row)) ||
          !find(st, json.string_at(row), st.steps.data(), st.steps.size(), &t)) {
        out.append_null();
        return;
      }
      emit(mode, t, out);
    });
    release_large_buffers(st);
  };
}

// (json TEXT, key TEXT) or (json TEXT, index BIGINT): one step, the operators -> and ->>.
ScalarKernel one_step_kernel(Out mode, bool by_index) {
  return [mode, by_index](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    JsonState& st = state();
    const Column& json = *args[0];
    const Column& arg = *args[1];
    for_rows(args, num_args, rows, out, [&](size_t row) {
      Step s;
      if (by_index) {
        s.by_index = true;
        s.index = arg.int_at(row);
      } else {
        s.by_key = true;
        s.key = arg.string_at(row);
      }
      Target t;
      if (!find(st, json.string_at(row), &s, 1, &t)) {
        out.append_null();
        return;
      }
      emit(mode, t, out);
    });
    release_large_buffers(st);
  };
}

// (json TEXT, step TEXT, ...): json_extract_path[_text]; each step is a key or an index.
ScalarKernel variadic_path_kernel(Out mode) {
  return [mode](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    JsonState& st = state();
    const Column& json = *args[0];
    for_rows(args, num_args, rows, out, [&](size_t row) {
      st.row_steps.clear();
      for (size_t k = 1; k < num_args; ++k) {
        Step s;
        s.by_key = true;
        s.key = args[k]->string_at(row);
        s.by_index = parse_index(s.key, &s.index);
        st.row_steps.push_back(s);
      }
      Target t;
      if (!find(st, json.string_at(row), st.row_steps.data(), st.row_steps.size(), &t)) {
        out.append_null();
        return;
      }
      emit(mode, t, out);
    });
    release_large_buffers(st);
  };
}

const char* type_name_of(od::json_type t) {
  switch (t) {
    case od::json_type::object: return "object";
    case od::json_type::array: return "array";
    case od::json_type::string: return "string";
    case od::json_type::number: return "number";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
  }
  return "null";
}

void typeof_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  JsonState& st = state();
  const Column& json = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    Target t;
    if (!find(st, json.string_at(row), nullptr, 0, &t)) {
      out.append_null();
      return;
    }
    out.append_string(type_name_of(t.type));
  });
  release_large_buffers(st);
}

void array_length_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  JsonState& st = state();
  const Column& json = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    Target t;
    if (!find(st, json.string_at(row), nullptr, 0, &t) || t.type != od::json_type::array) {
      out.append_null();
      return;
    }
    out.append_int(t.count);
  });
  release_large_buffers(st);
}

void is_json_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  JsonState& st = state();
  const Column& json = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    Target t;
    out.append_bool(find(st, json.string_at(row), nullptr, 0, &t));
  });
  release_large_buffers(st);
}

// Bind-time check of a literal path, so that a typo is a planning error, not NULLs.
std::function<Status(const std::vector<const Value*>&)> path_validator(std::string fn, PathParser parse) {
  return [fn = std::move(fn), parse](const std::vector<const Value*>& args) {
    const Value* path = args.size() > 1 ? args[1] : nullptr;
    if (path == nullptr || path->is_null || path->type != TypeId::kString) return Status::ok();
    std::string names;
    std::vector<Step> steps;
    const char* why = "";
    if (parse(path->s, names, steps, &why)) return Status::ok();
    return invalid_argument("{}: invalid JSON path '{}': {}", fn, path->s, why);
  };
}

void add_path_function(FunctionRegistry& r, const char* name, TypeId ret, ScalarKernel kernel, PathParser parse) {
  ScalarFunction fn;
  fn.name = name;
  fn.arg_types = {kS, kS};
  fn.return_type = ret;
  fn.kernel = std::move(kernel);
  fn.validate = path_validator(name, parse);
  r.add(std::move(fn));
}

}  // namespace

void register_json_functions(FunctionRegistry& r) {
  add_path_function(r, "json_value", kS, parsed_path_kernel(Out::kValue, parse_json_path), parse_json_path);
  add_path_function(r, "json_query", kS, parsed_path_kernel(Out::kJson, parse_json_path), parse_json_path);
  add_path_function(r, "json_exists", kB, parsed_path_kernel(Out::kExists, parse_json_path), parse_json_path);
  add_function(r, "json_extract_path", {kS, kS}, kS, variadic_path_kernel(Out::kJson), true, /*variadic=*/true);
  add_function(r, "json_extract_path_text", {kS, kS}, kS, variadic_path_kernel(Out::kText), true,
               /*variadic=*/true);
  add_function(r, "json_array_length", {kS}, kI, array_length_kernel);
  add_function(r, "json_typeof", {kS}, kS, typeof_kernel);
  add_function(r, "is_json", {kS}, kB, is_json_kernel);
  // PostgreSQL's json operators. pg_query parses `payload ->> 'user'` as an A_Expr whose
  // operator name the binder passes to make_call, which resolves it here.
  add_function(r, "->", {kS, kS}, kS, one_step_kernel(Out::kJson, false));
  add_function(r, "->", {kS, kI}, kS, one_step_kernel(Out::kJson, true));
  add_function(r, "->>", {kS, kS}, kS, one_step_kernel(Out::kText, false));
  add_function(r, "->>", {kS, kI}, kS, one_step_kernel(Out::kText, true));
  add_path_function(r, "#>", kS, parsed_path_kernel(Out::kJson, parse_array_path), parse_array_path);
  add_path_function(r, "#>>", kS, parsed_path_kernel(Out::kText, parse_array_path), parse_array_path);
}

}  // namespace sluice::expr_internal
