-- A NULL key of a BIGINT primary key column (issue 10 review): a one-column INTEGER PRIMARY
-- KEY would be SQLite's rowid, turning each update of the NULL group into a new row with an
-- invented key. The table sluice creates declares the key BIGINT: NULL is one row.
CREATE TABLE sales (shop BIGINT, amount BIGINT) WITH (connector = 'file', path = '{DIR}/sales.jsonl');
CREATE TABLE totals (shop BIGINT, total BIGINT, n BIGINT, PRIMARY KEY (shop))
  WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO totals SELECT shop, SUM(amount), COUNT(*) FROM sales GROUP BY shop;
