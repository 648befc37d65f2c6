#include "formats/json_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "formats/field_convert.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;
using formats_internal::Conv;
using formats_internal::JsonNumber;
using simdjson::error_code;

// Nesting bound for values the decoder walks (to validate them or copy them into TEXT).
// It bounds the validator's recursion, so a hostile record cannot exhaust a task stack.
constexpr int kMaxNesting = 256;
// Key positions remembered per object; wider objects resolve the extra keys each time.
constexpr size_t kMaxCachedKeys = 256;

const char* error_code_name(error_code e) {
  switch (e) {
    case simdjson::SUCCESS: return "SUCCESS";
    case simdjson::CAPACITY: return "CAPACITY";
    case simdjson::MEMALLOC: return "MEMALLOC";
    case simdjson::TAPE_ERROR: return "TAPE_ERROR";
    case simdjson::DEPTH_ERROR: return "DEPTH_ERROR";
    case simdjson::STRING_ERROR: return "STRING_ERROR";
    case simdjson::T_ATOM_ERROR: return "T_ATOM_ERROR";
    case simdjson::F_ATOM_ERROR: return "F_ATOM_ERROR";
    case simdjson::N_ATOM_ERROR: return "N_ATOM_ERROR";
    case simdjson::NUMBER_ERROR: return "NUMBER_ERROR";
    case simdjson::UTF8_ERROR: return "UTF8_ERROR";
    case simdjson::UNINITIALIZED: return "UNINITIALIZED";
    case simdjson::EMPTY: return "EMPTY";
    case simdjson::UNESCAPED_CHARS: return "UNESCAPED_CHARS";
    case simdjson::UNCLOSED_STRING: return "UNCLOSED_STRING";
    case simdjson::UNSUPPORTED_ARCHITECTURE: return "UNSUPPORTED_ARCHITECTURE";
    case simdjson::INCORRECT_TYPE: return "INCORRECT_TYPE";
    case simdjson::NUMBER_OUT_OF_RANGE: return "NUMBER_OUT_OF_RANGE";
    case simdjson::INDEX_OUT_OF_BOUNDS: return "INDEX_OUT_OF_BOUNDS";
    case simdjson::NO_SUCH_FIELD: return "NO_SUCH_FIELD";
    case simdjson::IO_ERROR: return "IO_ERROR";
    case simdjson::INVALID_JSON_POINTER: return "INVALID_JSON_POINTER";
    case simdjson::INVALID_URI_FRAGMENT: return "INVALID_URI_FRAGMENT";
    case simdjson::UNEXPECTED_ERROR: return "UNEXPECTED_ERROR";
    case simdjson::PARSER_IN_USE: return "PARSER_IN_USE";
    case simdjson::OUT_OF_ORDER_ITERATION: return "OUT_OF_ORDER_ITERATION";
    case simdjson::INSUFFICIENT_PADDING: return "INSUFFICIENT_PADDING";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT: return "INCOMPLETE_ARRAY_OR_OBJECT";
    case simdjson::SCALAR_DOCUMENT_AS_VALUE: return "SCALAR_DOCUMENT_AS_VALUE";
    case simdjson::OUT_OF_BOUNDS: return "OUT_OF_BOUNDS";
    case simdjson::TRAILING_CONTENT: return "TRAILING_CONTENT";
    default: return "ERROR";
  }
}

const char* json_type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "array";
    case od::json_type::object: return "object";
    case od::json_type::number: return "number";
    case od::json_type::string: return "string";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
  }
  return "value";
}

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// simdjson's raw tokens run up to the next structural character, whitespace included.
std::string_view rtrim_json_space(std::string_view s) {
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

// On Demand reports a misspelled true/false as INCORRECT_TYPE; name the real problem.
error_code atom_error(od::value& value, error_code e) {
  if (e != simdjson::INCORRECT_TYPE) return e;
  std::string_view token = value.raw_json_token();
  return !token.empty() && token[0] == 't' ? simdjson::T_ATOM_ERROR : simdjson::F_ATOM_ERROR;
}

class JsonDecoder final : public Decoder {
 public:
  JsonDecoder(SchemaPtr schema, int64_t unit_micros) : schema_(std::move(schema)), unit_(unit_micros) {
    for (const Field& f : schema_->fields()) names_.push_back(f.name);
    match_.resize(names_.size());
  }

  Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                std::vector<uint32_t>* row_records) override;
  using Decoder::decode;

 private:
  // How a column got its value in the current record: an exact key beats a case-insensitive
  // one whatever the order, otherwise the last key wins.
  enum Match : uint8_t { kUnset = 0, kCaseless, kExact };
  struct KeySlot {
    std::string key;
    int column = -1;
    bool exact = false;
  };

  bool decode_record(const char* data, size_t len, size_t capacity, RecordBatch& out, size_t base);
  int lookup(size_t position, std::string_view key, bool* exact);
  bool convert(od::value& value, size_t c, Column& column, od::document& doc);
  error_code parse_number(od::value& value, JsonNumber* number);
  error_code validate(od::value& value, int depth);
  bool fail_json(error_code e);
  bool fail_convert(size_t c, Conv conv, std::string_view kind, std::string_view text);

  SchemaPtr schema_;
  int64_t unit_;
  std::vector<std::string> names_;
  od::parser parser_;
  std::string padded_;               // copy of a record that lacks simdjson's padding
  const char* record_end_ = nullptr;  // end of the record being parsed
  std::vector<KeySlot> key_cache_;   // by key position: records usually share one layout
  std::vector<uint8_t> match_;       // Match per column, for the current record
  std::string error_;
};

