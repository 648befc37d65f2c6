// A temporary directory removed (with its contents) when the object goes out of scope. For
// tests: header-only, no dependencies beyond the standard library.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace sluice {

class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& prefix = "sluice") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~ScopedTempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sluice
