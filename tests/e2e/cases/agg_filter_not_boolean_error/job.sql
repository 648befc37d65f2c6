-- FILTER (WHERE ...) needs a boolean condition.
CREATE TABLE t (page TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, COUNT(*) FILTER (WHERE page) AS n
FROM TUMBLE(t, ts, INTERVAL '1 minute') GROUP BY window_start, window_end;
