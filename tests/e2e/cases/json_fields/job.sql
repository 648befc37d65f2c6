-- JSON fields of a TEXT column: the JSON decoder stores a nested object or array as its raw
-- JSON text (row 3 carries the JSON inside a string instead, which works the same).
CREATE TABLE orders (id BIGINT, payload TEXT) WITH (connector = 'file', path = '{DIR}/orders.jsonl', format = 'json');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
CREATE TABLE big () WITH (connector = 'file', path = '{DIR}/big.jsonl');
INSERT INTO out
SELECT id,
       payload ->> 'user' AS user_name,
       CAST(json_value(payload, '$.cart.total') AS DOUBLE) AS total,
       json_array_length(payload -> 'cart' -> 'items') AS items,
       payload -> 'cart' -> 'items' -> 0 ->> 'sku' AS first_sku,
       payload #>> '{cart,items,-1,sku}' AS last_sku,
       CAST(json_value(payload, 'cart.items[0].qty') AS BIGINT) AS first_qty,
       json_query(payload, '$.cart.items[0]') AS first_item,
       json_exists(payload, '$.coupon') AS has_coupon,
       json_typeof(payload) AS kind,
       is_json(payload) AS valid
FROM orders;
INSERT INTO big
SELECT id, payload ->> 'user' AS user_name, payload -> 'coupon' AS coupon
FROM orders
WHERE CAST(json_value(payload, '$.cart.total') AS DOUBLE) > 6;
