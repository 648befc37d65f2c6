// The dashboard's files (HTML, JS, CSS, the vendored uPlot and its licence), embedded in
// the binary at build time by cmake/EmbedFiles.cmake from src/server/dashboard/.
// Read-only data: safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::server {

struct EmbeddedAsset {
  const char* path;  // relative to src/server/dashboard, e.g. "index.html", "vendor/uplot/LICENSE"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

// The asset at `path`, or null.
inline const EmbeddedAsset* find_asset(std::string_view path) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (path == kEmbeddedAssets[i].path) return &kEmbeddedAssets[i];
  }
  return nullptr;
}

}  // namespace sluice::server
