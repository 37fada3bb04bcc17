-- Each customer's first order and first delivery, for the golden record's lifecycle dates.
CREATE OR REPLACE TEMP TABLE cw_order_facts AS
SELECT customer_key,
       min(ordered_at) AS first_order_at,
       min(delivered_at) AS first_delivered_at
FROM core.orders
WHERE status <> 'cancelled' AND customer_key IS NOT NULL
GROUP BY customer_key;
