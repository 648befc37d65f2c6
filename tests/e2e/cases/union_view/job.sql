CREATE TABLE a (id BIGINT, amount DOUBLE PRECISION, country VARCHAR, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/a.jsonl', format = 'json');
CREATE TABLE b (id INT, amount DECIMAL(10, 2), country TEXT, ts TIMESTAMPTZ)
  WITH (connector = 'file', path = '{DIR}/b.csv', format = 'csv', header = 'true');
CREATE VIEW all_orders AS SELECT id, amount, country, ts FROM a UNION ALL SELECT id, amount, country, ts FROM b;
CREATE VIEW enriched AS
  SELECT id, COALESCE(amount, 0) * 2 AS doubled, UPPER(country) AS country,
         CASE WHEN amount IS NULL THEN 'missing' WHEN amount > 50 THEN 'big' ELSE 'small' END AS size,
         CAST(id AS TEXT) || '-' || country AS label, date_trunc('minute', ts) AS minute
  FROM all_orders;
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.csv', format = 'csv');
INSERT INTO out SELECT * FROM enriched WHERE id <> 5;
