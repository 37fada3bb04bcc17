-- Shipments per order, with their costs and what went wrong. A shipment reconciled to no known
-- order is left out here and listed in quality.unmatched_order_refs (it must not stop the publish).
-- (A view: pipelines/changed_rows.py writes core.fulfilments from it.) With the variable
-- fulfilments_scoped set, only the shipments at the places in cw_fulfilments_places
-- (pipelines/record_places.py places_scope).
CREATE OR REPLACE TEMP VIEW cw_fulfilments AS
SELECT m.order_key, s.order_ref AS source_order_ref, s.shipped_at, s.delivered_at,
       s.qty_ordered, s.qty_shipped, s.carrier,
       s.shipping_cost, s.pick_pack_cost, s.packaging_cost, s.return_cost,
       coalesce(s.shipping_cost, 0) + coalesce(s.pick_pack_cost, 0) + coalesce(s.packaging_cost, 0)
           + coalesce(s.return_cost, 0) AS fulfilment_cost,
       s.fulfilment_issue, s.return_reason,
       s.source_file, s.source_row, s.profile
FROM staging.inventory_shipments s
JOIN core.order_identity_map m
  ON m.entity = 'inventory_shipments' AND m.source_file = s.source_file AND m.source_row = s.source_row
WHERE m.order_key IS NOT NULL
  AND (NOT getvariable('fulfilments_scoped')
       OR (s.source_file, s.source_row) IN (SELECT source_file, source_row FROM cw_fulfilments_places));
