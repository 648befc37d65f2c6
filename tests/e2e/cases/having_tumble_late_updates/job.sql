-- TUMBLE with allowed lateness: late-but-allowed rows update fired windows. A key's first
-- row in a fired window is +I (not +U); under HAVING a window row that stops qualifying is
-- deleted (-D) and one that qualifies again is inserted (+I).
CREATE TABLE t (k TEXT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts', watermark_delay = '0 seconds',
        allowed_lateness = '1 minute');
CREATE TABLE all_rows (k TEXT, window_start TIMESTAMP, total BIGINT)
  WITH (connector = 'file', path = '{DIR}/all.jsonl', changelog = 'true');
CREATE TABLE big (k TEXT, window_start TIMESTAMP, total BIGINT)
  WITH (connector = 'file', path = '{DIR}/big.jsonl', changelog = 'true');
INSERT INTO all_rows
SELECT k, window_start, SUM(v) FROM TUMBLE(t, ts, INTERVAL '10 seconds') GROUP BY k, window_start, window_end;
INSERT INTO big
SELECT k, window_start, SUM(v) FROM TUMBLE(t, ts, INTERVAL '10 seconds') GROUP BY k, window_start, window_end
HAVING SUM(v) >= 5;
