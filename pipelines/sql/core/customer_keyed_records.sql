-- Each person record's deterministic keys, one row per key: CRM id, email, phone, the same order,
-- and a shared mailbox together with the full name (cw_person_records: every record, or the
-- arrived ones; cw_linkage_records: their standardised names).
CREATE OR REPLACE TEMP VIEW cw_keyed_records AS
SELECT record_id, 'crm_id' AS rule, CAST(crm_contact_id AS VARCHAR) AS key FROM cw_person_records WHERE crm_contact_id IS NOT NULL
UNION ALL
SELECT record_id, 'email', usable_email FROM cw_person_records WHERE usable_email IS NOT NULL
UNION ALL
SELECT record_id, 'phone', usable_phone FROM cw_person_records WHERE usable_phone IS NOT NULL
UNION ALL
SELECT record_id, 'order_ref', order_number FROM cw_person_records WHERE order_number IS NOT NULL
UNION ALL
-- a shared mailbox names a business, and within one business a full name names one person
SELECT record_id, 'mailbox_name', shared_mailbox || '|' || first_name_std || '|' || last_name
FROM cw_linkage_records
WHERE shared_mailbox IS NOT NULL AND first_name_std IS NOT NULL AND last_name IS NOT NULL;
