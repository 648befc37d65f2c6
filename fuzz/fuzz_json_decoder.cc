// libFuzzer target for the JSON-lines decoder. Beyond "no crash, no sanitizer report" it
// checks the decoder's contract on every input:
//  - decode() returns ok, all columns have num_rows rows, failures are in record order;
//  - every record is either a row, a failure or blank (nothing lost, nothing doubled);
//  - differential: a record the decoder accepts is a JSON object for simdjson's fully
//    validating DOM parser (or, for integers beyond 64 bits, for nlohmann::json), and one
//    it calls "invalid JSON" is rejected by the DOM parser;
//  - decoding is deterministic across calls (the decoder reuses parser state).
// The first byte picks options; the rest is split into records at '\n'.
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "formats/format.h"

namespace {

using namespace sluice;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_json_decoder: invariant violated: %s\n", what);
    std::abort();
  }
}

SchemaPtr schema() {
  // Short names so that mutated inputs hit them; every type; two names differing in case.
  static SchemaPtr s = make_schema({{"b", TypeId::kBool},      {"i", TypeId::kInt64},
                                    {"d", TypeId::kFloat64},   {"s", TypeId::kString},
                                    {"t", TypeId::kTimestamp}, {"v", TypeId::kInterval},
                                    {"I", TypeId::kInt64}});
  return s;
}

bool blank(std::string_view r) {
  for (char c : r) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

// An exponent of four or more digits somewhere in the text.
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

struct Run {
  RecordBatch batch;
  std::vector<DecodeFailure> failures;
};

Run run(Decoder& decoder, const RawRecords& in) {
  Run r{RecordBatch(schema()), {}};
  Status s = decoder.decode(in, r.batch, r.failures);
  check(s.is_ok(), "decode returned an error status");
  for (const Column& c : r.batch.columns) check(c.size() == r.batch.num_rows, "column size != num_rows");
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  FormatOptions options;
  options.format = "json";
  static const char* kUnits[] = {"ms", "s", "us", "ms"};
  options.timestamp_unit = kUnits[flags & 3];
  auto made = make_decoder(options, schema());
  check(made.is_ok(), "make_decoder failed");
  Decoder& decoder = **made;

  RawRecords in;
  size_t start = 0;
  int64_t line = 1;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    in.append_record(text.substr(start, end - start), static_cast<int64_t>(start), line++);
    start = end + 1;
  }
  in.finish();
  // Half the inputs break the padding promise, to exercise the copying path.
  if (flags & 4) in.data.shrink_to_fit();

  Run first = run(decoder, in);
  Run second = run(decoder, in);
  check(first.batch.num_rows == second.batch.num_rows, "non-deterministic row count");
  check(first.failures.size() == second.failures.size(), "non-deterministic failure count");
  for (size_t r = 0; r < first.batch.num_rows; ++r) {
    for (size_t c = 0; c < first.batch.columns.size(); ++c) {
      check(first.batch.column(c).equals(r, second.batch.column(c), r) ||
                (first.batch.column(c).type() == TypeId::kFloat64 && first.batch.column(c).is_valid(r) &&
                 first.batch.column(c).double_at(r) != first.batch.column(c).double_at(r)),
            "non-deterministic value");
    }
  }

  static simdjson::dom::parser dom;
  size_t rows = 0, failure = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string_view record = in.record(i);
    const bool failed = failure < first.failures.size() && first.failures[failure].record == i;
    if (failed) {
      const std::string& error = first.failures[failure].error;
      check(!error.empty(), "empty failure message");
      check(error.find('\n') == std::string::npos, "multi-line failure message");
      if (failure > 0) check(first.failures[failure - 1].record < i, "failures out of order");
      ++failure;
    } else if (!blank(record)) {
      ++rows;
    }
    if (blank(record)) {
      check(!failed, "blank record reported as a failure");
      continue;
    }
    simdjson::dom::element element;
    const simdjson::error_code dom_error = dom.parse(record.data(), record.size()).get(element);
    if (!failed) {
      if (dom_error == simdjson::NUMBER_ERROR) {
        // simdjson 3.0's DOM rejects integers beyond 64 bits, which the decoder accepts as
        // doubles on purpose; nlohmann (arbitrary integers, strict otherwise) decides then.
        nlohmann::json j = nlohmann::json::parse(record, nullptr, /*allow_exceptions=*/false);
        check(!j.is_discarded(), "decoder accepted JSON that DOM and nlohmann reject");
        check(j.is_object(), "decoder accepted a non-object");
        continue;
      }
      check(dom_error == simdjson::SUCCESS, "decoder accepted JSON that the DOM parser rejects");
      check(element.is_object(), "decoder accepted a non-object");
    } else if (first.failures[failure - 1].error.rfind("invalid JSON", 0) == 0) {
      const std::string& error = first.failures[failure - 1].error;
      // Known, accepted differences: the decoder's nesting limit is lower than the DOM's,
      // and On Demand rejects exponents too long to represent (1e99999) that the DOM
      // parser clamps.
      const bool known = error.find("DEPTH_ERROR") != std::string::npos ||
                         (error.find("NUMBER_ERROR") != std::string::npos && has_long_exponent(record));
      check(known || dom_error != simdjson::SUCCESS, "decoder rejected JSON that the DOM parser accepts");
    }
  }
  check(failure == first.failures.size(), "failure index out of range");
  check(rows == first.batch.num_rows, "row count != good records");
  return 0;
}
