-- Step 2 of the Kafka example: the beginner project of every stream processor. Clicks are
-- read from the 4-partition topic `clicks` (a split and a watermark per partition), counted
-- per page in 1-minute tumbling windows (views and distinct users), and the results go to
-- SQLite and to the topic `page-minutes` (keyed by page). `bounded_mode = 'latest'` reads
-- what the topic holds when the job starts, then ends; without it the job runs forever.
-- Messages that are not click JSON land in clicks.dlq.jsonl with topic, partition, offset
-- and key. @BOOTSTRAP@ is replaced by the mock cluster's address (see README.md).
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'kafka', topic = 'clicks', bootstrap_servers = '@BOOTSTRAP@',
        group_id = 'clicks-per-minute', bounded_mode = 'latest',
        event_time = 'ts', watermark_delay = '5 seconds', dlq = 'clicks.dlq.jsonl');

CREATE VIEW per_minute AS
SELECT window_start, window_end, page, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end, page;

CREATE TABLE page_minutes (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT,
                           views BIGINT, users BIGINT)
  WITH (connector = 'sqlite', path = 'kafka_example.db', primary_key = 'window_start,page');
CREATE TABLE page_minutes_topic (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT,
                                 views BIGINT, users BIGINT)
  WITH (connector = 'kafka', topic = 'page-minutes', bootstrap_servers = '@BOOTSTRAP@', key = 'page');

INSERT INTO page_minutes SELECT * FROM per_minute;
INSERT INTO page_minutes_topic SELECT * FROM per_minute;
