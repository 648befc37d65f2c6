CREATE TABLE input (n BIGINT, s TEXT) WITH (connector = 'stdin', format = 'json', dlq = '{DIR}/bad.jsonl');
CREATE TABLE output () WITH (connector = 'console');
INSERT INTO output SELECT n * 10 AS tens, COALESCE(s, '?') AS s, n % 2 = 0 AS even FROM input;
