-- Each person record with its customer. A cluster's key is derived from its most durable
-- identifier (a CRM id, else an email, else a phone), so the same input gives the same keys.
CREATE OR REPLACE TABLE core.customer_identity_map AS
WITH anchors AS (
    SELECT c.cluster_id,
           coalesce(
               min('crm:' || r.crm_contact_id) FILTER (WHERE r.entity = 'crm_contacts'),
               min('email:' || r.email),
               min('phone:' || r.phone),
               min('record:' || r.entity || ':' || r.source_file || ':' || r.source_row)
           ) AS anchor,
           count(*) AS cluster_records
    FROM core.customer_clusters c
    JOIN core.customer_records r USING (record_id)
    GROUP BY c.cluster_id
),
incident AS (
    SELECT record_a AS record_id, rule FROM core.customer_edges
    UNION ALL
    SELECT record_b, rule FROM core.customer_edges
),
best_rule AS (
    SELECT record_id,
           arg_min(rule, list_position(['crm_id', 'email', 'phone', 'order_ref'], rule)) AS match_rule
    FROM incident
    GROUP BY record_id
)
SELECT r.record_id, r.source_system, r.entity, r.source_file, r.source_row, r.source_record_id,
       'C' || upper(substr(md5(a.anchor), 1, 10)) AS customer_key,
       coalesce(b.match_rule, 'singleton') AS match_rule,
       1.0::DOUBLE AS match_probability,
       a.cluster_records
FROM core.customer_records r
JOIN core.customer_clusters c USING (record_id)
JOIN anchors a USING (cluster_id)
LEFT JOIN best_rule b USING (record_id)
ORDER BY r.record_id;
