-- A night that changed some records (run before the new identity map is written): a cluster
-- that is a customer of the night before (all under one key, no other record under it), less
-- its gone records and with arrived ones, keeps its key (cw_cluster_keys_kept), as keying it
-- again would give: only its old records claim a key. A cluster outside tonight's scope
-- (cw_clusters_left, customer_cluster_scope.sql) is such a cluster, under the same id; only
-- those found again are compared. The other clusters are keyed again (cw_clusters_to_key), as
-- is a cluster holding an earlier record whose tool id an arrived or gone record shares, since
-- that record's own key may change (customer_record_keys.sql). The arrived records of kept
-- clusters (cw_arrivals_kept) are given their cluster's key; pipelines/identity.py
-- issue_customer_keys keys their cluster again if one claims another key.
CREATE OR REPLACE TEMP TABLE cw_cluster_keys_kept AS
WITH before AS (
    SELECT c.cluster_id, count(*) AS records, count(m.customer_key) AS known, count(a.record_id) AS arrived,
           min(m.customer_key) AS customer_key, max(m.customer_key) AS last_key
    FROM core.customer_clusters c
    LEFT JOIN core.customer_identity_map m USING (record_id)
    LEFT JOIN cw_records_arrived a USING (record_id)
    WHERE c.record_id IN (SELECT record_id FROM cw_cluster_scope)
    GROUP BY c.cluster_id
),
key_records AS (
    SELECT customer_key, count(*) AS records FROM core.customer_identity_map
    WHERE customer_key IN (SELECT customer_key FROM before)
      AND record_id NOT IN (SELECT record_id FROM cw_records_gone)
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
    WHERE r.record_id NOT IN (SELECT record_id FROM cw_records_arrived)
),
kept AS (
    SELECT b.cluster_id, b.customer_key, true AS found_again
    FROM before b
    JOIN key_records k USING (customer_key)
    WHERE b.known + b.arrived = b.records AND b.customer_key = b.last_key AND k.records = b.known
    UNION ALL
    SELECT cluster_id, customer_key, false FROM core.customer_cluster_keys
    WHERE cluster_id NOT IN (SELECT cluster_id FROM cw_clusters_left)
)
SELECT * FROM kept WHERE cluster_id NOT IN (SELECT cluster_id FROM rekeyed);

CREATE OR REPLACE TEMP TABLE cw_clusters_to_key AS
SELECT DISTINCT cluster_id FROM core.customer_clusters
WHERE cluster_id NOT IN (SELECT cluster_id FROM cw_cluster_keys_kept);

CREATE OR REPLACE TEMP TABLE cw_arrivals_kept AS
SELECT a.record_id, c.cluster_id
FROM cw_records_arrived a
JOIN core.customer_clusters c USING (record_id)
SEMI JOIN cw_cluster_keys_kept k USING (cluster_id);
