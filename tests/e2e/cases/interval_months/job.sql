-- Intervals with months shift timestamps by calendar months, as in PostgreSQL: the months
-- first, the day clamped to the month's end (2024-01-31 + 1 month is 2024-02-29; a leap
-- day minus 2 years is 02-28), then days and time. Qualifiers YEAR, MONTH, YEAR TO MONTH
-- ('1-2' is 1 year 2 months), unit words and casts alike; in the SELECT list and in WHERE
-- (row 4 is more than a year before its `prev`).
CREATE TABLE t (id BIGINT, ts TIMESTAMP, prev TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT id,
  ts + INTERVAL '1' MONTH AS plus_month,
  ts - INTERVAL '1' MONTH AS minus_month,
  ts - INTERVAL '2' YEAR AS minus_2y,
  ts + INTERVAL '1-2' YEAR TO MONTH AS plus_1y2m,
  ts + INTERVAL '1 year 2 months 3 days 4 hours' AS plus_mixed,
  INTERVAL '13' MONTH + ts AS month_first,
  ts + '1 mon'::interval AS cast_form,
  ts - INTERVAL '1 month 1 day' AS minus_month_day,
  add_months(ts, 12) AS via_function,
  ts > prev + INTERVAL '1' MONTH AS over_a_month
FROM t WHERE ts > prev - INTERVAL '1' YEAR;
