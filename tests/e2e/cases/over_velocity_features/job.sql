-- Velocity features per transaction (OVER aggregates): per user, the count, sum and max of
-- the last 5 minutes (RANGE; the two rows at 00:01:00 are peers and see each other), the
-- rows in the last two (ROWS), and the running average (ROWS UNBOUNDED). Each row is
-- emitted when the watermark (10 s behind) passes it; the row at 00:00:30 arrives after the
-- watermark passed 00:05:50 and goes to the late-data output, not into any frame.
CREATE TABLE tx (user_id BIGINT, amount BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/tx.jsonl', event_time = 'ts', watermark_delay = '10 seconds',
        late_output = '{DIR}/late.jsonl');
CREATE TABLE features () WITH (connector = 'file', path = '{DIR}/features.jsonl');
INSERT INTO features
SELECT user_id, amount, ts,
       COUNT(*) OVER w AS n_5m,
       SUM(amount) OVER w AS sum_5m,
       MAX(amount) OVER w AS max_5m,
       COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS n_last2,
       AVG(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS avg_all
FROM tx
WINDOW w AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW);
