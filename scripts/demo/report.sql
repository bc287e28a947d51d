-- Where each item went, and why: everything comes from work_item.diagnostics.
\pset pager off
\pset border 2
\pset null ''
\echo
\echo '=== Routing decisions ====================================================='
SELECT w.id AS item,
       ws.name AS workstream,
       coalesce((SELECT string_agg(c->>'rule', ', ')
                   FROM jsonb_array_elements(w.diagnostics->'classification') c), '') AS classified_by,
       coalesce(w.diagnostics->'route'->>'rule', 'fallback') AS route_rule,
       q.name AS queue,
       coalesce(a.name, 'waiting') AS agent,
       CASE
         WHEN w.agent_id IS NOT NULL THEN
           format('%s via %s: %s; %s candidate(s) examined',
                  w.state,
                  w.diagnostics->'assignment'->>'method',
                  CASE w.diagnostics->'assignment'->>'method'
                    WHEN 'highest_capacity' THEN 'most free units ('
                         || (w.diagnostics->'assignment'->'score'->>'free_units') || ')'
                    WHEN 'round_robin' THEN 'longest since last offer from this queue'
                    ELSE 'longest since capacity was released' END
                  || CASE WHEN w.diagnostics->'assignment'->'score' ? 'skills'
                          THEN ', skills ' || (w.diagnostics->'assignment'->'score'->>'skills') ELSE '' END,
                  w.diagnostics->'assignment'->>'candidates_examined')
         ELSE w.diagnostics->'assignment'->>'reason'
       END AS why
  FROM omniroute.work_item w
  JOIN omniroute.workstream ws ON ws.id = w.workstream_id
  JOIN omniroute.queue q ON q.id = w.queue_id
  LEFT JOIN omniroute.agent a ON a.id = w.agent_id
 ORDER BY w.id;

\echo
\echo '=== Agents after the morning =============================================='
SELECT a.name AS agent, a.presence, p.base,
       a.capacity, a.used_units AS used, a.capacity - a.used_units AS free,
       (SELECT count(*) FROM omniroute.work_item w WHERE w.agent_id = a.id) AS items,
       (SELECT string_agg(q.name, ', ' ORDER BY q.name) FROM omniroute.queue_member m
          JOIN omniroute.queue q ON q.id = m.queue_id WHERE m.agent_id = a.id) AS queues
  FROM omniroute.agent a JOIN omniroute.presence p ON p.name = a.presence
 ORDER BY a.id;

\echo
\echo '=== Queues ================================================================'
SELECT q.name AS queue, q.assignment,
       count(*) FILTER (WHERE w.state = 'open') AS waiting,
       count(*) FILTER (WHERE w.state IN ('offered', 'active')) AS with_agent
  FROM omniroute.queue q LEFT JOIN omniroute.work_item w ON w.queue_id = q.id
 GROUP BY q.id ORDER BY q.id;

\echo
\echo '=== What if? simulate() routes without changing anything =================='
\echo 'A French VIP chat about a refund:'
SELECT jsonb_pretty(omniroute.simulate(1, '{"topic": "refund", "language": "fr", "cart_value": 900}'));