Status JsonDecoder::decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                              std::vector<uint32_t>* row_records) {
  RETURN_IF_ERROR(formats_internal::check_decode_input(in, out, *schema_));
  size_t rows = out.num_rows;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint32_t begin = in.begin(i);
    const char* data = in.data.data() + begin;
    const size_t len = in.ends[i] - begin;
    // A blank line is not a record (a trailing newline, a separator), so not a failure.
    size_t k = 0;
    while (k < len && is_json_space(data[k])) ++k;
    if (k == len) continue;
    // std::string keeps capacity() + 1 bytes readable (the terminator), so capacity() - begin
    // bytes from the record start are safe for simdjson to over-read.
    if (decode_record(data, len, in.data.capacity() - begin, out, rows)) {
      ++rows;
      if (row_records) row_records->push_back(static_cast<uint32_t>(i));
      continue;
    }
    for (Column& column : out.columns) column.truncate(rows);
    failures.push_back(DecodeFailure{static_cast<uint32_t>(i), std::move(error_)});
    error_.clear();
  }
  out.num_rows = rows;
  return Status::ok();
}

bool JsonDecoder::decode_record(const char* data, size_t len, size_t capacity, RecordBatch& out,
                                size_t base) {
  if (capacity < len + simdjson::SIMDJSON_PADDING) {
    if (padded_.size() < len + simdjson::SIMDJSON_PADDING) padded_.resize(len + simdjson::SIMDJSON_PADDING);
    std::memcpy(padded_.data(), data, len);
    data = padded_.data();
    capacity = padded_.size();
  }
  record_end_ = data + len;
  od::document doc;
  error_code e = parser_.iterate(data, len, capacity).get(doc);
  if (e) return fail_json(e);
  od::json_type type;
  if ((e = doc.type().get(type))) return fail_json(e);
  if (type != od::json_type::object) {
    error_ = fmt::format("expected a JSON object, got {}", json_type_name(type));
    return false;
  }
  od::object object;
  if ((e = doc.get_object().get(object))) return fail_json(e);
  std::fill(match_.begin(), match_.end(), kUnset);
  size_t position = 0;
  for (auto field_result : object) {
    od::field field;
    if ((e = std::move(field_result).get(field))) return fail_json(e);
    std::string_view key;
    if ((e = field.unescaped_key().get(key))) return fail_json(e);
    bool exact = false;
    int c = lookup(position++, key, &exact);
    od::value& value = field.value();
    if (c < 0 || (!exact && match_[c] == kExact)) {
      // Ignored, but a record is only good if all of it is valid JSON.
      if ((e = validate(value, 2))) return fail_json(e);
      continue;
    }
    Column& column = out.columns[c];
    if (column.size() > base) column.truncate(base);  // duplicate key: drop the earlier value
    match_[c] = exact ? kExact : kCaseless;
    if (!convert(value, static_cast<size_t>(c), column, doc)) return false;
  }
  // On Demand does not look past the root value by itself.
  const char* location = nullptr;
  if (doc.current_location().get(location) != simdjson::OUT_OF_BOUNDS) {
    return fail_json(simdjson::TRAILING_CONTENT);
  }
  for (Column& column : out.columns) {
    if (column.size() == base) column.append_null();
  }
  return true;
}

int JsonDecoder::lookup(size_t position, std::string_view key, bool* exact) {
  if (position < key_cache_.size()) {
    const KeySlot& slot = key_cache_[position];
    if (std::string_view(slot.key) == key) {
      *exact = slot.exact;
      return slot.column;
    }
  }
  int column = -1;
  bool is_exact = false;
  for (size_t c = 0; c < names_.size(); ++c) {
    if (names_[c] == key) {
      column = static_cast<int>(c);
      is_exact = true;
      break;
    }
  }
  if (column < 0) {
    for (size_t c = 0; c < names_.size(); ++c) {
      if (iequals(names_[c], key)) {
        column = static_cast<int>(c);
        break;
      }
    }
  }
  if (position < kMaxCachedKeys) {
    if (position >= key_cache_.size()) key_cache_.resize(position + 1);
    KeySlot& slot = key_cache_[position];
    slot.key.assign(key);
    slot.column = column;
    slot.exact = is_exact;
  }
  *exact = is_exact;
  return column;
}

