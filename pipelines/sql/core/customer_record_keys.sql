-- A record is known by its tool's own id (CRM id, order number, ticket id, subscriber email), so
-- a later export of the same record finds its key; by file and row when that id is missing or
-- not unique (a hand-typed order reference).
-- (the records of the clusters in cw_clusters_to_key)
CREATE OR REPLACE TEMP TABLE cw_record_keys AS
WITH shared AS (
    SELECT entity, CAST(source_record_id AS VARCHAR) AS source_id, count(*) AS records
    FROM core.customer_records
    WHERE source_record_id IS NOT NULL
    GROUP BY ALL
)
SELECT r.record_id, c.cluster_id,
       r.entity || ':' || CASE
           WHEN s.records = 1 THEN 'id:' || s.source_id
           ELSE 'row:' || r.source_file || '#' || r.source_row
       END AS record_key
FROM core.customer_records r
JOIN core.customer_clusters c USING (record_id)
LEFT JOIN shared s ON s.entity = r.entity AND s.source_id = CAST(r.source_record_id AS VARCHAR)
WHERE c.cluster_id IN (SELECT cluster_id FROM cw_clusters_to_key);
