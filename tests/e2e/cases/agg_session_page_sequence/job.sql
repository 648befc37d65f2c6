-- A session's page sequence, ordered by event time (ties by arrival) whatever the arrival
-- order: the row at 00:00:45 arrives late and bridges two sessions of user 1, whose
-- ordered lists are merged. ARRAY_AGG keeps NULLs (JSON null), STRING_AGG skips them,
-- FIRST_VALUE returns the first row's value even when NULL unless FILTERed.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl', event_time = 'ts', watermark_delay = '1 minute');
CREATE TABLE sessions () WITH (connector = 'file', path = '{DIR}/sessions.jsonl');
INSERT INTO sessions
SELECT user_id, window_start, window_end, COUNT(*) AS events,
       ARRAY_AGG(page) AS pages,
       STRING_AGG(page, ' > ' ORDER BY ts) AS path,
       FIRST_VALUE(page) AS landing,
       FIRST_VALUE(page) FILTER (WHERE page IS NOT NULL) AS first_known,
       LAST_VALUE(page) AS exit_page,
       APPROX_COUNT_DISTINCT(page) AS distinct_pages
FROM SESSION(clicks, ts, INTERVAL '30 seconds')
GROUP BY user_id, window_start, window_end;
