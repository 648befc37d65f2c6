-- Non-windowed GROUP BY: FIRST_VALUE/LAST_VALUE/ARRAY_AGG/STRING_AGG follow the input's
-- event time (its rowtime), ties by arrival; a source without event_time orders them by
-- arrival. SUM/AVG(DISTINCT) sum each distinct value once. The upsert sink ends with the
-- final row per key.
CREATE TABLE orders (customer TEXT, item TEXT, qty BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/orders.jsonl', event_time = 'ts', watermark_delay = '2 hours');
CREATE TABLE orders_by_arrival (customer TEXT, item TEXT, qty BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/orders.jsonl');
CREATE TABLE by_time WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'customer') AS
SELECT customer, FIRST_VALUE(item) AS first_item, LAST_VALUE(item) AS last_item,
       ARRAY_AGG(qty) AS quantities, STRING_AGG(item, ',') AS items,
       SUM(DISTINCT qty) AS distinct_qty_sum, AVG(DISTINCT qty) AS distinct_qty_avg, SUM(qty) AS total_qty
FROM orders GROUP BY customer;
CREATE TABLE by_arrival WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'customer') AS
SELECT customer, FIRST_VALUE(item) AS first_item, LAST_VALUE(item) AS last_item, ARRAY_AGG(item) AS items
FROM orders_by_arrival GROUP BY customer;
