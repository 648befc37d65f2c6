#!/usr/bin/env bash
# Quick start, part 1: installs dependencies, builds, and runs the demo pipeline
# (examples/demo.sql: a generated clickstream -> per-page-per-minute views and users in
# SQLite), then shows the busiest pages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out && cd out
rm -f demo.db demo.db-wal demo.db-shm clicks.dlq.jsonl clicks.late.jsonl
../build/sluice run ../examples/demo.sql
echo
echo "Top pages per minute (first 3 minutes) from out/demo.db:"
sqlite3 -header -column demo.db \
  "SELECT window_start, page, views, users FROM page_minutes
   WHERE window_start < (SELECT datetime(MIN(window_start), '+3 minutes') FROM page_minutes)
   ORDER BY window_start, views DESC LIMIT 15"
echo
echo "Dead-lettered events: $(wc -l < clicks.dlq.jsonl 2>/dev/null || echo 0) (out/clicks.dlq.jsonl); late events: $(wc -l < clicks.late.jsonl 2>/dev/null || echo 0) (out/clicks.late.jsonl)"
