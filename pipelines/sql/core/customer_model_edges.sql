-- The links that are not keys: the model's, for pairs the Fellegi-Sunter model scores at or
-- above the match threshold, unless an analyst said cannot_link; and analysts' must_link
-- decisions (core.customer_overrides). Read by customer_edges.sql and customer_edges_changed.sql.
CREATE OR REPLACE TEMP VIEW cw_model_edges AS
WITH cannot AS (
    SELECT least(record_a, record_b) AS a, greatest(record_a, record_b) AS b
    FROM core.customer_overrides WHERE decision = 'cannot_link'
),
probabilistic AS (
    SELECT s.node_a AS record_a, s.node_b AS record_b, 'probabilistic' AS rule, NULL AS key, s.match_probability
    FROM core.customer_link_scores s
    ANTI JOIN cannot c ON c.a = s.node_a AND c.b = s.node_b
    WHERE s.match_probability >= getvariable('match_threshold')
),
must AS (
    SELECT least(record_a, record_b) AS record_a, greatest(record_a, record_b) AS record_b, 'must_link' AS rule,
           NULL AS key, 1.0::DOUBLE AS match_probability
    FROM core.customer_overrides WHERE decision = 'must_link'
)
SELECT * FROM probabilistic
UNION ALL
SELECT * FROM must;
