-- Orders enriched with a file of customers loaded whole (a processing-time lookup join):
-- LEFT pads an unknown customer and a NULL key; INNER (the second query) drops them.
CREATE TABLE customers (id BIGINT, name TEXT, since TIMESTAMP, PRIMARY KEY (id))
  WITH (connector = 'file', path = '{DIR}/cust.jsonl');
CREATE TABLE orders (oid BIGINT, cid BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/orders2.jsonl', event_time = 'ts');
CREATE TABLE all_orders (oid BIGINT, name TEXT, since TIMESTAMP) WITH (connector = 'file', path = '{DIR}/all.jsonl');
CREATE TABLE known (oid BIGINT, name TEXT) WITH (connector = 'file', path = '{DIR}/known.jsonl');
INSERT INTO all_orders SELECT o.oid, c.name, c.since FROM orders o LEFT JOIN lookup(customers) AS c ON o.cid = c.id;
INSERT INTO known SELECT o.oid, c.name FROM orders o JOIN lookup(customers) AS c ON o.cid = c.id AND c.name <> 'cy-file';
