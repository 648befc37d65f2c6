#!/usr/bin/env bash
# Runs the fraud example end to end in a scratch folder: generates payments, logins and API
# errors with known fraud cases injected (generate.py), starts the local scoring service
# (scoring_server.py), runs the decision pipeline with checkpoints (exactly-once audit
# trail) and the anomaly detector, and shows what they found next to what was injected.
#
# usage: examples/fraud/run.sh [SLUICE (build/sluice)] [WORK_DIR (a new temporary folder)]
# env:   SCORING_PORT (default: a free port), GENERATE_ARGS (extra generate.py options),
#        SLUICE_ARGS (extra `sluice run` options for the decision job, e.g. --http 127.0.0.1:0),
#        SCORING_ARGS (extra scoring_server.py options), SCORING_TIMEOUT_MS (the score()
#        call's deadline instead of the job's 250 ms; the test suite raises it on loaded machines)
# needs: python3, sqlite3
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SLUICE="$(realpath "${1:-$HERE/../../build/sluice}")"
WORK="${2:-$(mktemp -d /tmp/sluice-fraud-XXXXXX)}"
mkdir -p "$WORK"
cd "$WORK"

echo "== generating events"
python3 "$HERE/generate.py" . ${GENERATE_ARGS:-}

echo "== starting the scoring service"
rm -f scoring.port
python3 "$HERE/scoring_server.py" --port "${SCORING_PORT:-0}" --port-file scoring.port ${SCORING_ARGS:-} &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s scoring.port ] && break; sleep 0.05; done
PORT=$(cat scoring.port)
echo "scoring service on 127.0.0.1:$PORT (pid $SERVER)"
sed -e "s|127.0.0.1:8500|127.0.0.1:$PORT|" \
    -e "s|INTERVAL '250 milliseconds'|INTERVAL '${SCORING_TIMEOUT_MS:-250} milliseconds'|" \
    "$HERE/fraud_decisions.sql" > fraud_decisions.sql
cp "$HERE/anomaly_alerts.sql" .

echo "== sluice run fraud_decisions.sql (checkpoints in $WORK/ck)"
"$SLUICE" run -q fraud_decisions.sql --checkpoint-dir ck ${SLUICE_ARGS:-}

echo "== sluice run anomaly_alerts.sql"
"$SLUICE" run -q anomaly_alerts.sql

echo "== decisions (audit.db)"
sqlite3 -header -column audit.db \
  "SELECT decision, rule, model_version, COUNT(*) AS payments FROM decisions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
echo "== blocked payments: $(sqlite3 audit.db "SELECT COUNT(*) FROM decisions WHERE decision = 'block'")," \
     "injected: $(python3 -c 'import json; print(len(json.load(open("expected.json"))["blocked_tx"]))')"
echo "== account-takeover alerts (alerts.db)"
sqlite3 -header -column alerts.db \
  "SELECT a.user_id, a.first_failure, a.payment_time, a.amount, a.failures,
          (SELECT COUNT(*) FROM evidence e WHERE e.user_id = a.user_id AND e.first_failure = a.first_failure)
            AS api_errors
   FROM alerts a ORDER BY a.user_id"
echo "injected takeovers: $(python3 -c 'import json; print(" ".join(json.load(open("expected.json"))["takeover_users"]))')"
