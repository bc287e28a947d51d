#!/usr/bin/env bash
# test/backup/run.sh — pg_dump carries the data (README, Backups): a contact
# center configured, routed and worked (scripts/demo + test/backup/work.sql,
# with operating hours and escalation steps from test/backup/time.sql, a
# split and re-offers from test/backup/split.sql)
# is dumped with pg_dump -Fc and restored with pg_restore into a new
# database; every table of the extension and every sequence comes back
# exactly (test/backup/digest.sql), nothing is re-routed or re-checked on
# the way in, a new insert routes with an id that collides with nothing,
# the lifecycle works on a restored item, and tick() works.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
# the tick worker serves only the database of the last part
OMNIROUTE_PGCONF="omniroute.database = 'restored2'\nomniroute.tick_interval = 100" throwaway_cluster backup

createdb backup
psql -X -q -v ON_ERROR_STOP=1 -d backup -c "CREATE EXTENSION omniroute" \
	-f scripts/demo/contact_center.sql -f scripts/demo/traffic.sql -f test/backup/work.sql \
	-f test/backup/time.sql -f test/backup/split.sql >/dev/null

pg_dump -Fc -d backup -f "$dir/backup.dump"
createdb restored
pg_restore --exit-on-error -d restored "$dir/backup.dump" || fail "pg_restore failed"

psql -X -At -d backup -f test/backup/digest.sql >"$dir/before"
psql -X -At -d restored -f test/backup/digest.sql >"$dir/after"
[ "$(grep -c . "$dir/before")" -ge 20 ] || fail "the digest lists too few tables: $(cat "$dir/before")"
grep -q '^work_item|[1-9]' "$dir/before" || fail "no work items to back up"
grep -q '^escalation_step|[1-9]' "$dir/before" || fail "no escalation steps to back up"
grep -q '^operating_hours_slot|[1-9]' "$dir/before" || fail "no operating hours to back up"
grep -q '^route_rule_split|[1-9]' "$dir/before" || fail "no percentage split to back up"
if ! diff -u "$dir/before" "$dir/after"; then
	fail "the restored database differs from the dumped one (above: table|rows|md5, sequence|last_value|is_called)"
fi

test_name=restored
max_item=$(q "SELECT max(id) FROM omniroute.work_item")
max_event=$(q "SELECT max(id) FROM omniroute.work_item_event")
got=$(q "INSERT INTO omniroute.work_item (workstream_id, external_id, context)
         VALUES (1, 'after-restore', '{\"topic\": \"delivery\", \"language\": \"en\"}')
         RETURNING id || ' ' || state || ' ' || queue_id")
read -r new_id new_state new_queue <<<"$got"
[ "$new_id" -gt "$max_item" ] || fail "the new item got id $new_id, not above the restored $max_item"
[ "$new_state" = open ] || [ "$new_state" = offered ] || fail "the new item is $new_state"
[ -n "$new_queue" ] || fail "the new item has no queue"
[ "$(q "SELECT min(id) FROM omniroute.work_item_event WHERE work_item_id = $new_id")" -gt "$max_event" ] ||
	fail "the new item's event id collides with the restored history"

# the lifecycle on a restored item: closing an active one frees its agent's
# units (for the waiting work the agent is then served), and every agent's
# books still balance
item=$(q "SELECT id FROM omniroute.work_item WHERE state = 'active' ORDER BY id LIMIT 1")
[ -n "$item" ] || fail "no active item was restored"
[ "$(q "SELECT (omniroute.close($item, 'after restore')).state")" = closed ] || fail "could not close restored item $item"
unbalanced=$(q "SELECT string_agg(a.id || ': ' || a.used_units || ' used, ' || coalesce(l.held, 0) || ' held', '; ')
                  FROM omniroute.agent a
                  LEFT JOIN (SELECT agent_id, sum(reserved_units) AS held FROM omniroute.work_item
                              WHERE state <> 'closed' GROUP BY agent_id) l ON l.agent_id = a.id
                 WHERE a.used_units <> coalesce(l.held, 0)")
[ -z "$unbalanced" ] || fail "agents' used units do not match their items after a close: $unbalanced"

# tick: an hour on, every offer is missed and every waiting item closed
actions=$(q "SELECT omniroute.tick(now() + interval '1 hour')")
[ "$actions" -gt 0 ] || fail "tick() an hour after the restore took no action"
[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state = 'waiting'")" -eq 0 ] ||
	fail "tick() did not auto-close the restored waiting item"

# A restore into a database the worker serves, of a dump with an offer
# already due: the worker must not tick while the restore runs (its missed
# offer would write an event whose id the restore then brings back: a
# duplicate key), and must handle the offer once the restore is done.  The
# restore sleeps after the work items, before the history, for the launcher
# to find the new database and start its worker.
test_name=backup
psql -X -q -v ON_ERROR_STOP=1 -d backup >/dev/null <<'SQL'
INSERT INTO omniroute.queue (id, name) VALUES (99, 'Quick');
INSERT INTO omniroute.agent (id, name, presence) VALUES (99, 'Quick agent', 'available');
INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (99, 99);
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, offer_timeout)
     VALUES (99, 'Quick', 99, 'none', '1 second');
SQL
due=$(q "INSERT INTO omniroute.work_item (workstream_id, external_id) VALUES (99, 'due-offer') RETURNING id")
[ "$(q "SELECT state FROM omniroute.work_item WHERE id = $due")" = offered ] || fail "item $due was not offered"
sleep 1.2
pg_dump -Fp -d backup -f "$dir/backup.sql"
grep -q '^COPY omniroute.work_item_event ' "$dir/backup.sql" || fail "no history in the plain dump"
sed -i '/^COPY omniroute.work_item_event /i SELECT pg_sleep(3);' "$dir/backup.sql"
createdb restored2
psql -X -q -v ON_ERROR_STOP=1 -d restored2 -f "$dir/backup.sql" >"$dir/restore2.log" 2>&1 ||
	{ grep -v DEBUG "$dir/log" | tail -25; fail "restoring into a database the worker serves failed: $(grep -m3 ERROR "$dir/restore2.log")"; }
test_name=restored2
for _ in $(seq 1 50); do
	[ "$(q "SELECT state FROM omniroute.work_item WHERE id = $due")" = offered ] || break
	sleep 0.2
done
[ "$(q "SELECT count(*) FROM omniroute.work_item_event WHERE work_item_id = $due AND event = 'missed'")" = 1 ] ||
	fail "the worker did not handle the due offer of item $due after the restore"

echo "backup: $(grep -c . "$dir/before") tables and sequences restored exactly; new item $new_id routed ($new_state); close and tick ($actions actions) work; a restore under a serving worker waits for it: ok"
