#include "types/schema.h"

#include <cctype>

namespace sluice {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

int Schema::find(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (iequals(fields_[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

std::string Schema::to_string() const {
  std::string out = "(";
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i) out += ", ";
    out += fields_[i].name;
    out += " ";
    out += type_name(fields_[i].type);
  }
  return out + ")";
}

}  // namespace sluice
