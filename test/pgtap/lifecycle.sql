-- test/pgtap/lifecycle.sql — the lifecycle functions and the serving of
-- waiting work in the transaction that frees capacity (README, "Functions"):
-- accept, reject, wait, resume, wrap_up, close, transfer,
-- transfer_to_agent, escalate, set_presence, keep_same_agent on insert,
-- the events of one item's life, and who may call what.
--
-- Every transition is tried where it is allowed and where it is refused
-- (SQLSTATE 55000, the message naming the current state).
--
-- As in routing.sql, every scenario has its own queues and agents, so
-- capacity freed in one scenario can never serve another's work.
BEGIN;
SELECT plan(226);

SET LOCAL client_min_messages = warning;

INSERT INTO omniroute.presence (name, base) VALUES ('On call', 'busy');

-- 'SQLSTATE: message' of the error a statement raises, or 'no error'.  The
-- statement's effects are always rolled back, so a refusal that wrongly
-- succeeds does not disturb the scenarios that follow.
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END;
    -- it succeeded: undo it
    RAISE EXCEPTION 'no error' USING ERRCODE = 'ZZ999';
EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
    RETURN 'no error';
END
$$;

-- ---------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name, priority) VALUES
    (101, 'Accept', 0),
    (109, 'Nobody', 0),
    (102, 'Reject', 0),
    (103, 'Wait', 0),
    (104, 'Keep', 0),
    (105, 'Wrap block', 0),
    (106, 'Wrap zero', 0),
    (107, 'Wrap timed', 0),
    (108, 'Close', 0),
    (110, 'Serve low', 0),
    (111, 'Serve high', 5),
    (112, 'Serve many', 0),
    (113, 'Transfer from', 0),
    (114, 'Transfer to', 0),
    (115, 'Transfer nowhere', 0),
    (116, 'Escalate', 0),
    (117, 'Affinity', 0),
    (118, 'Presence', 0),
    (119, 'Presence update', 0),
    (120, 'Capacity raise', 0),
    (121, 'Join', 0),
    (122, 'Permissions', 0),
    (123, 'Wait serve', 0),
    (124, 'Custom presence', 0),
    (125, 'Bot affinity', 0);

INSERT INTO omniroute.agent (id, name, presence, capacity, is_bot) VALUES
    (1011, 'Accept agent', 'available', 10, false),
    (1021, 'Reject ten', 'available', 10, false),
    (1022, 'Reject five', 'available', 5, false),
    (1023, 'Reject three', 'available', 3, false),
    (1024, 'Reject newcomer', 'available', 1, false),
    (1031, 'Wait ten', 'available', 10, false),
    (1032, 'Wait five', 'available', 5, false),
    (1041, 'Keep one', 'available', 1, false),
    (1042, 'Keep newcomer', 'available', 10, false),
    (1051, 'Wrap block', 'available', 1, false),
    (1061, 'Wrap zero', 'available', 1, false),
    (1071, 'Wrap timed', 'available', 1, false),
    (1081, 'Closer', 'available', 10, false),
    (1101, 'Server', 'available', 1, false),
    (1102, 'Server many', 'available', 3, false),
    (1131, 'Transfer from', 'available', 10, false),
    (1141, 'Transfer to', 'available', 10, false),
    (1142, 'Transfer full', 'available', 0, false),
    (1151, 'Bot', 'available', 100, true),
    (1161, 'Escalation', 'available', 10, false),
    (1171, 'Affinity one', 'available', 1, false),
    (1172, 'Affinity newcomer', 'available', 10, false),
    (1181, 'Presence', 'offline', 10, false),
    (1182, 'Presence update', 'offline', 10, false),
    (1183, 'Capacity raise', 'available', 0, false),
    (1184, 'Joiner', 'available', 5, false),
    (1191, 'Role A', 'available', 1, false),
    (1192, 'Role B', 'available', 1, false),
    (1201, 'Wait serve', 'available', 1, false),
    (1202, 'Custom presence', 'offline', 5, false),
    (1203, 'Bot affinity one', 'available', 1, false),
    (1204, 'Bot affinity ten', 'available', 10, false);

INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (101, 1011);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (102, 1021), (102, 1022), (102, 1023);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (103, 1031), (103, 1032);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (104, 1041);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (105, 1051);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (106, 1061);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (107, 1071);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (108, 1081);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (110, 1101), (111, 1101);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (112, 1102);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (113, 1131);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (114, 1141);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (116, 1161);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (117, 1171);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (118, 1181);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (119, 1182);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (120, 1183);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (122, 1191), (122, 1192);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (123, 1201);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (124, 1202);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (125, 1203), (125, 1204);

INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES
    (209, 'Nobody', 109),
    (202, 'Reject', 102),
    (203, 'Wait', 103),
    (205, 'Wrap block', 105),
    (208, 'Close', 108),
    (210, 'Serve low', 110),
    (211, 'Serve high', 111),
    (212, 'Serve many', 112),
    (214, 'Transfer', 113),
    (218, 'Presence', 118),
    (219, 'Presence update', 119),
    (220, 'Capacity raise', 120),
    (221, 'Join', 121),
    (222, 'Permissions', 122),
    (223, 'Wait serve', 123),
    (224, 'Custom presence', 124);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, keep_same_agent) VALUES
    (201, 'Accept', 101, true),
    (204, 'Keep', 104, true),
    (216, 'Affinity', 117, true),
    (217, 'Affinity other', 117, true);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, wrap_up_block) VALUES
    (206, 'Wrap zero', 106, '0'),
    (207, 'Wrap timed', 107, '5 minutes');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_units) VALUES
    (213, 'Serve many, 3 units', 112, 3);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, bot_agent_id) VALUES
    (215, 'Bot first', 116, 1151);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, bot_agent_id, keep_same_agent) VALUES
    (225, 'Bot affinity', 125, 1151, true);

