#!/usr/bin/env bash
# test/position/run.sh — queue_position() and estimated_wait() answer from
# indexes, reading the items ahead and not the queue behind (README: Service levels,
# src/sla.c), in a queue of 100,000 open items.
#
# The queue holds two groups (a workstream with priority aging of an hour,
# one without), five priority levels each, created over 28 hours: the order
# mixes levels and groups.  For an item at the head, one in the middle and
# one at the tail (found by a brute-force sort of the whole queue):
#   - the position equals the brute-force one;
#   - work_item is never read by a sequential scan, and the index entries
#     read (pg_stat_get_xact_tuples_returned of work_item_open_idx, counted
#     within the call's transaction: exact, whatever the machine's load) are
#     at most the items ahead plus a small constant (the groups and levels
#     found by loose scans): the head reads a handful, not 100,000;
#   - the time per call is printed (the figure the README quotes), and the
#     head's is asserted under a bound far above it yet far below what a
#     read of the whole queue takes, so a regression to a scan is caught
#     while a loaded machine does not fail it.
# estimated_wait() adds one range of work_item_event_answer_idx: the
# answers of the last hour (here 600 of them, among 20,000 older ones).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="autovacuum = off\nomniroute.database = 'postgres'" throwaway_cluster position

N=100000
# index entries read beyond the items ahead: groups and levels (2 x 5, plus
# the descents that end each loose scan)
SLACK=100
# milliseconds per call for the head: it takes well under a millisecond; a
# read of the whole queue takes tens of milliseconds
HEAD_MS_MAX=10

createdb position
psql -X -q -v ON_ERROR_STOP=1 -d position -v n=$N <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'line');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, priority_aging) VALUES
    (1, 'plain', 1, NULL), (2, 'aging', 1, '1 hour');
-- taken as they are (a superuser's insert with diagnostics): open, queued
INSERT INTO omniroute.work_item (id, workstream_id, queue_id, state, priority, created_at, diagnostics)
SELECT g, 1 + g % 2, 1, 'open', (g / 2) % 5, now() - (:n - g) * interval '1 second', '{}'
  FROM generate_series(1, :n) g;
-- answers: 20,000 over a day ago, 600 in the last hour (one every 6 s)
INSERT INTO omniroute.work_item_event (work_item_id, at, event, agent_id, queue_id)
SELECT g, now() - interval '2 days' + g * interval '1 second', 'accepted', 1, 1 FROM generate_series(1, 20000) g;
INSERT INTO omniroute.work_item_event (work_item_id, at, event, agent_id, queue_id)
SELECT g, now() - interval '1 hour' + g * interval '6 seconds' - interval '1 second', 'accepted', 1, 1
  FROM generate_series(1, 600) g;
VACUUM ANALYZE omniroute.work_item, omniroute.work_item_event;
SQL

# the queue's order by brute force, as of one instant
order_sql="SELECT i.id, row_number() OVER (ORDER BY i.priority + CASE WHEN w.priority_aging IS NULL THEN 0
                 ELSE div(extract(epoch FROM now() - i.created_at), extract(epoch FROM w.priority_aging))::int END DESC,
                 i.created_at, i.id) AS pos
             FROM omniroute.work_item i JOIN omniroute.workstream w ON w.id = i.workstream_id
            WHERE i.queue_id = 1 AND i.state = 'open'"

check() {
	local label=$1 pos=$2 id
	id=$(q "SELECT id FROM ($order_sql) o WHERE pos = $pos")
	# one transaction: the brute-force position, the call and what it read
	local out
	out=$(psql -X -At -q -v ON_ERROR_STOP=1 -d position <<SQL
BEGIN;
SELECT pos FROM ($order_sql) o WHERE id = $id \gset expected_
SELECT pg_stat_get_xact_tuples_returned('omniroute.work_item_open_idx'::regclass) AS r0,
       pg_stat_get_xact_numscans('omniroute.work_item'::regclass) AS s0 \gset
SELECT omniroute.queue_position($id) AS got \gset
SELECT pg_stat_get_xact_tuples_returned('omniroute.work_item_open_idx'::regclass) - :r0 AS idx_read,
       pg_stat_get_xact_numscans('omniroute.work_item'::regclass) - :s0 AS seq_scans \gset
SELECT estimated_wait FROM omniroute.estimated_wait($id) \gset
COMMIT;
SELECT :expected_pos, :got, :idx_read, :seq_scans, :'estimated_wait';
SQL
)
	IFS='|' read -r expected got idx_read seq_scans wait <<<"$out"
	[ "$got" = "$expected" ] || fail "$label: queue_position($id) = $got, brute force says $expected"
	[ "$seq_scans" = 0 ] || fail "$label: queue_position($id) read work_item by a sequential scan"
	[ "$idx_read" -le $((got - 1 + SLACK)) ] ||
		fail "$label: queue_position($id) read $idx_read index entries for $((got - 1)) items ahead"
	# the time per call, best of a few rounds of 20 (the machine is shared)
	local ms_pos ms_wait
	ms_pos=$(per_call_ms "omniroute.queue_position($id)")
	ms_wait=$(per_call_ms "omniroute.estimated_wait($id)")
	echo "position: $label: item $id at position $got, $idx_read index entries read, estimated_wait $wait; ${ms_pos} ms per queue_position, ${ms_wait} ms per estimated_wait"
	eval "${label}_ms=$ms_pos"
}

per_call_ms() {
	q "DO \$\$
DECLARE
    best float8 := 'infinity';
    t timestamptz;
BEGIN
    FOR r IN 1..5 LOOP
        t := clock_timestamp();
        FOR i IN 1..20 LOOP
            PERFORM $1;
        END LOOP;
        best := least(best, extract(epoch FROM clock_timestamp() - t) * 1000 / 20);
    END LOOP;
    PERFORM set_config('position.ms', round(best::numeric, 3)::text, false);
END
\$\$;
SELECT current_setting('position.ms')" | tail -1
}

check head 1
check middle $((N / 2))
check tail $N

awk -v h="$head_ms" -v m="$HEAD_MS_MAX" 'BEGIN { exit !(h < m) }' ||
	fail "queue_position at the head took ${head_ms} ms per call (bound ${HEAD_MS_MAX} ms): is the queue being read whole?"
echo "position: ok"
