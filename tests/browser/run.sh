#!/usr/bin/env bash
# The dashboard's browser test (ctest: dashboard_browser): starts `sluice run --http
# 127.0.0.1:0` on a generator job, opens the dashboard in headless Chromium through
# playwright-core (dashboard.test.mjs), then again on 0.0.0.0:0 with a token, where the
# page must ask to sign in before anything of the dashboard loads (signin.test.mjs).
# Screenshots are saved in WORK_DIR.
# usage: run.sh SLUICE_BINARY WORK_DIR
# Never skips: without node, npm or chromium it fails saying what to install
# (scripts/install-deps.sh installs them). `npm ci` runs when the lockfile changed; after
# that the test needs no network.
set -euo pipefail
SLUICE="$(realpath "$1")"
WORK="$(realpath -m "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
fail() { echo "dashboard_browser: FAILED: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (Debian nodejs; run scripts/install-deps.sh)"
command -v npm >/dev/null || fail "npm is not installed (Debian npm; run scripts/install-deps.sh)"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is not installed (Debian chromium; run scripts/install-deps.sh)"
[ -x "$SLUICE" ] || fail "no sluice binary at $SLUICE"

mkdir -p "$WORK"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/dashboard.test.mjs" "$HERE/signin.test.mjs" "$WORK/"
cd "$WORK"
STAMP="node_modules/.sluice-lock.sha256"
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  npm ci --no-audit --no-fund --prefer-offline >npm-ci.log 2>&1 || { cat npm-ci.log >&2; fail "npm ci failed (is the npm registry reachable?)"; }
  echo "$WANT" >"$STAMP"
fi

rm -rf job && mkdir job
cat >job/clicks.sql <<'SQL'
-- 2,000 events/s over 2 splits, 10 ms of event time apart: 20 one-second windows fire per
-- second of wall time. 1% malformed records fill the dead-letter queue.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', rate = '2000', splits = '2', malformed = '0.01', event_time = 'ts');
CREATE TABLE views_per_second (window_start TIMESTAMP, views BIGINT, users BIGINT)
  WITH (connector = 'blackhole');
INSERT INTO views_per_second
SELECT window_start, COUNT(*), COUNT(DISTINCT user_id) FROM TUMBLE(clicks, ts, INTERVAL '1 second')
GROUP BY window_start;
SQL
# Starts `sluice run job/clicks.sql` with the given flags, logging to job/LOG; sets PORT and
# adds the pid to PIDS (all stopped on exit).
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    if [ "$p" -gt 0 ] && kill -0 "$p" 2>/dev/null; then kill -INT "$p"; wait "$p" || true; fi
  done
}
trap cleanup EXIT
start_job() {
  local log="$1"; shift
  "$SLUICE" run job/clicks.sql "$@" >"job/$log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  PORT=""
  for _ in $(seq 1 500); do
    PORT="$(sed -n 's/.*serving http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "job/$log" | head -1)"
    [ -n "$PORT" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "job/$log" >&2; fail "sluice exited before serving"; }
    sleep 0.02
  done
  [ -n "$PORT" ] || { cat "job/$log" >&2; fail "sluice did not print its address"; }
  echo "dashboard_browser: sluice serves http://127.0.0.1:$PORT (pid $pid, $*)"
}

start_job sluice.log --http 127.0.0.1:0 --checkpoint-dir job/ckpt --checkpoint-interval 500ms
node dashboard.test.mjs "http://127.0.0.1:$PORT" "$WORK" || { cat job/sluice.log >&2; fail "the dashboard check failed (screenshots in $WORK)"; }
cleanup
PIDS=()

# With a token on a non-loopback bind: nothing of the dashboard without signing in.
umask 077
echo "browser-test-token-$RANDOM$RANDOM$RANDOM" >job/token
start_job sluice-token.log --http 0.0.0.0:0 --http-token-file job/token
node signin.test.mjs "http://127.0.0.1:$PORT" "$WORK" "$(cat job/token)" || { cat job/sluice-token.log >&2; fail "the sign-in check failed (screenshots in $WORK)"; }
echo "dashboard_browser: screenshots in $WORK: $(ls "$WORK"/*.png | tr '\n' ' ')"
