-- Each customer's first order and first delivery, for the golden record's lifecycle dates
-- (of the customers for which cw_in_scope(key), pipelines/per_customer.py).
CREATE OR REPLACE TEMP TABLE cw_order_facts AS
SELECT customer_key,
       min(ordered_at) AS first_order_at,
       min(delivered_at) AS first_delivered_at
FROM core.orders
WHERE status <> 'cancelled' AND customer_key IS NOT NULL AND cw_in_scope(customer_key)
GROUP BY customer_key;
