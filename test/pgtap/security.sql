-- test/pgtap/security.sql — the four roles of 0.1.0, row-level security, and
-- what each role may do (README, "Security model").
-- Every boundary is tried as that role (SET LOCAL ROLE).
BEGIN;
SELECT plan(24);

SELECT has_role('omniroute_admin');
SELECT has_role('omniroute_app');
SELECT has_role('omniroute_agent');
SELECT has_role('omniroute_reporter');

-- every SECURITY DEFINER function pins search_path
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'omniroute' AND p.prosecdef
              AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)),
          0::bigint, 'every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'omniroute.work_item'::regclass),
          'work_item: row-level security enabled and forced');
SELECT is((SELECT count(*) FROM information_schema.role_routine_grants
            WHERE routine_schema = 'omniroute' AND grantee = 'PUBLIC'), 0::bigint,
          'no function of the extension is executable by PUBLIC');

CREATE ROLE sec_ann;  CREATE ROLE sec_bob;  CREATE ROLE sec_app;  CREATE ROLE sec_rep;
GRANT omniroute_agent TO sec_ann, sec_bob;
GRANT omniroute_app TO sec_app;
GRANT omniroute_reporter TO sec_rep;

INSERT INTO omniroute.queue (id, name) VALUES (8701, 'sec: chat'), (8702, 'sec: cases');
INSERT INTO omniroute.agent (id, name, capacity, presence, login_role) VALUES
    (8701, 'sec Ann', 10, 'available', 'sec_ann'),
    (8702, 'sec Bob', 10, 'available', 'sec_bob');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (8701, 8701), (8701, 8702), (8702, 8702);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (8701, 'sec: chat', 8701);
INSERT INTO omniroute.workstream (id, name, mode, fallback_queue_id) VALUES (8702, 'sec: cases', 'pick', 8702);

-- the application (which may not choose ids: the items get 8701..8703)
SELECT setval('omniroute.work_item_id_seq', 8700);
SET LOCAL ROLE sec_app;
SELECT lives_ok($$INSERT INTO omniroute.work_item (workstream_id) VALUES (8701), (8701), (8702)$$,
                'app: inserts work items, which are routed');
SELECT is((SELECT count(*) FROM omniroute.work_item WHERE id BETWEEN 8701 AND 8703), 3::bigint, 'app: reads work items');
SELECT throws_ok($$INSERT INTO omniroute.queue (name) VALUES ('sec: rogue')$$, '42501', NULL,
                 'app: cannot change configuration');
SELECT throws_ok($$UPDATE omniroute.work_item SET priority = 9 WHERE id = 8701$$, '42501', NULL,
                 'app: cannot change items behind the router''s back');
RESET ROLE;

-- an agent: own items and pickable ones only, acts on own only
SET LOCAL ROLE sec_ann;
SELECT results_eq('SELECT id FROM omniroute.work_item WHERE id BETWEEN 8701 AND 8703 ORDER BY id',
                  $$VALUES (8701::bigint)$$, 'agent Ann sees only her own item');
SELECT throws_ok('SELECT omniroute.accept(8702)', '42501', NULL, 'agent Ann cannot accept Bob''s offer');
SELECT is((SELECT (omniroute.accept(8701)).state), 'active', 'agent Ann accepts her own offer');
SELECT throws_ok($$UPDATE omniroute.work_item SET state = 'closed' WHERE id = 8701$$, '42501', NULL,
                 'agent: no direct updates of items');
SELECT throws_ok($$SELECT omniroute.set_presence(8702::bigint, 'away')$$, '42501', NULL,
                 'agent Ann cannot set Bob''s presence');
SELECT lives_ok($$SELECT omniroute.set_presence('busy')$$, 'agent Ann sets her own presence');
SELECT throws_ok($$SELECT omniroute.tick()$$, '42501', NULL, 'agent: cannot run tick()');
SELECT is((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = 8702), 0::bigint,
          'agent Ann sees no events of Bob''s item');
RESET ROLE;
SELECT is((SELECT presence FROM omniroute.agent WHERE id = 8701), 'busy', 'her presence changed');

SET LOCAL ROLE sec_bob;
SELECT results_eq('SELECT id FROM omniroute.work_item WHERE id BETWEEN 8701 AND 8703 ORDER BY id',
                  $$VALUES (8702::bigint), (8703)$$, 'agent Bob sees his item and the open item of his pick-mode queue');
RESET ROLE;

-- the reporter: events, not items
SET LOCAL ROLE sec_rep;
SELECT ok((SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id BETWEEN 8701 AND 8703) >= 3,
          'reporter reads the events');
SELECT throws_ok('SELECT count(*) FROM omniroute.work_item', '42501', NULL, 'reporter cannot read work items directly');
SELECT throws_ok($$SELECT omniroute.simulate(8701, '{}')$$, '42501', NULL, 'reporter cannot run routing functions');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
