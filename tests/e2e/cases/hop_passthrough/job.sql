CREATE TABLE t (id BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT id, window_start, window_end, extract(minute FROM ts) AS minute
FROM HOP(t, ts, INTERVAL '10 minutes', INTERVAL '20 minutes');
