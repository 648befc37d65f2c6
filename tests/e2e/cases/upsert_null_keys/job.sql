-- NULL group keys in an upsert table (issue 9 point 13): NULL is one key (IS semantics),
-- so each update of the NULL group replaces its row (batch size 1: one update per row).
CREATE TABLE sales (region TEXT, amount BIGINT) WITH (connector = 'file', path = '{DIR}/sales.jsonl');
CREATE TABLE totals (region TEXT, total BIGINT, n BIGINT, PRIMARY KEY (region))
  WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO totals SELECT region, SUM(amount), COUNT(*) FROM sales GROUP BY region;
