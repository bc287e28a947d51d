#!/usr/bin/env bash
# test/workers/run.sh — with the library preloaded and omniroute.database
# left empty, every database with the extension gets a tick worker of its
# own (src/launcher.c), and nothing else does.  Three databases: alpha and
# beta with the extension, gamma without.  It proves:
#
#   a. the launcher shows in pg_stat_activity ('omniroute launcher', no
#      database); alpha and beta each get an 'omniroute tick' worker within
#      5 s of their CREATE EXTENSION; gamma, postgres and the templates get
#      none;
#   b. each database ticks on its own: in each, an offer with a 1 s timeout
#      is missed by the worker (a 'missed' event; nobody calls tick()); and
#      each database's worker sends its agents' notifications (a listener
#      gets the offer from the worker's process, not from the router);
#   c. DROP EXTENSION in alpha stops its worker (beta's goes on); CREATE
#      EXTENSION brings one back within 5 s, which ticks;
#   d. CREATE DATABASE delta TEMPLATE beta, ALTER DATABASE delta RENAME TO
#      epsilon and DROP DATABASE beta each complete within 3 s (PostgreSQL
#      gives up after 5 s on a database someone is connected to), the
#      copy and the renamed database get workers of their own that tick,
#      beta's worker comes back after the copy, and after the drop alpha and
#      epsilon still tick and no worker tries beta again;
#   e. omniroute.database = 'alpha' (SIGHUP) stops epsilon's worker and
#      keeps alpha's; emptied again, epsilon's comes back;
#   f. the log has no ERROR or FATAL line at all (no error loop for a
#      dropped database, where the old worker logged a FATAL every 5 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
TICK_MS=200
OMNIROUTE_PGCONF="omniroute.tick_interval = $TICK_MS" throwaway_cluster workers

. test/workers/lib.sh

no_worker() { [ -z "$(worker_of "$1")" ]; }
# never two workers in one database
one_each() {
	local twice
	twice=$(qd postgres "SELECT string_agg(datname, ' ') FROM (SELECT datname FROM pg_stat_activity
	                      WHERE backend_type = 'omniroute tick' GROUP BY datname HAVING count(*) > 1) d")
	[ -z "$twice" ] || fail "two tick workers in a database: $twice"
}
# ticks DB: an offer made now in DB is missed by its worker, within 4 s of
# falling due; sets lag (ms).  The item, re-routed to no one, is closed.
ticks() {
	local db=$1
	offer "$db"
	missed() { [ "$(qd "$db" "SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = $item AND event = 'missed'")" = 1 ]; }
	poll 15 missed || fail "$db: the offer of item $item was not missed by a worker within 15 s"
	lag=$(qd "$db" "SELECT round(extract(epoch FROM m.at - o.at - interval '1 second') * 1000)
	                 FROM omniroute.work_item_event o, omniroute.work_item_event m
	                WHERE o.work_item_id = $item AND o.event = 'offered'
	                  AND m.work_item_id = $item AND m.event = 'missed'")
	[ "$lag" -le 4000 ] || fail "$db: the offer was missed $lag ms after falling due"
	qd "$db" "SELECT omniroute.close($item, 'test')" >/dev/null
}
# notified DB: a listener in DB gets the offer of a new item from DB's
# worker (notify.c); tried again if the item went open (see offer) or the
# router sent it itself (it does while the worker is in a tick over 100 ms)
notified() {
	local db=$1 w out pids=
	w=$(worker_of "$db")
	for _ in 1 2 3 4 5; do
		out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<'SQL'
LISTEN omniroute_agent_1;
UPDATE omniroute.agent SET presence = 'available' WHERE id = 1;
INSERT INTO omniroute.work_item (workstream_id) VALUES (1);
SELECT pg_sleep(0.5);
SQL
		)
		pids=$(echo "$out" | grep '"event": "offered"' |
			sed -n 's/.*received from server process with PID \([0-9]*\).*/\1/p' || true)
		[ "$pids" != "$w" ] || break
	done
	[ "$pids" = "$w" ] || fail "$db: the offer was notified by process '$pids', not by its worker $w: $out"
}
# timed SQL: run it in postgres; sets ms to how long it took; over 3 s fails
timed() {
	local t0
	t0=$(now_ms)
	qd postgres "$1" >/dev/null || fail "'$1' failed: a worker kept the database busy?"
	ms=$(($(now_ms) - t0))
	[ "$ms" -le 3000 ] || fail "'$1' took $ms ms"
}

