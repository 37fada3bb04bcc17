-- A night on which earlier records went (cw_records_gone; or changed: the earlier version goes,
-- the new one arrives): they leave core.customer_records and their nodes. A node that lost its first record
-- is known by its first record left (cw_node_moves.new_id), or goes when none is left (NULL);
-- either way its pairs go, to be scored again under the new id. The gone records' key links
-- leave in customer_key_links_arrived.sql.
DELETE FROM core.customer_records WHERE record_id IN (SELECT record_id FROM cw_records_gone);

CREATE OR REPLACE TEMP TABLE cw_nodes_losing AS
SELECT DISTINCT node_id FROM core.customer_record_nodes WHERE record_id IN (SELECT record_id FROM cw_records_gone);

DELETE FROM core.customer_record_nodes WHERE record_id IN (SELECT record_id FROM cw_records_gone);

CREATE OR REPLACE TEMP TABLE cw_node_moves AS
SELECT l.node_id AS old_id, min(n.record_id) AS new_id
FROM cw_nodes_losing l
LEFT JOIN core.customer_record_nodes n USING (node_id)
GROUP BY l.node_id
HAVING min(n.record_id) IS DISTINCT FROM l.node_id;

-- the nodes that go: the shared-name counts (customer_linkage_input_arrived.sql) and the prior's
-- group sizes (pipelines/identity_linkage.py prior_after_changes) change
CREATE OR REPLACE TEMP TABLE cw_nodes_gone AS
SELECT i.first_name_std, i.last_name, i.email, i.phone
FROM core.customer_linkage_input i
JOIN cw_node_moves m ON m.old_id = i.unique_id AND m.new_id IS NULL;

UPDATE core.customer_record_nodes n SET node_id = m.new_id FROM cw_node_moves m WHERE n.node_id = m.old_id;
UPDATE core.customer_linkage_input i SET unique_id = m.new_id
FROM cw_node_moves m WHERE i.unique_id = m.old_id AND m.new_id IS NOT NULL;
DELETE FROM core.customer_linkage_input WHERE unique_id IN (SELECT old_id FROM cw_node_moves WHERE new_id IS NULL);
DELETE FROM core.customer_link_scores
WHERE node_a IN (SELECT old_id FROM cw_node_moves) OR node_b IN (SELECT old_id FROM cw_node_moves);
