#!/usr/bin/env bash
# test/tidy/run.sh — the tick worker vacuums queue_member once routing has
# rewritten omniroute.member_vacuum_threshold membership rows (src/tidy.c),
# so the dead candidate-index entries that assignments leave at the head of
# a queue's range are gone long before autovacuum would come (it is off
# here).  With the threshold at 0 it never does.
#
# 3,000 items go to a queue of 300 agents: each assignment rewrites the
# agent's membership, whose free units are a key of the highest_capacity
# index, so that index holds about 3,300 entries until a VACUUM, and about
# 300 (plus its pages' high keys) after.  While another session holds the
# table's SHARE UPDATE EXCLUSIVE lock, the worker leaves it alone (no wait,
# no WARNING) and vacuums it once the lock is gone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="omniroute.database = 'tidy'\nomniroute.tick_interval = 200\nautovacuum = off\nomniroute.member_vacuum_threshold = 0" \
	throwaway_cluster tidy

createdb tidy
psql -X -q -v ON_ERROR_STOP=1 -d tidy <<'SQL'
CREATE EXTENSION omniroute;
CREATE EXTENSION pageinspect;
INSERT INTO omniroute.queue (id, name, assignment) VALUES (1, 'q', 'highest_capacity');
INSERT INTO omniroute.agent (id, name, presence, capacity)
SELECT a, 'agent ' || a, 'available', 1000000 FROM generate_series(1, 300) AS a;
INSERT INTO omniroute.queue_member (queue_id, agent_id) SELECT 1, a FROM generate_series(1, 300) AS a;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching) VALUES (1, 'w', 1, 'none');
SQL
for _ in $(seq 1 60); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick' AND datname = 'tidy'")" = 1 ] && break
	sleep 0.5
done

# entries on the leaf pages of the highest_capacity index, high keys aside
entries() {
	q "SELECT sum(s.live_items + s.dead_items) - count(*) FILTER (WHERE s.btpo_next <> 0)
	     FROM generate_series(1, pg_relation_size('omniroute.queue_member_highest_capacity_idx') / 8192 - 1) AS p,
	          bt_page_stats('omniroute.queue_member_highest_capacity_idx', p::int) AS s
	    WHERE s.type = 'l'"
}
vacuums() { q "SELECT vacuum_count FROM pg_stat_all_tables WHERE relid = 'omniroute.queue_member'::regclass"; }
route() {
	for _ in 1 2 3; do
		q "INSERT INTO omniroute.work_item (workstream_id) SELECT 1 FROM generate_series(1, 1000)"
	done
	[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")" -ge "$1" ] ||
		fail "the items were not offered"
}

# threshold 0: the worker leaves the table alone
route 3000
sleep 3
[ "$(vacuums)" = 0 ] || fail "vacuumed with omniroute.member_vacuum_threshold = 0"
before=$(entries)
[ "$before" -gt 3000 ] || fail "expected over 3000 index entries before a VACUUM, found $before"

# threshold 500: the next churn is vacuumed within seconds
q "ALTER SYSTEM SET omniroute.member_vacuum_threshold = 500"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
route 6000
# (it may vacuum while the rewrites go on, and again once they are done)
for _ in $(seq 1 40); do
	after=$(entries)
	[ "$(vacuums)" -ge 1 ] && [ "$after" -lt 400 ] && break
	sleep 0.5
done
[ "$(vacuums)" -ge 1 ] || fail "the worker did not vacuum queue_member after 3000 rewrites (log: $dir/log)"
[ "$after" -lt 400 ] || fail "expected about 300 index entries after the worker's VACUUM, found $after"

# while something else holds the lock VACUUM needs (as autovacuum would), the
# worker neither waits nor warns: it vacuums once the lock is free
done_before=$(vacuums)
coproc LOCKER { psql -X -At -q -v ON_ERROR_STOP=1 -d tidy; }
echo "BEGIN; LOCK omniroute.queue_member IN SHARE UPDATE EXCLUSIVE MODE; SELECT 'locked';" >&"${LOCKER[1]}"
read -r locked <&"${LOCKER[0]}"
[ "$locked" = locked ] || fail "could not lock queue_member"
route 9000
sleep 3
[ "$(vacuums)" = "$done_before" ] || fail "vacuumed a table someone else had locked"
echo "COMMIT;" >&"${LOCKER[1]}"
echo '\q' >&"${LOCKER[1]}"
for _ in $(seq 1 40); do
	[ "$(vacuums)" -gt "$done_before" ] && break
	sleep 0.5
done
[ "$(vacuums)" -gt "$done_before" ] || fail "the worker did not vacuum queue_member once the lock was released"
grep -q "skipping vacuum" "$dir/log" && fail "the worker's VACUUM warned: $(grep 'skipping vacuum' "$dir/log" | head -2)"
grep -q "vacuuming queue_member failed" "$dir/log" && fail "the worker's VACUUM failed: $(grep -A3 'ERROR' "$dir/log" | head -5)"
echo "tidy: $before candidate index entries for 300 members before, $after after the worker's VACUUM; none while the table was locked: ok"
