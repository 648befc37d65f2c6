CREATE TABLE a (k BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT x.k FROM a AS x JOIN a AS y USING (k);
