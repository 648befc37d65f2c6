-- A lookup table is probed by its primary key: without one the join is refused, pointing at the table.
CREATE TABLE customers (id BIGINT, name TEXT) WITH (connector = 'file', path = '{DIR}/cust.jsonl');
CREATE TABLE orders (oid BIGINT, cid BIGINT) WITH (connector = 'file', path = '{DIR}/orders2.jsonl');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT o.oid, c.name FROM orders o JOIN lookup(customers) AS c ON o.cid = c.id;