-- ---------------------------------------------------------------------------
-- accept: offered -> active, units stay reserved
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5101, 201);
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5101',
    $$VALUES ('offered'::text, 1011::bigint, 1)$$,
    'accept: the item starts offered to the queue''s agent');
SELECT is((omniroute.accept(5101)).state, 'active', 'accept() returns the item, now active');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units, assigned_at IS NOT NULL FROM omniroute.work_item WHERE id = 5101',
    $$VALUES ('active'::text, 1011::bigint, 1, true)$$,
    'accept: offered -> active, same agent, assigned_at set, units still reserved');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1011), 1,
          'accept: the agent''s used units are unchanged (still reserved)');
SELECT matches(pg_temp.err('SELECT omniroute.accept(5101)'), '^55000: .*\mactive\M',
               'accept refused from active (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.reject(5101)'), '^55000: .*\mactive\M',
               'reject refused from active (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.resume(5101)'), '^55000: .*\mactive\M',
               'resume refused from active (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.escalate(5101)'), '^55000: .*\mactive\M',
               'escalate refused for an item that is not with a bot (55000)');

-- ---------------------------------------------------------------------------
-- One item's whole life (keep_same_agent workstream), refusals in every
-- state, and its events in order
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5102, 201);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5102), 'offered', 'life: offered on insert');
SELECT matches(pg_temp.err('SELECT omniroute.wait(5102)'), '^55000: .*\moffered\M',
               'wait refused from offered (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.resume(5102)'), '^55000: .*\moffered\M',
               'resume refused from offered (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wrap_up(5102)'), '^55000: .*\moffered\M',
               'wrap_up refused from offered (55000, names the state)');

SELECT is((omniroute.accept(5102)).state, 'active', 'life: accepted');
SELECT is((omniroute.wait(5102)).state, 'waiting', 'life: waiting');
SELECT matches(pg_temp.err('SELECT omniroute.accept(5102)'), '^55000: .*\mwaiting\M',
               'accept refused from waiting (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.reject(5102)'), '^55000: .*\mwaiting\M',
               'reject refused from waiting (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wait(5102)'), '^55000: .*\mwaiting\M',
               'wait refused from waiting (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wrap_up(5102)'), '^55000: .*\mwaiting\M',
               'wrap_up refused from waiting (55000, names the state)');

SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.resume(5102) AS r) s',
    $$VALUES ('active'::text, 1011::bigint, 1)$$,
    'life: resumed with the same agent (keep_same_agent), units reserved again');
SELECT is((omniroute.wrap_up(5102)).state, 'wrap_up', 'life: wrap_up');
SELECT matches(pg_temp.err('SELECT omniroute.accept(5102)'), '^55000: .*\mwrap_up\M',
               'accept refused from wrap_up (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.reject(5102)'), '^55000: .*\mwrap_up\M',
               'reject refused from wrap_up (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wait(5102)'), '^55000: .*\mwrap_up\M',
               'wait refused from wrap_up (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.resume(5102)'), '^55000: .*\mwrap_up\M',
               'resume refused from wrap_up (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wrap_up(5102)'), '^55000: .*\mwrap_up\M',
               'wrap_up refused from wrap_up (55000, names the state)');

SELECT is((omniroute.close(5102, 'resolved')).state, 'closed', 'life: closed');
SELECT matches(pg_temp.err('SELECT omniroute.accept(5102)'), '^55000: .*\mclosed\M',
               'accept refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.reject(5102)'), '^55000: .*\mclosed\M',
               'reject refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wait(5102)'), '^55000: .*\mclosed\M',
               'wait refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.resume(5102)'), '^55000: .*\mclosed\M',
               'resume refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wrap_up(5102)'), '^55000: .*\mclosed\M',
               'wrap_up refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.close(5102)'), '^55000: .*\mclosed\M',
               'close refused from closed (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.close(5102, ''again'')'), '^55000: .*\mclosed\M',
               'close with a reason refused from closed too');
SELECT is((SELECT close_reason FROM omniroute.work_item WHERE id = 5102), 'resolved',
          'a refused close leaves the first close reason');

SELECT results_eq(
    'SELECT event, agent_id FROM omniroute.work_item_event WHERE work_item_id = 5102 ORDER BY id',
    $$VALUES ('offered'::text, 1011::bigint), ('accepted', 1011), ('waiting', 1011),
             ('resumed', 1011), ('wrap_up', 1011), ('closed', 1011)$$,
    'events of one life, in order: offered, accepted, waiting, resumed, wrap_up, closed');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 5102 AND queue_id IS DISTINCT FROM 101),
          0::bigint, 'every event of the life names the item''s queue');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1011), 1,
          'after the life only 5101 holds the agent''s capacity');

-- an open item refuses everything but close (and transfer)
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5109, 209);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5109), 'open', 'an item of a queue without members is open');
SELECT matches(pg_temp.err('SELECT omniroute.accept(5109)'), '^55000: .*\mopen\M',
               'accept refused from open (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.reject(5109)'), '^55000: .*\mopen\M',
               'reject refused from open (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wait(5109)'), '^55000: .*\mopen\M',
               'wait refused from open (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.resume(5109)'), '^55000: .*\mopen\M',
               'resume refused from open (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.wrap_up(5109)'), '^55000: .*\mopen\M',
               'wrap_up refused from open (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.escalate(5109)'), '^55000: .*\mopen\M',
               'escalate refused from open (55000, names the state)');

