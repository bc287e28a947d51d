#!/usr/bin/env bash
# test/pg_upgrade/run.sh — a database using omniroute comes through
# pg_upgrade whole and keeps routing.
#
# An old cluster (preloading omniroute; its worker ticks the database
# pg_upgrade every 300 ms) holds a small contact center: a custom presence,
# skills, a capacity profile, four queues (one with no members), six agents
# with skills, memberships and profiles, two push workstreams with context
# variables, classification and route rules.  Work is routed, then accepted,
# put to waiting, wrapped up and closed; some stays offered (offer timeout an
# hour, so no tick changes anything meanwhile) and some open (in the queue
# nobody serves).  Every table of the extension (found from pg_depend, not
# listed here, so tables a later version adds are covered) is recorded as
# its row count and md5 of its rows in order, and every sequence in the
# extension's schema (the identity sequences) as its state, with the
# extension's version.  Both clusters are stopped, and pg_upgrade (the
# same binaries, old and new, as the clusters: PG_BINDIR) moves the old one
# into a new cluster initialised by scripts/cluster.sh with the same
# settings.  On the new cluster:
#   - every table's rows, every sequence and the extension version are
#     identical (whatever version is installed);
#   - the B-tree indexes of the extension's tables pass amcheck's
#     bt_index_check;
#   - a new work item is routed on INSERT (offered to an agent, or open in a
#     queue) with an id above every old one, and its events get new ids too;
#   - omniroute.tick() works: at now() it runs, and an hour ahead it misses
#     every offer still outstanding (one action each at least);
#   - the new cluster's worker connects and ticks the database, and nothing
#     in pg_upgrade's or the new server's log is an omniroute error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
. scripts/cluster.sh # for _oc_bindir: the same binaries as the clusters
bindir=$(_oc_bindir)
TICK_MS=300
export OMNIROUTE_PGCONF="omniroute.database = 'pg_upgrade'\nomniroute.tick_interval = $TICK_MS"
throwaway_cluster pg_upgrade
old=$dir
[ "${PGHOST:-}" = "$old" ] || fail "the old cluster did not start (scripts/cluster.sh start $old)"
old_port=$PGPORT
DB=$test_name

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
# poll SECONDS CMD...: run CMD every 0.1 s until it succeeds; fails after SECONDS
poll() {
	local deadline=$(($(date +%s%3N) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(date +%s%3N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# the new cluster, with the same settings (scripts/cluster.sh,
# OMNIROUTE_PGCONF), is made meanwhile (initdb is most of the time)
new=$(mktemp -d /tmp/omniroute-pg_upgrade-new.XXXXXX)
throwaway_register "$new"
bash scripts/cluster.sh start "$new" >/dev/null 2>"$old/new-start.err" &
new_start=$!
# (on an early exit, let that start finish before stopping everything)
trap 'wait "$new_start" 2>/dev/null || true; throwaway_cleanup' EXIT

# ------------------------------------------------------- the old cluster ---
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE EXTENSION omniroute;

INSERT INTO omniroute.presence (name, base) VALUES ('On a call', 'busy');
INSERT INTO omniroute.skill (name) VALUES ('english'), ('spanish'), ('billing');
INSERT INTO omniroute.capacity_profile (name, max_items, reset) VALUES ('two chats', 2, 'never');

INSERT INTO omniroute.queue (id, name, assignment, priority) VALUES
    (1, 'General', 'highest_capacity', 0),
    (2, 'Billing', 'round_robin', 1),
    (3, 'Spanish', 'least_active', 2),
    (4, 'Night desk', 'highest_capacity', 0);   -- nobody: its work stays open
INSERT INTO omniroute.agent (id, name, capacity, presence) VALUES
    (1, 'Ann', 100, 'available'), (2, 'Bob', 100, 'available'), (3, 'Cruz', 100, 'On a call'),
    (4, 'Dee', 50, 'available'), (5, 'Eve', 100, 'available'), (6, 'Fay', 100, 'offline');
INSERT INTO omniroute.agent_skill (agent_id, skill, proficiency) VALUES
    (1, 'english', 9), (1, 'billing', 7), (2, 'english', 8), (3, 'spanish', 10),
    (3, 'english', 6), (4, 'billing', 9), (5, 'english', 7), (5, 'spanish', 8), (6, 'english', 5);
INSERT INTO omniroute.agent_profile (agent_id, profile) VALUES (1, 'two chats'), (2, 'two chats'),
    (3, 'two chats'), (4, 'two chats'), (5, 'two chats');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES
    (1, 1), (1, 2), (1, 5), (1, 6), (2, 1), (2, 4), (3, 3), (3, 5);

-- chats: two at a time per agent (the profile), english by default
INSERT INTO omniroute.workstream (id, name, kind, channel, capacity_units, capacity_profile,
                                  fallback_queue_id, skill_matching, offer_timeout, allowed_presences)
VALUES (1, 'Web chat', 'messaging', 'chat', 25, 'two chats', 1, 'closest', '1 hour', '{available,busy}');
-- cases: no profile, exact skills, wrap-up keeps the units until close
INSERT INTO omniroute.workstream (id, name, kind, record_type, capacity_units, fallback_queue_id,
                                  skill_matching, offer_timeout)
VALUES (2, 'Cases', 'record', 'case', 10, 1, 'exact', '1 hour');
INSERT INTO omniroute.context_variable (workstream_id, name, type) VALUES
    (1, 'topic', 'text'), (1, 'language', 'text'), (1, 'amount', 'number'),
    (2, 'topic', 'text'), (2, 'night', 'text');
INSERT INTO omniroute.classification_rule (workstream_id, position, name, condition, output) VALUES
    (1, 1, 'Big refunds first', 'amount > 500', '{"priority": 5}'),
    (1, 2, 'Spanish speakers', 'language = ''es''', '{"skills": {"spanish": 5}}'),
    (2, 1, 'Billing cases', 'topic CONTAINS ''bill''', '{"skills": {"billing": 5}}');
INSERT INTO omniroute.route_rule (workstream_id, position, name, condition, queue_id) VALUES
    (1, 1, 'Billing', 'topic CONTAINS ''bill'' OR topic = ''refund''', 2),
    (1, 2, 'Spanish', 'language = ''es''', 3),
    (2, 1, 'Night', 'night = ''yes''', 4),
    (2, 2, 'Billing cases', 'topic CONTAINS ''bill''', 2);

-- the work, each item routed in a transaction of its own as an application does
\set QUIET on
SELECT format('INSERT INTO omniroute.work_item (workstream_id, external_id, customer_id, context) VALUES (%s, %L, %L, %L)',
              1 + n % 2, 'item-' || n, 'cust-' || n % 7,
              CASE WHEN n % 2 = 0
                   THEN jsonb_build_object('topic', (ARRAY['refund', 'login', 'bill copy', 'hello'])[1 + n % 4],
                                           'language', (ARRAY['en', 'es', 'en'])[1 + n % 3], 'amount', n * 37)
                   ELSE jsonb_build_object('topic', (ARRAY['billing', 'delivery', 'other'])[1 + n % 3],
                                           'night', CASE WHEN n % 5 = 0 THEN 'yes' ELSE 'no' END)
              END)
  FROM generate_series(1, 40) AS n ORDER BY n
\gexec
SQL
# then a working morning: accept, wait, wrap up, close
for step in "accept offered 6" "close active 2" "wait active 1" "wrap_up active 1" "reject offered 1" "accept offered 2"; do
	read -r fn state n <<<"$step"
	for id in $(q "SELECT id FROM omniroute.work_item WHERE state = '$state' ORDER BY id LIMIT $n"); do
		q "SELECT state FROM omniroute.$fn($id)" >/dev/null
	done
done

# ------------------------------------------------------------- the record ---
# every table of the extension and every sequence of its schema, from the
# catalog; one line each: name, row count or sequence state, md5 of the rows
record_sql="
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT 'extension omniroute ' || extversion AS line FROM pg_extension WHERE extname = 'omniroute'
  UNION ALL
  SELECT format('table %s %s', c.oid::regclass,
                (xpath('/row/r/text()',
                       query_to_xml(format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') AS r FROM %s t',
                                           c.oid::regclass), false, true, '')))[1]::text)
    FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'omniroute'
    JOIN pg_class c ON c.oid = d.objid
   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
     AND d.deptype = 'e' AND c.relkind IN ('r', 'p')
  UNION ALL
  SELECT format('sequence %s %s', c.oid::regclass,
                (xpath('/row/r/text()',
                       query_to_xml(format('SELECT last_value || '' '' || is_called AS r FROM %s', c.oid::regclass),
                                    false, true, '')))[1]::text)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'omniroute' AND c.relkind = 'S'
) s"
states=$(q "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
              FROM (SELECT state, count(*) AS n FROM omniroute.work_item GROUP BY state) s")
for s in open offered active waiting wrap_up closed; do
	case ", $states," in *", $s "*) ;; *) fail "no $s item before the upgrade ($states): the test would not cover it" ;; esac
done
# nothing is left for a tick to do now (offers run for an hour, open work has
# nobody who could take it): the worker, here and in pg_upgrade's starts of
# the old server, changes nothing once the record is made
actions=$(q "SELECT omniroute.tick()")
[ "$actions" = 0 ] || fail "a tick before the upgrade still had $actions thing(s) to do: the record would not be stable"
max_item=$(q "SELECT max(id) FROM omniroute.work_item")
max_event=$(q "SELECT max(id) FROM omniroute.work_item_event")
q "$record_sql" >"$old/record.before"
tables=$(grep -c '^table ' "$old/record.before")
for t in agent queue queue_member workstream route_rule work_item work_item_event; do
	grep -q "^table omniroute.$t [1-9]" "$old/record.before" ||
		fail "no rows of omniroute.$t among the extension's tables: $(cat "$old/record.before")"
done

# -------------------------------------------------------------- pg_upgrade ---
wait "$new_start" || fail "the new cluster did not start: $(cat "$old/new-start.err")"
new_port=$(sed -n "s/^export PGPORT='\([0-9]*\)'\$/\1/p" "$new/env")
as_owner "$bindir/pg_ctl" -D "$new/data" -m fast -w -t 60 stop >/dev/null || fail "could not stop the new cluster"
as_owner "$bindir/pg_ctl" -D "$old/data" -m fast -w -t 60 stop >/dev/null || fail "could not stop the old cluster"

# as the clusters' owner, in a directory of its own (pg_upgrade writes its
# scripts there and its sockets go there); ports of the two clusters' own
upgrade_cmd=("$bindir/pg_upgrade" -b "$bindir" -B "$bindir" -d "$old/data" -D "$new/data"
	-p "$old_port" -P "$new_port" -s "$new" -U postgres --no-sync --retain)
if [ "$(id -u)" -eq 0 ]; then
	upgrade() { (cd "$new" && runuser -u postgres -- "${upgrade_cmd[@]}"); }
else
	upgrade() { (cd "$new" && "${upgrade_cmd[@]}"); }
fi
upgrade_started=$(date +%s%3N)
if ! upgrade >"$new/pg_upgrade.out" 2>&1; then
	fail "pg_upgrade failed: $(tail -n 20 "$new/pg_upgrade.out"; cat "$new"/data/pg_upgrade_output.d/*/log/pg_upgrade_internal.log 2>/dev/null | tail -n 20)"
fi
upgrade_ms=$(($(date +%s%3N) - upgrade_started))

as_owner "$bindir/pg_ctl" -D "$new/data" -l "$new/log" -w -t 60 start >/dev/null ||
	fail "the upgraded cluster did not start: $(tail -n 20 "$new/log")"
export PGHOST=$new PGPORT=$new_port

# ---------------------------------------------------------------- checks ---
q "$record_sql" >"$new/record.after"
if ! diff "$old/record.before" "$new/record.after" >"$new/record.diff"; then
	fail "the extension's data differs after pg_upgrade: $(cat "$new/record.diff")"
fi

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION amcheck" ||
	fail "could not create amcheck in the upgraded database"
checked=$(q "SELECT count(*) FROM (SELECT bt_index_check(i.indexrelid, true)
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am a ON a.oid = c.relam AND a.amname = 'btree'
               JOIN pg_depend d ON d.objid = i.indrelid AND d.classid = 'pg_class'::regclass
                                AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'omniroute') s") ||
	fail "amcheck found a damaged index of the extension"

# new work routes, with ids above the old ones
got=$(q "INSERT INTO omniroute.work_item (workstream_id, external_id, context)
         VALUES (1, 'after-upgrade', '{\"topic\": \"login\", \"language\": \"en\"}')
         RETURNING id || ' ' || state || ' ' || coalesce(queue_id::text, '-') || ' ' || coalesce(agent_id::text, '-')")
read -r id state queue agent <<<"$got"
[ "$id" -gt "$max_item" ] || fail "the new item got id $id, not above the old ones (up to $max_item)"
case $state in
offered | active) [ "$agent" != - ] || fail "the new item is $state with no agent: $got" ;;
open) [ "$queue" != - ] || fail "the new item is open in no queue: $got" ;;
*) fail "the new item was not routed: $got" ;;
esac
[ "$(q "SELECT min(id) > $max_event FROM omniroute.work_item_event WHERE work_item_id = $id")" = t ] ||
	fail "the new item's events reuse old event ids"

