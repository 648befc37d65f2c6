-- versioned() joins AS OF the stream's event time, not another column.
CREATE TABLE rates (cur TEXT, rate BIGINT, ts TIMESTAMP, PRIMARY KEY (cur))
  WITH (connector = 'file', path = '{DIR}/rates.jsonl', event_time = 'ts');
CREATE TABLE orders (id BIGINT, cur TEXT, ts TIMESTAMP, placed TIMESTAMP) WITH (connector = 'file', path = '{DIR}/orders.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT o.id, r.rate FROM orders o JOIN versioned(rates, o.placed) AS r ON o.cur = r.cur;