-- ---------------------------------------------------------------------------
-- reject: re-offered to the next eligible agent, never back to a rejecter
-- ---------------------------------------------------------------------------

-- free: 1021 = 10, 1022 = 5, 1023 = 3
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5201, 202);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5201), 1021::bigint, 'reject: first offered to 1021');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id FROM (SELECT omniroute.reject(5201) AS r) s',
    $$VALUES ('offered'::text, 1022::bigint)$$,
    'reject: re-offered to the next eligible agent (1022, most free units after 1021)');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units, declined_agents FROM omniroute.work_item WHERE id = 5201',
    $$VALUES ('offered'::text, 1022::bigint, 1, '{1021}'::bigint[])$$,
    'reject: the re-offer reserves the new agent''s units; declined_agents has the rejecter');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1021, 1022, 1023) ORDER BY id',
    $$VALUES (1021::bigint, 0), (1022, 1), (1023, 0)$$,
    'reject: the rejecting agent''s units are released');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE agent_id = 1021), 10,
          'reject: the rejecter''s membership shows the released units');
SELECT is((omniroute.reject(5201)).agent_id, 1023::bigint, 'reject again: offered to the last one left, 1023');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.reject(5201) AS r) s',
    $$VALUES ('open'::text, NULL::bigint, 0)$$,
    'reject by the last eligible agent: the item is open');
SELECT is((SELECT declined_agents FROM omniroute.work_item WHERE id = 5201), '{1021,1022,1023}'::bigint[],
          'declined_agents lists every rejecter, in order');
SELECT is((SELECT sum(used_units) FROM omniroute.agent WHERE id IN (1021, 1022, 1023)), 0::bigint,
          'after three rejects nobody holds capacity for it');
SELECT is(omniroute.serve_agent(1021), 0, 'serve_agent() does not give a rejecter the item back');
-- the rejecter frees capacity by closing other work: still never offered back
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5202, 202);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5202), 1021::bigint,
          'new work still goes to the rejecter (1021)');
SELECT is((omniroute.accept(5202)).state, 'active', 'the rejecter accepts the new item');
SELECT is((omniroute.close(5202)).state, 'closed', 'the rejecter closes it, freeing capacity');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5201',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'the rejected item is not served to the agent who rejected it when they free capacity');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1021), 0, 'the rejecter holds nothing');
-- a newcomer joins the queue: the item is served to them
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (102, 1024);
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5201',
    $$VALUES ('offered'::text, 1024::bigint, 1)$$,
    'an agent joining the queue is served the rejected item at once');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id FROM (SELECT omniroute.transfer(5201, 102) AS r) s',
    $$VALUES ('offered'::text, 1024::bigint)$$,
    'transfer back into the same queue: re-routed, but never to an agent who rejected it');
SELECT is((SELECT declined_agents FROM omniroute.work_item WHERE id = 5201), '{1021,1022,1023}'::bigint[],
          'a transfer keeps declined_agents');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 5201 AND event = 'rejected'),
          3::bigint, 'one rejected event per reject');
SELECT is((SELECT array_agg(agent_id ORDER BY id) FROM omniroute.work_item_event
            WHERE work_item_id = 5201 AND event = 'offered'),
          '{1021,1022,1023,1024,1024}'::bigint[], 'offered events name each agent in turn');

-- ---------------------------------------------------------------------------
-- wait and resume
-- ---------------------------------------------------------------------------

-- free: 1031 = 10, 1032 = 5
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5301, 203);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5302, 203);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE id IN (5301, 5302) ORDER BY id',
    $$VALUES (5301::bigint, 1031::bigint), (5302, 1031)$$,
    'wait: both items go to 1031');
SELECT is((omniroute.accept(5301)).state, 'active', 'wait: 5301 accepted');
SELECT is((omniroute.accept(5302)).state, 'active', 'wait: 5302 accepted');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1031), 2, 'two active items use two units');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.wait(5301) AS r) s',
    $$VALUES ('waiting'::text, 1031::bigint, 0)$$,
    'wait: active -> waiting, the agent kept as owner, nothing reserved');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1031), 1, 'wait: the agent''s used units drop');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE agent_id = 1031), 9,
          'wait: the membership shows the released unit');
SELECT is((omniroute.wait(5302)).state, 'waiting', 'wait: 5302 waiting too');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1031), 0, 'both waiting: nothing used');
-- without keep_same_agent, resume re-routes: with 1031 away, to 1032
SELECT lives_ok('SELECT omniroute.set_presence(1031, ''away'')', 'the owner goes away');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.resume(5301) AS r) s',
    $$VALUES ('offered'::text, 1032::bigint, 1)$$,
    'resume without keep_same_agent: re-routed, offered to the best eligible agent');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1031, 1032) ORDER BY id',
    $$VALUES (1031::bigint, 0), (1032, 1)$$,
    'resume re-routed: the new agent''s units are reserved');
SELECT lives_ok('SELECT omniroute.set_presence(1032, ''away'')', 'the other agent goes away too');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.resume(5302) AS r) s',
    $$VALUES ('open'::text, NULL::bigint, 0)$$,
    'resume without keep_same_agent and nobody eligible: the item is open');
-- coming back: the open item is served at once
SELECT lives_ok('SELECT omniroute.set_presence(1031, ''available'')', 'the first agent comes back');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5302',
    $$VALUES ('offered'::text, 1031::bigint)$$,
    'an agent becoming available is served the open item');

