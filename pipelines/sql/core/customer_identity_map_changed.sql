-- A night that changed some records, after the identity map's rows of the records in
-- cw_map_scope were written where they changed (customer_identity_map_scope.sql has the rows
-- before, cw_members_before).

-- The memberships (record, customer) that ended or began tonight.
CREATE OR REPLACE TEMP TABLE cw_members_moved AS
WITH after AS (
    SELECT record_id, customer_key FROM core.customer_identity_map WHERE record_id IN (SELECT record_id FROM cw_map_scope)
)
(SELECT * FROM cw_members_before EXCEPT SELECT * FROM after)
UNION ALL
(SELECT * FROM after EXCEPT SELECT * FROM cw_members_before);

-- The customers that records left or joined: core.customers builds their golden records again.
CREATE TABLE IF NOT EXISTS core.customer_keys_changed (customer_key VARCHAR);
INSERT INTO core.customer_keys_changed SELECT DISTINCT customer_key FROM cw_members_moved;
