\set ws random(1, 10)
\set t random(1, 8)
\set l random(1, 6)
\set amount random(1, 1000)
INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context)
VALUES (:ws, 'conv-' || :client_id || '-' || random(), 'cust-' || :amount,
        jsonb_build_object('topic', (ARRAY['billing', 'refund', 'login', 'outage', 'bug', 'delivery', 'returns', 'other'])[:t],
                           'language', (ARRAY['en', 'fr', 'es', 'de', 'en', 'fr-CA'])[:l],
                           'country', 'US', 'amount', :amount));