-- wait frees the unit: waiting work is served to the agent at once
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6501, 223);
SELECT is((omniroute.accept(6501)).agent_id, 1201::bigint, 'wait serve: 1201 busy with 6501');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6502, 223);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6502), 'open', 'wait serve: 6502 waits, 1201 is full');
SELECT is((omniroute.wait(6501)).state, 'waiting', 'wait serve: 6501 on hold');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 6502',
    $$VALUES ('offered'::text, 1201::bigint, 1)$$,
    'wait frees the unit and the waiting item is served to the agent in the same transaction');

-- with keep_same_agent: the same agent, even full and away
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5401, 204);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5401), 1041::bigint, 'keep: 5401 to 1041');
SELECT is((omniroute.accept(5401)).state, 'active', 'keep: accepted');
SELECT is((omniroute.wait(5401)).state, 'waiting', 'keep: waiting');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1041), 0, 'keep: the waiting item uses nothing');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5402, 204);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5402), 1041::bigint,
          'keep: the freed unit takes 5402, 1041 is full');
SELECT lives_ok('SELECT omniroute.set_presence(1041, ''away'')', 'keep: 1041 goes away');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (104, 1042);
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.resume(5401) AS r) s',
    $$VALUES ('active'::text, 1041::bigint, 1)$$,
    'resume with keep_same_agent: active with the same agent although full and away');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1041), 2,
          'keep: the units are reserved beyond capacity');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1042), 0, 'keep: the available newcomer got nothing');
SELECT is((SELECT free_units FROM omniroute.queue_member WHERE agent_id = 1041), -1,
          'keep: the membership mirrors capacity - used_units (-1)');

-- ---------------------------------------------------------------------------
-- wrap_up and wrap_up_block
-- ---------------------------------------------------------------------------

-- NULL: blocked until close
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5501, 205);
SELECT is((omniroute.accept(5501)).state, 'active', 'wrap NULL: accepted');
SELECT results_eq(
    'SELECT (r).state, (r).reserved_units, (r).wrap_up_until FROM (SELECT omniroute.wrap_up(5501) AS r) s',
    $$VALUES ('wrap_up'::text, 1, NULL::timestamptz)$$,
    'wrap_up_block NULL: wrap_up keeps the units, no wrap_up_until');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1051), 1, 'wrap NULL: capacity still blocked');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5502, 205);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5502), 'open', 'wrap NULL: new work waits');
SELECT is((omniroute.close(5501)).state, 'closed', 'wrap NULL: close after wrap-up');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5502',
    $$VALUES ('offered'::text, 1051::bigint)$$,
    'wrap NULL: the close frees the capacity and the waiting item is served');

-- '0': released at once, waiting work served at once
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5601, 206);
SELECT is((omniroute.accept(5601)).state, 'active', 'wrap 0: accepted');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5602, 206);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5602), 'open', 'wrap 0: new work waits');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.wrap_up(5601) AS r) s',
    $$VALUES ('wrap_up'::text, 1061::bigint, 0)$$,
    'wrap_up_block 0: wrap_up releases the units at once');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 5602',
    $$VALUES ('offered'::text, 1061::bigint, 1)$$,
    'wrap 0: the waiting item is served to the agent in the same transaction');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1061), 1, 'wrap 0: only the served item uses capacity');
SELECT is((omniroute.close(5601)).state, 'closed', 'wrap 0: the wrapped-up item closes');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1061), 1,
          'wrap 0: closing after the release gives nothing back twice (the served item still holds its unit)');

-- an interval: blocked, wrap_up_until set (tick.sql releases it)
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5701, 207);
SELECT is((omniroute.accept(5701)).state, 'active', 'wrap 5 min: accepted');
SELECT is((omniroute.wrap_up(5701)).reserved_units, 1, 'wrap_up_block 5 minutes: the units stay blocked');
SELECT ok((SELECT wrap_up_until >= now() + interval '5 minutes'
                  AND wrap_up_until <= clock_timestamp() + interval '5 minutes'
             FROM omniroute.work_item WHERE id = 5701),
          'wrap_up_block 5 minutes: wrap_up_until is five minutes after the wrap-up');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5702, 207);
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 5702',
    $$VALUES ('open'::text, NULL::bigint)$$,
    'wrap 5 min: blocked capacity takes no new work');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1071), 1, 'wrap 5 min: capacity still used');

-- ---------------------------------------------------------------------------
-- close from every state
-- ---------------------------------------------------------------------------

SELECT results_eq(
    'SELECT (r).state, (r).close_reason, (r).closed_at IS NOT NULL FROM (SELECT omniroute.close(5109, ''spam'') AS r) s',
    $$VALUES ('closed'::text, 'spam'::text, true)$$,
    'close from open: closed, closed_at, close_reason');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5801, 208), (5802, 208), (5803, 208), (5804, 208);
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE id BETWEEN 5801 AND 5804 AND agent_id = 1081 AND state = 'offered'),
          4::bigint, 'close: four items offered to 1081');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1081), 4, 'close: four units used');
SELECT results_eq(
    'SELECT (r).state, (r).close_reason, (r).reserved_units, (r).closed_at IS NOT NULL FROM (SELECT omniroute.close(5801, ''abandoned'') AS r) s',
    $$VALUES ('closed'::text, 'abandoned'::text, 0, true)$$,
    'close from offered');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1081), 3, 'close from offered releases the unit');
