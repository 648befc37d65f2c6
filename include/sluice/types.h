// The core vocabulary of the C++ API, re-exported into sluice::api so that
// `using namespace sluice::api;` is enough to write a pipeline: column types (TypeId),
// columns (Field, Schema), errors (Status, Result<T>) and event time (Micros).
//
// Why a namespace of its own: sluice::Pipeline is the logical plan's per-INSERT pipeline
// (src/plan/logical_plan.h); the builder is sluice::api::Pipeline. Do not combine
// `using namespace sluice;` with `using namespace sluice::api;`.
#pragma once

#include <string>
#include <utility>

#include "common/status.h"
#include "common/time_util.h"
#include "types/data_type.h"
#include "types/schema.h"
#include "types/value.h"

namespace sluice::api {

using sluice::Field;
using sluice::kMaxWatermark;
using sluice::kMicrosPerMilli;
using sluice::kMicrosPerMinute;
using sluice::kMicrosPerSecond;
using sluice::kMinWatermark;
using sluice::Micros;
using sluice::Result;
using sluice::Schema;
using sluice::SchemaPtr;
using sluice::Status;
using sluice::StatusCode;
using sluice::TypeId;
using sluice::Value;

// A column declaration: field("user_id", TypeId::kInt64). (Brace-initializing a Field with
// two of its three members works too, but -Wextra warns about the missing one.)
inline Field field(std::string name, TypeId type, bool nullable = true) { return Field{std::move(name), type, nullable}; }

}  // namespace sluice::api
