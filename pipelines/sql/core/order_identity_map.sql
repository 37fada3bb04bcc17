-- Each record that names an order, with the order it was reconciled to (NULL when the
-- reference matches no known order; those are listed in quality.unmatched_order_refs).
CREATE OR REPLACE TABLE core.order_identity_map AS
SELECT r.source_system, r.entity, r.source_file, r.source_row, r.source_order_ref,
       CASE WHEN n.order_number IS NOT NULL THEN 'ORD-' || r.order_number END AS order_key,
       r.order_number, r.match_rule
FROM core.order_references r
LEFT JOIN core.order_numbers n USING (order_number)
ORDER BY r.entity, r.source_file, r.source_row;

CREATE OR REPLACE TABLE quality.unmatched_order_refs AS
SELECT source_system, entity, source_file, source_row, source_order_ref, order_number,
       CASE WHEN order_number IS NULL THEN 'no reference pattern matched'
            ELSE 'order ' || order_number || ' is not known to the CRM or the fulfilment tool' END AS reason
FROM core.order_identity_map
WHERE order_key IS NULL AND source_order_ref IS NOT NULL;
