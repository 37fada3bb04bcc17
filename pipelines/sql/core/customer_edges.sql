-- Links between person records, each with its rule and probability.
-- Deterministic keys: each record is tied to the first record that shares its key (a star per
-- key is enough for connected components): CRM id, email, phone, the same order, and a shared
-- mailbox together with the full name. Shared mailboxes and placeholder values are no key
-- (usable_email / usable_phone of core.customer_records, from schemas/identity.yaml).
-- Model links: pairs the Fellegi-Sunter model scores at or above the match threshold, unless an
-- analyst said cannot_link. Analyst must_link decisions are links of their own.
CREATE OR REPLACE TABLE core.customer_edges AS
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
),
deterministic AS (
    SELECT s.record_a, k.record_id AS record_b, rule, key, 1.0::DOUBLE AS match_probability
    FROM keyed_once k
    JOIN stars s USING (rule, key)
    WHERE k.record_id <> s.record_a
),
cannot AS (
    SELECT least(record_a, record_b) AS a, greatest(record_a, record_b) AS b
    FROM core.customer_overrides WHERE decision = 'cannot_link'
),
probabilistic AS (
    SELECT s.node_a AS record_a, s.node_b AS record_b, 'probabilistic' AS rule, NULL AS key, s.match_probability
    FROM core.customer_link_scores s
    ANTI JOIN cannot c ON c.a = s.node_a AND c.b = s.node_b
    WHERE s.match_probability >= getvariable('match_threshold')
),
must AS (
    SELECT least(record_a, record_b) AS record_a, greatest(record_a, record_b) AS record_b, 'must_link' AS rule,
           NULL AS key, 1.0::DOUBLE AS match_probability
    FROM core.customer_overrides WHERE decision = 'must_link'
)
-- dropped_reason: filled by the clustering guards (pipelines/identity.py cluster_records)
SELECT *, NULL::VARCHAR AS dropped_reason
FROM (SELECT * FROM deterministic
      UNION ALL SELECT * FROM probabilistic
      UNION ALL SELECT * FROM must);