SELECT is((omniroute.accept(5802)).state, 'active', 'close: 5802 accepted');
SELECT results_eq(
    'SELECT (r).state, (r).close_reason, (r).closed_at IS NOT NULL FROM (SELECT omniroute.close(5802, ''done'') AS r) s',
    $$VALUES ('closed'::text, 'done'::text, true)$$,
    'close from active');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1081), 2, 'close from active releases the unit');
SELECT is((omniroute.accept(5803)).state, 'active', 'close: 5803 accepted');
SELECT is((omniroute.wait(5803)).state, 'waiting', 'close: 5803 waiting');
SELECT results_eq(
    'SELECT (r).state, (r).close_reason, (r).closed_at IS NOT NULL FROM (SELECT omniroute.close(5803) AS r) s',
    $$VALUES ('closed'::text, NULL::text, true)$$,
    'close from waiting (no reason: close_reason NULL)');
SELECT is((omniroute.accept(5804)).state, 'active', 'close: 5804 accepted');
SELECT is((omniroute.wrap_up(5804)).state, 'wrap_up', 'close: 5804 in wrap-up');
SELECT results_eq(
    'SELECT (r).state, (r).close_reason, (r).closed_at IS NOT NULL FROM (SELECT omniroute.close(5804, ''wrapped'') AS r) s',
    $$VALUES ('closed'::text, 'wrapped'::text, true)$$,
    'close from wrap_up');
SELECT results_eq(
    'SELECT a.used_units, m.free_units FROM omniroute.agent a JOIN omniroute.queue_member m ON m.agent_id = a.id WHERE a.id = 1081',
    $$VALUES (0, 10)$$,
    'after closing everything the agent''s capacity is all free, and mirrored');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id BETWEEN 5801 AND 5804 AND event = 'closed'),
          4::bigint, 'one closed event per close');

-- ---------------------------------------------------------------------------
-- Closing serves the best open item of the agent's queues: queue priority,
-- then item priority, then age
-- ---------------------------------------------------------------------------

-- 1101 (1 unit) is in 110 'Serve low' (priority 0) and 111 'Serve high' (priority 5)
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5901, 210);
SELECT is((omniroute.accept(5901)).agent_id, 1101::bigint, 'serve: 1101 busy with 5901');
INSERT INTO omniroute.work_item (id, workstream_id, priority, created_at) VALUES
    (5911, 210, 0, now() - interval '3 hours'),    -- low queue, oldest of all
    (5912, 210, 9, now()),                         -- low queue, most urgent of all
    (5913, 211, 0, now() - interval '10 minutes'), -- high queue
    (5914, 211, 0, now() - interval '1 hour'),     -- high queue, older than 5913
    (5915, 211, 3, now());                         -- high queue, most urgent there
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE id BETWEEN 5911 AND 5915 AND state = 'open'), 5::bigint,
          'serve: five items wait while 1101 is full');
SELECT is((omniroute.close(5901)).state, 'closed', 'serve: 5901 closed');
SELECT results_eq(
    $$SELECT id, state FROM omniroute.work_item WHERE id BETWEEN 5911 AND 5915 AND state <> 'open' ORDER BY id$$,
    $$VALUES (5915::bigint, 'offered'::text)$$,
    'serve: first the higher-priority queue''s most urgent item (5915), in the closing transaction');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 5915), 1101::bigint, 'serve: 5915 offered to 1101');
SELECT is((omniroute.close(5915)).state, 'closed', 'serve: 5915 closed');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5914), 'offered',
          'serve: then, at equal priority, the oldest item of that queue (5914)');
SELECT is((omniroute.close(5914)).state, 'closed', 'serve: 5914 closed');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5913), 'offered',
          'serve: then the last of the high-priority queue (5913), before more urgent or older items of the low one');
SELECT is((omniroute.close(5913)).state, 'closed', 'serve: 5913 closed');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5912), 'offered',
          'serve: then in the low queue the most urgent item (5912) before the oldest');
SELECT is((omniroute.close(5912)).state, 'closed', 'serve: 5912 closed');
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 5911), 'offered', 'serve: finally 5911');
SELECT is((SELECT array_agg(event ORDER BY id) FROM omniroute.work_item_event WHERE work_item_id = 5911),
          '{queued,offered}'::text[], 'serve: a served item''s events are queued, then offered');

-- one agent freed of several units takes several items
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (5920, 213);
SELECT results_eq(
    'SELECT agent_id, reserved_units FROM omniroute.work_item WHERE id = 5920',
    $$VALUES (1102::bigint, 3)$$,
    'serve many: a 3-unit item fills 1102');
INSERT INTO omniroute.work_item (id, workstream_id, priority, created_at) VALUES
    (5924, 212, 0, now() - interval '1 hour'),
    (5925, 212, 2, now()),
    (5926, 212, 0, now() - interval '2 hours'),
    (5927, 212, 0, now());
SELECT is((omniroute.close(5920)).state, 'closed', 'serve many: the 3-unit item closes');
SELECT results_eq(
    'SELECT id, state, agent_id FROM omniroute.work_item WHERE id BETWEEN 5924 AND 5927 ORDER BY id',
    $$VALUES (5924::bigint, 'offered'::text, 1102::bigint), (5925, 'offered', 1102),
             (5926, 'offered', 1102), (5927, 'open', NULL)$$,
    'serve many: three freed units take the three best items (priority, then age); the newest waits');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1102), 3, 'serve many: all three units used again');

-- ---------------------------------------------------------------------------
-- transfer(id, queue)
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6001, 214);
SELECT results_eq(
    'SELECT queue_id, agent_id FROM omniroute.work_item WHERE id = 6001',
    $$VALUES (113::bigint, 1131::bigint)$$,
    'transfer: 6001 with 1131 in queue 113');
