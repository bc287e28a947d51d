-- a customer writes in: one routed insert
\set ws random(1, 3)
\set topic random(1, 4)
\set amount random(0, 1000)
\set prio random(0, 3)
\set skill random(0, 9)
INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context, priority, required_skills)
VALUES (:ws, 'conv-' || :amount, 'customer-' || :topic,
        jsonb_build_object('topic', (ARRAY['billing', 'tech', 'outage', 'other'])[:topic], 'amount', :amount),
        :prio,
        CASE :skill WHEN 1 THEN jsonb_build_object('french', 3)
                    WHEN 2 THEN jsonb_build_object('billing', 6)
                    WHEN 3 THEN jsonb_build_object('french', 9, 'tech', 9)
                    ELSE '{}'::jsonb END);
