-- Any bounded rank condition selects a range of ranks: rn = 2, rn BETWEEN 2 AND 3,
-- 2 <= rn AND rn < 4. Rows outside the range are never emitted, and a row moving into or
-- out of the range is a +I or -D of its rank, so the changelog is exact.
CREATE TABLE t (g TEXT, player TEXT, score BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE second (g TEXT, player TEXT, score BIGINT, rn BIGINT)
  WITH (connector = 'file', path = '{DIR}/second.jsonl', changelog = 'true');
CREATE TABLE second_third (g TEXT, player TEXT, rn BIGINT)
  WITH (connector = 'file', path = '{DIR}/second_third.jsonl', changelog = 'true');
CREATE TABLE board (g TEXT, rn BIGINT, player TEXT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'g,rn');
INSERT INTO second SELECT g, player, score, rn
FROM (SELECT g, player, score, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC) AS rn FROM t) AS r
WHERE rn = 2;
INSERT INTO second_third SELECT g, player, rn
FROM (SELECT g, player, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC) AS rn FROM t) AS r
WHERE rn BETWEEN 2 AND 3;
INSERT INTO board SELECT g, rn, player
FROM (SELECT g, player, ROW_NUMBER() OVER (PARTITION BY g ORDER BY score DESC) AS rn FROM t) AS r
WHERE 2 <= rn AND rn < 4 AND player <> 'zz';
