-- Links by deterministic keys: each record is tied to the first record that shares its key (a
-- star per key is enough for connected components): CRM id, email, phone, the same order, and a
-- shared mailbox together with the full name. Shared mailboxes and placeholder values are no key
-- (usable_email / usable_phone of core.customer_records, from schemas/identity.yaml; the keys of
-- each record in cw_keyed_records, customer_keyed_records.sql).
-- (a temp table: core.customer_edges holds them with the model's links)
CREATE OR REPLACE TEMP TABLE cw_key_links AS
WITH keyed_once AS MATERIALIZED (SELECT * FROM cw_keyed_records),
-- a GROUP BY and a join: faster than a window over every keyed record
stars AS (
    SELECT rule, key, min(record_id) AS record_a FROM keyed_once GROUP BY rule, key HAVING count(*) > 1
)
SELECT s.record_a, k.record_id AS record_b, rule, key, 1.0::DOUBLE AS match_probability
FROM keyed_once k
JOIN stars s USING (rule, key)
WHERE k.record_id <> s.record_a;
