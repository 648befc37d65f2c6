#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy: naming checks and a few bug finders) on the C++ files changed
# since BASE (default: the merge base with main, or HEAD~1 on main), using build/'s
# compile_commands.json. Exit code 1 when clang-tidy reports anything.
#   scripts/clang-tidy.sh            # changed files
#   scripts/clang-tidy.sh --all      # every file in src/ (slow)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if ! command -v clang-tidy >/dev/null; then
  echo "clang-tidy.sh: clang-tidy is not installed (apt-get install -y clang-tidy)" >&2
  exit 2
fi
if [ ! -f "$BUILD_DIR/compile_commands.json" ]; then
  echo "clang-tidy.sh: $BUILD_DIR/compile_commands.json missing: run scripts/build.sh first" >&2
  exit 2
fi
if [ "${1:-}" = "--all" ]; then
  mapfile -t files < <(git ls-files 'src/*.cc')
else
  base=${1:-}
  if [ -z "$base" ]; then
    if [ "$(git rev-parse --abbrev-ref HEAD)" = main ]; then base=HEAD~1; else base=$(git merge-base HEAD main); fi
  fi
  mapfile -t files < <(git diff --name-only --diff-filter=AM "$base" -- 'src/*.cc' 'tests/*.cc' 'bench/*.cc' \
    | grep -v '^tests/e2e/cases/' || true)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "clang-tidy.sh: no changed C++ files"
  exit 0
fi
echo "clang-tidy.sh: ${#files[@]} file(s)"
# Findings in the files themselves (headers they include are checked when they change).
pattern=$(printf '%s\n' "${files[@]}" | sed 's/[.]/[.]/g' | paste -sd'|')
out=$(clang-tidy -p "$BUILD_DIR" --quiet "${files[@]}" 2>/dev/null | grep -E "warning:|error:" | grep -E "($pattern):" || true)
if [ -n "$out" ]; then
  echo "$out"
  echo "clang-tidy.sh: $(echo "$out" | wc -l) finding(s)" >&2
  exit 1
fi
echo "clang-tidy.sh: clean"
