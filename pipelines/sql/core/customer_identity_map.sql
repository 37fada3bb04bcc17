-- Each person record with its customer and the strongest kept link that put it there: an
-- analyst's must_link, a deterministic key (CRM id, email, phone, the same order, a shared
-- mailbox with the full name), else the model ('probabilistic', with its probability).
-- A record no link reached is a 'singleton'. (A view: written whole, or on a night that changed
-- some records, with identity_map_scoped set, derived for the records of cw_map_scope only and
-- written where they changed; pipelines/identity.py write_identity_map.) A customer's number of
-- records is core.customers.source_records: held here, one record joining a cluster would
-- change the row of every record in it.
CREATE OR REPLACE TEMP VIEW cw_identity_map_rows AS
WITH incident AS (
    SELECT record_a AS record_id, rule, match_probability FROM core.customer_edges
    WHERE dropped_reason IS NULL AND (NOT getvariable('identity_map_scoped') OR record_a IN (SELECT record_id FROM cw_map_scope))
    UNION ALL
    SELECT record_b, rule, match_probability FROM core.customer_edges
    WHERE dropped_reason IS NULL AND (NOT getvariable('identity_map_scoped') OR record_b IN (SELECT record_id FROM cw_map_scope))
),
best_rule AS (
    SELECT record_id,
           arg_min(rule, list_position(['must_link', 'crm_id', 'email', 'phone', 'order_ref', 'mailbox_name', 'probabilistic'], rule))
               AS match_rule,
           max(match_probability) AS match_probability
    FROM incident
    GROUP BY record_id
)
SELECT r.record_id, r.source_system, r.entity, r.source_file, r.source_row, r.source_record_id,
       k.customer_key,
       coalesce(b.match_rule, 'singleton') AS match_rule,
       CASE WHEN b.match_rule = 'probabilistic' THEN b.match_probability ELSE 1.0 END::DOUBLE AS match_probability
FROM core.customer_records r
JOIN core.customer_clusters c USING (record_id)
JOIN core.customer_cluster_keys k USING (cluster_id)
LEFT JOIN best_rule b USING (record_id)
WHERE NOT getvariable('identity_map_scoped') OR r.record_id IN (SELECT record_id FROM cw_map_scope);

-- Clusters above the size cap: their model links were dropped (core.customer_edges says so).
CREATE OR REPLACE TABLE quality.identity_oversized_clusters AS
SELECT k.customer_key, count(*) AS records,
       list(DISTINCT r.source_system ORDER BY r.source_system) AS source_systems
FROM core.customer_clusters c
JOIN core.customer_cluster_keys k USING (cluster_id)
JOIN core.customer_records r USING (record_id)
WHERE c.oversized
GROUP BY k.customer_key
ORDER BY records DESC;
