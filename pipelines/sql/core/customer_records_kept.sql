-- Every record derived again on a build with earlier records: the unchanged keep their ids.
CREATE OR REPLACE TABLE core.customer_records AS
SELECT o.record_id, n.*
FROM cw_records_seen n
JOIN core.customer_records o USING (entity, source_file, source_row, record_hash)
UNION ALL
SELECT * FROM cw_records_arrived;