bool JsonDecoder::convert(od::value& value, size_t c, Column& column, od::document& doc) {
  od::json_type type;
  error_code e = value.type().get(type);
  if (e) return fail_json(e);
  switch (type) {
    case od::json_type::null: {
      bool is_null = false;
      if ((e = value.is_null().get(is_null))) return fail_json(e);
      if (!is_null) return fail_json(simdjson::N_ATOM_ERROR);
      column.append_null();
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if ((e = value.get_bool().get(b))) return fail_json(atom_error(value, e));
      std::string_view text = b ? "true" : "false";
      if (column.type() == TypeId::kBool) {
        column.append_bool(b);
      } else if (column.type() == TypeId::kString) {
        column.append_string(text);
      } else if (column.type() == TypeId::kNull) {
        column.append_null();
      } else {
        return fail_convert(c, Conv::kBadValue, "boolean", text);
      }
      return true;
    }
    case od::json_type::number: {
      JsonNumber number;
      if ((e = parse_number(value, &number))) return fail_json(e);
      Conv conv = formats_internal::append_number(column, number, unit_);
      if (conv != Conv::kOk) return fail_convert(c, conv, "number", number.text);
      return true;
    }
    case od::json_type::string: {
      std::string_view raw = rtrim_json_space(value.raw_json_token());
      std::string_view text;
      if ((e = value.get_string().get(text))) return fail_json(e);
      Conv conv = formats_internal::append_text(column, text, unit_);
      if (conv != Conv::kOk) return fail_convert(c, conv, "string", raw);
      return true;
    }
    case od::json_type::object:
    case od::json_type::array: {
      if (column.type() != TypeId::kString) {
        return fail_convert(c, Conv::kBadValue, json_type_name(type), {});
      }
      // TEXT keeps the value's JSON text: from its first byte to the token after it.
      const char* start = value.raw_json_token().data();
      if ((e = validate(value, 2))) return fail_json(e);
      const char* end = nullptr;
      if (doc.current_location().get(end) || end < start || end > record_end_) end = record_end_;
      column.append_string(rtrim_json_space(std::string_view(start, static_cast<size_t>(end - start))));
      return true;
    }
  }
  return fail_json(simdjson::TAPE_ERROR);
}

error_code JsonDecoder::parse_number(od::value& value, JsonNumber* number) {
  number->text = rtrim_json_space(value.raw_json_token());
  od::number_type kind;
  SIMDJSON_TRY(value.get_number_type().get(kind));
  if (kind == od::number_type::floating_point_number) return value.get_double().get(number->d);
  if (kind == od::number_type::signed_integer) {
    if (value.get_int64().get(number->i) == simdjson::SUCCESS) {
      number->is_int = true;
      return simdjson::SUCCESS;
    }
  } else {
    uint64_t u = 0;
    if (value.get_uint64().get(u) == simdjson::SUCCESS) {
      number->is_big_int = true;
      number->d = static_cast<double>(u);
      return simdjson::SUCCESS;
    }
  }
  // Integer syntax beyond 64 bits is still a JSON number; keep it as a double (9e27).
  // A failed get_int64/get_uint64 does not advance the iterator, so this re-reads it.
  SIMDJSON_TRY(value.get_double().get(number->d));
  number->is_big_int = true;
  return simdjson::SUCCESS;
}

error_code JsonDecoder::validate(od::value& value, int depth) {
  od::json_type type;
  SIMDJSON_TRY(value.type().get(type));
  switch (type) {
    case od::json_type::object: {
      if (depth > kMaxNesting) return simdjson::DEPTH_ERROR;
      od::object object;
      SIMDJSON_TRY(value.get_object().get(object));
      for (auto field_result : object) {
        od::field field;
        SIMDJSON_TRY(std::move(field_result).get(field));
        std::string_view key;
        SIMDJSON_TRY(field.unescaped_key().get(key));  // checks the key's escapes
        SIMDJSON_TRY(validate(field.value(), depth + 1));
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      if (depth > kMaxNesting) return simdjson::DEPTH_ERROR;
      od::array array;
      SIMDJSON_TRY(value.get_array().get(array));
      for (auto element_result : array) {
        od::value element;
        SIMDJSON_TRY(std::move(element_result).get(element));
        SIMDJSON_TRY(validate(element, depth + 1));
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      JsonNumber number;
      return parse_number(value, &number);
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool b = false;
      return atom_error(value, value.get_bool().get(b));
    }
    case od::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(value.is_null().get(is_null));
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

bool JsonDecoder::fail_json(error_code e) {
  error_ = fmt::format("invalid JSON: {}: {}", error_code_name(e), simdjson::error_message(e));
  return false;
}

bool JsonDecoder::fail_convert(size_t c, Conv conv, std::string_view kind, std::string_view text) {
  error_ = formats_internal::conversion_error(names_[c], schema_->field(c).type, unit_, conv, kind,
                                              text, /*quote=*/false);
  return false;
}

}  // namespace

std::unique_ptr<Decoder> make_json_decoder(SchemaPtr schema, int64_t timestamp_unit_micros) {
  return std::make_unique<JsonDecoder>(std::move(schema), timestamp_unit_micros);
}

}  // namespace sluice
