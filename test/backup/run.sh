#!/usr/bin/env bash
# test/backup/run.sh — pg_dump carries the data (README, Backups): a contact
# center configured, routed and worked (scripts/demo + test/backup/work.sql)
# is dumped with pg_dump -Fc and restored with pg_restore into a new
# database; every table of the extension and every sequence comes back
# exactly (test/backup/digest.sql), nothing is re-routed or re-checked on
# the way in, a new insert routes with an id that collides with nothing,
# the lifecycle works on a restored item, and tick() works.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

. test/throwaway.sh
throwaway_cluster backup

createdb backup
psql -X -q -v ON_ERROR_STOP=1 -d backup -c "CREATE EXTENSION omniroute" \
	-f scripts/demo/contact_center.sql -f scripts/demo/traffic.sql -f test/backup/work.sql >/dev/null

pg_dump -Fc -d backup -f "$dir/backup.dump"
createdb restored
pg_restore --exit-on-error -d restored "$dir/backup.dump" || fail "pg_restore failed"

psql -X -At -d backup -f test/backup/digest.sql >"$dir/before"
psql -X -At -d restored -f test/backup/digest.sql >"$dir/after"
[ "$(grep -c . "$dir/before")" -ge 20 ] || fail "the digest lists too few tables: $(cat "$dir/before")"
grep -q '^work_item|[1-9]' "$dir/before" || fail "no work items to back up"
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

echo "backup: $(grep -c . "$dir/before") tables and sequences restored exactly; new item $new_id routed ($new_state); close and tick ($actions actions) work: ok"
