#!/usr/bin/env bash
# Quick start, part 1: installs dependencies, builds, and runs the demo pipeline
# (examples/demo.sql: a generated clickstream -> per-page-per-minute views and users in
# SQLite), then shows the busiest pages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out && cd out
rm -f demo.db demo.db-wal demo.db-shm
../build/sluice run ../examples/demo.sql
echo
echo "The 5 busiest pages in each of the first 3 minutes (out/demo.db, table page_minutes):"
sqlite3 -header -column demo.db \
  "SELECT window_start, page, views, users FROM (
     SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY views DESC, page) AS rn
     FROM page_minutes WHERE window_start >= '2024-01-01 00:00:00' AND window_start < '2024-01-01 00:03:00')
   WHERE rn <= 5 ORDER BY window_start, rn"
echo
count() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
echo "Dead-lettered events: $(count demo.dlq.jsonl) (out/demo.dlq.jsonl); late events: $(count demo.late.jsonl)"
