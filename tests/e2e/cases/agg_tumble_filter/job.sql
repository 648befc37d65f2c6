-- FILTER (WHERE ...) on COUNT(*) and on any aggregate, per one-minute window: only rows
-- where the condition is TRUE count (a NULL condition, like amount > 5 for a NULL amount,
-- skips the row). HAVING may use filtered aggregates.
CREATE TABLE events (ts TIMESTAMP, user_id BIGINT, event_type TEXT, amount DOUBLE)
  WITH (connector = 'file', path = '{DIR}/events.csv', format = 'csv', event_time = 'ts');
CREATE TABLE per_minute () WITH (connector = 'file', path = '{DIR}/per_minute.csv', format = 'csv');
INSERT INTO per_minute
SELECT window_start,
       COUNT(*) AS events,
       COUNT(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       COUNT(*) FILTER (WHERE amount > 5) AS big_purchases,
       SUM(amount) FILTER (WHERE event_type = 'purchase') AS revenue,
       COUNT(DISTINCT user_id) FILTER (WHERE event_type = 'purchase') AS buyers,
       COUNT(DISTINCT user_id) AS visitors,
       MAX(amount) FILTER (WHERE amount < 50) AS max_small,
       COUNT(*) FILTER (WHERE event_type = 'purchase') * 100 / COUNT(*) AS purchase_pct
FROM TUMBLE(events, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end
HAVING COUNT(*) FILTER (WHERE event_type <> 'purchase') > 0 OR SUM(amount) > 50;
