-- the physical limit: the same row as bench/insert_routed.sql, into a table
-- of the same shape without the routing trigger; it names its queue (the
-- workstream's fallback) as a routed row ends up doing
\set ws random(1, 10)
\set t random(1, 8)
\set l random(1, 6)
\set amount random(1, 1000)
INSERT INTO bench.plain_item (workstream_id, queue_id, external_id, customer_id, context)
VALUES (:ws, (:ws - 1) * 5 + 1, 'conv-' || :client_id || '-' || random(), 'cust-' || :amount,
        jsonb_build_object('topic', (ARRAY['billing', 'refund', 'login', 'outage', 'bug', 'delivery', 'returns', 'other'])[:t],
                           'language', (ARRAY['en', 'fr', 'es', 'de', 'en', 'fr-CA'])[:l],
                           'country', 'US', 'amount', :amount));