SELECT is((omniroute.accept(6001)).state, 'active', 'transfer: accepted');
SELECT results_eq(
    'SELECT (r).state, (r).queue_id, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.transfer(6001, 114) AS r) s',
    $$VALUES ('offered'::text, 114::bigint, 1141::bigint, 1)$$,
    'transfer to a queue: re-routed there, offered to its member');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1131, 1141) ORDER BY id',
    $$VALUES (1131::bigint, 0), (1141, 1)$$,
    'transfer: the old agent''s units released, the new one''s reserved');
SELECT results_eq(
    'SELECT (r).state, (r).queue_id, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.transfer(6001, 115) AS r) s',
    $$VALUES ('open'::text, 115::bigint, NULL::bigint, 0)$$,
    'transfer to a queue with nobody eligible: open there');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1141), 0, 'transfer: the offered agent''s unit released');
SELECT matches(pg_temp.err('SELECT omniroute.transfer(6001, 99999)'), '^23503: ',
               'transfer to an unknown queue is refused (23503)');
SELECT is((omniroute.close(6001)).state, 'closed', 'transfer: 6001 closed');
SELECT matches(pg_temp.err('SELECT omniroute.transfer(6001, 114)'), '^55000: .*\mclosed\M',
               'transfer of a closed item is refused (55000, names the state)');

-- a waiting item is transferred away from its owner: nothing to release
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6003, 214);
SELECT is((omniroute.accept(6003)).agent_id, 1131::bigint, 'transfer waiting: 6003 with 1131');
SELECT is((omniroute.wait(6003)).state, 'waiting', 'transfer waiting: 6003 on hold');
SELECT results_eq(
    'SELECT (r).state, (r).queue_id, (r).agent_id FROM (SELECT omniroute.transfer(6003, 114) AS r) s',
    $$VALUES ('offered'::text, 114::bigint, 1141::bigint)$$,
    'transfer of a waiting item: re-routed into the new queue');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1131, 1141) ORDER BY id',
    $$VALUES (1131::bigint, 0), (1141, 1)$$,
    'transfer of a waiting item: the old owner held nothing and gives nothing back');
SELECT is((omniroute.close(6003)).state, 'closed', 'transfer waiting: 6003 closed');

-- transfer_to_agent(id, agent)
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6002, 214);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6002), 1131::bigint, 'transfer_to_agent: 6002 with 1131');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.transfer_to_agent(6002, 1141) AS r) s',
    $$VALUES ('offered'::text, 1141::bigint, 1)$$,
    'transfer_to_agent: offered to that agent, units reserved');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1131, 1141) ORDER BY id',
    $$VALUES (1131::bigint, 0), (1141, 1)$$,
    'transfer_to_agent: the old agent released, the new one reserved');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.transfer_to_agent(6002, 1142) AS r) s',
    $$VALUES ('offered'::text, 1142::bigint, 1)$$,
    'transfer_to_agent: offered even to an agent with no free capacity');
SELECT results_eq(
    'SELECT id, used_units FROM omniroute.agent WHERE id IN (1141, 1142) ORDER BY id',
    $$VALUES (1141::bigint, 0), (1142, 1)$$,
    'transfer_to_agent: units reserved over capacity (1 of 0), the previous agent released');
SELECT matches(pg_temp.err('SELECT omniroute.transfer_to_agent(6002, 99999)'), '^23503: ',
               'transfer_to_agent to an unknown agent is refused (23503)');
SELECT matches(pg_temp.err('SELECT omniroute.transfer_to_agent(6002, 1151)'), '^22023: ',
               'transfer_to_agent to a bot is refused (22023)');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6002), 1142::bigint, 'refused transfers change nothing');

-- ---------------------------------------------------------------------------
-- escalate: a bot first, then a human
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6101, 215);
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 6101',
    $$VALUES ('active'::text, 1151::bigint, 0)$$,
    'a push workstream with a bot gives new items to the bot: active, no capacity');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1161), 0, 'the human got nothing yet');
SELECT results_eq(
    'SELECT (r).state, (r).agent_id, (r).reserved_units FROM (SELECT omniroute.escalate(6101) AS r) s',
    $$VALUES ('offered'::text, 1161::bigint, 1)$$,
    'escalate: routed to a human, offered, units reserved');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1161), 1, 'escalate: the human''s unit is used');
SELECT matches(pg_temp.err('SELECT omniroute.escalate(6101)'), '^55000: .*\moffered\M',
               'escalate of an item no longer with the bot is refused (55000, names the state)');
SELECT matches(pg_temp.err('SELECT omniroute.escalate(6002)'), '^55000: ',
               'escalate of an item in a workstream without a bot is refused (55000)');

-- escalate routes as an insert would after the bot, affinity first: with
-- keep_same_agent the conversation goes back to the human who handled it,
-- whatever their presence
INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6701, 225, 'chat-1');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6701), 1151::bigint, 'bot affinity: chat-1 first with the bot');
SELECT is((omniroute.escalate(6701)).agent_id, 1204::bigint, 'bot affinity: escalated to 1204 (most free units)');
SELECT is((omniroute.accept(6701)).state, 'active', 'bot affinity: 1204 handles chat-1');
SELECT lives_ok('SELECT omniroute.set_presence(1204, ''away'')', 'bot affinity: 1204 goes away');
INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6702, 225, 'chat-1');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 6702',
    $$VALUES ('active'::text, 1151::bigint, 0)$$,
    'bot affinity: the bot still takes the new item of chat-1 first (the bot before affinity)');
