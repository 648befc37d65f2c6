-- The multi-source anomaly detector: logins, payments and API error logs, joined by user.
-- An account takeover is five or more failed logins, then a successful login from a device
-- the user never used, then a payment over 1,000, all within 10 minutes (MATCH_RECOGNIZE,
-- docs/patterns.md); each alert carries the API errors the user hit from the first failed
-- login until a minute after the payment (one evidence row per error).

CREATE TABLE logins (user_id TEXT, success BOOLEAN, device TEXT, known_device BOOLEAN, ts TIMESTAMP)
  WITH (connector = 'file', format = 'json', path = 'logins.jsonl',
        event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE transactions (tx_id BIGINT, user_id TEXT, amount DOUBLE PRECISION, merchant TEXT,
                           country TEXT, home_country TEXT, ts TIMESTAMP)
  WITH (connector = 'file', format = 'json', path = 'transactions.jsonl',
        event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE api_errors (user_id TEXT, endpoint TEXT, status BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', format = 'json', path = 'api_errors.jsonl',
        event_time = 'ts', watermark_delay = '5 seconds');

CREATE TABLE alerts (user_id TEXT, first_failure TIMESTAMP, payment_time TIMESTAMP,
                     amount DOUBLE PRECISION, failures BIGINT)
  WITH (connector = 'sqlite', path = 'alerts.db', table = 'alerts');
CREATE TABLE evidence (user_id TEXT, first_failure TIMESTAMP, error_time TIMESTAMP, endpoint TEXT,
                       status BIGINT)
  WITH (connector = 'sqlite', path = 'alerts.db', table = 'evidence');

-- One stream of a user's activity: logins and payments in event-time order.
CREATE VIEW activity AS
SELECT user_id, ts, CASE WHEN success THEN 'login_ok' ELSE 'login_failed' END AS kind,
       CAST(NULL AS DOUBLE PRECISION) AS amount, known_device
FROM logins
UNION ALL
SELECT user_id, ts, 'payment' AS kind, amount, TRUE AS known_device
FROM transactions;

CREATE VIEW takeovers AS
SELECT * FROM match_recognize(
  activity,
  partition_by => user_id,
  order_by => ts,
  pattern => 'F{5,} S P',
  define_f => kind = 'login_failed',
  define_s => kind = 'login_ok' AND NOT known_device,
  define_p => kind = 'payment' AND amount > 1000,
  measures => 'first(F.ts) AS first_failure, count(F.*) AS failures, P.ts AS payment_time,
               P.amount AS amount',
  within => INTERVAL '10' MINUTE,
  after_match => 'skip past last row');

INSERT INTO alerts
SELECT user_id, first_failure, payment_time, amount, failures FROM takeovers;

INSERT INTO evidence
SELECT t.user_id, t.first_failure, e.ts, e.endpoint, e.status
FROM takeovers t
JOIN api_errors e
  ON t.user_id = e.user_id AND e.ts BETWEEN t.first_failure AND t.payment_time + INTERVAL '1' MINUTE;
