#!/usr/bin/env bash
# test/standby/run.sh — omniroute on a physical replica, and after a
# switchover to it.  A primary and a hot standby (pg_basebackup -R,
# streaming over the primary's Unix socket: scripts/cluster.sh standby) both
# preload omniroute, with omniroute.database = 'postgres' (the test's
# database) and omniroute.tick_interval = 300 ms.  It proves:
#
#   a. on the standby, work routed on the primary replays and reads the
#      same (items, events, agents' units, the routing diagnostics); nothing
#      is routed or ticked there: an INSERT of a work item fails (25006,
#      read-only transaction), and so does omniroute.tick() even at a time
#      when offers are due (25006: its SELECT ... FOR UPDATE of due offers is
#      refused, so it changes nothing); the worker is not started there at
#      all (it starts once recovery has finished): no "omniroute tick"
#      backend in pg_stat_activity, sampled over four tick intervals, no line
#      of the worker in the standby's log, and no ERROR there but the two
#      above;
#   b. after `pg_ctl promote` the worker starts and ticks on its own, with no
#      server restart (same postmaster start time) and no tick() by hand: its
#      first tick comes within two tick intervals of `pg_ctl promote` (the
#      worker's "ticking in database" log line against the clock when
#      promote ran; printed), and an offer made on the primary with a 3 s
#      offer_timeout, falling due after the promotion, is missed by the
#      promoted server's worker within two tick intervals of falling due
#      ('missed' event for its agent, the agent 'inactive', the item
#      re-routed and 'open' in a queue with nobody else).  A session holds
#      that item FOR SHARE on the primary until the primary stops, so the old
#      primary's worker (SKIP LOCKED) cannot handle it first;
#   c. no assignment committed on the primary before a clean switchover
#      (`pg_ctl stop -m fast` on the primary, which sends all its WAL first;
#      the standby has replayed past its shutdown checkpoint; then promote)
#      is lost: items routed, accepted and closed on the primary, each commit
#      returning before its WAL is flushed (the tests' synchronous_commit =
#      off), the last just before the stop; the promoted server has every
#      item's (id, state, agent, queue, units, priority, offer time), every
#      event and the agents' units and presence exactly as the primary had
#      them; it then routes a new item, with an id above all the others.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
. scripts/cluster.sh # for _oc_bindir: the same binaries as the clusters
bindir=$(_oc_bindir)
# the worker's default database: the worker connects at once (to a database
# made after the server starts it connects only at its restart, 5 s later)
DB=postgres
TICK_MS=300
OMNIROUTE_PGCONF="omniroute.database = '$DB'\nomniroute.tick_interval = $TICK_MS" \
	throwaway_cluster standby