-- escalate() routes as an insert would after the bot: affinity first, so
-- chat-1 goes to the human who handled it, 1204.
SELECT results_eq(
    'SELECT (r).state, (r).agent_id FROM (SELECT omniroute.escalate(6702) AS r) s',
    $$VALUES ('offered'::text, 1204::bigint)$$,
    'escalate with keep_same_agent: to the human who handled the conversation, although away');

-- ---------------------------------------------------------------------------
-- keep_same_agent on insert
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6201, 216, 'conv-A');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6201), 1171::bigint, 'affinity: conv-A first with 1171');
SELECT is((omniroute.accept(6201)).state, 'active', 'affinity: accepted; 1171 now full');
SELECT lives_ok('SELECT omniroute.set_presence(1171, ''away'')', 'affinity: 1171 goes away');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (117, 1172);
INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6202, 216, 'conv-A');
SELECT results_eq(
    'SELECT state, agent_id, reserved_units FROM omniroute.work_item WHERE id = 6202',
    $$VALUES ('offered'::text, 1171::bigint, 1)$$,
    'keep_same_agent: the same conversation goes to the agent who handled it, although full and away');
SELECT is((SELECT diagnostics->'assignment'->>'method' FROM omniroute.work_item WHERE id = 6202), 'keep_same_agent',
          'keep_same_agent: diagnostics name the method');
SELECT is((SELECT used_units FROM omniroute.agent WHERE id = 1171), 2, 'keep_same_agent: reserved beyond capacity');
INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6203, 216, 'conv-B');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6203), 1172::bigint,
          'keep_same_agent: another conversation is routed normally');
INSERT INTO omniroute.work_item (id, workstream_id, external_id) VALUES (6204, 217, 'conv-A');
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 6204), 1172::bigint,
          'keep_same_agent: the same external_id in another workstream is routed normally');

-- ---------------------------------------------------------------------------
-- set_presence, and the other ways an agent becomes able to take work
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6301, 218);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6301), 'open', 'presence: nobody available, 6301 waits');
SELECT matches(pg_temp.err('SELECT omniroute.set_presence(99999, ''available'')'), '^42704: ',
               'set_presence of an unknown agent: 42704');
SELECT matches(pg_temp.err('SELECT omniroute.set_presence(1181, ''nope'')'), '^23503: ',
               'set_presence to an unknown presence: 23503');
SELECT is((SELECT presence FROM omniroute.agent WHERE id = 1181), 'offline', 'refused set_presence changes nothing');
SELECT lives_ok('SELECT omniroute.set_presence(1181, ''available'')', 'set_presence(1181, available)');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6301',
    $$VALUES ('offered'::text, 1181::bigint)$$,
    'set_presence available serves the agent waiting work at once');
SELECT results_eq(
    'SELECT a.presence, m.presence FROM omniroute.agent a JOIN omniroute.queue_member m ON m.agent_id = a.id WHERE a.id = 1181',
    $$VALUES ('available'::text, 'available'::text)$$,
    'set_presence: queue_member.presence mirrors it');

-- a custom presence whose base is allowed serves too
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6601, 224);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6601), 'open', 'custom presence: 6601 waits');
SELECT lives_ok('SELECT omniroute.set_presence(1202, ''On call'')', 'set_presence to a custom presence based on busy');
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6601',
    $$VALUES ('offered'::text, 1202::bigint)$$,
    'a custom presence whose base is allowed serves waiting work');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6302, 219);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6302), 'open', 'plain update: 6302 waits');
UPDATE omniroute.agent SET presence = 'available' WHERE id = 1182;
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6302',
    $$VALUES ('offered'::text, 1182::bigint)$$,
    'a plain UPDATE of the agent''s presence serves waiting work');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6303, 220);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6303), 'open', 'capacity raise: 6303 waits (capacity 0)');
UPDATE omniroute.agent SET capacity = 1 WHERE id = 1183;
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6303',
    $$VALUES ('offered'::text, 1183::bigint)$$,
    'a plain UPDATE raising the agent''s capacity serves waiting work');

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6304, 221);
SELECT is((SELECT state FROM omniroute.work_item WHERE id = 6304), 'open', 'join: 6304 waits in a queue without members');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (121, 1184);
SELECT results_eq(
    'SELECT state, agent_id FROM omniroute.work_item WHERE id = 6304',
    $$VALUES ('offered'::text, 1184::bigint)$$,
    'joining a queue (INSERT INTO queue_member) serves its waiting work');

-- ---------------------------------------------------------------------------
-- Permissions: an agent acts only on their own work
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6401, 222);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (6402, 222);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE id IN (6401, 6402) ORDER BY id',
    $$VALUES (6401::bigint, 1191::bigint), (6402, 1192)$$,
    'permissions: one item for each agent');

CREATE ROLE omniroute_lt_agent_a LOGIN;
CREATE ROLE omniroute_lt_agent_b LOGIN;
CREATE ROLE omniroute_lt_nobody LOGIN;
UPDATE omniroute.agent SET login_role = 'omniroute_lt_agent_a' WHERE id = 1191;
UPDATE omniroute.agent SET login_role = 'omniroute_lt_agent_b' WHERE id = 1192;
GRANT USAGE ON SCHEMA omniroute TO omniroute_lt_agent_a, omniroute_lt_agent_b, omniroute_lt_nobody;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA omniroute TO omniroute_lt_agent_a, omniroute_lt_agent_b, omniroute_lt_nobody;

