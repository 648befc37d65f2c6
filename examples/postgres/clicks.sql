-- The beginner project with a real database: clicks -> 1-minute tumbling counts and distinct
-- users per page -> a PostgreSQL table; per-user features -> Redis hashes. run.sh starts
-- throwaway PostgreSQL and Redis servers and fills in {PG_DSN} and {REDIS_URL}.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE)
  WITH (connector = 'generator', seed = '42', events = '200000', users = '1000', pages = '20',
        out_of_order = '0.02', max_out_of_orderness = '5 seconds',
        event_time = 'ts', watermark_delay = '5 seconds');

CREATE TABLE page_minutes (window_start TIMESTAMP, page TEXT, views BIGINT, users BIGINT)
  WITH (connector = 'postgres', dsn = '{PG_DSN}', create_table = 'true',
        primary_key = 'window_start,page');

CREATE TABLE user_features (user_id BIGINT, views BIGINT, pages BIGINT, spent DOUBLE)
  WITH (connector = 'redis', url = '{REDIS_URL}', primary_key = 'user_id', key_prefix = 'user:');

INSERT INTO page_minutes
SELECT window_start, page, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end, page;

INSERT INTO user_features
SELECT user_id, COUNT(*) AS views, COUNT(DISTINCT page) AS pages, SUM(amount) AS spent
FROM clicks GROUP BY user_id;
