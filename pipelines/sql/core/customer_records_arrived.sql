-- A build with earlier records: a record keeps its id while its place (entity, file, row) and its
-- content are unchanged, so ids hold across nights; a record that arrived or changed gets an id
-- above every earlier one. cw_records_gone: earlier records no longer delivered as they were.
-- cw_records_now and cw_records_in_scope cover every record, or on a night the places that may
-- have changed (pipelines/record_places.py): a record elsewhere is as it was.
CREATE OR REPLACE TEMP TABLE cw_records_seen AS SELECT * FROM cw_records_now;

CREATE OR REPLACE TEMP TABLE cw_records_arrived AS
SELECT (SELECT coalesce(max(record_id), 0) FROM core.customer_records)
           + row_number() OVER (ORDER BY n.entity, n.source_file, n.source_row) AS record_id,
       n.*
FROM cw_records_seen n
ANTI JOIN core.customer_records o USING (entity, source_file, source_row, record_hash);

CREATE OR REPLACE TEMP TABLE cw_records_gone AS
SELECT o.record_id, o.entity, CAST(o.source_record_id AS VARCHAR) AS source_id
FROM cw_records_in_scope o
ANTI JOIN cw_records_seen n USING (entity, source_file, source_row, record_hash);
