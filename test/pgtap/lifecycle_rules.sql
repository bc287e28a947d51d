-- test/pgtap/lifecycle_rules.sql — who may take and give work (issue 15,
-- points 3, 6 and 8), tried as the roles that would abuse it:
--   * pick(id) and pick_next() obey the rules of push assignment but for
--     the mode: pick-mode items only, a member of the queue, an allowed
--     presence (by name or base), room, the skills (exact matching), not
--     rejected or missed before; a refusal names the reason;
--   * an agent is told nothing of items they may not read: not who holds
--     them, not their state (the answer a missing item gets); an agent
--     whose offer expired is told so;
--   * transfer_to_agent by an agent hands over only to an eligible
--     colleague, as a normal offer; by a supervisor or an admin it is a
--     forced assignment, whose timeout does not make the agent inactive;
--   * omniroute_supervisor acts on any item and reads everything, but
--     configures nothing and does not tick;
--   * tick() refuses an infinite time, and workstream intervals are
--     bounded (at most 366 days) so that a time plus one never overflows.
BEGIN;
SELECT plan(72);

SET LOCAL client_min_messages = warning;

-- 'SQLSTATE: message' of the error a statement raises, or 'no error' (its
-- effects are rolled back either way)
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END;
    RAISE EXCEPTION 'no error' USING ERRCODE = 'ZZ999';
EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
    RETURN 'no error';
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Configuration: agents log in as roles granted omniroute_agent; the
-- supervisor's role is granted omniroute_supervisor and is no agent
-- ---------------------------------------------------------------------------

SELECT has_role('omniroute_supervisor');
SELECT is((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'omniroute_supervisor'), false,
          'omniroute_supervisor is NOLOGIN');

CREATE ROLE lr_ann;  CREATE ROLE lr_bob;  CREATE ROLE lr_carl; CREATE ROLE lr_dora;
CREATE ROLE lr_eve;  CREATE ROLE lr_fay;  CREATE ROLE lr_sup;
GRANT omniroute_agent TO lr_ann, lr_bob, lr_carl, lr_dora, lr_eve, lr_fay;
GRANT omniroute_supervisor TO lr_sup;

INSERT INTO omniroute.presence (name, base) VALUES ('Chatting', 'available');
INSERT INTO omniroute.skill (name) VALUES ('french'), ('klingon');
INSERT INTO omniroute.queue (id, name, priority) VALUES
    (7701, 'lr: cases', 0),         -- pick
    (7702, 'lr: chat', 0),          -- push
    (7703, 'lr: back office', 0),   -- pick, Carl only
    (7704, 'lr: night', 0),         -- push, Dora only (offline)
    (7705, 'lr: solo', 0),          -- push, Ann only
    (7706, 'lr: urgent cases', 5);  -- pick, served before 7701
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (7701, 'lr Ann', 10, 'available', 'lr_ann'),
    (7702, 'lr Bob', 10, 'available', 'lr_bob'),
    (7703, 'lr Carl', 0, 'offline', 'lr_carl'),
    (7704, 'lr Dora', 10, 'offline', 'lr_dora'),
    (7705, 'lr Eve', 0, 'available', 'lr_eve'),
    (7706, 'lr Fay', 10, 'Chatting', 'lr_fay');
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES (7702, 'french', 9);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (7701, 7701), (7701, 7702), (7701, 7704), (7701, 7705), (7701, 7706),
    (7702, 7701), (7702, 7702), (7702, 7704),
    (7703, 7703),
    (7704, 7704),
    (7705, 7701),
    (7706, 7701);
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id, skill_matching, allowed_presences) VALUES
    (7701, 'lr: cases', 'pick', 7701, 'exact', '{available,busy}'),
    (7702, 'lr: chat', 'push', 7702, 'exact', '{available}'),
    (7703, 'lr: closest cases', 'pick', 7701, 'closest', '{available,busy}'),
    (7704, 'lr: night', 'push', 7704, 'exact', '{available}'),
    (7705, 'lr: solo', 'push', 7705, 'exact', '{available}'),
    (7706, 'lr: urgent cases', 'pick', 7706, 'exact', '{available,busy}');

