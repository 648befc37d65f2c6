-- As multi_insert_one_sink, with checkpoints: one sink instance, one part per checkpoint,
-- one commit record in the SQLite table: both INSERTs land exactly once.
SET parallelism = 2;
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl', event_time = 'ts', watermark_delay = '1 second');
CREATE TABLE orders (user_id BIGINT, item TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/orders.jsonl', event_time = 'ts', watermark_delay = '1 second');
CREATE TABLE per_minute (kind TEXT, window_start TIMESTAMP, name TEXT, n BIGINT)
  WITH (connector = 'file', path = '{DIR}/per_minute.jsonl');
CREATE TABLE events (kind TEXT, user_id BIGINT, name TEXT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO per_minute
  SELECT 'click', window_start, page, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
  GROUP BY window_start, page;
INSERT INTO per_minute
  SELECT 'order', window_start, item, COUNT(*) FROM TUMBLE(orders, ts, INTERVAL '1 minute')
  GROUP BY window_start, item;
INSERT INTO events SELECT 'click', user_id, page FROM clicks;
INSERT INTO events SELECT 'order', user_id, item FROM orders;
