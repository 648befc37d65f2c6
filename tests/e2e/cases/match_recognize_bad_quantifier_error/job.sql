-- A pattern error points into the pattern string: on line 7, F{5 has no closing brace; the error points at P, where '}' was expected.
CREATE TABLE events (user_id BIGINT, ts TIMESTAMP, kind TEXT, amount DOUBLE, new_device BOOLEAN)
  WITH (connector = 'file', path = '{DIR}/events.jsonl', format = 'json', event_time = 'ts');
CREATE TABLE alerts () WITH (connector = 'file', path = '{DIR}/alerts.csv', format = 'csv');
INSERT INTO alerts
SELECT * FROM match_recognize(events, partition_by => user_id,
  pattern => 'F{5 P',
  define_f => kind = 'login_failed', define_p => kind = 'purchase');