-- ---------------------------------------------------------------------------
-- Point 3: pick obeys the rules of push assignment, but for the mode
-- ---------------------------------------------------------------------------

-- open push items in Dora's queues: one nobody has the skills for, one
-- nobody is allowed (Dora is offline)
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES
    (7701, 7702, '{"french": 10}'),
    (7702, 7704, '{}');
-- a pick item that needs french 9
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES (7711, 7701, '{"french": 9}');
SELECT results_eq('SELECT id, state FROM omniroute.work_item WHERE id IN (7701, 7702, 7711) ORDER BY id',
                  $$VALUES (7701::bigint, 'open'::text), (7702, 'open'), (7711, 'open')$$,
                  'pick: two open push items and an open pick item');

SET LOCAL ROLE lr_dora;
SELECT is(pg_temp.err('SELECT omniroute.pick(7702)'),
          '42501: agent 7704 cannot pick work item 7702: it does not exist or is not open to you',
          'pick: an open push item of the agent''s own queue cannot be picked (as if it did not exist)');
SELECT is(pg_temp.err('SELECT omniroute.pick(7701)'),
          '42501: agent 7704 cannot pick work item 7701: it does not exist or is not open to you',
          'pick: nor one needing a skill the agent lacks');
SELECT is(pg_temp.err('SELECT omniroute.pick(7799)'),
          '42501: agent 7704 cannot pick work item 7799: it does not exist or is not open to you',
          'pick: an item that does not exist gets the same answer');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: an offline agent takes neither push item nor the pick item');
SELECT is(pg_temp.err('SELECT omniroute.pick(7711)'),
          '55000: agent 7704 cannot pick work item 7711: presence "offline" is not allowed by workstream "lr: cases" (allowed: Chatting, available, busy)',
          'pick: an offline agent is refused, the presence named (and the presences allowed, by name or base)');
RESET ROLE;

SET LOCAL ROLE lr_ann;
SELECT is(pg_temp.err('SELECT omniroute.pick(7711)'),
          '55000: agent 7701 cannot pick work item 7711: work item 7711 needs skill french at 9; agent 7701 has none',
          'pick: an agent without the skill is refused, the skill named');
SELECT is(omniroute.pick_next(), NULL::bigint, 'pick_next: nothing Ann may take');
RESET ROLE;
SELECT results_eq('SELECT id, state, agent_id FROM omniroute.work_item WHERE id IN (7701, 7702, 7711) ORDER BY id',
                  $$VALUES (7701::bigint, 'open'::text, NULL::bigint), (7702, 'open', NULL), (7711, 'open', NULL)$$,
                  'pick: the refused picks changed nothing');

SET LOCAL ROLE lr_bob;
SELECT is((omniroute.pick(7711)).state, 'active', 'pick: Bob, available with french 9, takes it');
RESET ROLE;

-- allowed by the base of a custom presence; closest matching holds nobody back for skills
INSERT INTO omniroute.work_item (id, workstream_id, required_skills) VALUES
    (7712, 7701, '{}'), (7713, 7703, '{"french": 9}');
SET LOCAL ROLE lr_fay;
SELECT is((omniroute.pick(7712)).state, 'active', 'pick: presence Chatting is allowed by its base, available');
RESET ROLE;
SET LOCAL ROLE lr_ann;
SELECT is((omniroute.pick(7713)).agent_id, 7701::bigint, 'pick: closest skill matching lets an agent without the skill pick');
RESET ROLE;

-- room is still checked (53400), and pick_next picks the best item Ann may have
INSERT INTO omniroute.work_item (id, workstream_id, priority, required_skills) VALUES
    (7714, 7701, 0, '{}'),
    (7715, 7701, 9, '{"french": 9}'),
    (7716, 7706, 0, '{"klingon": 1}'),
    (7717, 7701, 3, '{}');
SET LOCAL ROLE lr_eve;
SELECT is(pg_temp.err('SELECT omniroute.pick(7714)'),
          '53400: agent 7705 cannot pick work item 7714: it needs 1 free unit(s), agent 7705 has 0',
          'pick: without room the pick is refused (53400)');
