-- Sessionization: a user's session ends after 30 minutes without events. One row per
-- session with its length, page views and the pages in event-time order.
-- The generator is set to sparse users (one event per second in total, 2000 users) so
-- sessions both continue and break at the 30-minute gap.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '12', events = '100000', interval = '1s', users = '2000', pages = '50',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds',
        event_time = 'ts', watermark_delay = '5 seconds',
        -- Named after the job: every example reads a table `clicks` (see active_users.sql).
        dlq = 'sessions.dlq.jsonl', late_output = 'sessions.late.jsonl');

CREATE TABLE sessions (user_id BIGINT, window_start TIMESTAMP, window_end TIMESTAMP,
                       views BIGINT, pages TEXT)
  WITH (connector = 'sqlite', path = 'sessions.db', primary_key = 'user_id,window_start');

INSERT INTO sessions
SELECT user_id, window_start, window_end, COUNT(*) AS views, ARRAY_AGG(page) AS pages
FROM SESSION(clicks, ts, INTERVAL '30 minutes')
GROUP BY user_id, window_start, window_end;
