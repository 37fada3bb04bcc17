-- Support tickets with the customer who raised them and the order they concern.
-- (A view: pipelines/changed_rows.py writes core.tickets from it.) With the variable
-- tickets_scoped set, only the tickets in cw_tickets_keys: those at the places whose record or
-- rows of the identity maps changed (pipelines/record_places.py places_scope).
CREATE OR REPLACE TEMP VIEW cw_tickets AS
SELECT t.ticket_id, c.customer_key, o.order_key, t.category, t.status, t.subject,
       t.created_at, t.solved_at, t.csat_score,
       t.category IN ('wrong_item', 'damaged_item', 'missing_item', 'late_delivery') AS is_fulfilment_related,
       t.source_file, t.source_row, t.profile
FROM staging.support_tickets t
LEFT JOIN core.customer_identity_map c
  ON c.entity = 'support_tickets' AND c.source_file = t.source_file AND c.source_row = t.source_row
LEFT JOIN core.order_identity_map o
  ON o.entity = 'support_tickets' AND o.source_file = t.source_file AND o.source_row = t.source_row
WHERE NOT getvariable('tickets_scoped') OR t.ticket_id IN (SELECT ticket_id FROM cw_tickets_keys);
