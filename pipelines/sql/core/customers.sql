-- The golden record: one row per customer. Each attribute comes from the highest-priority
-- source system that has it (schemas/identity.yaml), the most recent record first.
-- Lifecycle: start_at = CRM became-customer date, else the first order; activated_at = CRM
-- onboarding-complete date, else the first delivery; churned_at = CRM churn date.
-- A view of the customers for which cw_in_scope(customer_key) (every customer, or a night's changed
-- ones), with cw_order_facts (customer_order_facts.sql); pipelines/per_customer.py writes it.
CREATE OR REPLACE TEMP VIEW cw_customers AS
WITH stamped AS (
    SELECT m.customer_key, r.*,
           coalesce(list_position(getvariable('source_priority'), r.source_system), 99)::HUGEINT AS priority,
           (r.record_at IS NULL)::INTEGER::HUGEINT AS undated,
           coalesce(epoch_us(r.record_at), 0)::HUGEINT AS at_us
    FROM core.customer_records r
    JOIN core.customer_identity_map m USING (record_id)
    WHERE cw_in_scope(m.customer_key)
),
-- Sort keys for arg_min, smallest wins, packed into one HUGEINT: the source's priority, then
-- dated before undated, then the newest (or oldest) record, then record_id so that ties resolve
-- the same way every run. One hash aggregate over these is several times faster than an
-- ordered aggregate (a sort) per column.
ranked AS (
    SELECT *,
           (priority << 104) + (undated << 100) + (((1::HUGEINT << 62) - at_us) << 32) + record_id AS by_priority,
           (undated << 100) + (((1::HUGEINT << 62) - at_us) << 32) + record_id AS by_recency,
           (undated << 100) + (((1::HUGEINT << 62) + at_us) << 32) + record_id AS by_age
    FROM stamped
),
golden AS (
    SELECT customer_key,
           arg_min(first_name, by_priority) FILTER (WHERE first_name IS NOT NULL) AS first_name,
           arg_min(last_name, by_priority) FILTER (WHERE last_name IS NOT NULL) AS last_name,
           arg_min(email, by_priority) FILTER (WHERE email IS NOT NULL) AS email,
           arg_min(phone, by_priority) FILTER (WHERE phone IS NOT NULL) AS phone,
           arg_min(company, by_priority) FILTER (WHERE company IS NOT NULL) AS company,
           arg_min(street, by_priority) FILTER (WHERE street IS NOT NULL) AS street,
           arg_min(city, by_priority) FILTER (WHERE city IS NOT NULL) AS city,
           arg_min(region, by_priority) FILTER (WHERE region IS NOT NULL) AS region,
           arg_min(postcode, by_priority) FILTER (WHERE postcode IS NOT NULL) AS postcode,
           arg_min(country, by_priority) FILTER (WHERE country IS NOT NULL) AS country,
           arg_min(lifecycle_stage, by_priority) FILTER (WHERE lifecycle_stage IS NOT NULL) AS crm_lifecycle_stage,
           arg_min(became_customer_at, by_recency) FILTER (WHERE became_customer_at IS NOT NULL) AS crm_became_customer_at,
           arg_min(onboarding_completed_at, by_recency) FILTER (WHERE onboarding_completed_at IS NOT NULL) AS crm_onboarding_completed_at,
           arg_min(churned_at, by_recency) FILTER (WHERE churned_at IS NOT NULL) AS churned_at,
           arg_min(signup_campaign, by_age) FILTER (WHERE signup_campaign IS NOT NULL) AS signup_campaign,
           list_sort(list(DISTINCT source_system)) AS source_systems,
           count(*) AS source_records
    FROM ranked
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
LEFT JOIN cw_order_facts o USING (customer_key);
