SET state_ttl = 'forever';
CREATE TABLE t (a BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT a FROM t;
