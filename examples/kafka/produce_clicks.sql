-- Step 1 of the Kafka example: a web shop's producer. 200,000 generated clicks
-- (deterministic, seed 7; 5% up to 5 s out of order) are written to the 4-partition topic
-- `clicks`, keyed by user (murmur2 partitioning, as a Java producer would).
-- @BOOTSTRAP@ is replaced by the mock cluster's address (see README.md).
CREATE TABLE gen (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '7', events = '200000', users = '2000', pages = '20',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds');

CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'kafka', topic = 'clicks', bootstrap_servers = '@BOOTSTRAP@', key = 'user_id');

INSERT INTO clicks SELECT user_id, page, ts FROM gen;
