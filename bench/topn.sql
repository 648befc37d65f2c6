-- Top-N benchmark (run from a scratch folder: sluice run -q bench/topn.sql): 3 M generated
-- clicks; per page the 3 latest clicks (continuous top-N, a retraction + insert per change)
-- and per 1-minute window the 3 highest user ids per page.
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '3000000', users = '100000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds',
        event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE latest ()
  WITH (connector = 'file', path = 'latest.jsonl', changelog = 'true');
CREATE TABLE top_users () WITH (connector = 'file', path = 'top_users.jsonl');
INSERT INTO latest
SELECT page, user_id, ts, rn FROM (
  SELECT page, user_id, ts, ROW_NUMBER() OVER (PARTITION BY page ORDER BY ts DESC) AS rn FROM clicks) AS t
WHERE rn <= 3;
INSERT INTO top_users
SELECT window_start, page, user_id, rn FROM (
  SELECT window_start, window_end, page, user_id,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end, page ORDER BY user_id DESC) AS rn
  FROM TUMBLE(clicks, ts, INTERVAL '1 minute')) AS t
WHERE rn <= 3;
