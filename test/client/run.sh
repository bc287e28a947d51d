#!/usr/bin/env bash
# test/client/run.sh — the example clients against a real server: four agent
# desktops (examples/agent_desktop.py, each logged in as its own agent role,
# LISTENing on its channel) work a stream of items that an application
# (examples/app_stream.py, logged in as an app role) inserts for a few
# seconds.  Then, from SQL: every item was offered, accepted and closed
# exactly once, by one agent; no desktop ever held more items than its
# capacity allows (each desktop counts its own open items after every
# accept); and the time from the commit that made each offer (the offered
# event's commit timestamp) to its desktop's receipt of the notification,
# median and 99th percentile.  The worker is preloaded, as in production,
# so notifications go out through it (src/notify.c).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PY=/usr/bin/python3
RATE=${CLIENT_RATE:-80}
SECONDS_RUN=${CLIENT_SECONDS:-5}

. test/throwaway.sh
OMNIROUTE_PGCONF="omniroute.database = 'client'\nomniroute.tick_interval = 200\ntrack_commit_timestamp = on" \
	throwaway_cluster client
$PY -c 'import psycopg' 2>/dev/null || fail "python3-psycopg is not installed (scripts/setup.sh installs it)"

createdb client
psql -X -q -v ON_ERROR_STOP=1 -d client <<'SQL'
CREATE EXTENSION omniroute;
INSERT INTO omniroute.queue (id, name) VALUES (1, 'support');
INSERT INTO omniroute.workstream (id, name, fallback_queue_id, skill_matching, capacity_units)
     VALUES (1, 'chat', 1, 'none', 25);
CREATE ROLE webapp LOGIN IN ROLE omniroute_app;
DO $$
BEGIN
    FOR i IN 1..4 LOOP
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE omniroute_agent', 'agent' || i);
        INSERT INTO omniroute.agent (id, name, login_role, capacity) VALUES (i, 'agent' || i, 'agent' || i, 100);
        INSERT INTO omniroute.queue_member (queue_id, agent_id) VALUES (1, i);
    END LOOP;
END $$;
SQL

out=$dir/out
mkdir -p "$out"
pids=()
for i in 1 2 3 4; do
	PGUSER=agent$i PGDATABASE=client $PY examples/agent_desktop.py --handle-ms 150,450 --log "$out/agent$i.log" \
		>"$out/agent$i.summary" 2>"$out/agent$i.err" &
	pids+=($!)
done
# every desktop available before the stream starts
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM omniroute.agent WHERE presence = 'available'")" = 4 ] && break
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM omniroute.agent WHERE presence = 'available'")" = 4 ] ||
	fail "the desktops did not become available: $(cat "$out"/*.err)"

PGUSER=webapp PGDATABASE=client $PY examples/app_stream.py --workstream 1 \
	--rate "$RATE" --seconds "$SECONDS_RUN" >"$out/app.summary" 2>"$out/app.err" ||
	fail "the app failed: $(cat "$out/app.err")"
inserted=$($PY -c 'import json,sys; print(json.load(sys.stdin)["inserted"])' <"$out/app.summary")

# the desktops finish what they hold
for _ in $(seq 1 600); do
	[ "$(q "SELECT count(*) FROM omniroute.work_item WHERE state <> 'closed'")" = 0 ] && break
	sleep 0.1
done
kill -TERM "${pids[@]}"
for p in "${pids[@]}"; do wait "$p" || fail "a desktop failed: $(cat "$out"/*.err)"; done

left=$(q "SELECT count(*) FROM omniroute.work_item WHERE state <> 'closed'")
[ "$left" = 0 ] || fail "$left of $inserted items were not closed"

# exactly once: one offer, one accept and one close per item, all by one agent
bad=$(q "SELECT count(*) FROM (
           SELECT w.id FROM omniroute.work_item w
             LEFT JOIN omniroute.work_item_event e ON e.work_item_id = w.id
            GROUP BY w.id, w.agent_id
           HAVING count(*) FILTER (WHERE e.event = 'offered') <> 1
               OR count(*) FILTER (WHERE e.event = 'accepted') <> 1
               OR count(*) FILTER (WHERE e.event = 'closed') <> 1
               OR count(DISTINCT e.agent_id) FILTER (WHERE e.event IN ('offered', 'accepted', 'closed')) <> 1
               OR min(e.agent_id) FILTER (WHERE e.event = 'closed') IS DISTINCT FROM w.agent_id) x")
[ "$bad" = 0 ] || fail "$bad items were not offered, accepted and closed exactly once by one agent"
[ "$(q "SELECT count(*) FROM omniroute.work_item")" = "$inserted" ] || fail "items inserted and stored differ"

# what the desktops say: each closed what it accepted, none held more than 4 (100 / 25)
q "CREATE TABLE desk (s jsonb); CREATE TABLE received (r jsonb)"
cat "$out"/agent*.summary | psql -X -q -d client -c "COPY desk FROM STDIN"
cat "$out"/agent*.log | psql -X -q -d client -c "COPY received FROM STDIN"
read -r accepted closed max_held <<<"$(q "SELECT sum((s->>'accepted')::int), sum((s->>'closed')::int),
                                                max((s->>'max_held')::int) FROM desk" | tr '|' ' ')"
[ "$accepted" = "$inserted" ] && [ "$closed" = "$inserted" ] ||
	fail "the desktops accepted $accepted and closed $closed of $inserted items"
[ "$max_held" -le 4 ] || fail "a desktop held $max_held items at once; capacity allows 4"
workers=$(q "SELECT count(*) FROM desk WHERE (s->>'closed')::int > 0")

# commit of the offer -> notification received, per offer
read -r n p50 p99 <<<"$(q "SELECT count(*),
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1)
    FROM (SELECT ((r->>'received_at')::float8
                  - extract(epoch FROM pg_xact_commit_timestamp(e.xmin))::float8) * 1000 AS ms
            FROM received
            JOIN omniroute.work_item_event e
              ON e.work_item_id = (r->>'work_item_id')::bigint AND e.event = r->>'event'
           WHERE r->>'event' = 'offered') x" | tr '|' ' ')"
[ "$n" = "$inserted" ] || fail "$n offer notifications received for $inserted items"

echo "client: $inserted items from the app at $RATE/s, worked by $workers desktops: each offered, accepted and closed once; at most $max_held held at once (capacity 4)"
echo "client: commit to notification: median $p50 ms, 99th percentile $p99 ms ($n offers)"
