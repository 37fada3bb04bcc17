-- Records naming an order that neither their reference nor the fallback found (read after
-- core.order_identity_map is written). (A view: pipelines/identity.py writes
-- quality.unmatched_order_refs from it, whole or at the places whose row of the map changed.)
CREATE OR REPLACE TEMP VIEW cw_unmatched_order_refs AS
SELECT source_system, entity, source_file, source_row, source_order_ref, order_number,
       CASE WHEN order_number IS NULL THEN 'no reference pattern matched'
            ELSE 'order ' || order_number || ' is not known to the CRM or the fulfilment tool' END AS reason
FROM core.order_identity_map
WHERE order_key IS NULL AND source_order_ref IS NOT NULL;
