-- ARRAY_AGG/STRING_AGG are always in event-time order: ORDER BY may only name that column.
CREATE TABLE t (page TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, ARRAY_AGG(page ORDER BY page) AS pages
FROM TUMBLE(t, ts, INTERVAL '1 minute') GROUP BY window_start, window_end;
