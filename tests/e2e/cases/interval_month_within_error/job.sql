-- A pattern's WITHIN of a year: it must be an exact duration.
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k, n FROM match_recognize(t, partition_by => k, order_by => ts, pattern => 'A B',
  define_a => k > 0, define_b => k > 0, measures => 'count(A.*) AS n',
  within => INTERVAL '1' YEAR);
