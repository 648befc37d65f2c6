-- Each order joins the EUR/USD rate valid at its event time (LEFT: GBP has none).
CREATE TABLE rates (cur TEXT, rate BIGINT, ts TIMESTAMP, PRIMARY KEY (cur))
  WITH (connector = 'file', path = '{DIR}/rates.jsonl', event_time = 'ts', watermark_delay = '5s');
CREATE TABLE orders (id BIGINT, cur TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/orders.jsonl', event_time = 'ts', watermark_delay = '5s');
CREATE TABLE out (id BIGINT, cur TEXT, ts TIMESTAMP, rate BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT o.id, o.cur, o.ts, r.rate FROM orders o LEFT JOIN versioned(rates, o.ts) AS r ON o.cur = r.cur;
