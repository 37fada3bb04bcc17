-- A night that changed some records: core.customer_edges loses the gone records' key links and
-- takes tonight's (cw_key_links_new, customer_key_links_arrived.sql); the model's and the
-- analysts' links (a few per thousand records) are written again. The ends of every link that
-- came or went, of every link a guard dropped and of every analyst's decision are
-- cw_edges_touched: their clusters are derived again (pipelines/identity.py cluster_records), as
-- are the gone records', whose links went with them (customer_cluster_scope.sql).
CREATE OR REPLACE TEMP TABLE cw_edges_touched AS
WITH before AS (
    SELECT record_a, record_b, rule FROM core.customer_edges WHERE rule IN ('probabilistic', 'must_link')
),
now AS (
    SELECT record_a, record_b, rule FROM cw_model_edges
),
moved AS (
    (SELECT * FROM before EXCEPT SELECT * FROM now)
    UNION ALL
    (SELECT * FROM now EXCEPT SELECT * FROM before)
    UNION ALL
    SELECT record_a, record_b, rule FROM cw_key_links_new
    UNION ALL
    SELECT record_a, record_b, rule FROM core.customer_edges WHERE dropped_reason IS NOT NULL
    UNION ALL
    SELECT record_a, record_b, decision FROM core.customer_overrides
)
SELECT record_a AS record_id FROM moved
UNION
SELECT record_b FROM moved;

DELETE FROM core.customer_edges
WHERE rule IN ('probabilistic', 'must_link')
   OR record_a IN (SELECT record_id FROM cw_records_gone) OR record_b IN (SELECT record_id FROM cw_records_gone);

INSERT INTO core.customer_edges SELECT *, NULL::VARCHAR FROM cw_key_links_new;
INSERT INTO core.customer_edges SELECT *, NULL::VARCHAR FROM cw_model_edges;

-- read the links written above, not these
DROP VIEW cw_scope_key_links;
