-- Deterministic links between person records: each record is tied to the first record that
-- shares its key (a star per key is enough for connected components).
CREATE OR REPLACE TABLE core.customer_edges AS
WITH keyed AS (
    SELECT record_id, 'crm_id' AS rule, crm_contact_id AS key FROM core.customer_records WHERE crm_contact_id IS NOT NULL
    UNION ALL
    SELECT record_id, 'email', email FROM core.customer_records WHERE email IS NOT NULL
    UNION ALL
    SELECT record_id, 'phone', phone FROM core.customer_records WHERE phone IS NOT NULL
    UNION ALL
    SELECT record_id, 'order_ref', order_number FROM core.customer_records WHERE order_number IS NOT NULL
)
SELECT min(record_id) OVER (PARTITION BY rule, key) AS record_a, record_id AS record_b, rule, key
FROM keyed
QUALIFY record_a <> record_b;
