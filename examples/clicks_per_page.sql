-- Clicks and unique users per page per minute, into an embedded SQLite table.
-- Run from a scratch folder (see README.md; paths are relative to the working directory):
--   cp ../examples/clicks.jsonl . && ../build/sluice run ../examples/clicks_per_page.sql
--   sqlite3 out.db 'SELECT * FROM per_page ORDER BY window_start, page'
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = 'clicks.jsonl', format = 'json',
        event_time = 'ts', watermark_delay = '5 seconds',
        -- Named after the job: every example reads a table `clicks` (see active_users.sql).
        dlq = 'clicks_per_page.dlq.jsonl', late_output = 'clicks_per_page.late.jsonl');
CREATE TABLE per_page (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT,
                       clicks BIGINT, users BIGINT)
  WITH (connector = 'sqlite', path = 'out.db', table = 'per_page',
        primary_key = 'window_start,page');
INSERT INTO per_page
SELECT window_start, window_end, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
WHERE page <> '/health'
GROUP BY window_start, window_end, page;
