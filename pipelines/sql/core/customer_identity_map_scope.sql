-- A night that changed some records: the records whose identity-map row may change, those whose
-- customer was keyed again, the arrived ones, or those whose strongest link may have moved (at
-- the end of a link that came or went, cw_edges_touched; a model link, whose probability moves
-- with the prior, or an analyst's must_link, then or now). Run before customer_identity_map.sql,
-- whose rows are then derived for these records only.
CREATE OR REPLACE TEMP TABLE cw_map_scope AS
SELECT c.record_id FROM core.customer_clusters c WHERE c.cluster_id IN (SELECT cluster_id FROM cw_clusters_to_key)
UNION
SELECT record_id FROM cw_records_arrived
UNION
SELECT record_id FROM cw_edges_touched
UNION
SELECT record_a FROM core.customer_edges WHERE rule IN ('probabilistic', 'must_link')
UNION
SELECT record_b FROM core.customer_edges WHERE rule IN ('probabilistic', 'must_link')
UNION
SELECT record_id FROM core.customer_identity_map WHERE match_rule IN ('probabilistic', 'must_link');

-- Their rows, and the gone records', as they were: compared with the rows derived tonight
-- (pipelines/changed_rows.py write_changed_rows), and the memberships that moved are found from
-- them (customer_identity_map_changed.sql).
CREATE OR REPLACE TEMP TABLE cw_members_before AS
SELECT record_id, customer_key FROM core.customer_identity_map
WHERE record_id IN (SELECT record_id FROM cw_map_scope) OR record_id IN (SELECT record_id FROM cw_records_gone);
