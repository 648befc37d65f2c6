#!/bin/sh
# The public headers (include/sluice/) compile with only the layers they may use on the
# include path (common, types, expr) and pull in no planner, operator or Abseil header.
# usage: check.sh CXX SOURCE_DIR BUILD_DIR
set -eu
cxx=$1 src=$2 build=$3
tu=$(mktemp --suffix=.cc)
trap 'rm -f "$tu"' EXIT
for h in "$src"/include/sluice/*.h; do echo "#include \"sluice/$(basename "$h")\"" >>"$tu"; done
deps=$("$cxx" -std=c++20 -H -fsyntax-only -I"$src/include" -I"$build/layers/common" -I"$build/layers/types" \
  -I"$build/layers/expr" "$tu" 2>&1) || { echo "$deps"; echo "FAIL: the public headers need more than common/types/expr"; exit 1; }
bad=$(echo "$deps" | grep -E '^\.+ .*(/absl/|/plan/|/operators/|/runtime/|/sql/)' || true)
if [ -n "$bad" ]; then echo "$bad"; echo "FAIL: the public headers pull in the headers above"; exit 1; fi
echo "public headers: $(ls "$src"/include/sluice/*.h | wc -l) compile alone, no plan/operators/runtime/sql/absl"
