-- OVER frames on a stream end at CURRENT ROW: a frame reaching FOLLOWING rows is refused
-- with a positioned error listing the supported frames.
CREATE TABLE tx (user_id BIGINT, amount BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/tx.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out
SELECT user_id, COUNT(*) OVER w AS n FROM tx
WINDOW w AS (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING);