RESET ROLE;
SET LOCAL ROLE lr_ann;
SELECT is(omniroute.pick_next(), 7717::bigint,
          'pick_next: the best item Ann may take (not the urgent klingon one, not french 9 at priority 9)');
RESET ROLE;

-- the declined list: Ann hands an item she picked to Bob, Bob rejects it;
-- it is open again, and Bob may not pick it back
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7718, 7701);
SET LOCAL ROLE lr_ann;
SELECT is((omniroute.pick(7718)).state, 'active', 'declined: Ann picks 7718');
SELECT is((omniroute.transfer_to_agent(7718, 7702)).state, 'offered', 'declined: Ann hands 7718 to Bob: an offer');
RESET ROLE;
SET LOCAL ROLE lr_bob;
SELECT is((omniroute.reject(7718)).state, 'open', 'declined: Bob rejects it; a pick item is open again');
SELECT is(pg_temp.err('SELECT omniroute.pick(7718)'),
          '55000: agent 7702 cannot pick work item 7718: agent 7702 rejected or missed work item 7718 before',
          'declined: Bob cannot pick the item he just rejected');
SELECT is(omniroute.pick_next(), 7715::bigint, 'declined: pick_next gives him the best item he may take, not 7718');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Point 8: what an agent is told about items that are not theirs
-- ---------------------------------------------------------------------------

SET LOCAL ROLE lr_ann;
SELECT is(pg_temp.err('SELECT omniroute.accept(7711)'),
          '42501: agent 7701 cannot accept work item 7711: it does not exist or is not yours',
          'not yours: accepting Bob''s item names neither Bob nor its state');
SELECT is(pg_temp.err('SELECT omniroute.accept(7799)'),
          '42501: agent 7701 cannot accept work item 7799: it does not exist or is not yours',
          'not yours: the same answer for an item that does not exist');
SELECT is(pg_temp.err('SELECT omniroute.close(7711)'),
          '42501: agent 7701 cannot close work item 7711: it does not exist or is not yours',
          'not yours: closing Bob''s item, the same');
SELECT is(pg_temp.err('SELECT omniroute.pick(7711)'),
          '42501: agent 7701 cannot pick work item 7711: it does not exist or is not open to you',
          'not yours: picking Bob''s active item does not say it is active');
SELECT is(pg_temp.err('SELECT omniroute.close(7714)'),
          '42501: agent 7701 cannot close work item 7714: it is not yours',
          'not yours: an open item she may read is named as not hers');
SELECT is(pg_temp.err('SELECT omniroute.set_presence(7702::bigint, ''away'')'),
          '42501: agent 7701 cannot set the presence of agent 7702',
          'not yours: another agent''s presence');
RESET ROLE;

-- an offer that expired: the item is open again, and Ann is told so
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7721, 7705);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 7721), 7701::bigint, 'expired: 7721 is offered to Ann');
SELECT ok(omniroute.tick(now() + interval '3 minutes') >= 1, 'expired: tick() after the offer timeout');
SELECT results_eq('SELECT w.state, w.agent_id, a.presence FROM omniroute.work_item w, omniroute.agent a WHERE w.id = 7721 AND a.id = 7701',
                  $$VALUES ('open'::text, NULL::bigint, 'inactive'::text)$$,
                  'expired: 7721 is open, Ann inactive');
SET LOCAL ROLE lr_ann;
SELECT is(pg_temp.err('SELECT omniroute.accept(7721)'),
          '55000: work item 7721 is open: your offer expired',
          'expired: accepting it says it is open and why (not "belongs to agent 0")');
SELECT lives_ok($$SELECT omniroute.set_presence('available')$$, 'expired: Ann is back');
RESET ROLE;
-- when it was offered to another since: no longer hers, not saying to whom
SELECT is((omniroute.close(7721)).state, 'closed', 'expired: 7721 closed');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7722, 7702);
SELECT results_eq('SELECT state FROM omniroute.work_item WHERE id = 7722', $$VALUES ('offered'::text)$$,
                  'expired: 7722 is offered to Ann or Bob');
SELECT ok(set_config('lr.first', (SELECT agent_id::text FROM omniroute.work_item WHERE id = 7722), true) IS NOT NULL,
          'expired: (noted who got it first)');
