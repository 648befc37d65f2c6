-- JOIN ... USING and NATURAL JOIN (PostgreSQL's rules): the USING columns are equi-join
-- keys and appear once, first in `*` (for a FULL join the COALESCE of both sides); an
-- unqualified k is that merged column, a.k and b.k stay reachable. NULL keys never match.
CREATE TABLE a (k BIGINT, v BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
CREATE TABLE b (k BIGINT, w BIGINT) WITH (connector = 'file', path = '{DIR}/b.jsonl');
CREATE TABLE inner_out (k BIGINT, v BIGINT, w BIGINT, ak BIGINT, bk BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'inner_out', primary_key = 'v');
CREATE TABLE left_out (k BIGINT, v BIGINT, w BIGINT, bk BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'left_out', primary_key = 'v');
CREATE TABLE right_out (k BIGINT, v BIGINT, w BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'right_out', primary_key = 'v,w');
CREATE TABLE full_out (k BIGINT, v BIGINT, w BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'full_out', primary_key = 'v,w');
CREATE TABLE natural_out (k BIGINT, v BIGINT, w BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'natural_out', primary_key = 'v');
INSERT INTO inner_out SELECT *, a.k, b.k FROM a JOIN b USING (k);
INSERT INTO left_out SELECT *, b.k FROM a LEFT JOIN b USING (k);
INSERT INTO right_out SELECT * FROM a RIGHT JOIN b USING (k);
INSERT INTO full_out SELECT k, v, w FROM a FULL JOIN b USING (k);
INSERT INTO natural_out SELECT x.k, x.v, w FROM (SELECT * FROM a NATURAL JOIN b) AS x;
