-- A SQLite URI (or :memory:) would write nowhere: refused (issue 9 point 22).
CREATE TABLE src (v BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
CREATE TABLE out () WITH (connector = 'sqlite', path = 'file:x.db?mode=memory');
INSERT INTO out SELECT v FROM src;
