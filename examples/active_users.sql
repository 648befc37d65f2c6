-- Active users per minute: distinct users with at least one event in each minute.
-- Source: the built-in clickstream generator (fixed seed, 5% of events up to 5 s out of order).
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '11', events = '200000', users = '3000', pages = '50',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds',
        event_time = 'ts', watermark_delay = '5 seconds',
        -- Named after the job: every example reads a table `clicks`, whose default side
        -- outputs (clicks.dlq.jsonl, clicks.late.jsonl) a fresh run would replace.
        dlq = 'active_users.dlq.jsonl', late_output = 'active_users.late.jsonl');

CREATE TABLE active_users (window_start TIMESTAMP, window_end TIMESTAMP, users BIGINT)
  WITH (connector = 'sqlite', path = 'active_users.db', primary_key = 'window_start');

INSERT INTO active_users
SELECT window_start, window_end, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end;
