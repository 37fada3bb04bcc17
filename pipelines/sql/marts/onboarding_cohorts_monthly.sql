-- Onboarding metrics by the customer's start month (company time zone) and overall ('all').
-- A cohort's activation or churn figure is final once its window has passed for every member
-- (measured against the newest event in the warehouse). Definitions: marts.metric_catalog.
CREATE OR REPLACE TABLE marts.onboarding_cohorts_monthly AS
WITH horizon AS (
    SELECT greatest(
        (SELECT max(ordered_at) FROM core.orders),
        (SELECT max(greatest(shipped_at, coalesce(delivered_at, shipped_at))) FROM core.fulfilments),
        (SELECT max(created_at) FROM core.tickets)
    ) AS as_of
),
members AS (
    SELECT customer_key, start_at, activated_at, churned_at,
           strftime(timezone(getvariable('company_tz'), start_at), '%Y-%m') AS cohort,
           (epoch(activated_at) - epoch(start_at)) / 86400.0 AS onboarding_days,
           (epoch(churned_at) - epoch(start_at)) / 86400.0 AS churn_days
    FROM core.customers
    WHERE start_at IS NOT NULL
),
flags AS (
    SELECT *,
           coalesce(onboarding_days BETWEEN 0 AND getvariable('activation_window_days'), false) AS activated_in_window,
           coalesce(churn_days <= getvariable('churn_window_days'), false) AS churned_in_window
    FROM members
),
onboarding_csat AS (
    SELECT m.customer_key,
           count(t.csat_score) AS responses,
           count(*) FILTER (WHERE t.csat_score >= getvariable('satisfied_min_score')) AS satisfied,
           sum(t.csat_score) AS score_sum
    FROM members m
    JOIN core.tickets t
      ON t.customer_key = m.customer_key
     AND epoch(t.created_at) BETWEEN epoch(m.start_at) AND epoch(m.start_at) + getvariable('activation_window_days') * 86400
    WHERE t.csat_score IS NOT NULL
    GROUP BY m.customer_key
),
grouped AS (
    SELECT coalesce(f.cohort, 'all') AS cohort,
           count(*) AS customers,
           count(*) FILTER (WHERE activated_in_window) AS activated_in_window,
           quantile_cont(onboarding_days, 0.5) FILTER (WHERE activated_in_window) AS onboarding_time_median_days,
           quantile_cont(onboarding_days, 0.9) FILTER (WHERE activated_in_window) AS onboarding_time_p90_days,
           coalesce(sum(c.responses), 0) AS onboarding_csat_responses,
           coalesce(sum(c.satisfied), 0) AS onboarding_csat_satisfied,
           sum(c.score_sum) AS score_sum,
           count(*) FILTER (WHERE churned_in_window) AS churned_in_window,
           max(start_at) AS last_start_at
    FROM flags f
    LEFT JOIN onboarding_csat c USING (customer_key)
    GROUP BY GROUPING SETS ((f.cohort), ())
)
SELECT g.cohort,
       CASE WHEN g.cohort <> 'all' THEN CAST(try_strptime(g.cohort, '%Y-%m') AS DATE) END AS cohort_start,
       g.customers,
       g.activated_in_window,
       g.activated_in_window / g.customers AS activation_rate,
       g.onboarding_time_median_days, g.onboarding_time_p90_days,
       g.onboarding_csat_responses, g.onboarding_csat_satisfied,
       g.onboarding_csat_satisfied / nullif(g.onboarding_csat_responses, 0) AS onboarding_csat_rate,
       g.score_sum / nullif(g.onboarding_csat_responses, 0) AS onboarding_csat_mean_score,
       g.churned_in_window,
       g.churned_in_window / g.customers AS early_churn_rate,
       epoch(g.last_start_at) + getvariable('activation_window_days') * 86400 <= epoch(h.as_of) AS activation_final,
       epoch(g.last_start_at) + getvariable('churn_window_days') * 86400 <= epoch(h.as_of) AS churn_final
FROM grouped g
CROSS JOIN horizon h
ORDER BY g.cohort = 'all', g.cohort;
