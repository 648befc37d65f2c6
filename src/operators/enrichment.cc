#include "operators/enrichment.h"

namespace sluice {

Status EnrichmentOutput::emit(const RecordBatch& stream, const std::vector<uint32_t>& stream_rows,
                              const RecordBatch& table, std::vector<uint32_t>& table_rows, Output& out) {
  const size_t n = stream_rows.size();
  if (n == 0) return Status::ok();
  bool all_matched = true;
  for (uint32_t t : table_rows) all_matched = all_matched && t != kNoPartner;
  auto batch = make_batch(schema_);
  const size_t ns = stream.columns.size();
  for (size_t col = 0; col < ns; ++col) batch->columns[col].append_gather(stream.column(col), stream_rows.data(), n);
  for (size_t col = 0; col < table.columns.size(); ++col) {
    Column& dst = batch->columns[ns + col];
    if (all_matched) {
      dst.append_gather(table.column(col), table_rows.data(), n);
      continue;
    }
    for (uint32_t t : table_rows) {
      if (t == kNoPartner) {
        dst.append_null();
      } else {
        dst.append_from(table.column(col), t);
      }
    }
  }
  batch->num_rows = n;
  if (residual_) {
    scratch_.reset();
    const Column& ok = residual_->eval(*batch, scratch_);
    for (size_t r = 0; r < n; ++r) {
      if (table_rows[r] != kNoPartner && !(ok.is_valid(r) && ok.int_at(r) != 0)) table_rows[r] = kNoPartner;
    }
  }
  kept_.clear();
  bool dropped = false;
  for (size_t r = 0; r < n; ++r) {
    if (table_rows[r] != kNoPartner) {
      kept_.push_back(static_cast<uint32_t>(r));
    } else if (type_ == JoinType::kInner) {
      dropped = true;
    } else {
      // A LEFT row without partner (or failing the residual): the table's side is NULL.
      for (size_t col = ns; col < batch->columns.size(); ++col) batch->columns[col].mutable_validity()[r] = 0;
      kept_.push_back(static_cast<uint32_t>(r));
    }
  }
  if (!dropped) return out.emit(std::move(batch));
  if (kept_.empty()) return Status::ok();
  auto kept = make_batch(schema_);
  kept->append_gather(*batch, kept_.data(), kept_.size());
  return out.emit(std::move(kept));
}

}  // namespace sluice
