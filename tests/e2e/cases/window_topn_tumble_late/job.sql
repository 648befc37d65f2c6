-- Window top-N over TUMBLE rows: each window's top 2 is emitted once when it closes; the
-- late row (behind its window by its own watermark) goes to the late-data output instead of
-- re-ranking the window already emitted.
CREATE TABLE src (page TEXT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts', watermark_delay = '1 second',
        late_output = '{DIR}/late.jsonl');
CREATE TABLE out (window_start TIMESTAMP, rn BIGINT, page TEXT, v BIGINT)
  WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, rn, page, v FROM (SELECT window_start, window_end, page, v,
  ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rn
  FROM TUMBLE(src, ts, INTERVAL '10 seconds')) AS r WHERE rn <= 2;