SET LOCAL ROLE omniroute_lt_agent_a;
SELECT throws_ok('SELECT omniroute.accept(6402)', '42501', NULL,
                 'an agent cannot accept another agent''s item (42501)');
SELECT throws_ok('SELECT omniroute.close(6402)', '42501', NULL,
                 'an agent cannot close another agent''s item (42501)');
SELECT throws_ok('SELECT omniroute.reject(6402)', '42501', NULL,
                 'an agent cannot reject another agent''s item (42501)');
SELECT is((omniroute.accept(6401)).state, 'active', 'an agent accepts their own item');
SELECT is((omniroute.wait(6401)).state, 'waiting', 'an agent puts their own item on hold');
SELECT throws_ok('SELECT omniroute.set_presence(1192, ''away'')', '42501', NULL,
                 'an agent cannot set another agent''s presence (42501)');
SELECT lives_ok('SELECT omniroute.set_presence(''busy'')', 'an agent sets their own presence');
SELECT lives_ok('SELECT omniroute.set_presence(1191, ''busy'')', 'an agent sets their own presence by id');
SET LOCAL ROLE omniroute_lt_nobody;
SELECT throws_ok('SELECT omniroute.accept(6402)', '42501', NULL,
                 'a role that is not an agent cannot act on items (42501)');
SELECT throws_ok('SELECT omniroute.set_presence(''busy'')', '42501', NULL,
                 'a role that is not an agent cannot set a presence (42501)');
SELECT throws_ok('SELECT omniroute.set_presence(1192, ''busy'')', '42501', NULL,
                 'a role that is not an agent cannot set an agent''s presence (42501)');
RESET ROLE;

SELECT results_eq(
    'SELECT id, presence FROM omniroute.agent WHERE id IN (1191, 1192) ORDER BY id',
    $$VALUES (1191::bigint, 'busy'::text), (1192, 'available')$$,
    'permissions: only the caller''s own presence changed');
SELECT results_eq(
    'SELECT id, state FROM omniroute.work_item WHERE id IN (6401, 6402) ORDER BY id',
    $$VALUES (6401::bigint, 'waiting'::text), (6402, 'offered')$$,
    'permissions: only the caller''s own item changed');

-- ---------------------------------------------------------------------------
-- Bookkeeping adds up after all of the above
-- ---------------------------------------------------------------------------

SELECT is(
    (SELECT count(*) FROM omniroute.agent a
      WHERE a.used_units <> (SELECT coalesce(sum(w.reserved_units), 0) FROM omniroute.work_item w
                              WHERE w.agent_id = a.id AND w.state <> 'closed')),
    0::bigint,
    'each agent''s used_units is the sum of the units reserved by their unclosed items');
SELECT is(
    (SELECT count(*) FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
      WHERE m.free_units <> a.capacity - a.used_units OR m.presence <> a.presence),
    0::bigint,
    'every membership mirrors its agent''s presence and capacity - used_units');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item WHERE state = 'closed' AND (closed_at IS NULL OR reserved_units <> 0)),
    0::bigint,
    'every closed item has closed_at and reserves nothing');
SELECT is(
    (SELECT count(*) FROM omniroute.work_item WHERE state = 'waiting' AND reserved_units <> 0),
    0::bigint,
    'no waiting item reserves capacity');

-- ---------------------------------------------------------------------------
-- A release is recorded on the agent and on every membership: least_active
-- orders by it
-- ---------------------------------------------------------------------------

INSERT INTO omniroute.queue (id, name, assignment) VALUES (7100, 'Release order', 'least_active');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (7100, 'Release order', 7100);
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES
    (7101, 'Release first id', 'available', 10), (7102, 'Release second id', 'available', 10);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (7100, 7101), (7100, 7102);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7111, 7100), (7112, 7100);
SELECT results_eq(
    'SELECT id, agent_id FROM omniroute.work_item WHERE workstream_id = 7100 ORDER BY id',
    $$VALUES (7111::bigint, 7101::bigint), (7112, 7102)$$,
    'release order: never released, never assigned: lowest id first, then the other');
SELECT omniroute.close(7112);   -- 7102 releases first
SELECT omniroute.close(7111);   -- then 7101
SELECT is((SELECT count(*) FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
            WHERE m.agent_id IN (7101, 7102)
              AND m.last_released_at IS NOT DISTINCT FROM a.last_released_at
              AND a.last_released_at IS NOT NULL),
          2::bigint, 'a release is copied to the memberships');
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7113, 7100);
SELECT is((SELECT agent_id FROM omniroute.work_item WHERE id = 7113), 7102::bigint,
          'least_active: the agent released longest ago, though assigned more recently');

-- work served to an agent who frees up counts as assigned from its queue
INSERT INTO omniroute.queue (id, name, assignment) VALUES (7200, 'Served rotation', 'round_robin');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (7200, 'Served rotation', 7200);
INSERT INTO omniroute.agent (id, name, presence, capacity) VALUES (7201, 'Served agent', 'offline', 10);
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (7200, 7201);
INSERT INTO omniroute.work_item (id, workstream_id) VALUES (7211, 7200);
SELECT omniroute.set_presence(7201, 'available');
SELECT results_eq(
    $$SELECT w.agent_id, m.free_units, m.queue_last_assigned_at = a.last_assigned_at
        FROM omniroute.work_item w, omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
       WHERE w.id = 7211 AND m.queue_id = 7200 AND m.agent_id = 7201$$,
    $$VALUES (7201::bigint, 9, true)$$,
    'serving waiting work records it on the membership: free units and last assignment from that queue');

SELECT * FROM finish();
ROLLBACK;
