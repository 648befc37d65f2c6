-- The LEFT JOIN of join_left_upsert with a state TTL of an hour (SET state_ttl): the rows
-- of a run this short never expire, so the result is the same.
SET state_ttl = '1 hour';
-- A LEFT JOIN of a stream with a GROUP BY result (updating input) into an upsert sink: the
-- NULL-padded row of an order is retracted when its customer's total arrives, and each
-- order follows its customer's latest total (the -U/+U of the aggregate become -D/+I).
CREATE TABLE orders (id BIGINT, cust TEXT, amount BIGINT) WITH (connector = 'file', path = '{DIR}/orders.jsonl');
CREATE TABLE pay (cust TEXT, v BIGINT) WITH (connector = 'file', path = '{DIR}/pay.jsonl');
CREATE TABLE out (id BIGINT, cust TEXT, amount BIGINT, paid BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'out', primary_key = 'id');
INSERT INTO out
SELECT o.id, o.cust, o.amount, p.total
FROM orders AS o LEFT JOIN (SELECT cust, SUM(v) AS total FROM pay GROUP BY cust) AS p
  ON o.cust = p.cust AND p.total >= o.amount;
