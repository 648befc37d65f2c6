-- Checkpoint benchmark job: 1 million keys of window state held for the whole run.
-- bench/checkpoint_cost.py writes the events (12M, keys 0..999999, each key 12
-- times, spread over the run); one 1-day tumbling window keeps every key's COUNT and SUM
-- in state until the end, so a checkpoint late in the run snapshots ~1M keys.
CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DATA}', format = 'json', event_time = 'ts', watermark_delay = '1 second');

CREATE TABLE per_key () WITH (connector = 'file', path = 'per_key.jsonl');

INSERT INTO per_key
SELECT k, window_start, COUNT(*) AS events, SUM(v) AS total
FROM TUMBLE(events, ts, INTERVAL '1 day')
GROUP BY k, window_start;
