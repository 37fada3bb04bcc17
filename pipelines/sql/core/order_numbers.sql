-- The orders that exist: numbers the CRM or the fulfilment tool knows. Support tickets may
-- reference an order, but a reference alone does not make one.
CREATE OR REPLACE TABLE core.order_numbers AS
SELECT DISTINCT order_number
FROM core.order_references
WHERE entity IN ('crm_sales_orders', 'inventory_shipments') AND order_number IS NOT NULL;
