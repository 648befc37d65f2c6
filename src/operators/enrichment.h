// Output of the joins that pair each stream row with at most one table row (the temporal
// join's version, the lookup join's row): [stream columns..., table columns...] built by
// gathering, the residual condition evaluated over the whole batch, INNER rows without a
// partner dropped and LEFT rows padded with NULLs.
//
// Threads: an EnrichmentOutput belongs to one operator instance.
#pragma once

#include <cstdint>
#include <vector>

#include "expr/expr.h"
#include "operators/join.h"
#include "runtime/operator.h"

namespace sluice {

inline constexpr uint32_t kNoPartner = UINT32_MAX;

// What the temporal and lookup joins share: a stream (the probe side) enriched by a table.
struct EnrichmentJoinConfig {
  JoinType type = JoinType::kInner;  // kInner or kLeft
  std::vector<int> probe_keys;       // columns of the stream
  std::vector<int> table_keys;       // columns of the table, covering its primary key
  std::vector<bool> null_safe;       // per key pair: IS NOT DISTINCT FROM
  ExprPtr residual;                  // over [stream..., table...]; null: none
  SchemaPtr probe_schema;
  SchemaPtr table_schema;
  SchemaPtr output_schema;  // stream fields then table fields (nullable)
  size_t batch_size = kDefaultBatchRows;
};

class EnrichmentOutput {
 public:
  EnrichmentOutput(JoinType type, ExprPtr residual, SchemaPtr output_schema)
      : type_(type), residual_(std::move(residual)), schema_(std::move(output_schema)) {}

  // Emits one batch: row stream_rows[i] of `stream` with row table_rows[i] of `table`
  // (kNoPartner: none). `table_rows` is overwritten (partners failing the residual).
  Status emit(const RecordBatch& stream, const std::vector<uint32_t>& stream_rows, const RecordBatch& table,
              std::vector<uint32_t>& table_rows, Output& out);

 private:
  JoinType type_;
  ExprPtr residual_;
  SchemaPtr schema_;
  EvalScratch scratch_;
  std::vector<uint32_t> kept_;
};

}  // namespace sluice
