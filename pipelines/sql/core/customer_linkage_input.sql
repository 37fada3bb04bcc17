-- name_records: how many nodes carry the same full name; a name many share identifies nobody.
-- Counted up to name_records_cap, past which no blocking rule tells counts apart
-- (pipelines/identity_linkage.py name_records_cap): a night then moves only the counts a rule reads.
-- key_group: the records the deterministic keys already join (pipelines/identity.py key_groups);
-- the model scores only pairs across two groups, since a pair within one is linked anyway.
CREATE OR REPLACE TABLE core.customer_linkage_input AS
SELECT node_id AS unique_id, g.key_group, first_name, first_name_std, last_name, email, email_local, email_domain, shared_mailbox, phone,
       company, street, city, postcode, postcode_district,
       least(count(*) OVER (PARTITION BY first_name_std, last_name), getvariable('name_records_cap')) AS name_records
FROM cw_linkage_records l
JOIN cw_key_groups g ON g.record_id = node_id
WHERE l.record_id = l.node_id
ORDER BY unique_id;

-- which node each record belongs to, so a later night can tell what a record's going changes
CREATE OR REPLACE TABLE core.customer_record_nodes AS
SELECT record_id, node_id FROM cw_linkage_records;
