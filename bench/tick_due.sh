#!/usr/bin/env bash
# bench/tick_due.sh — tick() does work in proportion to what is due, not to
# the open items (issue 18, point 5); serving with priority aging reads one
# index descent per priority level, not the queue.
#
#   bench/tick_due.sh                 OPEN=100000 open items, DUE=100 of them due
#   OPEN=10000 bench/tick_due.sh      the same with ten times fewer open items
#
# In a throwaway cluster (test/throwaway.sh, the installed library): a
# workstream with two escalation steps (after 10 minutes, after 1 day) and
# its queue with a max_wait of 1 hour (overflow action 'close'), no agents;
# OPEN open items, of which DUE were created (and queued) 2 hours before the
# tick and the others 1 minute before (restored rows; the steps, added
# after them, arm their timers: omniroute.work_item_timer; the time that
# takes is printed).  Prints the time of
#   1. a tick at T that applies step 1 to the DUE items (and closes them:
#      max_wait),
#   2. a second tick at T (nothing due),
# (each after a first tick in the same session, rolled back, so that plans
# and caches are warm), and the index entries tick's search of the timers
# reads (EXPLAIN ANALYZE), before the ticks (DUE due) and after them (none
# due); then, for
# serving with aging: OPEN open
# items of a workstream with priority_aging in 10 priority levels, an agent
# joining the queue is served one item: the time of that (warm).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OPEN=${OPEN:-100000}
DUE=${DUE:-100}
. test/throwaway.sh
# no preload, so no tick worker: it would tick the database at now() meanwhile
export OMNIROUTE_PRELOAD=0
throwaway_cluster tick-due >/dev/null
[ -n "${TICK_DUE_KEEP:-}" ] && trap - EXIT && echo "kept: $dir" >&2
createdb tickdue
q() { psql -X -q -v ON_ERROR_STOP=1 -d tickdue "$@"; }
q -c "CREATE EXTENSION omniroute"

T="2024-06-03 12:00:00+00"
q <<SQL
INSERT INTO omniroute.queue (id, name, max_wait, overflow_action) VALUES (1, 'backlog', '1 hour', 'close');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id) VALUES (1, 'escalating', 1);
-- restored rows (a superuser, diagnostics set): taken as they are, no routing
INSERT INTO omniroute.work_item (workstream_id, queue_id, state, created_at, queued_at, diagnostics)
SELECT 1, 1, 'open', t, t, '{}'
  FROM generate_series(1, $OPEN) i,
       LATERAL (SELECT timestamptz '$T' - CASE WHEN i <= $DUE THEN interval '2 hours'
                                               ELSE interval '1 minute' END AS t) x;
VACUUM ANALYZE omniroute.work_item;
SQL
# the steps arm the timers of the open items (the trigger on escalation_step)
q -At <<SQL
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO omniroute.escalation_step (workstream_id, after, add_priority) VALUES
    (1, '10 minutes', 1), (1, '1 day', 1);
SELECT format('steps added: %s timers armed in %s ms', (SELECT count(*) FROM omniroute.work_item_timer),
              round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2));
SQL
q -c "VACUUM ANALYZE omniroute.work_item_timer"

echo "tick_due: $OPEN open items, $DUE due"
rows_read() {
	q -At -c "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, COSTS OFF) $2" |
		awk -v what="$1" '/Index (Only )?Scan/ { scans++; match($0, /rows=[0-9]+ loops=[0-9]+/); split(substr($0, RSTART, RLENGTH), p, /[= ]/); read += p[2] * p[4] }
			/Buffers: shared/ && !buf { buf = $0 }
			END { sub(/^ */, "", buf); printf "%s: %d index scan node(s), %d index entries read, %s\n", what, scans, read, buf }'
}
# tick's search of the timers with $DUE due, then (after the ticks) with none due
timers="SELECT work_item_id FROM omniroute.work_item_timer WHERE due_at <= '$T'::timestamptz ORDER BY due_at LIMIT 1000"
rows_read "timer search, $DUE due" "$timers"

# one session: a first tick rolled back (plans prepared, caches loaded), then
# the measured ones
q -At <<SQL
BEGIN;
SELECT omniroute.tick('$T') \\g /dev/null
ROLLBACK;
SELECT clock_timestamp() AS t0 \\gset
SELECT omniroute.tick('$T') AS actions \\gset
SELECT format('tick with $DUE due: %s action(s), %s ms', :actions,
              round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2));
SELECT clock_timestamp() AS t0 \\gset
SELECT omniroute.tick('$T') AS actions \\gset
SELECT format('tick with 0 due:   %s action(s), %s ms', :actions,
              round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2));
SQL

q -c "VACUUM ANALYZE omniroute.work_item, omniroute.work_item_timer"
rows_read "timer search, 0 due  " "$timers"

# serving with aging: OPEN items in 10 priority levels, one agent joins
q <<SQL
INSERT INTO omniroute.queue (id, name) VALUES (2, 'aging');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, priority_aging) VALUES (2, 'aging', 2, '1 minute');
INSERT INTO omniroute.work_item (workstream_id, queue_id, state, created_at, queued_at, priority, diagnostics)
SELECT 2, 2, 'open', now() - i * interval '1 second', now(), i % 10, '{}'
  FROM generate_series(1, $OPEN) i;
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES (1, 'joins', 1, 'available');
VACUUM ANALYZE omniroute.work_item;
SQL
q -At <<SQL
BEGIN;
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (2, 1);
ROLLBACK;
BEGIN;
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (2, 1);
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2) AS ms \\gset
SELECT format('serve with aging (%s open items, 10 priority levels): %s item(s) served in %s ms', $OPEN,
              (SELECT count(*) FROM omniroute.work_item WHERE agent_id = 1), :ms);
ROLLBACK;
SQL
