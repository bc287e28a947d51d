-- steady state: a new item arrives; some agent accepts an offer; some agent
-- closes an active item (which serves waiting work to them)
\set ws random(1, 10)
\set t random(1, 8)
\set l random(1, 6)
\set amount random(1, 1000)
\set a random(1, :agents)
\set b random(1, :agents)
INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context)
VALUES (:ws, 'conv-' || :client_id || '-' || random(), 'cust-' || :amount,
        jsonb_build_object('topic', (ARRAY['billing', 'refund', 'login', 'outage', 'bug', 'delivery', 'returns', 'other'])[:t],
                           'language', (ARRAY['en', 'fr', 'es', 'de', 'en', 'fr-CA'])[:l],
                           'country', 'US', 'amount', :amount));
SELECT (omniroute.accept(id)).state FROM
  (SELECT id FROM omniroute.work_item WHERE agent_id = :a AND state = 'offered'
    LIMIT 1 FOR UPDATE SKIP LOCKED) s;
SELECT (omniroute.close(id, 'resolved')).state FROM
  (SELECT id FROM omniroute.work_item WHERE agent_id = :b AND state = 'active'
    LIMIT 1 FOR UPDATE SKIP LOCKED) s;
