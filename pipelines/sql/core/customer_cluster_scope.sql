-- A night that changed some records (run before core.customer_clusters is written again): the
-- components (before the guards) holding a record at the end of a link that came or went
-- (cw_edges_touched, customer_edges_changed.sql) or a gone record. A link joins no two other
-- components, so their records and the arrived ones, cw_cluster_scope, hold every link between
-- them; elsewhere the clusters are as they were. cw_clusters_left: the clusters of those
-- components, whose keys are decided again (customer_clusters_changed.sql).
CREATE OR REPLACE TEMP TABLE cw_components_touched AS
SELECT DISTINCT component_id FROM core.customer_clusters
WHERE record_id IN (SELECT record_id FROM cw_edges_touched UNION SELECT record_id FROM cw_records_gone);

CREATE OR REPLACE TEMP TABLE cw_clusters_left AS
SELECT DISTINCT cluster_id FROM core.customer_clusters
WHERE component_id IN (SELECT component_id FROM cw_components_touched);

CREATE OR REPLACE TEMP TABLE cw_cluster_scope AS
SELECT record_id FROM core.customer_clusters
WHERE component_id IN (SELECT component_id FROM cw_components_touched)
  AND record_id NOT IN (SELECT record_id FROM cw_records_gone)
UNION
SELECT record_id FROM cw_records_arrived;
