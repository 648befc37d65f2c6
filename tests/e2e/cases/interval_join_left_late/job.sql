-- A LEFT interval join (a purchase within 10 seconds after the click) into an append-only
-- table: the output is insert-only (a click without purchase is written once, NULL-padded,
-- when the watermark has passed its 10 seconds), and the click behind its source's watermark
-- (00:00:10 after 00:00:30, 2-second delay) goes to the late-data output instead of joining,
-- and so does the purchase 00:00:12 after 00:00:31.
CREATE TABLE clicks (u BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl', event_time = 'ts', watermark_delay = '2 seconds',
        late_output = '{DIR}/late.jsonl');
CREATE TABLE buys (u BIGINT, ts TIMESTAMP, amount BIGINT)
  WITH (connector = 'file', path = '{DIR}/buys.jsonl', event_time = 'ts', watermark_delay = '2 seconds',
        late_output = '{DIR}/buys_late.jsonl');
CREATE TABLE out (u BIGINT, clicked TIMESTAMP, amount BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'out');
INSERT INTO out
SELECT c.u, c.ts, b.amount
FROM clicks AS c LEFT JOIN buys AS b ON c.u = b.u AND b.ts BETWEEN c.ts AND c.ts + INTERVAL '10' SECOND;
