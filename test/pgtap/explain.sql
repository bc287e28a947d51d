-- omniroute.explain(work_item_id): every member of the item's queue, with
-- the reasons it is or is not eligible; the insert-path diagnostics beside.
BEGIN;
SELECT plan(9);

INSERT INTO omniroute.skill VALUES ('ex_french');
INSERT INTO omniroute.capacity_profile VALUES ('ex_chat', 1, 'never');
INSERT INTO omniroute.queue (id, name) VALUES (8801, 'explain: q');
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (8801, 'ex ok',       10, 'available'),
    (8802, 'ex away',     10, 'away'),
    (8803, 'ex full',      0, 'available'),
    (8804, 'ex unskilled', 10, 'available'),
    (8805, 'ex noprofile', 10, 'available');
INSERT INTO omniroute.agent_skill VALUES (8801, 'ex_french', 7), (8802, 'ex_french', 7),
                                         (8803, 'ex_french', 7), (8804, 'ex_french', 2),
                                         (8805, 'ex_french', 7);
INSERT INTO omniroute.agent_profile (agent_id, profile) VALUES (8801, 'ex_chat'), (8802, 'ex_chat'),
                                                              (8803, 'ex_chat'), (8804, 'ex_chat');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (8801, 8801), (8801, 8802), (8801, 8803), (8801, 8804), (8801, 8805);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_units, capacity_profile)
     VALUES (8801, 'explain: chat', 8801, 5, 'ex_chat');

-- the only eligible agent, 8801, gets it; then rejects it: nobody is left
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (8801, 8801, '{"ex_french": 5}');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 8801), 8801::bigint,
          'the one eligible member is offered the item');
SELECT omniroute.reject(8801);

CREATE TEMP TABLE ex AS
SELECT m->>'agent_id' AS agent, (m->>'eligible')::boolean AS eligible, m->'reasons' AS reasons
  FROM jsonb_array_elements(omniroute.explain(8801)->'members') m;

SELECT is((SELECT count(*) FROM ex), 5::bigint, 'every member of the queue is accounted for');
SELECT is((SELECT count(*) FROM ex WHERE eligible), 0::bigint, 'nobody is eligible after the reject');
SELECT ok((SELECT reasons FROM ex WHERE agent = '8801') ? 'rejected or missed this item before',
          'the agent who rejected it: rejected before');
SELECT ok((SELECT reasons FROM ex WHERE agent = '8802') ? 'presence away (away) is not allowed',
          'an away agent: presence not allowed');
SELECT ok((SELECT reasons FROM ex WHERE agent = '8803') ? 'needs 5 free unit(s), has 0',
          'a full agent: not enough free units');
SELECT ok((SELECT reasons FROM ex WHERE agent = '8804') ? 'lacks skill ex_french at 5 (has 2)',
          'an under-skilled agent: the skill and both levels');
SELECT ok((SELECT reasons FROM ex WHERE agent = '8805') ? 'does not have capacity profile ex_chat',
          'an agent without the profile: says so');
SELECT throws_ok('SELECT omniroute.explain(999999)', '42704', NULL, 'an unknown item is an error');

SELECT * FROM finish();
ROLLBACK;
