-- DATE is a TIMESTAMP at midnight UTC: CAST(ts AS DATE), ts::date, text cast to DATE, DATE
-- literals and columns declared DATE (in sources and sinks) drop the time of day, so a daily
-- GROUP BY makes one group per day.
CREATE TABLE t (v BIGINT, ts TIMESTAMP, s TEXT, d DATE) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE daily () WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'day');
CREATE TABLE rows_out (v BIGINT, day DATE, from_text DATE, d DATE, lit DATE, eq BOOLEAN)
  WITH (connector = 'file', path = '{DIR}/rows.jsonl');
INSERT INTO daily SELECT CAST(ts AS DATE) AS day, COUNT(*) AS n, SUM(v) AS total FROM t GROUP BY CAST(ts AS DATE);
INSERT INTO rows_out SELECT v, ts, s::date, d, DATE '2024-01-02', ts::date = DATE '2024-01-02' FROM t;
