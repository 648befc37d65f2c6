-- Two updating INSERTs (GROUP BY without window) into one upsert table: both changelogs are
-- applied to the same keyed table (one sink instance), each key ending with its last value.
CREATE TABLE clicks (who TEXT, page TEXT)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl');
CREATE TABLE counts (name TEXT, n BIGINT, PRIMARY KEY (name))
  WITH (connector = 'sqlite', path = '{DIR}/out.db');
INSERT INTO counts SELECT page, COUNT(*) FROM clicks GROUP BY page;
INSERT INTO counts SELECT who, COUNT(*) FROM clicks GROUP BY who;
