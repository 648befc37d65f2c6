-- A dotted option name (PostgreSQL parses `format.path` as namespace "format", name "path")
-- is the whole dotted name: it must not silently set `path`.
CREATE TABLE t (a BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl', format.path = '{DIR}/other.jsonl');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT a FROM t;
