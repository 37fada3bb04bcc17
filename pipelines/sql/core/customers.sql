-- The golden record: one row per customer. Each attribute comes from the highest-priority
-- source system that has it (schemas/identity.yaml), the most recent record first.
-- Lifecycle: start_at = CRM became-customer date, else the first order; activated_at = CRM
-- onboarding-complete date, else the first delivery; churned_at = CRM churn date.
CREATE OR REPLACE TABLE core.customers AS
WITH ranked AS (
    SELECT m.customer_key, r.*,
           coalesce(list_position(getvariable('source_priority'), r.source_system), 99) AS priority
    FROM core.customer_records r
    JOIN core.customer_identity_map m USING (record_id)
),
golden AS (
    SELECT customer_key,
           first(first_name ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE first_name IS NOT NULL) AS first_name,
           first(last_name ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE last_name IS NOT NULL) AS last_name,
           first(email ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE email IS NOT NULL) AS email,
           first(phone ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE phone IS NOT NULL) AS phone,
           first(company ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE company IS NOT NULL) AS company,
           first(street ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE street IS NOT NULL) AS street,
           first(city ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE city IS NOT NULL) AS city,
           first(region ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE region IS NOT NULL) AS region,
           first(postcode ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE postcode IS NOT NULL) AS postcode,
           first(country ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE country IS NOT NULL) AS country,
           first(lifecycle_stage ORDER BY priority, record_at DESC NULLS LAST) FILTER (WHERE lifecycle_stage IS NOT NULL) AS crm_lifecycle_stage,
           first(became_customer_at ORDER BY record_at DESC NULLS LAST) FILTER (WHERE became_customer_at IS NOT NULL) AS crm_became_customer_at,
           first(onboarding_completed_at ORDER BY record_at DESC NULLS LAST) FILTER (WHERE onboarding_completed_at IS NOT NULL) AS crm_onboarding_completed_at,
           first(churned_at ORDER BY record_at DESC NULLS LAST) FILTER (WHERE churned_at IS NOT NULL) AS churned_at,
           first(signup_campaign ORDER BY record_at NULLS LAST) FILTER (WHERE signup_campaign IS NOT NULL) AS signup_campaign,
           list(DISTINCT source_system ORDER BY source_system) AS source_systems,
           count(*) AS source_records
    FROM ranked
    GROUP BY customer_key
),
order_facts AS (
    SELECT customer_key,
           min(ordered_at) AS first_order_at,
           min(delivered_at) AS first_delivered_at
    FROM core.orders
    WHERE status <> 'cancelled' AND customer_key IS NOT NULL
    GROUP BY customer_key
)
SELECT g.customer_key,
       g.first_name, g.last_name,
       nullif(concat_ws(' ', g.first_name, g.last_name), '') AS full_name,
       g.email, g.phone, g.company, g.street, g.city, g.region, g.postcode, g.country,
       CASE WHEN coalesce(g.crm_became_customer_at, o.first_order_at) IS NULL THEN 'lead'
            WHEN g.churned_at IS NOT NULL THEN 'churned'
            ELSE 'customer' END AS lifecycle_stage,
       g.crm_lifecycle_stage,
       coalesce(g.crm_became_customer_at, o.first_order_at) AS start_at,
       CASE WHEN g.crm_became_customer_at IS NOT NULL THEN 'crm' WHEN o.first_order_at IS NOT NULL THEN 'first_order' END AS start_source,
       coalesce(g.crm_onboarding_completed_at, o.first_delivered_at) AS activated_at,
       CASE WHEN g.crm_onboarding_completed_at IS NOT NULL THEN 'crm' WHEN o.first_delivered_at IS NOT NULL THEN 'first_delivery' END AS activated_source,
       g.churned_at,
       o.first_order_at,
       g.signup_campaign,
       g.source_systems,
       g.source_records
FROM golden g
LEFT JOIN order_facts o USING (customer_key)
ORDER BY g.customer_key;
