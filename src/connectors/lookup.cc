#include "connectors/lookup.h"

#include <map>

#include "connectors/registry.h"
#include "connectors/source.h"
#include "formats/format.h"

namespace sluice {
namespace {

// A bounded source read whole: every split through its reader, records decoded with the
// table's format. A record that does not decode fails the read (a lookup table has no
// dead-letter queue: a half-read table would answer wrongly).
class BoundedSourceLookupReader : public LookupReader {
 public:
  BoundedSourceLookupReader(LookupSpec spec, std::unique_ptr<SourceFactory> factory)
      : spec_(std::move(spec)), factory_(std::move(factory)) {}

  Result<MutableBatchPtr> read_all() override {
    auto out = make_batch(spec_.schema);
    ASSIGN_OR_RETURN(std::unique_ptr<SplitEnumerator> enumerator, factory_->create_enumerator());
    ASSIGN_OR_RETURN(SplitChanges splits, enumerator->discover());
    std::unique_ptr<Decoder> decoder;
    if (!factory_->produces_rows()) {
      ASSIGN_OR_RETURN(decoder, make_decoder(factory_->format(), spec_.schema));
    }
    RawRecords raw;
    std::vector<DecodeFailure> failures;
    for (const SourceSplit& split : splits.added) {
      ASSIGN_OR_RETURN(std::unique_ptr<SourceReader> reader, factory_->create_split_reader(split));
      RETURN_IF_ERROR(reader->open());
      for (;;) {
        raw = RawRecords();
        Result<PollStatus> polled = decoder ? reader->poll(raw, kDefaultBatchRows) : reader->poll_rows(*out, kDefaultBatchRows);
        if (!polled.is_ok()) return polled.status();
        if (decoder && !raw.empty()) {
          failures.clear();
          RETURN_IF_ERROR(decoder->decode(raw, *out, failures));
          if (!failures.empty()) {
            return invalid_argument("lookup table {}: record at offset {} of split {}: {}", spec_.table,
                                    raw.offsets.empty() ? -1 : raw.offsets[failures[0].record], split.id,
                                    failures[0].error);
          }
        }
        if (polled.value() == PollStatus::kEnd) break;
      }
      RETURN_IF_ERROR(reader->close());
    }
    out->row_kinds.clear();
    return out;
  }
  std::string describe() const override { return factory_->describe(); }

 private:
  LookupSpec spec_;
  std::unique_ptr<SourceFactory> factory_;
};

}  // namespace

Result<std::unique_ptr<LookupReader>> make_lookup_reader(const LookupSpec& spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<LookupReader> reader, connector_registry().make_lookup_reader(spec));
  if (reader) return reader;
  // Any other connector: its bounded source. Options every source takes (event time,
  // watermarks) mean nothing to a table read whole; they are left out.
  std::map<std::string, std::string> options;
  for (const auto& [k, v] : spec.options.values()) {
    if (!is_common_source_option(k) && k != "primary_key") options[k] = v;  // the key: the join's
  }
  SourceSpec source;
  source.table = spec.table;
  source.connector = spec.connector;
  source.schema = spec.schema;
  source.options = ConnectorOptions(options, spec.options.context());
  ASSIGN_OR_RETURN(std::unique_ptr<SourceFactory> factory, make_source_factory(source));
  if (!factory->bounded()) {
    return invalid_argument("{}: a lookup table must be a table read whole (sqlite, postgres, a file), not the "
                            "unbounded '{}' source",
                            spec.options.context(), spec.connector);
  }
  return std::unique_ptr<LookupReader>(std::make_unique<BoundedSourceLookupReader>(spec, std::move(factory)));
}

}  // namespace sluice
