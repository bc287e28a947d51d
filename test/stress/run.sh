#!/usr/bin/env bash
# test/stress/run.sh — a bounded concurrent stress run, then invariant checks.
#
# Against the server in PGHOST/PGPORT/PGUSER (scripts/test.sh exports them):
#   1. (re)creates database omniroute_stress, CREATE EXTENSION omniroute,
#      loads test/stress/config.sql (3 push workstreams, 6 queues, 40 agents)
#   2. runs pgbench with STRESS_CLIENTS clients (default 4) for STRESS_SECONDS
#      seconds in all (default 20, at most 60), one script per kind of traffic,
#      in two phases of half the time each, with these weights:
#                                                             flood  drain
#        insert.sql       a routed insert                       6      3
#        accept.sql       a random agent accepts an offer       4      4
#        close.sql        a random agent closes an item         3      6
#        abandon.sql      the best open item of a queue closes  0      4
#        presence.sql     a random agent changes presence       2      2
#        reject.sql       a random agent rejects an offer       3      3
#        wait_resume.sql  hold an active item, resume another   2      2
#      (the flood fills the agents up and piles work up in the queues, the
#      drain empties the queues again).
#      Items are chosen with FOR UPDATE SKIP LOCKED, so every lifecycle call
#      finds its item in the expected state: any error, deadlock or lock
#      timeout during the run is a failure.
#   3. checks after each phase (the background worker ticks another
#      database, so nothing ticks during the run), that:
#        a. no agent uses more units than its capacity
#        b. an agent's used_units is the sum of the units its items reserve
#        c. an item reserves its workstream's units while offered/active, none
#           while open/waiting/closed
#        d. every membership mirrors its agent (free units, presence)
#        e. no item is open with an agent, or offered/active/waiting without one
#        f. a live item is held by the agent its last offer/assignment named
#           (no item went to two agents)
#        g. after one tick(), no open item of a push workstream has an
#           eligible agent with room (allowed presence by name or base, free
#           units, not declined, exact skills).  Waiting work is served in the
#           transaction that frees capacity; what a concurrent transaction hid
#           from it is served by the next tick (README, "Time: tick(at)"): the
#           count before that tick is printed.
#        h. every item has at least one work_item_event row
#        i. (at the end) no deadlock was recorded for the database
#   4. drops the database (STRESS_KEEP=1 keeps it for a post-mortem).
#
# Prints one summary line and `stress: ok`; exits non-zero, naming each
# failed check with sample rows, when anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DB=${STRESS_DB:-omniroute_stress}
DURATION=${STRESS_SECONDS:-20}
CLIENTS=${STRESS_CLIENTS:-4}
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}

case $DURATION in '' | *[!0-9]*) echo "stress: STRESS_SECONDS must be a number" >&2; exit 2 ;; esac
case $CLIENTS in '' | *[!0-9]*) echo "stress: STRESS_CLIENTS must be a number" >&2; exit 2 ;; esac
[ "$DURATION" -ge 2 ] || DURATION=2
[ "$DURATION" -le 60 ] || DURATION=60
[ "$CLIENTS" -ge 2 ] || CLIENTS=2

