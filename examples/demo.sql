-- The quick-start demo: a generated clickstream (deterministic, seed 42) with out-of-order
-- and malformed events, aggregated per page per minute into an embedded SQLite table.
-- Bad events land in demo.dlq.jsonl (named after the job, so that other examples run in the
-- same folder keep theirs; see clicks_per_page.sql for late data).
CREATE TABLE clicks (user_id BIGINT, page TEXT, event_type TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '1000000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds',
        malformed = '0.001', users = '5000', pages = '50',
        event_time = 'ts', watermark_delay = '5 seconds',
        dlq = 'demo.dlq.jsonl', late_output = 'demo.late.jsonl');

CREATE TABLE page_minutes (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT,
                           views BIGINT, users BIGINT)
  WITH (connector = 'sqlite', path = 'demo.db', table = 'page_minutes',
        primary_key = 'window_start,page');

INSERT INTO page_minutes
SELECT window_start, window_end, page, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
WHERE page <> '/health'
GROUP BY window_start, window_end, page;
