-- Order-to-delivery metrics by the order's month (company time zone) and overall ('all'),
-- for the whole business and by channel, campaign and region, from the groups' sums and
-- quantiles (marts.order_to_delivery_groups, order_to_delivery_groups.sql). Definitions:
-- marts.metric_catalog. The reductions read the previous month and the go-live baseline, so every
-- row is derived again from the groups.
CREATE OR REPLACE TABLE marts.order_to_delivery_monthly AS
WITH grouped AS (SELECT * FROM marts.order_to_delivery_groups),
baseline AS (
    SELECT dimension, dimension_value, median_before_go_live AS baseline_median FROM grouped WHERE period = 'all'
)
SELECT g.period,
       CASE WHEN g.period <> 'all' THEN CAST(try_strptime(g.period, '%Y-%m') AS DATE) END AS period_start,
       g.dimension, g.dimension_value,
       g.orders, g.orders_fulfilled, g.orders_delivered,
       getvariable('otd_cycle_end') AS cycle_end_event,
       g.cycle_time_quantiles[1] AS cycle_time_median_days, g.cycle_time_quantiles[2] AS cycle_time_p90_days,
       g.cycle_time_mean_days,
       (p.cycle_time_quantiles[1] - g.cycle_time_quantiles[1]) / nullif(p.cycle_time_quantiles[1], 0) * 100
           AS cycle_time_reduction_vs_previous_pct,
       b.baseline_median AS cycle_time_baseline_median_days,
       (b.baseline_median - CASE WHEN g.period = 'all' THEN g.median_since_go_live ELSE g.cycle_time_quantiles[1] END)
           / nullif(b.baseline_median, 0) * 100 AS cycle_time_reduction_vs_baseline_pct,
       g.accurate_orders,
       g.accurate_orders / nullif(g.orders_fulfilled, 0) AS order_accuracy_rate,
       g.cfsat_responses, g.cfsat_satisfied,
       g.cfsat_satisfied / nullif(g.cfsat_responses, 0) AS cfsat_rate,
       g.cfsat_score_sum / nullif(g.cfsat_responses, 0) AS cfsat_mean_score,
       CAST(g.fulfilment_cost_total AS DECIMAL(18, 2)) AS fulfilment_cost_total,
       CAST(g.fulfilment_cost_total AS DOUBLE) / nullif(g.orders_fulfilled, 0) AS cost_per_order,
       g.promise_orders, g.promise_kept,
       g.promise_kept / nullif(g.promise_orders, 0) AS promise_kept_rate,
       g.support_tickets,
       g.support_tickets * 100.0 / nullif(g.orders, 0) AS support_contacts_per_100_orders
FROM grouped g
LEFT JOIN grouped p
  ON g.period <> 'all' AND p.period <> 'all'
 AND p.dimension = g.dimension AND p.dimension_value = g.dimension_value
 AND p.period = strftime(CAST(try_strptime(g.period, '%Y-%m') AS DATE) - INTERVAL 1 MONTH, '%Y-%m')
LEFT JOIN baseline b ON b.dimension = g.dimension AND b.dimension_value = g.dimension_value
ORDER BY g.dimension, g.dimension_value, g.period = 'all', g.period;
