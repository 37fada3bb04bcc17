-- Links between person records, each with its rule and probability: the deterministic keys'
-- (cw_key_links, customer_key_links.sql), and the model's and analysts' (cw_model_edges,
-- customer_model_edges.sql).
CREATE OR REPLACE TABLE core.customer_edges AS
-- dropped_reason: filled by the clustering guards (pipelines/identity.py cluster_records)
SELECT *, NULL::VARCHAR AS dropped_reason
FROM (SELECT * FROM cw_key_links
      UNION ALL SELECT * FROM cw_model_edges);
