-- A night that changed some records: the identity map's rows of the records in cw_map_scope
-- (customer_identity_map_scope.sql) are written again; gone records leave.

-- the rows that leave: of the records in scope, and of the gone records
CREATE OR REPLACE TEMP TABLE cw_members_before AS
SELECT record_id, customer_key FROM core.customer_identity_map
WHERE record_id IN (SELECT record_id FROM cw_map_scope) OR record_id IN (SELECT record_id FROM cw_records_gone);

DELETE FROM core.customer_identity_map WHERE record_id IN (SELECT record_id FROM cw_members_before);

INSERT INTO core.customer_identity_map
SELECT * FROM cw_identity_map_rows;

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
