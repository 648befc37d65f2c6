-- SQL-standard INTERVAL qualifiers mean what PostgreSQL says: INTERVAL '1' MINUTE is one
-- minute (a window of 60 s, not 1 s), '1:30' HOUR TO MINUTE is 90 minutes, and so on, in
-- window arguments and in expressions alike.
CREATE TABLE t (v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE per_minute () WITH (connector = 'file', path = '{DIR}/per_minute.jsonl');
CREATE TABLE hopped () WITH (connector = 'file', path = '{DIR}/hopped.jsonl');
CREATE TABLE sessions () WITH (connector = 'file', path = '{DIR}/sessions.jsonl');
CREATE TABLE exprs () WITH (connector = 'file', path = '{DIR}/exprs.jsonl');
INSERT INTO per_minute SELECT window_start, window_end, COUNT(*) AS n
FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end;
INSERT INTO hopped SELECT window_start, window_end, COUNT(*) AS n
FROM HOP(t, ts, INTERVAL '30' SECOND, CAST('2' AS INTERVAL MINUTE)) GROUP BY window_start, window_end;
INSERT INTO sessions SELECT window_start, window_end, COUNT(*) AS n
FROM SESSION(t, ts, INTERVAL '0:02' HOUR TO MINUTE) GROUP BY window_start, window_end;
INSERT INTO exprs SELECT v,
  ts + INTERVAL '2' HOUR AS plus_2h,
  INTERVAL '1:30' HOUR TO MINUTE AS hm,
  INTERVAL '1:30' MINUTE TO SECOND AS ms,
  INTERVAL '1 2:03:04.5678' DAY TO SECOND(2) AS dts,
  INTERVAL '3' DAY AS d,
  INTERVAL '1:30:45' HOUR TO MINUTE AS truncated,
  v * INTERVAL '1' MINUTE AS v_minutes
FROM t WHERE v = 1;
