SET parallelism = 2;
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl', event_time = 'ts', watermark_delay = '1 second');
-- two pipelines in one job, one of them a CREATE TABLE ... AS SELECT
CREATE TABLE per_minute WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start,page') AS
  SELECT window_start, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
  FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, page;
CREATE TABLE totals (user_id BIGINT PRIMARY KEY, clicks BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO totals SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
