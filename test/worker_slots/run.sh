#!/usr/bin/env bash
# test/worker_slots/run.sh — when background worker slots run out, the
# launcher (src/launcher.c) says so once and keeps trying, tick() by hand
# still works, and the waiting database gets its worker as soon as a slot
# frees.  Then the same for omniroute.max_databases.
#
#   a. max_worker_processes = 3 (no logical replication launcher, no
#      parallel workers): the launcher and two tick workers.  Databases s1,
#      s2 and s3 get the extension in that order: s1 and s2 get workers; s3
#      none, and the log says "no background worker slot free for database
#      "s3" (max_worker_processes = 3)" exactly once over several seconds of
#      retries; an offer with a 1 s timeout in s3 is not missed by anyone,
#      and tick() by hand misses it;
#   b. DROP DATABASE s1 frees a slot: s3 gets its worker within 5 s, the log
#      says so once, and s3 ticks on its own; s2's worker never changed;
#   c. restarted with omniroute.max_databases = 1 (and room for workers):
#      one of s2 and s3 is served, the log says once that the other cannot
#      be ("all 1 slots of omniroute.max_databases are taken"); dropping
#      the served one lets the other be served within 5 s.
#   No ERROR or FATAL line in the log (but the workers' at the restart).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
OMNIROUTE_PGCONF="omniroute.tick_interval = 200\nmax_worker_processes = 3\nmax_logical_replication_workers = 0\nmax_parallel_workers_per_gather = 0\nmax_parallel_maintenance_workers = 0" \
	throwaway_cluster worker_slots

. test/workers/lib.sh
missed() { [ "$(qd "$1" "SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = $item AND event = 'missed'")" = 1 ]; }
said() { grep -c -F "$1" "$dir/log" || true; }

# ------------------------------------------------------------------- (a) ---
[ "$(qd postgres "SHOW max_worker_processes")" = 3 ] || fail "max_worker_processes is not 3"
for db in s1 s2; do
	createdb "$db"
	install "$db"
	poll 10 has_worker "$db" || fail "no tick worker in $db"
done
s2_worker=$(worker_of s2)
createdb s3
install s3
offer s3
sleep 4 # the offer falls due, and the launcher retries four times
no_slot='omniroute launcher: no background worker slot free for database "s3" (max_worker_processes = 3); retrying every second'
[ "$(said "$no_slot")" = 1 ] || fail "expected the launcher to say once that s3 has no slot, found: $(grep 'omniroute launcher' "$dir/log")"
[ -z "$(worker_of s3)" ] || fail "s3 has a worker although no slot is free"
missed s3 && fail "the offer in s3 was missed without a worker"
[ "$(qd s3 "SELECT omniroute.tick()")" -ge 1 ] || fail "tick() by hand in s3 took no action"
missed s3 || fail "tick() by hand in s3 did not miss the due offer"
echo "worker_slots: with no background worker slot free, s3 waits (said once), tick() by hand works"

# ------------------------------------------------------------------- (b) ---
qd postgres "DROP DATABASE s1" >/dev/null
poll 5 has_worker s3 || fail "s3 got no worker within 5 s of a slot freeing"
[ "$(said 'omniroute launcher: a background worker slot is free: starting the tick worker of database "s3"')" = 1 ] ||
	fail "the launcher did not say once that s3's worker starts: $(grep 'omniroute launcher' "$dir/log")"
offer s3
poll 10 missed s3 || fail "s3's worker did not miss a due offer"
[ "$(worker_of s2)" = "$s2_worker" ] || fail "s2's worker changed"
[ "$(said "$no_slot")" = 1 ] || fail "the launcher repeated that s3 has no slot"
echo "worker_slots: DROP DATABASE s1 freed a slot: s3's worker started and ticks"

# ------------------------------------------------------------------- (c) ---
qd postgres "ALTER SYSTEM SET max_worker_processes = 8" >/dev/null
qd postgres "ALTER SYSTEM SET omniroute.max_databases = 1" >/dev/null
if [ "$(id -u)" -eq 0 ]; then
	(cd / && runuser -u postgres -- "${PG_BINDIR:-$(pg_config --bindir)}/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 restart >/dev/null)
else
	"${PG_BINDIR:-$(pg_config --bindir)}/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 restart >/dev/null
fi
[ "$(qd postgres "SHOW omniroute.max_databases")" = 1 ] || fail "omniroute.max_databases is not 1"
one_served() {
	[ "$(qd postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")" = 1 ] &&
		[ "$(said 'all 1 slots of omniroute.max_databases are taken')" -ge 1 ]
}
poll 15 one_served || fail "expected one of s2 and s3 served and the other refused: $(grep 'omniroute launcher' "$dir/log" | tail -5)"
served=$(qd postgres "SELECT datname FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")
case $served in s2) other=s3 ;; s3) other=s2 ;; *) fail "the one database served is '$served'" ;; esac
sleep 2
refused="omniroute launcher: cannot start a tick worker in database \"$other\": all 1 slots of omniroute.max_databases are taken"
[ "$(said "$refused")" = 1 ] || fail "expected the launcher to say once that $other cannot be served: $(grep 'omniroute launcher' "$dir/log" | tail -5)"
qd postgres "DROP DATABASE $served" >/dev/null
poll 5 has_worker "$other" || fail "$other got no worker within 5 s of $served's slot freeing"
offer "$other"
poll 10 missed "$other" || fail "$other's worker did not miss a due offer"
echo "worker_slots: with omniroute.max_databases = 1, $served was served and $other refused (said once); after dropping $served, $other ticks"

# (the restart above ends every background worker with a FATAL of its own)
if grep -E ' (ERROR|FATAL|PANIC): ' "$dir/log" | grep -v 'terminating background worker "omniroute [a-z]*" due to administrator command'; then
	fail "errors in the server log (above)"
fi
echo "worker_slots: no free worker slot is said once and retried, tick() by hand works meanwhile, a freed slot is taken: ok"
