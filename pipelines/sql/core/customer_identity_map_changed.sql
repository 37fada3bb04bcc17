-- A night that changed some records: the identity map's rows of the records in cw_map_scope
-- (customer_identity_map_scope.sql) are derived again and written where they changed; gone
-- records leave.

-- the rows before: of the records in scope, and of the gone records
CREATE OR REPLACE TEMP TABLE cw_members_before AS
SELECT record_id, customer_key FROM core.customer_identity_map
WHERE record_id IN (SELECT record_id FROM cw_map_scope) OR record_id IN (SELECT record_id FROM cw_records_gone);

CREATE OR REPLACE TEMP TABLE cw_map_rows_now AS SELECT * FROM cw_identity_map_rows;

-- rows compared by a hash of the whole row, joined by record
CREATE OR REPLACE TEMP TABLE cw_map_rows_changed AS
SELECT record_id
FROM (SELECT record_id, hash(n) AS row_hash FROM cw_map_rows_now n) n
FULL JOIN (SELECT record_id, hash(o) AS row_hash FROM core.customer_identity_map o
           WHERE record_id IN (SELECT record_id FROM cw_members_before)) o USING (record_id)
WHERE n.row_hash IS DISTINCT FROM o.row_hash;

DELETE FROM core.customer_identity_map WHERE record_id IN (SELECT record_id FROM cw_map_rows_changed);

INSERT INTO core.customer_identity_map
SELECT * FROM cw_map_rows_now WHERE record_id IN (SELECT record_id FROM cw_map_rows_changed);

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
