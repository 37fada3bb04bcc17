-- Each customer's orders and tickets, for marts.customer_360 (of the customers for which
-- cw_in_scope(key), pipelines/per_customer.py).
CREATE OR REPLACE TEMP TABLE cw_360_order_facts AS
SELECT customer_key,
       count(*) AS orders,
       count(*) FILTER (WHERE delivered_at IS NOT NULL) AS orders_delivered,
       count(*) FILTER (WHERE has_fulfilment_error) AS orders_with_error,
       sum(amount) AS lifetime_value,
       min(ordered_at) AS first_order_at,
       max(ordered_at) AS last_order_at,
       arg_min(campaign, ordered_at) AS first_order_campaign
FROM core.orders
WHERE status <> 'cancelled' AND customer_key IS NOT NULL AND cw_in_scope(customer_key)
GROUP BY customer_key;

CREATE OR REPLACE TEMP TABLE cw_360_ticket_facts AS
SELECT customer_key,
       count(*) AS tickets,
       count(csat_score) AS csat_responses,
       avg(csat_score) AS csat_mean_score
FROM core.tickets
WHERE customer_key IS NOT NULL AND cw_in_scope(customer_key)
GROUP BY customer_key;
