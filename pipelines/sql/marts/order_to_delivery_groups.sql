-- marts.order_to_delivery_monthly's sums, counts and quantiles from the orders' facts: by month
-- (only the months in cw_otd_months on a night that changed some orders' facts,
-- getvariable('otd_scoped')) and overall ('all'), for the whole business and by channel, campaign
-- and region. Each order counts once per dimension, by grouping sets.
CREATE OR REPLACE TEMP VIEW cw_otd_groups AS
WITH monthly AS (
    SELECT period,
           CASE WHEN grouping(channel_value) = 0 THEN 'channel' WHEN grouping(campaign_value) = 0 THEN 'campaign'
                WHEN grouping(region_value) = 0 THEN 'region' ELSE 'all' END AS dimension,
           coalesce(channel_value, campaign_value, region_value, 'all') AS dimension_value,
           count(*) AS orders,
           count(*) FILTER (WHERE is_fulfilled) AS orders_fulfilled,
           count(cycle_days) AS orders_delivered,
           -- median and p90 in one aggregate: each quantile keeps its own copy of the values
           quantile_cont(cycle_days, [0.5, 0.9]) AS cycle_time_quantiles,
           sum(cycle_us) / count(cycle_us) / 86400e6 AS cycle_time_mean_days,
           -- read only in the 'all' period (the go-live baseline and the reduction since)
           NULL::DOUBLE AS median_since_go_live,
           NULL::DOUBLE AS median_before_go_live,
           count(*) FILTER (WHERE is_fulfilled AND NOT has_fulfilment_error) AS accurate_orders,
           sum(cfsat_responses) AS cfsat_responses,
           sum(cfsat_satisfied) AS cfsat_satisfied,
           sum(cfsat_score_sum) AS cfsat_score_sum,
           coalesce(sum(fulfilment_cost) FILTER (WHERE is_fulfilled), 0) AS fulfilment_cost_total,
           count(*) FILTER (WHERE promise_counted) AS promise_orders,
           count(*) FILTER (WHERE promise_kept) AS promise_kept,
           sum(support_tickets) AS support_tickets
    FROM marts.order_to_delivery_facts
    WHERE NOT getvariable('otd_scoped') OR period IN (SELECT period FROM cw_otd_months)
    GROUP BY GROUPING SETS ((period), (period, channel_value), (period, campaign_value), (period, region_value))
),
overall AS (
    SELECT 'all' AS period,
           CASE WHEN grouping(channel_value) = 0 THEN 'channel' WHEN grouping(campaign_value) = 0 THEN 'campaign'
                WHEN grouping(region_value) = 0 THEN 'region' ELSE 'all' END AS dimension,
           coalesce(channel_value, campaign_value, region_value, 'all') AS dimension_value,
           count(*) AS orders,
           count(*) FILTER (WHERE is_fulfilled) AS orders_fulfilled,
           count(cycle_days) AS orders_delivered,
           quantile_cont(cycle_days, [0.5, 0.9]) AS cycle_time_quantiles,
           sum(cycle_us) / count(cycle_us) / 86400e6 AS cycle_time_mean_days,
           quantile_cont(cycle_days, 0.5) FILTER (WHERE NOT before_go_live) AS median_since_go_live,
           quantile_cont(cycle_days, 0.5) FILTER (WHERE before_go_live) AS median_before_go_live,
           count(*) FILTER (WHERE is_fulfilled AND NOT has_fulfilment_error) AS accurate_orders,
           sum(cfsat_responses) AS cfsat_responses,
           sum(cfsat_satisfied) AS cfsat_satisfied,
           sum(cfsat_score_sum) AS cfsat_score_sum,
           coalesce(sum(fulfilment_cost) FILTER (WHERE is_fulfilled), 0) AS fulfilment_cost_total,
           count(*) FILTER (WHERE promise_counted) AS promise_orders,
           count(*) FILTER (WHERE promise_kept) AS promise_kept,
           sum(support_tickets) AS support_tickets
    FROM marts.order_to_delivery_facts
    GROUP BY GROUPING SETS ((), (channel_value), (campaign_value), (region_value))
)
SELECT * FROM monthly
UNION ALL BY NAME
SELECT * FROM overall;
