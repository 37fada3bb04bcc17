-- A night that changes some records (customer_records_gone.sql ran first): an arrived record
-- with an email or phone whose description an earlier node has joins that node. Each arrived
-- record is tied to the first record sharing its key, earlier or arrived, and a star whose first
-- record went gathers round the first record left: the stars customer_key_links.sql draws over
-- every record, since arrived records have the highest ids. cw_key_links_new holds tonight's
-- links (core.customer_edges takes them in customer_edges_changed.sql, and loses the gone
-- records'); with them, cw_scope_key_links (customer_key_group_scope.sql) holds every key link
-- of the records whose key group may change.
UPDATE cw_linkage_records l SET node_id = i.unique_id
FROM core.customer_linkage_input i
WHERE (l.email IS NOT NULL OR l.phone IS NOT NULL)
  AND l.first_name IS NOT DISTINCT FROM i.first_name AND l.last_name IS NOT DISTINCT FROM i.last_name
  AND l.email IS NOT DISTINCT FROM i.email AND l.shared_mailbox IS NOT DISTINCT FROM i.shared_mailbox
  AND l.phone IS NOT DISTINCT FROM i.phone AND l.company IS NOT DISTINCT FROM i.company
  AND l.street IS NOT DISTINCT FROM i.street AND l.city IS NOT DISTINCT FROM i.city
  AND l.postcode IS NOT DISTINCT FROM i.postcode;

CREATE OR REPLACE TEMP TABLE cw_key_links_arrived AS
WITH keyed AS MATERIALIZED (SELECT * FROM cw_keyed_records),
-- the first earlier record holding each arrived key (records with one description share it)
earlier AS (
    SELECT 'crm_id' AS rule, CAST(crm_contact_id AS VARCHAR) AS key, min(record_id) AS record_id
    FROM core.customer_records
    WHERE CAST(crm_contact_id AS VARCHAR) IN (SELECT key FROM keyed WHERE rule = 'crm_id') GROUP BY ALL
    UNION ALL
    SELECT 'email', usable_email, min(record_id) FROM core.customer_records
    WHERE usable_email IN (SELECT key FROM keyed WHERE rule = 'email') GROUP BY ALL
    UNION ALL
    SELECT 'phone', usable_phone, min(record_id) FROM core.customer_records
    WHERE usable_phone IN (SELECT key FROM keyed WHERE rule = 'phone') GROUP BY ALL
    UNION ALL
    SELECT 'order_ref', order_number, min(record_id) FROM core.customer_records
    WHERE order_number IN (SELECT key FROM keyed WHERE rule = 'order_ref') GROUP BY ALL
    UNION ALL
    SELECT 'mailbox_name', shared_mailbox || '|' || first_name_std || '|' || last_name, min(unique_id)
    FROM core.customer_linkage_input
    WHERE shared_mailbox || '|' || first_name_std || '|' || last_name IN (SELECT key FROM keyed WHERE rule = 'mailbox_name')
    GROUP BY ALL
),
arrived AS (SELECT rule, key, min(record_id) AS first_arrived, count(*) AS records FROM keyed GROUP BY rule, key),
stars AS (
    SELECT rule, key, coalesce(e.record_id, a.first_arrived) AS record_a
    FROM arrived a LEFT JOIN earlier e USING (rule, key)
    WHERE e.record_id IS NOT NULL OR a.records > 1
)
SELECT s.record_a, k.record_id AS record_b, rule, key, 1.0::DOUBLE AS match_probability
FROM keyed k
JOIN stars s USING (rule, key)
WHERE k.record_id <> s.record_a;

CREATE OR REPLACE TEMP TABLE cw_key_links_new AS
WITH orphaned AS (
    SELECT rule, key, record_b FROM core.customer_edges
    WHERE rule NOT IN ('probabilistic', 'must_link')
      AND record_a IN (SELECT record_id FROM cw_records_gone)
      AND record_b NOT IN (SELECT record_id FROM cw_records_gone)
),
restarred AS (
    SELECT min(record_b) OVER (PARTITION BY rule, key) AS record_a, record_b, rule, key, 1.0::DOUBLE AS match_probability
    FROM orphaned
)
SELECT * FROM restarred WHERE record_a <> record_b
UNION ALL
SELECT * FROM cw_key_links_arrived;