primary=$dir
[ "${PGHOST:-}" = "$primary" ] || fail "the primary did not start (scripts/cluster.sh start $primary)"
primary_port=$PGPORT
standby=$(mktemp -d /tmp/omniroute-standby-replica.XXXXXX)
throwaway_register "$standby"

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
# qp / qs SQL: one statement on the primary / the standby, in database $DB
qp() { PGHOST=$primary PGPORT=$primary_port psql -X -At -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
qs() { PGHOST=$standby PGPORT=$standby_port psql -X -At -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# ms since the epoch of a server log line's time (log_line_prefix '%m ...')
log_ms() { date -d "$(echo "$1" | awk '{print $1, $2, $3}')" +%s%3N; }
# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds; fails after SECONDS
poll() {
	local deadline=$(($(date +%s%3N) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(date +%s%3N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------ the primary ---
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'General'), (2, 'Short offers');
INSERT INTO omniroute.agent (id, name, capacity, presence)
SELECT a, 'agent ' || a, 100, 'available' FROM generate_series(1, 5) AS a;
-- agents 1-4 take the chats; agent 5 alone takes the short offers
INSERT INTO omniroute.queue_member (queue_id, agent_id)
SELECT 1, a FROM generate_series(1, 4) AS a UNION ALL SELECT 2, 5;
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, capacity_units, skill_matching, offer_timeout)
VALUES (1, 'chat', 1, 25, 'none', '1 hour'),
       (2, 'short offers', 2, 25, 'none', '3 seconds');
INSERT INTO omniroute.context_variable VALUES (1, 'topic', 'text');
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output)
VALUES (1, 1, 'refunds first', 'topic = ''refund''', '{"priority": 5}');
SQL
worker_on() { [ "$(qp "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick' AND datname = '$DB'")" = 1 ]; }
poll 30 worker_on || fail "the primary's tick worker did not connect to $DB (log: $primary/log)"

# ------------------------------------------------------------ the standby ---
if ! out=$(bash scripts/cluster.sh standby "$primary" "$standby" 2>&1); then
	fail "could not make the standby: $out"
fi
standby_port=$(sed -n "s/^export PGPORT='\([0-9]*\)'\$/\1/p" "$standby/env")
[ "$(qs "SELECT pg_is_in_recovery()")" = t ] || fail "the standby is not in recovery"
streaming() { [ "$(qs "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")" = 1 ]; }
poll 30 streaming || fail "the standby does not stream from the primary (log: $standby/log)"
standby_started=$(qs "SELECT pg_postmaster_start_time()")

# routed work on the primary: 16 offers (4 agents x 4 items of 25 units), 4
# items open; then accepts and closes, each a transaction of its own (a close
# serves an open item to the agent it frees)
qp "INSERT INTO omniroute.work_item (workstream_id, external_id, context)
    SELECT 1, 'chat-' || g, jsonb_build_object('topic', CASE WHEN g % 3 = 0 THEN 'refund' ELSE 'other' END)
      FROM generate_series(1, 20) AS g" >/dev/null
[ "$(qp "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
           FROM (SELECT state, count(*) AS n FROM omniroute.work_item GROUP BY state) s")" = "offered 16, open 4" ] ||
	fail "expected 16 items offered and 4 open on the primary, found $(qp "SELECT string_agg(id || ' ' || state, ', ' ORDER BY id) FROM omniroute.work_item")"
for id in $(qp "SELECT id FROM omniroute.work_item WHERE state = 'offered' ORDER BY id LIMIT 6"); do
	[ "$(qp "SELECT state FROM omniroute.accept($id)")" = active ] || fail "accept($id) on the primary did not make it active"
done
for id in $(qp "SELECT id FROM omniroute.work_item WHERE state = 'active' ORDER BY id LIMIT 2"); do
	[ "$(qp "SELECT state FROM omniroute.close($id, 'done')")" = closed ] || fail "close($id) on the primary did not close it"
done

# the state of the chat work, as one list: items, their events, the agents
chat_state_sql="
SELECT 'item ' || id || ' ' || state || ' agent ' || coalesce(agent_id::text, '-') || ' queue ' || queue_id
       || ' units ' || reserved_units || ' priority ' || priority || ' offered ' || coalesce(offered_at::text, '-')
  FROM omniroute.work_item WHERE workstream_id = 1
UNION ALL
SELECT 'event ' || e.id || ' item ' || e.work_item_id || ' ' || e.event || ' agent ' || coalesce(e.agent_id::text, '-')
       || ' at ' || e.at
  FROM omniroute.work_item_event e JOIN omniroute.work_item w ON w.id = e.work_item_id
 WHERE w.workstream_id = 1
UNION ALL
SELECT 'agent ' || id || ' used ' || used_units || ' ' || presence FROM omniroute.agent WHERE id <= 4
ORDER BY 1"

# ------------------------------------------------------------------ (a) -----
replayed_to() { [ "$(qs "SELECT pg_last_wal_replay_lsn() >= '$1'")" = t ]; }
lsn=$(qp "SELECT pg_current_wal_lsn()")
poll 30 replayed_to "$lsn" || fail "the standby did not replay the primary's WAL up to $lsn"
qp "$chat_state_sql" >"$standby/primary.a"
qs "$chat_state_sql" >"$standby/standby.a"
diff "$standby/primary.a" "$standby/standby.a" >"$standby/diff.a" ||
	fail "the standby reads the routed work differently from the primary: $(head -20 "$standby/diff.a")"
[ "$(qs "SELECT count(*) FROM omniroute.work_item WHERE state IN ('offered', 'active') AND diagnostics->'assignment'->>'agent_id' IS NOT NULL")" -ge 14 ] ||
	fail "the standby does not show the routing decisions (diagnostics)"

# nothing routes there
if out=$(qs "INSERT INTO omniroute.work_item (workstream_id) VALUES (1)" 2>&1); then
	fail "an INSERT into work_item on the standby succeeded: $out"
fi
case $out in
*"cannot execute INSERT in a read-only transaction"*) ;;
*) fail "an INSERT on the standby failed, but not as read-only: $out" ;;
esac
# nor ticks: two hours from now the chat offers are due; tick() refuses
if out=$(PGHOST=$standby PGPORT=$standby_port psql -X -At -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$DB" \
	-c "SELECT omniroute.tick(now() + interval '2 hours')" 2>&1); then
	fail "omniroute.tick() on the standby succeeded ($out)"
fi
case $out in
*"25006"*"read-only transaction"*) ;;
*) fail "omniroute.tick() on the standby failed, but not as read-only (25006): $out" ;;
esac
qs "$chat_state_sql" >"$standby/standby.a2"
diff -q "$standby/primary.a" "$standby/standby.a2" >/dev/null || fail "the standby's data changed after tick() there"

# and no worker: none in pg_stat_activity over four tick intervals
# (sampled every 0.1 s), and nothing of it in the log
samples=0
end=$(($(date +%s%3N) + 4 * TICK_MS))
while [ "$(date +%s%3N)" -lt "$end" ]; do
	n=$(qs "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")
	[ "$n" = 0 ] || fail "an omniroute tick worker runs on the standby: $(qs "SELECT pid || ' ' || coalesce(datname, '') || ' ' || coalesce(state, '') || ' ' || query FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")"
	samples=$((samples + 1))
	sleep 0.1
done
worker_on || fail "the primary's worker is gone"
if grep -q "omniroute tick worker" "$standby/log"; then
	fail "the worker left lines in the standby's log: $(grep "omniroute tick worker" "$standby/log" | head -5)"
fi
errors=$(grep -E ' (ERROR|FATAL|PANIC): ' "$standby/log" | grep -cv 'read-only transaction' || true)
[ "$errors" = 0 ] || fail "errors in the standby's log: $(grep -E ' (ERROR|FATAL|PANIC): ' "$standby/log" | grep -v 'read-only transaction' | head -5)"
[ "$(grep -cE ' ERROR: ' "$standby/log")" = 2 ] ||
	fail "expected the standby's log to hold only the two read-only errors, found: $(grep -E ' ERROR: ' "$standby/log" | head -5)"

# ------------------------------------------------------------ (b) and (c) ---
# the last assignment just before the switch, then the primary's chat state
last=$(qp "SELECT id FROM omniroute.work_item WHERE state = 'offered' AND workstream_id = 1 ORDER BY id LIMIT 1")
[ "$(qp "SELECT state FROM omniroute.accept($last)")" = active ] || fail "accept($last) on the primary did not make it active"
qp "$chat_state_sql" >"$standby/primary.c"

# The short offer: inserted, then held FOR SHARE until the primary stops,
# so that the primary's worker (SKIP LOCKED) cannot miss it first.
coproc HOLD { PGHOST=$primary PGPORT=$primary_port psql -X -At -q -v ON_ERROR_STOP=1 -d "$DB" 2>&1; }
echo "INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (2, 'short') RETURNING id, state, agent_id;" >&"${HOLD[1]}"
read -r -t 30 offer <&"${HOLD[0]}" || fail "the short offer was not inserted"
echo "BEGIN; SELECT 'held' FROM omniroute.work_item WHERE external_id = 'short' FOR SHARE;" >&"${HOLD[1]}"
read -r -t 30 held <&"${HOLD[0]}" || fail "the short offer could not be locked"
[ "$held" = held ] || fail "the short offer could not be locked: $held"
x=${offer%%|*}
[ "$offer" = "$x|offered|5" ] || fail "the short offer was not offered to agent 5: $offer"

# clean switchover: a fast shutdown sends all WAL to the standby first
as_owner "$bindir/pg_ctl" -D "$primary/data" -m fast -w -t 60 stop >/dev/null ||
	fail "the primary did not stop"
ckpt=$(as_owner "$bindir/pg_controldata" -D "$primary/data" | sed -n 's/^Latest checkpoint location: *//p')
[ -n "$ckpt" ] || fail "no checkpoint location in the stopped primary's control file"
replayed_past() { [ "$(qs "SELECT pg_last_wal_replay_lsn() > '$1'")" = t ]; }
poll 30 replayed_past "$ckpt" || fail "the standby did not replay the primary's shutdown checkpoint ($ckpt)"

promote_ms=$(date +%s%3N)
as_owner "$bindir/pg_ctl" -D "$standby/data" -w -t 60 promote >/dev/null || fail "pg_ctl promote failed"
[ "$(qs "SELECT pg_is_in_recovery()")" = f ] || fail "the standby is still in recovery after pg_ctl promote"
[ "$(qs "SELECT pg_postmaster_start_time()")" = "$standby_started" ] || fail "the standby restarted"

# the first tick, from the worker's line in the log (it writes it in its
# first tick that finds the extension), against the clock when pg_ctl promote
# was run (the same clock: one machine)
ticking() { grep -q "omniroute tick worker: ticking in database \"$DB\"" "$standby/log"; }
poll 10 ticking || fail "no tick by the promoted server's worker within 10 s (log: $(grep -i omniroute "$standby/log" | tail -5))"
tick_line=$(grep -F "omniroute tick worker: ticking in database \"$DB\"" "$standby/log" | head -1)
first_tick=$(($(log_ms "$tick_line") - promote_ms))
[ "$first_tick" -ge 0 ] && [ "$first_tick" -le $((2 * TICK_MS)) ] ||
	fail "the first tick came $first_tick ms after the promotion, not within $((2 * TICK_MS)) ms"

# the short offer is missed by that worker
missed() { [ "$(qs "SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = $x AND event = 'missed'")" = 1 ]; }
poll 15 missed || fail "the short offer was not missed on the promoted server within 15 s: $(qs "SELECT state FROM omniroute.work_item WHERE id = $x")"
# (the item's offered_at is cleared when it is re-routed: the offer's event has it)
read -r due_ms missed_ms <<<"$(qs "SELECT round(extract(epoch FROM o.at + ws.offer_timeout) * 1000),
                                         round(extract(epoch FROM m.at) * 1000)
                                    FROM omniroute.work_item w
                                    JOIN omniroute.workstream ws ON ws.id = w.workstream_id
                                    JOIN omniroute.work_item_event o ON o.work_item_id = w.id AND o.event = 'offered'
                                    JOIN omniroute.work_item_event m ON m.work_item_id = w.id AND m.event = 'missed'
                                   WHERE w.id = $x" | tr '|' ' ')"
[ -n "$due_ms" ] && [ -n "$missed_ms" ] || fail "no offer and miss events for the short offer"
[ "$due_ms" -gt "$promote_ms" ] ||
	fail "the short offer fell due $((promote_ms - due_ms)) ms before the promotion: the switchover took longer than its offer_timeout"
[ "$missed_ms" -ge "$promote_ms" ] || fail "the short offer was missed before the promotion"
lag=$((missed_ms - due_ms))
[ "$lag" -ge 0 ] && [ "$lag" -le $((2 * TICK_MS)) ] ||
	fail "the short offer was missed $lag ms after it fell due, not within $((2 * TICK_MS)) ms"
got=$(qs "SELECT w.state || ' ' || coalesce(w.agent_id::text, '-') || ' ' || w.queue_id || ' ' || w.declined_agents::text
                 || ' ' || a.presence || ' ' || e.agent_id
            FROM omniroute.work_item w, omniroute.agent a, omniroute.work_item_event e
           WHERE w.id = $x AND a.id = 5 AND e.work_item_id = w.id AND e.event = 'missed'")
[ "$got" = "open - 2 {5} inactive 5" ] ||
	fail "after the miss expected the item open in queue 2, declined by agent 5, agent 5 inactive; got '$got'"

# (c): nothing committed on the primary is lost
qs "$chat_state_sql" >"$standby/promoted.c"
diff "$standby/primary.c" "$standby/promoted.c" >"$standby/diff.c" ||
	fail "the promoted server differs from the primary's last state: $(head -20 "$standby/diff.c")"
items=$(grep -c '^item ' "$standby/primary.c")
events=$(grep -c '^event ' "$standby/primary.c")
accepted=$(grep -c '^item .* active ' "$standby/primary.c")

# and it routes new work, with an id that collides with nothing
new=$(qs "INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (1, 'after') RETURNING id || ' ' || state")
[ "${new%% *}" -gt "$(qs "SELECT max(id) FROM omniroute.work_item WHERE external_id IS DISTINCT FROM 'after'")" ] ||
	fail "the new item's id ${new%% *} is not above the old ones"
case ${new#* } in offered | open) ;; *) fail "a new item on the promoted server was not routed: $new" ;; esac
if grep -E "omniroute tick worker: .* failed|PANIC|terminated by signal" "$standby/log"; then
	fail "the promoted server's worker failed (see above)"
fi

echo "standby: replica reads routed work, refuses INSERT and tick() (25006), runs no worker ($samples samples);" \
	"promoted: first tick $first_tick ms after promotion, offer missed $lag ms after falling due" \
	"($((due_ms - promote_ms)) ms after promotion); $items items ($accepted active), $events events kept: ok"