SELECT ok(omniroute.tick(now() + interval '3 minutes') >= 1, 'expired: its offer times out');
SELECT results_eq($$SELECT state, agent_id <> current_setting('lr.first')::bigint FROM omniroute.work_item WHERE id = 7722$$,
                  $$VALUES ('offered'::text, true)$$, 'expired: 7722 is offered to the other one');
SELECT ok(set_config('role', (SELECT login_role FROM omniroute.agent WHERE id = current_setting('lr.first')::bigint), true) IS NOT NULL,
          'expired: (as that agent)');
SELECT is(pg_temp.err('SELECT omniroute.accept(7722)'),
          '55000: work item 7722 is no longer yours: your offer expired',
          'expired: accepting it after it went to another says only that it is no longer theirs');
RESET ROLE;
SELECT lives_ok($$SELECT omniroute.set_presence(7701::bigint, 'available'), omniroute.set_presence(7702::bigint, 'available'),
                         omniroute.close(7722)$$, 'expired: both back, 7722 closed');

-- ---------------------------------------------------------------------------
-- Point 6: transfer_to_agent by an agent (a handover) and by a supervisor
-- (a forced assignment)
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7731, 7702);
-- as an admin: Ann holds it
SELECT lives_ok('SELECT omniroute.transfer_to_agent(7731, 7701) FROM omniroute.work_item WHERE id = 7731 AND agent_id <> 7701',
                'handover: 7731 offered to Ann');
SELECT is((omniroute.accept(7731)).agent_id, 7701::bigint, 'handover: Ann holds 7731');
SET LOCAL ROLE lr_ann;
SELECT is(pg_temp.err('SELECT omniroute.transfer_to_agent(7731, 7703)'),
          '55000: cannot transfer work item 7731 to agent 7703: not a member of its queue 7702',
          'handover: not to an agent outside the item''s queue');
SELECT is(pg_temp.err('SELECT omniroute.transfer_to_agent(7731, 7704)'),
          '55000: cannot transfer work item 7731 to agent 7704: presence "offline" is not allowed by workstream "lr: chat" (allowed: Chatting, available)',
          'handover: not to an agent whose presence the workstream does not allow');
RESET ROLE;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (7702, 7705);
SET LOCAL ROLE lr_ann;
SELECT is(pg_temp.err('SELECT omniroute.transfer_to_agent(7731, 7705)'),
          '53400: cannot transfer work item 7731 to agent 7705: it needs 1 free unit(s), agent 7705 has 0',
          'handover: not to an agent without room');
SELECT is(pg_temp.err('SELECT omniroute.transfer_to_agent(7711, 7701)'),
          '42501: agent 7701 cannot transfer work item 7711: it does not exist or is not yours',
          'handover: not an item she does not hold');
SELECT results_eq('SELECT (r).state, (r).agent_id FROM (SELECT omniroute.transfer_to_agent(7731, 7702) AS r) s',
                  $$VALUES ('offered'::text, 7702::bigint)$$,
                  'handover: to Bob, eligible: offered to him');
RESET ROLE;
SELECT results_eq('SELECT id, used_units FROM omniroute.agent WHERE id IN (7701, 7702) ORDER BY id',
                  $$VALUES (7701::bigint, 2), (7702::bigint, 3)$$,
                  'handover: Ann''s unit released, Bob''s reserved (7713 and 7717 with Ann; 7711, 7715 and 7731 with Bob)');
SELECT results_eq('SELECT 1 FROM omniroute.work_item_event WHERE work_item_id = 7731 AND event = ''transferred'' AND (detail->>''forced'')::bool = false',
                  $$VALUES (1)$$, 'handover: the event says it was not forced');
-- a handover is a normal offer: missing it makes Bob inactive
SELECT ok(omniroute.tick(now() + interval '3 minutes') >= 1, 'handover: Bob lets it time out');
SELECT is((SELECT presence FROM omniroute.agent WHERE id = 7702), 'inactive', 'handover: Bob missed an offer: inactive');

