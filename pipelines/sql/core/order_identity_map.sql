-- Each record that names an order, with the order it was reconciled to: by its reference
-- (patterns in schemas/identity.yaml), else, for a shipment whose reference matches no pattern,
-- by its customer, date and quantity (order_fallback). NULL when neither finds a known order;
-- those are listed in quality.unmatched_order_refs.
-- (A view: pipelines/changed_rows.py writes core.order_identity_map from it.) With the variable
-- order_map_scoped set, only the rows at the places in cw_order_map_places, which hold every
-- shipment the fallback matches (pipelines/record_places.py order_map_scope).
CREATE OR REPLACE TEMP VIEW cw_order_identity_map AS
WITH referenced AS (
    SELECT r.source_system, r.entity, r.source_file, r.source_row, r.source_order_ref,
           CASE WHEN n.order_number IS NOT NULL THEN 'ORD-' || r.order_number END AS order_key,
           r.order_number, r.match_rule
    FROM core.order_references r
    LEFT JOIN core.order_numbers n USING (order_number)
    WHERE NOT getvariable('order_map_scoped')
       OR (r.entity, r.source_file, r.source_row) IN (SELECT entity, source_file, source_row FROM cw_order_map_places)
),
unreferenced AS (
    -- shipments whose reference matches no pattern, with their customer: what the fallback matches
    SELECT u.source_file, u.source_row, c.customer_key
    FROM referenced u
    JOIN core.customer_identity_map c USING (entity, source_file, source_row)
    WHERE getvariable('order_fallback_enabled') AND u.entity = 'inventory_shipments' AND u.order_number IS NULL
),
sales AS (
    -- the CRM orders of those customers only (joining every order took a second at 1M orders)
    -- (their records first: joined after, the identity map's 3.5M rows were a hash table)
    SELECT 'ORD-' || r.order_number AS order_key, s.ordered_at, s.quantity, c.customer_key
    FROM (SELECT source_file, source_row, customer_key FROM core.customer_identity_map
          WHERE entity = 'crm_sales_orders' AND customer_key IN (SELECT customer_key FROM unreferenced)) c
    JOIN core.order_references r USING (source_file, source_row)
    JOIN staging.crm_sales_orders s USING (source_file, source_row)
    WHERE r.entity = 'crm_sales_orders' AND r.order_number IS NOT NULL
),
shipped AS (
    -- those CRM orders that a shipment names, in scope or not (not every order any shipment
    -- names: most nights have few candidates)
    SELECT DISTINCT 'ORD-' || order_number AS order_key FROM core.order_references
    WHERE entity = 'inventory_shipments' AND order_number IN (SELECT order_number FROM core.order_numbers)
      AND 'ORD-' || order_number IN (SELECT order_key FROM sales)
),
candidates AS (
    SELECT u.source_file, u.source_row, sh.shipped_at, s.order_key, s.ordered_at
    FROM unreferenced u
    JOIN staging.inventory_shipments sh USING (source_file, source_row)
    JOIN sales s
      ON s.customer_key = u.customer_key AND s.quantity = sh.qty_ordered
     AND sh.shipped_at BETWEEN s.ordered_at AND s.ordered_at + to_days(getvariable('order_fallback_days'))
    WHERE s.order_key NOT IN (SELECT order_key FROM shipped)
),
per_shipment AS (
    SELECT * FROM candidates
    QUALIFY row_number() OVER (PARTITION BY source_file, source_row ORDER BY ordered_at DESC, order_key DESC) = 1
),
fallback AS (
    -- an order is claimed by one shipment: the first that went out
    SELECT * FROM per_shipment
    QUALIFY row_number() OVER (PARTITION BY order_key ORDER BY shipped_at, source_file, source_row) = 1
)
SELECT r.source_system, r.entity, r.source_file, r.source_row, r.source_order_ref,
       coalesce(r.order_key, f.order_key) AS order_key,
       coalesce(r.order_number, substr(f.order_key, 5)) AS order_number,
       CASE WHEN r.order_key IS NULL AND f.order_key IS NOT NULL THEN 'customer + date + quantity'
            ELSE r.match_rule END AS match_rule
FROM referenced r
LEFT JOIN fallback f USING (source_file, source_row);
