-- A dead-letter queue in a SQLite URI would write nowhere: refused as for a SQLite sink
-- (issue 9 point 22).
CREATE TABLE src (v BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', dlq = 'file:dlq.db?mode=memory',
  dlq_table = 'bad');
CREATE TABLE out () WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO out SELECT v FROM src;
