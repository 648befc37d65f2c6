-- Quantifiers, contiguity and skip strategies over two users (rows of user 1 arrive out of
-- order: 10:00:04 before 10:00:03; the 5 s watermark delay restores the order).
-- In event-time order: user 1 = a x b a b b (amounts 1 2 3 5 4 6), user 2 = a a b b.
CREATE TABLE events (user_id BIGINT, ts TIMESTAMP, kind TEXT, amount BIGINT)
  WITH (connector = 'file', path = '{DIR}/events.csv', format = 'csv', header = 'true',
        event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE greedy_relaxed () WITH (connector = 'file', path = '{DIR}/greedy_relaxed.csv', format = 'csv');
CREATE TABLE reluctant_strict () WITH (connector = 'file', path = '{DIR}/reluctant_strict.csv', format = 'csv');

-- Relaxed contiguity ('x' rows are skipped), greedy B+, overlapping matches (skip to next
-- row), within 20 seconds: user 2's second b (30 s after its a) is outside.
INSERT INTO greedy_relaxed
SELECT * FROM match_recognize(
  events, partition_by => user_id, order_by => ts,
  pattern => 'A B+',
  define_a => kind = 'a', define_b => kind = 'b',
  measures => 'match_number() AS n, classifier() AS last_var, first(ts) AS start_ts, last(ts) AS end_ts,
               count(*) AS rows_in_match, count(B.*) AS bs, sum(B.amount) AS b_total, A.amount AS a_amount',
  within => INTERVAL '20' SECOND,
  contiguity => 'relaxed',
  after_match => 'skip to next row');

-- Strict contiguity, reluctant B{1,}?: the first b ends a match; measures as arguments.
INSERT INTO reluctant_strict
SELECT * FROM match_recognize(
  events, partition_by => user_id,
  pattern => 'A+ B{1,}?',
  define_a => kind = 'a', define_b => kind = 'b',
  measure_n => match_number(),
  measure_as => count(A.*),
  measure_first_a => first(A.amount),
  measure_b => last(B.amount),
  measure_span => last(ts) - first(ts),
  after_match => 'past last row');