-- the supervisor forces it on Carl: not a member, offline, no capacity
SET LOCAL ROLE lr_sup;
SELECT lives_ok($$SELECT omniroute.set_presence(7702::bigint, 'available')$$,
                'supervisor: sets another agent''s presence');
SELECT results_eq('SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.transfer_to_agent(7731, 7703) AS r) s',
                  $$VALUES ('offered'::text, 7703::bigint, 1)$$,
                  'supervisor: transfer_to_agent forces the item on anyone (not a member, offline, no capacity)');
SELECT is((SELECT diagnostics->'assignment'->>'method' FROM omniroute.work_item WHERE id = 7731), 'forced',
          'supervisor: diagnostics say the assignment was forced');
SELECT is((SELECT count(*) FROM omniroute.work_item), 13::bigint, 'supervisor: reads every item');
SELECT ok((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 7731) >= 5, 'supervisor: reads every event');
SELECT ok((SELECT count(*) FROM omniroute.queue_stats WHERE queue_id = 7702) = 1, 'supervisor: reads the reporting views');
SELECT matches(pg_temp.err('SELECT omniroute.tick()'), '^42501: ', 'supervisor: does not tick');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.queue (name) VALUES ('lr: rogue')$$), '^42501: ',
               'supervisor: does not configure (queues)');
SELECT matches(pg_temp.err($$UPDATE omniroute.agent SET capacity = 100 WHERE id = 7703$$), '^42501: ',
               'supervisor: does not configure (agents)');
SELECT matches(pg_temp.err($$UPDATE omniroute.work_item SET priority = 9 WHERE id = 7731$$), '^42501: ',
               'supervisor: does not write items directly');
RESET ROLE;
-- a forced assignment that times out does not make its agent inactive
SELECT ok(omniroute.tick(now() + interval '3 minutes') >= 1, 'forced: Carl lets it time out');
SELECT results_eq($$SELECT a.presence, w.agent_id IS DISTINCT FROM 7703 FROM omniroute.agent a, omniroute.work_item w
                     WHERE a.id = 7703 AND w.id = 7731$$,
                  $$VALUES ('offline'::text, true)$$,
                  'forced: the missed item went on, Carl''s presence is still offline');
SET LOCAL ROLE lr_sup;
SELECT is((omniroute.close(7731, 'handled elsewhere')).state, 'closed', 'supervisor: closes any item');
SELECT is(pg_temp.err('SELECT omniroute.accept(7799)'), '42704: work item 7799 does not exist',
          'supervisor: a missing item is named as missing');
RESET ROLE;

-- ---------------------------------------------------------------------------
-- Point 8: time is finite, intervals are bounded
-- ---------------------------------------------------------------------------

SELECT is(pg_temp.err($$SELECT omniroute.tick('infinity')$$),
          '22023: omniroute.tick() cannot run at infinity', 'tick(''infinity'') is refused');
SELECT is(pg_temp.err($$SELECT omniroute.tick('-infinity')$$),
          '22023: omniroute.tick() cannot run at -infinity', 'tick(''-infinity'') is refused');
SELECT matches(pg_temp.err($$SELECT omniroute.tick('294276-12-01')$$), '^22008: ',
               'tick() at the end of the timestamp range is refused (22008)');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.workstream (name, fallback_queue_id, offer_timeout)
                             VALUES ('lr: forever', 7702, '178000000 years')$$), '^23514: ',
               'an offer_timeout of 178000000 years is refused');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.workstream (name, fallback_queue_id, auto_close_after, wrap_up_block)
                             VALUES ('lr: long', 7702, '367 days', '1 hour')$$), '^23514: ',
               'an auto_close_after over 366 days is refused');
SELECT matches(pg_temp.err($$INSERT INTO omniroute.workstream (name, fallback_queue_id, wrap_up_block)
                             VALUES ('lr: long', 7702, '13 months')$$), '^23514: ',
               'a wrap_up_block over 366 days is refused');
SELECT lives_ok($$INSERT INTO omniroute.workstream (name, fallback_queue_id, offer_timeout, auto_close_after, wrap_up_block)
                  VALUES ('lr: a year', 7702, '1 year', '365 days', '366 days')$$,
                'a year is accepted, however it is written');

SELECT * FROM finish();
ROLLBACK;
