-- One row per customer: who they are, which departments' systems know them, what they bought,
-- how often they needed support and which campaign brought them. A view of the customers for
-- which cw_in_scope(customer_key) (their rows of core.customers: cw_row_in_scope(rowid)), with the facts
-- of customer_360_facts.sql; pipelines/per_customer.py writes it.
CREATE OR REPLACE TEMP VIEW cw_customer_360 AS
WITH systems AS (
    SELECT customer_key,
           bool_or(source_system = 'crm') AS in_crm,
           bool_or(source_system = 'marketing') AS in_marketing,
           bool_or(source_system = 'support') AS in_support,
           bool_or(source_system = 'inventory') AS in_inventory
    FROM core.customer_identity_map
    WHERE cw_in_scope(customer_key)
    GROUP BY customer_key
)
SELECT c.customer_key, c.full_name, c.first_name, c.last_name, c.email, c.phone, c.company,
       c.street, c.city, c.region, c.postcode, c.country,
       c.lifecycle_stage, c.start_at, c.activated_at, c.churned_at,
       s.in_crm, s.in_marketing, s.in_support, s.in_inventory,
       c.source_systems, c.source_records,
       coalesce(o.orders, 0) AS orders,
       coalesce(o.orders_delivered, 0) AS orders_delivered,
       coalesce(o.orders_with_error, 0) AS orders_with_error,
       coalesce(o.lifetime_value, 0) AS lifetime_value,
       o.first_order_at, o.last_order_at,
       coalesce(t.tickets, 0) AS tickets,
       coalesce(t.csat_responses, 0) AS csat_responses,
       t.csat_mean_score,
       coalesce(c.signup_campaign, o.first_order_campaign) AS first_campaign
FROM core.customers c
JOIN systems s USING (customer_key)
LEFT JOIN cw_360_order_facts o USING (customer_key)
LEFT JOIN cw_360_ticket_facts t USING (customer_key)
WHERE cw_in_scope(c.customer_key) AND cw_row_in_scope(c.rowid);
