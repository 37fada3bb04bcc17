-- A night that changed some records (run before the new identity map is written): a cluster
-- that is exactly a customer of the night before (the same records, all under one key, no other
-- record under it) keeps its key (cw_cluster_keys_kept). A cluster outside tonight's scope
-- (cw_clusters_left, customer_cluster_scope.sql) is such a cluster, under the same id; only
-- those found again are compared. The other clusters are keyed again (cw_clusters_to_key), as
-- is a cluster holding a record whose tool id an arrived or gone record shares, since that
-- record's own key may change (customer_record_keys.sql).
CREATE OR REPLACE TEMP TABLE cw_cluster_keys_kept AS
WITH before AS (
    SELECT c.cluster_id, count(*) AS records, count(m.customer_key) AS known,
           min(m.customer_key) AS customer_key, max(m.customer_key) AS last_key
    FROM core.customer_clusters c
    LEFT JOIN core.customer_identity_map m USING (record_id)
    WHERE c.record_id IN (SELECT record_id FROM cw_cluster_scope)
    GROUP BY c.cluster_id
),
key_records AS (
    SELECT customer_key, count(*) AS records FROM core.customer_identity_map
    WHERE customer_key IN (SELECT customer_key FROM before)
    GROUP BY customer_key
),
ids_moved AS (
    SELECT entity, CAST(source_record_id AS VARCHAR) AS source_id FROM cw_records_arrived
    UNION
    SELECT entity, source_id FROM cw_records_gone
),
rekeyed AS (
    SELECT c.cluster_id
    FROM core.customer_records r
    JOIN core.customer_clusters c USING (record_id)
    SEMI JOIN ids_moved m ON m.entity = r.entity AND m.source_id = CAST(r.source_record_id AS VARCHAR)
),
kept AS (
    SELECT b.cluster_id, b.customer_key
    FROM before b
    JOIN key_records k USING (customer_key)
    WHERE b.known = b.records AND b.customer_key = b.last_key AND k.records = b.records
    UNION ALL
    SELECT cluster_id, customer_key FROM core.customer_cluster_keys
    WHERE cluster_id NOT IN (SELECT cluster_id FROM cw_clusters_left)
)
SELECT * FROM kept WHERE cluster_id NOT IN (SELECT cluster_id FROM rekeyed);

CREATE OR REPLACE TEMP TABLE cw_clusters_to_key AS
SELECT DISTINCT cluster_id FROM core.customer_clusters
WHERE cluster_id NOT IN (SELECT cluster_id FROM cw_cluster_keys_kept);
