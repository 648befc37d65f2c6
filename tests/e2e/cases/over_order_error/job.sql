-- OVER windows are ordered by the event-time attribute ascending; anything else is refused
-- with a positioned error saying what is supported.
CREATE TABLE tx (user_id BIGINT, amount BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/tx.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out
SELECT user_id, SUM(amount) OVER (PARTITION BY user_id ORDER BY amount) AS s FROM tx;
