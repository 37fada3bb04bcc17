-- One row per order across the CRM (the order of record), the fulfilment tool and support.
-- An order is in error when the fulfilment tool or a customer's ticket says so; see
-- schemas/metric_catalog.yaml (order_accuracy_rate) for the rule.
-- (A view: pipelines/changed_rows.py writes core.orders from it.) With the variable orders_scoped
-- set, only the orders in cw_order_scope (pipelines/order_scope.py).
CREATE OR REPLACE TEMP VIEW cw_orders AS
WITH sales AS (
    SELECT m.order_key, s.*, c.customer_key
    FROM staging.crm_sales_orders s
    JOIN core.order_identity_map m
      ON m.entity = 'crm_sales_orders' AND m.source_file = s.source_file AND m.source_row = s.source_row
    LEFT JOIN core.customer_identity_map c
      ON c.entity = 'crm_sales_orders' AND c.source_file = s.source_file AND c.source_row = s.source_row
    WHERE NOT getvariable('orders_scoped') OR m.order_key IN (SELECT order_key FROM cw_order_scope)
    -- a number exported twice: the latest export row wins
    QUALIFY row_number() OVER (PARTITION BY m.order_key ORDER BY s.source_file DESC, s.source_row DESC) = 1
),
-- the scope first (MATERIALIZED): else DuckDB joined every shipment's two map rows before it
shipments_mapped AS MATERIALIZED (
    SELECT entity, source_file, source_row, order_key FROM core.order_identity_map
    WHERE entity = 'inventory_shipments' AND order_key IS NOT NULL
      AND (NOT getvariable('orders_scoped') OR order_key IN (SELECT order_key FROM cw_order_scope))
),
shipment_customer AS (
    SELECT m.order_key, min(c.customer_key) AS customer_key
    FROM shipments_mapped m
    JOIN core.customer_identity_map c USING (entity, source_file, source_row)
    GROUP BY m.order_key
),
shipments AS (
    SELECT order_key,
           count(*) AS shipments,
           min(shipped_at) AS shipped_at,
           -- delivered when every shipment of the order is
           CASE WHEN count(delivered_at) = count(*) THEN max(delivered_at) END AS delivered_at,
           sum(qty_ordered) AS qty_ordered,
           sum(qty_shipped) AS qty_shipped,
           sum(fulfilment_cost) AS fulfilment_cost,
           bool_or(fulfilment_issue IS NOT NULL) AS has_fulfilment_issue,
           bool_or(return_reason IN ('wrong_item', 'damaged_item', 'missing_item')) AS has_error_return,
           bool_or(return_reason IS NOT NULL) AS has_return
    FROM core.fulfilments
    WHERE NOT getvariable('orders_scoped') OR order_key IN (SELECT order_key FROM cw_order_scope)
    GROUP BY order_key
),
ticket_counts AS (
    SELECT order_key,
           count(*) AS tickets,
           bool_or(category IN ('wrong_item', 'damaged_item', 'missing_item')) AS has_error_ticket
    FROM core.tickets
    WHERE order_key IS NOT NULL AND (NOT getvariable('orders_scoped') OR order_key IN (SELECT order_key FROM cw_order_scope))
    GROUP BY order_key
),
all_orders AS (
    SELECT DISTINCT order_key FROM core.order_identity_map
    WHERE order_key IS NOT NULL AND entity IN ('crm_sales_orders', 'inventory_shipments')
      AND (NOT getvariable('orders_scoped') OR order_key IN (SELECT order_key FROM cw_order_scope))
)
SELECT a.order_key,
       substr(a.order_key, 5) AS order_number,
       coalesce(s.customer_key, sc.customer_key) AS customer_key,
       s.ordered_at,
       coalesce(s.status, 'unknown') AS status,
       s.quantity,
       s.amount,
       s.channel,
       s.campaign,
       coalesce(
           s.promised_date,
           CAST(timezone(getvariable('company_tz'), s.ordered_at) AS DATE) + CAST(cp.promised_delivery_days AS INTEGER)
       ) AS promised_date,
       coalesce(f.shipped_at, s.shipped_at) AS shipped_at,
       f.delivered_at,
       coalesce(f.shipments, 0) AS shipments,
       f.qty_ordered,
       f.qty_shipped,
       f.fulfilment_cost,
       coalesce(f.has_return, false) AS has_return,
       coalesce(t.tickets, 0) AS support_tickets,
       f.shipments IS NOT NULL AS is_fulfilled,
       f.shipments IS NOT NULL AND (
           -- a tool that does not export the ordered quantity cannot show a short shipment
           coalesce(f.qty_shipped <> f.qty_ordered, false)
           OR f.has_fulfilment_issue OR coalesce(f.has_error_return, false)
           OR coalesce(t.has_error_ticket, false)
       ) AS has_fulfilment_error,
       list_filter([
           CASE WHEN f.qty_shipped <> f.qty_ordered THEN 'quantity shipped differs from ordered' END,
           CASE WHEN f.has_fulfilment_issue THEN 'fulfilment flagged an issue' END,
           CASE WHEN f.has_error_return THEN 'returned as wrong, damaged or missing' END,
           CASE WHEN t.has_error_ticket THEN 'customer reported wrong, damaged or missing item' END
       ], lambda x: x IS NOT NULL) AS error_reasons
FROM all_orders a
LEFT JOIN sales s USING (order_key)
LEFT JOIN shipment_customer sc USING (order_key)
LEFT JOIN shipments f USING (order_key)
LEFT JOIN ticket_counts t USING (order_key)
LEFT JOIN core.campaigns cp ON cp.campaign_name = s.campaign;
