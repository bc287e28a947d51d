-- The end of `make demo`'s day: the service level report and the agents'
-- day, from the views a supervisor reads.
\set QUIET on
\pset pager off
\pset null ''
\pset footer off

\echo
\echo '=== The day by queue (queue_interval_stats, summed) ==========================='
SELECT queue, sum(entered) AS entered, sum(answered) AS answered, sum(answered_in_time) AS in_time,
       sum(abandoned) AS abandoned,
       to_char(100.0 * sum(answered_in_time) / nullif(sum(answered) + sum(abandoned), 0), 'FM990"%"') AS "service level",
       demo.dur(date_trunc('second', sum(avg_speed_of_answer * answered) / nullif(sum(answered), 0))) AS "avg answer",
       demo.dur(date_trunc('second', avg(avg_handle))) AS "avg handle"
  FROM omniroute.queue_interval_stats
 GROUP BY queue_id, queue ORDER BY queue_id;

\echo
\echo '=== The outage hour by quarter hour (queue_interval_stats) ===================='
SELECT to_char(interval_start, 'HH24:MI') AS quarter, queue, entered, answered, answered_in_time AS in_time,
       abandoned, to_char(100 * service_level, 'FM990"%"') AS "service level",
       demo.dur(date_trunc('second', avg_speed_of_answer)) AS "avg answer",
       demo.dur(date_trunc('second', avg_handle)) AS "avg handle"
  FROM omniroute.queue_interval_stats
 WHERE interval_start >= '2026-03-03 15:00' AND interval_start < '2026-03-03 16:00'
 ORDER BY interval_start, queue_id;

\echo
\echo '=== The agents'' day (agent_stats at 20:45, and the events) ===================='
SELECT s.agent, s.presence AS "now",
       (SELECT to_char(min(at), 'HH24:MI') || '-' || to_char(max(at) FILTER (WHERE action = 'offline'), 'HH24:MI')
          FROM demo.plan p WHERE p.agent_id = s.agent_id) AS shift,
       s.items_today AS items, s.closed_today AS closed,
       count(*) FILTER (WHERE e.event = 'missed') AS missed,
       demo.dur(date_trunc('second', avg(ans.at - w.created_at) FILTER (WHERE w.workstream_id <> 2))) AS "avg answer",
       demo.dur(date_trunc('second', avg(w.closed_at - w.assigned_at) FILTER (WHERE w.close_reason IS NULL))) AS "avg handle"
  FROM omniroute.agent_stats s
  LEFT JOIN omniroute.work_item_event e ON e.agent_id = s.agent_id AND e.event IN ('missed', 'closed')
  LEFT JOIN omniroute.work_item w ON w.id = e.work_item_id AND e.event = 'closed'
  LEFT JOIN LATERAL (SELECT x.at FROM omniroute.work_item_event x
                      WHERE x.work_item_id = w.id AND x.event IN ('accepted', 'assigned', 'picked')
                      ORDER BY x.id LIMIT 1) ans ON true
 GROUP BY s.agent_id, s.agent, s.presence, s.items_today, s.closed_today
 ORDER BY s.agent_id;
