-- The fraud feature pipeline: velocity features per payment, a rapid high-value rule, a
-- model score from a local HTTP scoring service, the decision, and an audit trail that holds
-- every decision exactly once (run with --checkpoint-dir; see README.md).
--
-- Input: transactions.jsonl from generate.py; the scoring service: scoring_server.py on
-- 127.0.0.1:8500 (run.sh starts both).

CREATE TABLE transactions (tx_id BIGINT, user_id TEXT, amount DOUBLE PRECISION, merchant TEXT,
                           country TEXT, home_country TEXT, ts TIMESTAMP)
  WITH (connector = 'file', format = 'json', path = 'transactions.jsonl',
        event_time = 'ts', watermark_delay = '5 seconds');

-- The audit trail: append-only, one row per decision, with its inputs, score, model
-- version, rule and the event, ingestion and decision times.
CREATE TABLE decisions (tx_id BIGINT, user_id TEXT, amount DOUBLE PRECISION,
                        tx_count_5m BIGINT, amount_5m DOUBLE PRECISION, merchants_5m BIGINT,
                        country TEXT, home_country TEXT, score DOUBLE PRECISION, model_version TEXT,
                        rule TEXT, decision TEXT, event_time TIMESTAMP, ingested_at TIMESTAMP,
                        decided_at TIMESTAMP)
  WITH (connector = 'sqlite', path = 'audit.db', table = 'decisions');

-- Velocity features: each payment with the user's payments of the 5 minutes up to it
-- (itself included), emitted once the watermark has passed it.
CREATE VIEW features AS
SELECT tx_id, user_id, amount, country, home_country, ts,
       COUNT(*) OVER w AS tx_count_5m,
       SUM(amount) OVER w AS amount_5m,
       COUNT(DISTINCT merchant) OVER w AS merchants_5m
FROM transactions
WINDOW w AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW);

-- The model's score: the payment's features POSTed as JSON; when the service is slow or
-- down the row gets the fallback (no score), the circuit breaker opens, and the rules below
-- still decide.
CREATE VIEW scored AS
SELECT tx_id, user_id, amount, tx_count_5m, amount_5m, merchants_5m, country, home_country, ts,
       score(url => 'http://127.0.0.1:8500/score',
             body => '{"amount":' || CAST(amount AS TEXT) || ',"country":"' || country ||
                     '","home_country":"' || home_country || '","tx_count_5m":' ||
                     CAST(tx_count_5m AS TEXT) || '}',
             timeout => INTERVAL '250 milliseconds',
             max_in_flight => 32,
             breaker_failures => 5,
             breaker_cooldown => INTERVAL '2 seconds',
             fallback => '{"score": null, "model_version": "fallback"}') AS response,
       ingest_time() AS ingested_at,
       decision_time() AS decided_at
FROM features;

CREATE VIEW judged AS
SELECT *, CAST(response ->> 'score' AS DOUBLE PRECISION) AS score,
       response ->> 'model_version' AS model_version,
       CASE WHEN tx_count_5m >= 3 AND amount_5m > 1500 THEN 'rapid_high_value'
            WHEN CAST(response ->> 'score' AS DOUBLE PRECISION) >= 0.8 THEN 'model_score'
            ELSE 'none' END AS rule
FROM scored;

INSERT INTO decisions
SELECT tx_id, user_id, amount, tx_count_5m, amount_5m, merchants_5m, country, home_country,
       score, model_version, rule,
       CASE WHEN rule = 'none' THEN 'approve' ELSE 'block' END AS decision,
       ts, ingested_at, decided_at
FROM judged;
