-- `make demo`'s day, scene by scene.  Each CALL demo.run_until() lets the
-- day run to an instant (scripts/demo/sim.sql); :story then tells what in it
-- is worth telling, read from work_item_event.
\set QUIET on
\pset pager off
\pset null ''
\pset footer off
\set ON_ERROR_STOP on
\set story 'SELECT * FROM demo.story() \\g (format=unaligned tuples_only=on)'
\set tally 'SELECT demo.tally(:''from'', (SELECT now FROM demo.clock)) \\g (format=unaligned tuples_only=on)'

\echo
\echo '=== 08:00  The office opens (Tuesday 3 March 2026, London) ====================='
\echo 'Agents log in (set_presence) as their shifts start: Alice, Bruno, Elena and Grace'
\echo 'at 08:00, Chloé at 08:30, Dmitri and Farid at 09:00.  Chats, calls and cases arrive'
\echo 'all day; agents accept, wrap up and close them; tick(at) runs every 15 seconds.'
\echo 'Service level targets: a chat answered within 30 s, a call within 20 s.'
\set from '2026-03-03 08:00'
CALL demo.run_until('2026-03-03 10:15');
:story
:tally

\echo
\echo '=== 10:15  Dmitri steps away from his desk without changing his presence ======='
\set from '2026-03-03 10:15'
CALL demo.run_until('2026-03-03 10:50');
:story
\echo 'A missed offer goes to the next agent, never back to Dmitri; his presence became'
\echo 'inactive so that nothing else was offered to an empty chair, until he came back at 10:45.'

\echo
\echo '=== 12:27  A returning customer waits for Grace, their usual agent ============='
\set from '2026-03-03 10:50'
CALL demo.run_until('2026-03-03 12:28');
:story
\echo 'Grace is at lunch until 12:30; Web chat waits up to 5 minutes for a preferred agent.'
SELECT format('%s  %s customer %s prefers %s (%s); %s have room but pass it by: held for %s until %s',
              to_char(w.created_at, 'HH24:MI:SS'), rpad(w.external_id, 10), w.customer_id,
              demo.agent(h.agent_id), a.presence,
              (SELECT string_agg(m->>'agent', ' and ' ORDER BY m->>'agent')
                 FROM jsonb_array_elements(omniroute.explain(w.id)->'members') m
                WHERE (m->>'eligible')::boolean),
              split_part(demo.agent(h.agent_id), ' ', 1),
              to_char((w.diagnostics #>> '{assignment,until}')::timestamptz, 'HH24:MI:SS'))
  FROM omniroute.work_item w
  JOIN omniroute.preferred_hold h ON h.work_item_id = w.id
  JOIN omniroute.agent a ON a.id = h.agent_id
 WHERE w.external_id = 'regular-1' AND w.state = 'open'
   AND w.diagnostics #>> '{assignment,reason}' = 'waiting for a preferred agent'
\g (format=unaligned tuples_only=on)
CALL demo.run_until('2026-03-03 12:31');
SELECT format('%s  %s after %s %s (method %s) -> %s',
              to_char(e.at, 'HH24:MI:SS'), rpad(w.external_id, 10), demo.dur(e.at - w.created_at),
              w.diagnostics #>> '{assignment,reason}', w.diagnostics #>> '{assignment,method}',
              demo.then(w.id, e.id))
  FROM omniroute.work_item w
  JOIN omniroute.work_item_event e ON e.work_item_id = w.id AND e.event = 'offered'
 WHERE w.external_id = 'regular-1' AND e.agent_id = w.agent_id
\g (format=unaligned tuples_only=on)

\echo
\echo '=== 12:38  Lunch: both French speakers are out ================================'
CALL demo.run_until('2026-03-03 12:38');
:story
\echo 'Why is fr-1 still waiting?  explain(id) asks every member of its queue:'
SELECT m->>'agent' AS "French desk member", m->>'presence' AS presence,
       array_to_string(ARRAY(SELECT jsonb_array_elements_text(m->'reasons')), '; ') AS "not eligible because"
  FROM omniroute.work_item w, jsonb_array_elements(omniroute.explain(w.id)->'members') m
 WHERE w.external_id = 'fr-1';

\echo
\echo '=== 12:38  Escalation: after 3 minutes the closest skills, after 8 another queue'
\set from '2026-03-03 12:38'
CALL demo.run_until('2026-03-03 14:29:45');
:story
:tally

\echo
\echo '=== 14:29  The case backlog: priority aging (+1 level for every hour waited) ==='
SELECT w.external_id AS "case", w.context->>'severity' AS sev, w.priority,
       demo.dur(now() - w.created_at) AS waiting,
       w.priority + floor(extract(epoch FROM now() - w.created_at) / 3600)::int AS "with aging",
       omniroute.queue_position(w.id) AS position
  FROM omniroute.work_item w
 WHERE w.workstream_id = 2 AND w.state = 'open'
 ORDER BY position;
\set from '2026-03-03 14:29:45'
CALL demo.run_until('2026-03-03 14:30:05');
SELECT format('14:30:00  Elena calls pick_next() and gets %s: %s of waiting lifted its priority from %s to %s',
              external_id, demo.dur(assigned_at - created_at), priority,
              priority + floor(extract(epoch FROM assigned_at - created_at) / 3600)::int)
  FROM omniroute.work_item WHERE agent_id = 5 AND workstream_id = 2 AND state = 'active'
\g (format=unaligned tuples_only=on)

\echo
\echo '=== 15:00  An outage: tech chats pile up, the tech team is on the incident call'
\set from '2026-03-03 14:30'
CALL demo.run_until('2026-03-03 16:00');
:story
:tally

\echo
\echo '=== 18:00  The billing team leaves: Billing closes, its chats go to General chat'
\set from '2026-03-03 16:00'
CALL demo.run_until('2026-03-03 19:45');
:story

\echo
\echo '=== 20:00  The office closes: the night desk (Jonas) takes over ==============='
\set from '2026-03-03 19:45'
CALL demo.run_until('2026-03-03 20:45');
:story
\set from '2026-03-03 08:00'
:tally
