-- Funnel: how many distinct users reached each step (home -> product -> cart -> checkout)
-- in every 5-minute window, and the step-to-step conversion, written to two sinks at once:
-- a SQLite table for analysts and a JSON-lines stream for a live dashboard.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '13', events = '300000', users = '5000', pages = '100',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds', malformed = '0.001',
        event_time = 'ts', watermark_delay = '5 seconds',
        -- Named after the job: every example reads a table `clicks` (see active_users.sql).
        dlq = 'funnel.dlq.jsonl', late_output = 'funnel.late.jsonl');

CREATE VIEW funnel_steps AS
SELECT window_start, window_end,
       COUNT(DISTINCT user_id) FILTER (WHERE page = '/home') AS home,
       COUNT(DISTINCT user_id) FILTER (WHERE page LIKE '/product/%') AS product,
       COUNT(DISTINCT user_id) FILTER (WHERE page = '/cart') AS cart,
       COUNT(DISTINCT user_id) FILTER (WHERE page = '/checkout') AS checkout
FROM TUMBLE(clicks, ts, INTERVAL '5 minutes')
GROUP BY window_start, window_end;

CREATE TABLE funnel (window_start TIMESTAMP, window_end TIMESTAMP, home BIGINT, product BIGINT,
                     cart BIGINT, checkout BIGINT, home_to_checkout DOUBLE PRECISION)
  WITH (connector = 'sqlite', path = 'funnel.db', primary_key = 'window_start');
CREATE TABLE funnel_stream () WITH (connector = 'file', path = 'funnel.jsonl', format = 'json');

INSERT INTO funnel
SELECT window_start, window_end, home, product, cart, checkout,
       CAST(checkout AS DOUBLE PRECISION) / NULLIF(home, 0) AS home_to_checkout
FROM funnel_steps;

INSERT INTO funnel_stream SELECT window_end AS at, home, product, cart, checkout FROM funnel_steps;
