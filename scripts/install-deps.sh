#!/usr/bin/env bash
# Installs everything Sluice needs to build and test, from Debian 12 packages only.
# Idempotent and non-interactive: safe to run on every build and in CI.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 sqlite3
  curl  # the HTTP ingest source's tests and benchmark post with it
  libcurl4-openssl-dev  # the scoring client (src/scoring: score() calls a model server over HTTP)
  libpg-query-dev libsimdjson-dev libsqlite3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  librocksdb-dev libzstd-dev liblz4-dev nlohmann-json3-dev libabsl-dev libcpp-httplib-dev
  libpq-dev postgresql  # the postgres connector; its tests start a throwaway PostgreSQL server
  libhiredis-dev redis-server  # the redis connector; its tests start a throwaway redis-server
  librdkafka-dev kcat  # the kafka connector; kcat is the independent client of its tests
  libnats-dev nats-server  # the nats connector (JetStream); its tests start throwaway nats-servers
  prometheus  # promtool: the metrics exposition test (src/engine/engine_metrics_test.cc)
  chromium  # the dashboard's browser test (tests/browser: playwright-core drives chromium)
)

# Node.js and npm drive the browser test. A machine may already carry a Node.js from
# elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm package), so
# Debian's packages are asked for only when the commands are missing.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install these packages: ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
