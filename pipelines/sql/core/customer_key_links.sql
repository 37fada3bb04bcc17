-- Links by deterministic keys: each record is tied to the first record that shares its key (a
-- star per key is enough for connected components): CRM id, email, phone, the same order, and a
-- shared mailbox together with the full name. Shared mailboxes and placeholder values are no key
-- (usable_email / usable_phone of core.customer_records, from schemas/identity.yaml).
-- (a temp table: core.customer_edges holds them with the model's links)
CREATE OR REPLACE TEMP TABLE cw_key_links AS
WITH usable AS (
    SELECT record_id, crm_contact_id, order_number, usable_email AS email, usable_phone AS phone
    FROM core.customer_records
),
keyed AS (
    SELECT record_id, 'crm_id' AS rule, CAST(crm_contact_id AS VARCHAR) AS key FROM usable WHERE crm_contact_id IS NOT NULL
    UNION ALL
    SELECT record_id, 'email', email FROM usable WHERE email IS NOT NULL
    UNION ALL
    SELECT record_id, 'phone', phone FROM usable WHERE phone IS NOT NULL
    UNION ALL
    SELECT record_id, 'order_ref', order_number FROM usable WHERE order_number IS NOT NULL
    UNION ALL
    -- a shared mailbox names a business, and within one business a full name names one person
    SELECT record_id, 'mailbox_name', shared_mailbox || '|' || first_name_std || '|' || last_name
    FROM cw_linkage_records
    WHERE shared_mailbox IS NOT NULL AND first_name_std IS NOT NULL AND last_name IS NOT NULL
),
keyed_once AS MATERIALIZED (SELECT * FROM keyed),
-- a GROUP BY and a join: faster than a window over every keyed record
stars AS (
    SELECT rule, key, min(record_id) AS record_a FROM keyed_once GROUP BY rule, key HAVING count(*) > 1
)
SELECT s.record_a, k.record_id AS record_b, rule, key, 1.0::DOUBLE AS match_probability
FROM keyed_once k
JOIN stars s USING (rule, key)
WHERE k.record_id <> s.record_a;
