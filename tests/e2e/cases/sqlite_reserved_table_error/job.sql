-- sluice's bookkeeping tables cannot be a user table (issue 9 point 22).
CREATE TABLE src (v BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
CREATE TABLE out () WITH (connector = 'sqlite', path = '{DIR}/out.db', table = '_sluice_commits');
INSERT INTO out SELECT v FROM src;