# ------------------------------------------------------------------- (a) ---
launcher_on() {
	[ "$(qd postgres "SELECT count(*) FROM pg_stat_activity
	                   WHERE backend_type = 'omniroute launcher' AND datname IS NULL")" = 1 ]
}
poll 10 launcher_on || fail "no omniroute launcher in pg_stat_activity"
createdb gamma
createdb alpha
createdb beta
for db in alpha beta; do
	t0=$(now_ms)
	install "$db"
	poll 5 has_worker "$db" || fail "no tick worker in $db within 5 s of CREATE EXTENSION"
	echo "workers: $db's worker came $(($(now_ms) - t0)) ms after CREATE EXTENSION (data included)"
done
# gamma's first look is over when it has no worker; it must stay without
poll 10 no_worker gamma || fail "a worker stays in gamma, which has no extension"
for _ in $(seq 1 10); do
	n=$(qd postgres "SELECT count(*) FROM pg_stat_activity
	                  WHERE backend_type = 'omniroute tick' AND datname NOT IN ('alpha', 'beta')")
	[ "$n" = 0 ] || fail "a tick worker runs outside alpha and beta: $(qd postgres "SELECT datname FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")"
	sleep 0.1
done

# ------------------------------------------------------------------- (b) ---
ticks alpha
a=$lag
ticks beta
echo "workers: alpha ticks on its own (offer missed $a ms after due), beta too ($lag ms)"
notified alpha
notified beta
echo "workers: alpha's and beta's offers are notified by their own workers"
one_each

# ------------------------------------------------------------------- (c) ---
beta_worker=$(worker_of beta)
qd alpha "DROP EXTENSION omniroute" >/dev/null
poll 5 no_worker alpha || fail "alpha's worker stays after DROP EXTENSION"
grep -q 'extension omniroute was dropped from database "alpha"' "$dir/log" ||
	fail "alpha's worker did not say why it left"
t0=$(now_ms)
install alpha
poll 5 has_worker alpha || fail "no tick worker in alpha within 5 s of CREATE EXTENSION again"
back=$(($(now_ms) - t0))
ticks alpha
echo "workers: after DROP and CREATE EXTENSION alpha's worker came back in $back ms and ticks ($lag ms)"
[ "$(worker_of beta)" = "$beta_worker" ] || fail "beta's worker changed while alpha's extension was dropped"
one_each

# ------------------------------------------------------------------- (d) ---
timed "CREATE DATABASE delta TEMPLATE beta"
poll 5 has_worker delta || fail "no tick worker in delta (copied from beta) within 5 s"
poll 5 has_worker beta || fail "beta's worker did not come back after the copy"
ticks delta
a=$lag
ticks beta
echo "workers: CREATE DATABASE delta TEMPLATE beta took $ms ms; delta ticks ($a ms), beta again ($lag ms)"
timed "ALTER DATABASE delta RENAME TO epsilon"
poll 5 has_worker epsilon || fail "no tick worker in epsilon (renamed from delta) within 5 s"
ticks epsilon
echo "workers: ALTER DATABASE delta RENAME TO epsilon took $ms ms; epsilon ticks ($lag ms)"
timed "DROP DATABASE beta"
sleep 6 # longer than the old worker's 5 s restart: it would have tried again by now
[ "$(qd postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")" = 2 ] ||
	fail "expected the workers of alpha and epsilon only after DROP DATABASE beta, found: $(qd postgres "SELECT string_agg(coalesce(datname, '?'), ' ') FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")"
ticks alpha
a=$lag
ticks epsilon
echo "workers: DROP DATABASE beta took $ms ms; then alpha ticks ($a ms), epsilon too ($lag ms)"

# ------------------------------------------------------------------- (e) ---
alpha_worker=$(worker_of alpha)
qd postgres "ALTER SYSTEM SET omniroute.database = 'alpha'" >/dev/null
qd postgres "SELECT pg_reload_conf()" >/dev/null
poll 5 no_worker epsilon || fail "epsilon's worker stays with omniroute.database = 'alpha'"
[ "$(worker_of alpha)" = "$alpha_worker" ] || fail "alpha's worker changed with omniroute.database = 'alpha'"
qd postgres "ALTER SYSTEM RESET omniroute.database" >/dev/null
qd postgres "SELECT pg_reload_conf()" >/dev/null
poll 5 has_worker epsilon || fail "epsilon's worker did not come back with omniroute.database empty"
ticks epsilon
echo "workers: omniroute.database = 'alpha' stopped epsilon's worker only; emptied, epsilon ticks again ($lag ms)"
one_each

# ------------------------------------------------------------------- (f) ---
if grep -q -E ' (ERROR|FATAL|PANIC): ' "$dir/log"; then
	grep -E -B2 -A4 ' (ERROR|FATAL|PANIC): ' "$dir/log"
	fail "errors in the server log (above)"
fi
echo "workers: one tick worker per database with the extension, none elsewhere, through DROP/CREATE EXTENSION, TEMPLATE, RENAME, DROP DATABASE and omniroute.database; no error in the log: ok"
