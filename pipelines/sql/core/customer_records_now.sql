-- Every staged record that names a person, in one shape, with the order it concerns (if any).
-- record_at says how recent the record is, for survivorship; record_hash tells a later night
-- whether the record is still the same. It reads the views of pipelines/record_places.py
-- (cw_staged_<entity>, cw_order_references): every staged record, or on a night only those at
-- the places that may have changed.
CREATE OR REPLACE TEMP VIEW cw_records_now AS
WITH refs AS (
    SELECT r.entity, r.source_file, r.source_row, r.order_number
    FROM cw_order_references r
    JOIN core.order_numbers n USING (order_number)
),
records AS (
    SELECT 'crm' AS source_system, 'crm_contacts' AS entity, source_file, source_row,
           crm_contact_id AS source_record_id, crm_contact_id, NULL AS order_number,
           email, phone, first_name, last_name, company, street, city, region, postcode, country,
           lifecycle_stage, became_customer_at, onboarding_completed_at, churned_at,
           NULL AS signup_campaign, coalesce(created_at, became_customer_at) AS record_at
    FROM cw_staged_crm_contacts
    UNION ALL BY NAME
    SELECT 'crm' AS source_system, 'crm_sales_orders' AS entity, s.source_file, s.source_row,
           s.order_ref AS source_record_id, s.crm_contact_id, refs.order_number,
           s.email, s.ordered_at AS record_at
    FROM cw_staged_crm_sales_orders s
    LEFT JOIN refs ON refs.entity = 'crm_sales_orders' AND refs.source_file = s.source_file AND refs.source_row = s.source_row
    UNION ALL BY NAME
    -- Mailchimp keeps the address in one field, parts separated by two spaces:
    -- street, city, region, postcode, country.
    SELECT 'marketing' AS source_system, 'marketing_subscribers' AS entity, source_file, source_row,
           email AS source_record_id, email, phone, first_name, last_name,
           nullif(trim(split_part(address, '  ', 1)), '') AS street,
           nullif(trim(split_part(address, '  ', 2)), '') AS city,
           nullif(trim(split_part(address, '  ', 4)), '') AS postcode,
           signup_campaign, coalesce(updated_at, opted_in_at) AS record_at
    FROM cw_staged_marketing_subscribers
    UNION ALL BY NAME
    SELECT 'support' AS source_system, 'support_tickets' AS entity, t.source_file, t.source_row,
           t.ticket_id AS source_record_id, refs.order_number, t.email, t.phone,
           trim(regexp_extract(t.requester_name, '^\s*(\S+)', 1)) AS first_name,
           nullif(trim(regexp_extract(t.requester_name, '^\s*\S+\s+(.*)$', 1)), '') AS last_name,
           t.created_at AS record_at
    FROM cw_staged_support_tickets t
    LEFT JOIN refs ON refs.entity = 'support_tickets' AND refs.source_file = t.source_file AND refs.source_row = t.source_row
    UNION ALL BY NAME
    SELECT 'inventory' AS source_system, 'inventory_shipments' AS entity, s.source_file, s.source_row,
           s.order_ref AS source_record_id, refs.order_number, s.email,
           trim(regexp_extract(s.ship_to_name, '^\s*(\S+)', 1)) AS first_name,
           nullif(trim(regexp_extract(s.ship_to_name, '^\s*\S+\s+(.*)$', 1)), '') AS last_name,
           s.postcode, coalesce(s.delivered_at, s.shipped_at) AS record_at
    FROM cw_staged_inventory_shipments s
    LEFT JOIN refs ON refs.entity = 'inventory_shipments' AND refs.source_file = s.source_file AND refs.source_row = s.source_row
)
SELECT r.*, hash(r) AS record_hash,
       -- what may serve as an identity key: not a shared mailbox or a placeholder (schemas/identity.yaml)
       cw_usable_email(r.email) AS usable_email, cw_usable_phone(r.phone) AS usable_phone,
       CASE WHEN cw_is_shared_mailbox(r.email) THEN r.email END AS shared_mailbox
FROM records r;
