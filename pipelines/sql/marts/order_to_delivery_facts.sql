-- What marts.order_to_delivery_monthly counts of each order (not cancelled, with an order time):
-- its month (company time zone), cycle time, fulfilment, promise, cost, fulfilment-ticket CSAT and
-- the channel, campaign and region it is counted under. A night (getvariable('otd_scoped'))
-- derives only the orders in cw_otd_orders (pipelines/order_to_delivery.py).
-- The cycle ends at delivery where any source knows it, else at shipment (otd_cycle_end).
CREATE OR REPLACE TEMP VIEW cw_otd_ticket_facts AS
SELECT order_key,
       count(csat_score) AS cfsat_responses,
       count(*) FILTER (WHERE csat_score >= getvariable('satisfied_min_score')) AS cfsat_satisfied,
       sum(csat_score) AS cfsat_score_sum
FROM core.tickets
WHERE is_fulfilment_related AND order_key IS NOT NULL AND csat_score IS NOT NULL
GROUP BY order_key;

CREATE OR REPLACE TEMP VIEW cw_otd_facts AS
SELECT o.order_key,
       strftime(timezone(getvariable('company_tz'), o.ordered_at), '%Y-%m') AS period,
       timezone(getvariable('company_tz'), o.ordered_at) < CAST(getvariable('go_live_date') AS DATE) AS before_go_live,
       o.is_fulfilled, o.has_fulfilment_error,
       -- whole microseconds, so the mean's sum is exact and the same in any row order
       epoch_us(CASE WHEN getvariable('otd_cycle_end') = 'delivered' THEN o.delivered_at ELSE o.shipped_at END)
           - epoch_us(o.ordered_at) AS cycle_us,
       cycle_us / 86400e6 AS cycle_days,
       o.fulfilment_cost,
       o.delivered_at IS NOT NULL AND o.promised_date IS NOT NULL AS promise_counted,
       o.delivered_at IS NOT NULL
           AND CAST(timezone(getvariable('company_tz'), o.delivered_at) AS DATE) <= o.promised_date AS promise_kept,
       o.support_tickets,
       coalesce(t.cfsat_responses, 0) AS cfsat_responses,
       coalesce(t.cfsat_satisfied, 0) AS cfsat_satisfied,
       coalesce(t.cfsat_score_sum, 0) AS cfsat_score_sum,
       coalesce(o.channel, '(none)') AS channel_value,
       coalesce(o.campaign, '(none)') AS campaign_value,
       coalesce(c.region, '(unknown)') AS region_value
FROM core.orders o
LEFT JOIN core.customers c USING (customer_key)
LEFT JOIN cw_otd_ticket_facts t USING (order_key)
WHERE o.status <> 'cancelled' AND o.ordered_at IS NOT NULL
  AND (NOT getvariable('otd_scoped') OR o.order_key IN (SELECT order_key FROM cw_otd_orders));
