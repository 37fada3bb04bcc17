-- The floor: plain DuckDB reading the sample business's exports and building just enough of
-- core.* for the marts SQL, with no orchestration, identity resolution, quarantine or checks.
-- Variables expected: landing (folder), and those prepare_connection() sets for the marts.
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS marts;

CREATE OR REPLACE TABLE contacts AS
SELECT * FROM read_csv(getvariable('landing') || '/crm/hubspot_contacts.csv', header = true, all_varchar = true);

CREATE OR REPLACE TABLE sales AS
SELECT "Sales Order Number" AS order_ref, "Contact ID" AS crm_contact_id,
       timezone('Europe/London', try_strptime("Order Date", '%d/%m/%Y %H:%M')) AS ordered_at,
       CASE "Status" WHEN 'Cancelled' THEN 'cancelled' WHEN 'Delivered' THEN 'delivered' ELSE 'open' END AS status,
       TRY_CAST(replace(replace("Grand Total", '£', ''), ',', '') AS DECIMAL(18, 2)) AS amount,
       nullif("Sales Channel", '') AS channel, nullif("Campaign", '') AS campaign,
       CAST(try_strptime("Promised Delivery Date", '%d/%m/%Y') AS DATE) AS promised_date
FROM read_csv(getvariable('landing') || '/crm/sales_orders.csv', header = true, all_varchar = true);

-- the marketing exports are read too (the marts do not need them): the floor reads every file
CREATE OR REPLACE TABLE subscribers AS
SELECT * FROM read_csv(getvariable('landing') || '/marketing/mailchimp_audience.csv', header = true, all_varchar = true);

CREATE OR REPLACE TABLE campaigns AS
SELECT * FROM read_csv(getvariable('landing') || '/marketing/mailchimp_campaigns.csv', header = true, all_varchar = true);

CREATE OR REPLACE TABLE tickets_raw AS
SELECT * FROM read_csv(getvariable('landing') || '/support/zendesk_tickets.csv', header = true, all_varchar = true);

CREATE OR REPLACE TABLE core.fulfilments AS
SELECT 'ORD-' || regexp_extract(order_ref, '(\d+)', 1) AS order_key, * EXCLUDE (order_ref),
       coalesce(shipping_cost, 0) + coalesce(pick_pack_cost, 0) + coalesce(packaging_cost, 0) + coalesce(return_cost, 0) AS fulfilment_cost
FROM shipments;

CREATE OR REPLACE TABLE core.tickets AS
SELECT t."Id" AS ticket_id,
       'ORD-' || coalesce(nullif(regexp_extract(t."Order Number", '(\d+)', 1), ''),
                          nullif(regexp_extract(t."Subject", '(?i)(?:order\s*#?\s*|SO-|#)(\d{3,})', 1), '')) AS order_key,
       CASE t."Category" WHEN 'Wrong item' THEN 'wrong_item' WHEN 'Damaged item' THEN 'damaged_item'
            WHEN 'Missing item' THEN 'missing_item' WHEN 'Late delivery' THEN 'late_delivery' ELSE 'other' END AS category,
       timezone('UTC', try_strptime(t."Created at", '%Y-%m-%dT%H:%M:%SZ')) AS created_at,
       TRY_CAST(t."Satisfaction Score" AS INTEGER) AS csat_score,
       t."Category" IN ('Wrong item', 'Damaged item', 'Missing item', 'Late delivery') AS is_fulfilment_related,
       c."Record ID" AS customer_key
FROM tickets_raw t
LEFT JOIN contacts c ON lower(trim(c."Email")) = lower(trim(t."Requester email"));

CREATE OR REPLACE TABLE core.orders AS
WITH f AS (
    SELECT order_key, count(*) AS shipments, min(shipped_at) AS shipped_at, max(delivered_at) AS delivered_at,
           sum(qty_ordered) AS qty_ordered, sum(qty_shipped) AS qty_shipped, sum(fulfilment_cost) AS fulfilment_cost,
           bool_or(fulfilment_issue <> '') AS issue, bool_or(return_reason IN ('Wrong item', 'Damaged', 'Missing item')) AS bad_return
    FROM core.fulfilments GROUP BY ALL
), t AS (
    SELECT order_key, count(*) AS tickets, bool_or(category IN ('wrong_item', 'damaged_item', 'missing_item')) AS error_ticket
    FROM core.tickets WHERE order_key IS NOT NULL GROUP BY ALL
)
SELECT 'ORD-' || regexp_extract(s.order_ref, '(\d+)', 1) AS order_key, s.crm_contact_id AS customer_key,
       s.ordered_at, s.status, s.amount, s.channel, s.campaign, s.promised_date,
       f.shipped_at, f.delivered_at, f.fulfilment_cost, coalesce(t.tickets, 0) AS support_tickets,
       f.shipments IS NOT NULL AS is_fulfilled,
       f.shipments IS NOT NULL AND (f.qty_shipped IS DISTINCT FROM f.qty_ordered OR f.issue OR coalesce(f.bad_return, false)
                                    OR coalesce(t.error_ticket, false)) AS has_fulfilment_error
FROM sales s
LEFT JOIN f ON f.order_key = 'ORD-' || regexp_extract(s.order_ref, '(\d+)', 1)
LEFT JOIN t ON t.order_key = 'ORD-' || regexp_extract(s.order_ref, '(\d+)', 1)
WHERE s.ordered_at IS NOT NULL;

CREATE OR REPLACE TABLE core.customers AS
WITH o AS (SELECT customer_key, min(ordered_at) AS first_order_at, min(delivered_at) AS first_delivered_at
           FROM core.orders WHERE status <> 'cancelled' GROUP BY ALL)
SELECT c."Record ID" AS customer_key, nullif(c."State/Region", '') AS region,
       coalesce(timezone('Europe/London', try_strptime(c."Became a Customer Date", '%Y-%m-%d %H:%M')), o.first_order_at) AS start_at,
       coalesce(timezone('Europe/London', try_strptime(c."Onboarding Completed Date", '%Y-%m-%d %H:%M')), o.first_delivered_at) AS activated_at,
       timezone('Europe/London', try_strptime(c."Churn Date", '%Y-%m-%d %H:%M')) AS churned_at
FROM contacts c LEFT JOIN o ON o.customer_key = c."Record ID";
