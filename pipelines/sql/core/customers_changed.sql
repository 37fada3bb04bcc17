-- A night's golden records: of the customers whose records changed (core.customer_keys_changed,
-- written by customer identity) or whose first order or delivery moved since the last build.
INSERT INTO core.customer_keys_changed
SELECT customer_key FROM (
    (SELECT * FROM cw_order_facts EXCEPT SELECT * FROM core.customer_order_facts)
    UNION ALL
    (SELECT * FROM core.customer_order_facts EXCEPT SELECT * FROM cw_order_facts)
);

DELETE FROM core.customers WHERE customer_key IN (SELECT customer_key FROM core.customer_keys_changed);

INSERT INTO core.customers SELECT * FROM cw_customers;
