-- What the probabilistic model compares, one row per distinct person description. Values that
-- name no single person (shared mailboxes, placeholders; schemas/identity.yaml) are blanked.
-- Records with the same description and an email or phone are one node (they are linked by
-- that key anyway); a description with neither stays one node per record, so two people who
-- share only a name are never joined without the model's say.
-- (a temp table: only this step reads it; cw_person_records is every record, or on a night
-- that only adds records, the arrived ones)
CREATE OR REPLACE TEMP TABLE cw_linkage_records AS
WITH cleaned AS (
    SELECT r.record_id,
           r.usable_email AS email,
           -- a shared mailbox says 'someone at this business', which the model may weigh
           r.shared_mailbox,
           r.usable_phone AS phone,
           lower(strip_accents(cw_usable_name(r.first_name))) AS first_name,
           lower(strip_accents(cw_usable_name(r.last_name))) AS last_name,
           nullif(regexp_replace(lower(strip_accents(r.company)), '[^a-z0-9 ]', '', 'g'), '') AS company,
           nullif(regexp_replace(lower(r.street), '[^a-z0-9 ]', '', 'g'), '') AS street,
           nullif(lower(trim(r.city)), '') AS city,
           nullif(upper(replace(r.postcode, ' ', '')), '') AS postcode
    FROM cw_person_records r
),
described AS (
    SELECT c.*,
           coalesce(n.canonical, c.first_name) AS first_name_std,
           split_part(c.email, '@', 1) AS email_local,
           nullif(split_part(c.email, '@', 2), '') AS email_domain,
           -- UK outward code: everything but the last three characters
           CASE WHEN length(c.postcode) > 4 THEN left(c.postcode, length(c.postcode) - 3) END AS postcode_district
    FROM cleaned c
    LEFT JOIN cw_nicknames n ON n.name = c.first_name
    WHERE c.first_name IS NOT NULL OR c.last_name IS NOT NULL
)
SELECT *,
       CASE WHEN email IS NULL AND phone IS NULL THEN record_id
            ELSE min(record_id) OVER (PARTITION BY first_name, last_name, email, shared_mailbox, phone, company, street, city, postcode)
       END AS node_id
FROM described;
