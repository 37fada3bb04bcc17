-- Stable customer keys. The registry (kept in the build database across runs) remembers the
-- key each record was given. A cluster keeps the earliest-issued key among its records' earlier
-- keys; the other keys it absorbed are retired into it (a merge). An earlier key whose records
-- now sit in several clusters stays with the cluster holding most of them; the others get new
-- keys (a split). A cluster with no earlier key gets one derived from its most durable usable
-- identifier, so a fresh build on the same files gives the same keys.
-- Only the clusters in cw_clusters_to_key are keyed here, from their records' keys
-- (cw_record_keys, customer_record_keys.sql); on a night that changed some records, a cluster that
-- is a customer of the night before, less gone records and with arrived ones, keeps its key
-- (cw_cluster_keys_kept), and its arrived records (cw_arrivals_kept) are registered under it.
-- (core.customer_key_registry: customer_record_keys.sql)
-- (each key once: checked below as keys are issued, not by a primary key, whose index every
-- checkpoint after a key was issued wrote whole: 0.4 s at 700k keys)
CREATE TABLE IF NOT EXISTS core.customer_keys_issued (
    customer_key VARCHAR NOT NULL,
    issued_at TIMESTAMPTZ,
    anchor VARCHAR
);
CREATE TABLE IF NOT EXISTS core.customer_key_history (
    customer_key VARCHAR,     -- the earlier key
    surviving_key VARCHAR,    -- the key its records carry now
    change VARCHAR,           -- 'merged' (customer_key retired) or 'split' (some records moved)
    records BIGINT,           -- records that moved
    changed_at TIMESTAMPTZ
);

CREATE OR REPLACE TEMP TABLE cw_claims AS
SELECT cluster_id, customer_key, count(*) AS records
FROM cw_record_claims
WHERE record_id NOT IN (SELECT record_id FROM cw_arrivals_kept)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE cw_owner AS
SELECT customer_key, first(cluster_id ORDER BY records DESC, cluster_id) AS cluster_id
FROM cw_claims
GROUP BY customer_key;

CREATE OR REPLACE TEMP TABLE cw_survivor AS
SELECT o.cluster_id,
       list(o.customer_key ORDER BY i.issued_at, o.customer_key) AS owned
FROM cw_owner o
JOIN core.customer_keys_issued i USING (customer_key)
GROUP BY o.cluster_id;

CREATE OR REPLACE TEMP TABLE cw_new AS
WITH anchors AS (
    SELECT c.cluster_id,
           coalesce(
               min('crm:' || r.crm_contact_id) FILTER (WHERE r.entity = 'crm_contacts'),
               min('email:' || r.usable_email),
               min('phone:' || r.usable_phone),
               min('record:' || r.entity || ':' || r.source_file || ':' || r.source_row)
           ) AS anchor
    FROM core.customer_clusters c
    JOIN core.customer_records r USING (record_id)
    WHERE c.cluster_id IN (SELECT cluster_id FROM cw_clusters_to_key)
      AND c.cluster_id NOT IN (SELECT cluster_id FROM cw_survivor)
    GROUP BY c.cluster_id
),
derived AS (
    SELECT cluster_id, anchor,
           -- the same anchor twice (a split off an earlier cluster) gets a numbered variant
           CASE WHEN row_number() OVER (PARTITION BY anchor ORDER BY cluster_id) = 1
                 AND 'C' || upper(substr(md5(anchor), 1, 10)) NOT IN (SELECT customer_key FROM core.customer_keys_issued)
                THEN anchor
                ELSE anchor || ':' || (SELECT count(*) FROM core.customer_keys_issued)
                     || ':' || row_number() OVER (PARTITION BY anchor ORDER BY cluster_id)
           END AS key_seed
    FROM anchors
)
SELECT cluster_id, anchor, 'C' || upper(substr(md5(key_seed), 1, 10)) AS customer_key
FROM derived;

-- the keys of the clusters outside tonight's scope stay (kept, not found again); the others are
-- written (all of them when every cluster was keyed); its key stored uncompressed (pipelines/key_storage.py)
CREATE TABLE IF NOT EXISTS core.customer_cluster_keys (cluster_id BIGINT, customer_key VARCHAR USING COMPRESSION uncompressed);
DELETE FROM core.customer_cluster_keys
WHERE cluster_id NOT IN (SELECT cluster_id FROM cw_cluster_keys_kept WHERE NOT found_again);
INSERT INTO core.customer_cluster_keys
SELECT cluster_id, customer_key FROM cw_cluster_keys_kept WHERE found_again
UNION ALL
SELECT cluster_id, owned[1] AS customer_key FROM cw_survivor
UNION ALL
SELECT cluster_id, customer_key FROM cw_new;

SELECT error('customer key ' || customer_key || ' would be issued twice; the build is left as it was')
FROM (SELECT customer_key FROM cw_new GROUP BY customer_key HAVING count(*) > 1
      UNION ALL
      SELECT customer_key FROM cw_new WHERE customer_key IN (SELECT customer_key FROM core.customer_keys_issued))
LIMIT 1;

INSERT INTO core.customer_keys_issued
SELECT customer_key, now(), anchor FROM cw_new;

INSERT INTO core.customer_key_history
SELECT retired.customer_key, s.owned[1], 'merged', c.records, now()
FROM (SELECT cluster_id, owned, unnest(owned[2:]) AS customer_key FROM cw_survivor) retired
JOIN cw_survivor s USING (cluster_id)
JOIN cw_claims c USING (cluster_id, customer_key);

INSERT INTO core.customer_key_history
SELECT c.customer_key, k.customer_key, 'split', c.records, now()
FROM cw_claims c
JOIN cw_owner o USING (customer_key)
JOIN core.customer_cluster_keys k ON k.cluster_id = c.cluster_id
WHERE o.cluster_id <> c.cluster_id;

-- The keyed records' registry rows are replaced: DELETE and INSERT rather than an upsert, which
-- keeps a primary-key index over every record (record_key is unique by the GROUP BY).
CREATE OR REPLACE TEMP TABLE cw_registry_rows AS
WITH keyed AS (
    SELECT k.record_key, first(ck.customer_key ORDER BY k.record_id) AS customer_key
    FROM cw_record_keys k
    JOIN core.customer_cluster_keys ck USING (cluster_id)
    GROUP BY k.record_key
)
SELECT k.record_key, k.customer_key, coalesce(g.first_seen_at, now()) AS first_seen_at, now() AS keyed_at
FROM keyed k
LEFT JOIN (SELECT DISTINCT record_key, first_seen_at FROM cw_record_claims) g USING (record_key);

DELETE FROM core.customer_key_registry WHERE record_key IN (SELECT record_key FROM cw_registry_rows);
INSERT INTO core.customer_key_registry BY NAME SELECT * FROM cw_registry_rows;
