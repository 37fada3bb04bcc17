-- A first build: record_id is the file's offset plus the record's row number, in (entity,
-- source_file, source_row) order with gaps where rows were rejected; no sort of three million
-- rows is needed.
CREATE OR REPLACE TABLE core.customer_records AS
WITH now AS MATERIALIZED (SELECT * FROM cw_records_now),
files AS (
    SELECT entity, source_file, max(source_row) AS last_row FROM now GROUP BY entity, source_file
),
offsets AS (
    SELECT entity, source_file,
           coalesce(sum(last_row) OVER (ORDER BY entity, source_file ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS first_id
    FROM files
)
SELECT CAST(o.first_id + r.source_row AS BIGINT) AS record_id, r.*
FROM now r
JOIN offsets o USING (entity, source_file);
