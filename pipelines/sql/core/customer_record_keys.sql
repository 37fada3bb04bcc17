-- A record is known by its tool's own id (CRM id, order number, ticket id, subscriber email), so
-- a later export of the same record finds its key; by file and row when that id is missing or
-- not unique (a hand-typed order reference).
-- (the records of the clusters in cw_clusters_to_key, and the arrived records of kept clusters,
-- cw_arrivals_kept; cw_record_claims: the keys the registry gave them before)
CREATE TABLE IF NOT EXISTS core.customer_key_registry (
    record_key VARCHAR USING COMPRESSION uncompressed,  -- (pipelines/key_storage.py)
    customer_key VARCHAR USING COMPRESSION uncompressed NOT NULL,
    first_seen_at TIMESTAMPTZ,
    keyed_at TIMESTAMPTZ      -- the last run that keyed the record (all records, or those whose customer changed)
);

CREATE OR REPLACE TEMP TABLE cw_record_keys AS
WITH keyed AS (
    SELECT r.record_id, c.cluster_id, r.entity, CAST(r.source_record_id AS VARCHAR) AS source_id,
           r.source_file, r.source_row
    FROM core.customer_records r
    JOIN core.customer_clusters c USING (record_id)
    WHERE c.cluster_id IN (SELECT cluster_id FROM cw_clusters_to_key)
    UNION ALL
    SELECT r.record_id, a.cluster_id, r.entity, CAST(r.source_record_id AS VARCHAR), r.source_file, r.source_row
    FROM core.customer_records r
    JOIN cw_arrivals_kept a USING (record_id)
),
-- how many records carry each tool id the keyed records carry
shared AS (
    SELECT entity, CAST(source_record_id AS VARCHAR) AS source_id, count(*) AS records
    FROM core.customer_records r
    SEMI JOIN keyed k ON k.entity = r.entity AND k.source_id = CAST(r.source_record_id AS VARCHAR)
    GROUP BY ALL
)
SELECT k.record_id, k.cluster_id,
       k.entity || ':' || CASE
           WHEN s.records = 1 THEN 'id:' || s.source_id
           ELSE 'row:' || k.source_file || '#' || k.source_row
       END AS record_key
FROM keyed k
LEFT JOIN shared s USING (entity, source_id);

CREATE OR REPLACE TEMP TABLE cw_record_claims AS
SELECT k.record_id, k.cluster_id, k.record_key, g.customer_key, g.first_seen_at
FROM cw_record_keys k
JOIN core.customer_key_registry g USING (record_key);