work=$(mktemp -d /tmp/omniroute-stress.XXXXXX)
cleanup() {
	local rc=$?
	set +e
	if [ "${STRESS_KEEP:-0}" != 1 ]; then
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 ||
			echo "stress: could not drop database $DB" >&2
	else
		echo "stress: database $DB kept (STRESS_KEEP=1)"
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

say() { printf 'stress: %s\n' "$*"; }

# ---------------------------------------------------------------- set up ---
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" \
	-c "SET client_min_messages = warning" \
	-c "CREATE EXTENSION omniroute"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$here/config.sql"

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# no worker may tick this database: check (g) counts what serving alone left
# before its own tick
# (a preloaded library serves every database with the extension unless
# omniroute.database names one)
if [ "$(q "SELECT current_setting('shared_preload_libraries') ~ 'omniroute'
                 AND coalesce(current_setting('omniroute.database', true), '') IN ('', current_database())")" = t ]; then
	say "omniroute.database is '$(q "SHOW omniroute.database")': a tick worker would tick $DB; set it to another database, or use another database name (STRESS_DB)"
	exit 2
fi
say "$(q "SELECT format('%s agents (%s units), %s queues, %s workstreams', (SELECT count(*) FROM omniroute.agent), (SELECT sum(capacity) FROM omniroute.agent), (SELECT count(*) FROM omniroute.queue), (SELECT count(*) FROM omniroute.workstream))"); $CLIENTS clients for ${DURATION}s"

# -------------------------------------------------------------------- run ---
failures=()
fail() { failures+=("$1"); }
total_tx=0
total_failed=0
phase_notes=()

# phase NAME SECONDS SCRIPT@WEIGHT...: one pgbench run
phase() {
	local name=$1 secs=$2 rc=0 tx failed per_script errors
	shift 2
	local -a scripts=()
	local sw
	for sw in "$@"; do scripts+=(-f "$here/$sw"); done
	# a lock wait this long is a hang, not contention
	PGOPTIONS="-c lock_timeout=20s -c statement_timeout=30s" \
		"$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T "$secs" \
		--failures-detailed --verbose-errors "${scripts[@]}" \
		"$DB" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$name.out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/$name.out")
	# per script: "SQL script 1: .../insert.sql" followed by " - 1234 transactions (...)"
	per_script=$(awk '/^SQL script [0-9]+:/ { n = $NF; sub(/.*\//, "", n); sub(/\.sql$/, "", n) }
		/^ - [0-9]+ transactions/ && n != "" { printf "%s%s %s", sep, n, $2; sep = ", "; n = "" }' "$work/$name.out")
	total_tx=$((total_tx + ${tx:-0}))
	total_failed=$((total_failed + ${failed:-0}))
	phase_notes+=("$name ${secs}s: ${tx:-?} ($per_script)")
	errors=$(grep -E 'ERROR|FATAL|aborted|error:|fatal:' "$work/$name.err" || true)
	if [ "$rc" -ne 0 ] || [ -z "$tx" ] || [ "${failed:-0}" != 0 ] || [ -n "$errors" ]; then
		say "$name: pgbench exit $rc, ${tx:-?} transactions, ${failed:-?} failed"
		grep -E '^(number of|latency|tps|SQL script| - )' "$work/$name.out" || cat "$work/$name.out"
		if [ -n "$errors" ]; then
			echo "----- errors by message -----"
			printf '%s\n' "$errors" | sed -n 's/.*\(ERROR\|FATAL\): *//p' | sort | uniq -c | sort -rn | head -n 10
			echo "----- first 40 lines of pgbench's error output ($(wc -l <"$work/$name.err") lines) -----"
			head -n 40 "$work/$name.err"
		fi
		fail "$name: pgbench exit $rc, ${failed:-?} failed transaction(s), $(printf '%s\n' "$errors" | grep -c . || true) error line(s)"
	fi
}

# ------------------------------------------------------------- invariants ---
nchecks=0
# check NAME SQL: SQL lists the violations (no trailing semicolon)
check() {
	local name="$at: $1" sql=$2 n
	nchecks=$((nchecks + 1))
	if ! n=$(q "SELECT count(*) FROM ($sql) v" 2>"$work/check.err"); then
		say "check '$name' could not run:"
		cat "$work/check.err"
		fail "$name (query failed)"
		return
	fi
	if [ "$n" -ne 0 ]; then
		say "VIOLATED: $name -- $n row(s); the first 20:"
		psql -X -P pager=off -d "$DB" -c "SELECT * FROM ($sql) v LIMIT 20"
		fail "$name ($n rows)"
	fi
}

# open items of push workstreams and the agents that could take them now
stranded_sql="
SELECT w.id AS item, w.workstream_id AS ws, w.queue_id AS queue, w.priority,
       w.required_skills, a.id AS agent, a.presence, a.capacity - a.used_units AS free_units
  FROM omniroute.work_item w
  JOIN omniroute.workstream ws ON ws.id = w.workstream_id AND ws.mode = 'push'
  JOIN omniroute.queue_member m ON m.queue_id = w.queue_id
  JOIN omniroute.agent a ON a.id = m.agent_id AND NOT a.is_bot
  JOIN omniroute.presence p ON p.name = a.presence
 WHERE w.state = 'open'
   AND (p.name = ANY (ws.allowed_presences) OR p.base = ANY (ws.allowed_presences))
   AND a.capacity - a.used_units >= ws.capacity_units
   AND a.id <> ALL (w.declined_agents)
   AND (ws.capacity_profile IS NULL OR EXISTS
          (SELECT 1 FROM omniroute.agent_profile ap JOIN omniroute.capacity_profile cp ON cp.name = ap.profile
            WHERE ap.agent_id = a.id AND ap.profile = ws.capacity_profile
              AND CASE WHEN cp.reset = 'never' THEN ap.active_items
                       WHEN ap.day = (now() AT TIME ZONE a.timezone)::date THEN ap.day_items ELSE 0 END
                  < coalesce(ap.max_items, cp.max_items)))
   AND (ws.skill_matching <> 'exact' OR NOT EXISTS
          (SELECT 1 FROM jsonb_each_text(w.required_skills) r(skill, level)
            WHERE NOT EXISTS (SELECT 1 FROM omniroute.agent_skill s
                               WHERE s.agent_id = a.id AND s.skill = r.skill
                                 AND s.proficiency >= r.level::numeric)))"

# check_all AT: every invariant on the database as it is now (AT names the
# moment in the report)
check_all() {
	local at=$1 before after
	check "a. no agent uses more units than its capacity" "
SELECT id, name, capacity, used_units, presence
  FROM omniroute.agent WHERE used_units > capacity"

	check "b. used_units = units reserved by the agent's items" "
SELECT a.id, a.used_units, coalesce(sum(w.reserved_units), 0) AS reserved_by_items,
       count(w.id) AS live_items
  FROM omniroute.agent a
  LEFT JOIN omniroute.work_item w ON w.agent_id = a.id AND w.state <> 'closed'
 GROUP BY a.id
HAVING a.used_units <> coalesce(sum(w.reserved_units), 0)"

	check "c. an item reserves its workstream's units exactly while offered or active" "
SELECT w.id, w.state, w.agent_id, w.reserved_units, ws.capacity_units
  FROM omniroute.work_item w JOIN omniroute.workstream ws ON ws.id = w.workstream_id
 WHERE w.reserved_units <> CASE WHEN w.state IN ('offered', 'active') THEN ws.capacity_units ELSE 0 END"

	check "d. memberships mirror their agent (free units, presence)" "
SELECT m.queue_id, m.agent_id, m.free_units, a.capacity - a.used_units AS agent_free,
       m.presence, a.presence AS agent_presence
  FROM omniroute.queue_member m JOIN omniroute.agent a ON a.id = m.agent_id
 WHERE m.free_units <> a.capacity - a.used_units OR m.presence <> a.presence"

	check "e. state and agent agree" "
SELECT id, state, agent_id, queue_id FROM omniroute.work_item
 WHERE (state = 'open' AND agent_id IS NOT NULL)
    OR (state IN ('offered', 'active', 'waiting', 'wrap_up') AND agent_id IS NULL)
    OR (state <> 'closed' AND queue_id IS NULL)"

	check "f. a live item is held by the agent its last offer or assignment named" "
SELECT w.id, w.state, w.agent_id, e.agent_id AS last_assigned_to, e.event, e.id AS event_id
  FROM omniroute.work_item w
  LEFT JOIN LATERAL (SELECT ev.id, ev.event, ev.agent_id FROM omniroute.work_item_event ev
                      WHERE ev.work_item_id = w.id AND ev.event IN ('offered', 'assigned', 'picked')
                      ORDER BY ev.id DESC LIMIT 1) e ON true
 WHERE w.state IN ('offered', 'active', 'waiting', 'wrap_up')
   AND e.agent_id IS DISTINCT FROM w.agent_id"

	# Serving happens in the transaction that frees capacity; what a
	# concurrent transaction hid from it (an uncommitted insert, an agent row
	# it held) is served by the next tick: count those, tick once, and then
	# nothing may be left.
	before=$(q "SELECT count(DISTINCT item) FROM ($stranded_sql) v") || before=0
	actions=$(q "SELECT omniroute.tick(now())") || actions=0
	say "$at: $before open item(s) waited beside an agent with room after the run; one tick took $actions action(s)"
	check "g. after one tick, no open item has an eligible agent with room" "$stranded_sql"

	check "h. every item has an event" "
SELECT w.id, w.state FROM omniroute.work_item w
 WHERE NOT EXISTS (SELECT 1 FROM omniroute.work_item_event e WHERE e.work_item_id = w.id)"
}

# ------------------------------------------------------------------ main ---
# Two phases, each half the time: a flood (more arrives than is closed: the
# agents fill up and open work piles up, so every release serves a waiting
# item) and a drain (more is closed than arrives: agents have room and
# queues run empty, so new work races releases and presence changes for the
# same agents).  Invariants after each.
half=$((DURATION / 2))
phase flood "$half" insert.sql@6 accept.sql@4 close.sql@3 presence.sql@2 reject.sql@3 wait_resume.sql@2
check_all "after flood"
phase drain "$half" insert.sql@3 accept.sql@4 close.sql@6 abandon.sql@4 presence.sql@2 reject.sql@3 wait_resume.sql@2
check_all "after drain"

at=end
# deadlocks are counted when the backend reports its statistics (at latest
# when it exits; pgbench's sessions are gone by now)
sleep 1
check "i. no deadlock in database $DB" "
SELECT datname, deadlocks FROM pg_stat_database WHERE datname = current_database() AND deadlocks > 0"

# ---------------------------------------------------------------- summary ---
stats=$(q "SELECT format('%s items inserted, %s routed to an agent; now %s', count(*),
                  (SELECT count(DISTINCT work_item_id) FROM omniroute.work_item_event
                    WHERE event IN ('offered', 'assigned', 'picked')),
                  (SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
                     FROM (SELECT state, count(*) AS n FROM omniroute.work_item GROUP BY state) s))
             FROM omniroute.work_item")
say "$total_tx transactions ($total_failed failed; $(IFS=';'; echo "${phase_notes[*]}" | sed 's/;/; /g')) by $CLIENTS clients;" \
	"$stats; $nchecks invariant checks, ${#failures[@]} failed"

if [ ${#failures[@]} -gt 0 ]; then
	for f in "${failures[@]}"; do say "FAILED: $f"; done
	exit 1
fi
say ok
