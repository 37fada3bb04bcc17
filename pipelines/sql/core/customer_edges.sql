-- Links between person records, each with its rule and probability: the deterministic keys'
-- (cw_key_links, customer_key_links.sql); the model's, for pairs the Fellegi-Sunter model scores
-- at or above the match threshold, unless an analyst said cannot_link; and analysts' must_link
-- decisions.
CREATE OR REPLACE TABLE core.customer_edges AS
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
-- dropped_reason: filled by the clustering guards (pipelines/identity.py cluster_records)
SELECT *, NULL::VARCHAR AS dropped_reason
FROM (SELECT * FROM cw_key_links
      UNION ALL SELECT * FROM probabilistic
      UNION ALL SELECT * FROM must);
