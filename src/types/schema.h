// Schema: the ordered, named, typed columns of a stream. Immutable once built and shared
// between operators and batches by SchemaPtr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "types/data_type.h"

namespace sluice {

struct Field {
  std::string name;
  TypeId type = TypeId::kNull;
  bool nullable = true;
};

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  size_t size() const { return fields_.size(); }
  const Field& field(size_t i) const { return fields_[i]; }
  const std::vector<Field>& fields() const { return fields_; }
  // Case-insensitive lookup; -1 when absent.
  int find(std::string_view name) const;
  std::string to_string() const;  // "(a BIGINT, b TEXT)"

 private:
  std::vector<Field> fields_;
};

using SchemaPtr = std::shared_ptr<const Schema>;

inline SchemaPtr make_schema(std::vector<Field> fields) {
  return std::make_shared<const Schema>(std::move(fields));
}

bool iequals(std::string_view a, std::string_view b);

}  // namespace sluice
