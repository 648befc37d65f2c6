-- Benchmark job: 10 million generated clickstream events, 1-minute tumbling windows,
-- COUNT(*) and COUNT(DISTINCT user_id) per page. Run by bench/run_clickstream.py.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '10000000', users = '100000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds',
        event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE per_page (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT, clicks BIGINT, users BIGINT)
  WITH (connector = 'sqlite', path = 'bench_out.db', table = 'per_page', primary_key = 'window_start,page');
INSERT INTO per_page
SELECT window_start, window_end, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end, page;
