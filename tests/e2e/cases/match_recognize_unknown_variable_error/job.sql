-- define_x names a variable the pattern does not have: the error points at the argument.
CREATE TABLE events (user_id BIGINT, ts TIMESTAMP, kind TEXT, amount DOUBLE, new_device BOOLEAN)
  WITH (connector = 'file', path = '{DIR}/events.jsonl', format = 'json', event_time = 'ts');
CREATE TABLE alerts () WITH (connector = 'file', path = '{DIR}/alerts.csv', format = 'csv');
INSERT INTO alerts
SELECT * FROM match_recognize(events, partition_by => user_id, pattern => 'F{5} P',
  define_f => kind = 'login_failed',
  define_x => kind = 'purchase');