# tick() works: now, and two hours ahead every outstanding offer is missed
# (the worker ticks too, and a tick skips what another holds: tick again
# until every one is)
q "SELECT omniroute.tick()" >/dev/null || fail "omniroute.tick() failed on the upgraded cluster"
offers=$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'offered'")
[ "$offers" -gt 0 ] || fail "no offers left to test tick() with"
q "CREATE TABLE offers_before AS SELECT id FROM omniroute.work_item WHERE state = 'offered'" >/dev/null
unmissed() { q "SELECT count(*) FROM offers_before o WHERE NOT EXISTS
                  (SELECT FROM omniroute.work_item_event e WHERE e.work_item_id = o.id AND e.event = 'missed')"; }
actions=0
for _ in $(seq 1 50); do
	actions=$((actions + $(q "SELECT omniroute.tick(now() + interval '2 hours')")))
	[ "$(unmissed)" = 0 ] && break
	sleep 0.1
done
[ "$(unmissed)" = 0 ] || fail "tick() two hours ahead left $(unmissed) of $offers offers not missed ($actions actions)"
[ "$actions" -ge "$offers" ] || fail "tick() two hours ahead missed $offers offers in only $actions actions"

# the upgraded cluster's worker ticks the database
ticking() { grep -q "omniroute tick worker: ticking in database \"$DB\"" "$new/log"; }
poll 20 ticking || fail "the upgraded cluster's worker did not tick $DB: $(grep -i omniroute "$new/log" | tail -5)"
if grep -E "omniroute tick worker: .* failed|PANIC|terminated by signal" "$new/log"; then
	fail "errors in the upgraded cluster's log (above)"
fi
# pg_upgrade's own starts of the two servers (binary-upgrade mode) run no
# launcher and no worker, and nothing in their log may be an error
server_log=$(ls "$new"/data/pg_upgrade_output.d/*/log/pg_upgrade_server.log)
upgrade_errors=$(grep -E ' (ERROR|FATAL|PANIC): ' "$server_log" |
	grep -v -e 'terminating background worker "omniroute tick" due to administrator command' \
		-e "database \"$DB\" does not exist" || true)
[ -z "$upgrade_errors" ] || fail "errors in pg_upgrade's server log: $(echo "$upgrade_errors" | head -5)"
upgrade_ticking=$(grep -c "omniroute tick worker: ticking in database" "$server_log" || true)
[ "$upgrade_ticking" = 0 ] || fail "a tick worker ran in $upgrade_ticking of pg_upgrade's server starts"

echo "pg_upgrade: $tables tables and $(grep -c '^sequence ' "$old/record.before") sequences identical after pg_upgrade" \
	"($(sed -n 's/^extension omniroute //p' "$old/record.before"); $states; upgrade ${upgrade_ms} ms), $checked indexes checked," \
	"new item $id $state, tick() missed $offers offers; no worker ran in pg_upgrade's servers: ok"
