-- Fraud rule from issue 14: five failed logins in a row, then a purchase over 1,000 from a
-- new device, all within 10 minutes, per user. Events arrive out of order (up to 25 s):
-- MATCH_RECOGNIZE restores event-time order within the 30 s watermark delay.
CREATE TABLE events (user_id BIGINT, ts TIMESTAMP, kind TEXT, amount DOUBLE, new_device BOOLEAN)
  WITH (connector = 'file', path = '{DIR}/events.jsonl', format = 'json',
        event_time = 'ts', watermark_delay = '30 seconds');
CREATE TABLE alerts () WITH (connector = 'file', path = '{DIR}/alerts.csv', format = 'csv');
INSERT INTO alerts
SELECT user_id, first_failure, purchase_time, amount, failures, alert_number
FROM match_recognize(
  events,
  partition_by => user_id,
  order_by => ts,
  pattern => 'F{5} P',
  define_f => kind = 'login_failed',
  define_p => kind = 'purchase' AND amount > 1000 AND new_device,
  measures => 'first(F.ts) AS first_failure, P.ts AS purchase_time, P.amount AS amount,
               count(F.*) AS failures, match_number() AS alert_number',
  within => INTERVAL '10' MINUTE,
  after_match => 'skip past last row');
