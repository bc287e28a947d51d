#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` runs: install what is missing, build,
# install, start a throwaway cluster and play a day of a small contact
# center (Tuesday 3 March 2026, 07:55 to 20:45) through omniroute, telling
# what happens and why, then print the day's service level report and the
# agents' day.  The cluster is stopped and removed at the end.
#
# The day's clock: the cluster's server runs under libfaketime, reading the
# time from DIR/clock, which the demo moves forward (scripts/demo/sim.sql,
# demo.set_clock): everything the extension stamps or decides by the clock
# (routing, offers and their timeouts, opening hours, aging, now() in the
# views) happens at the instant of the day, and tick(at) is called with it.
# So the day takes seconds, and runs the same every time.  The background
# worker is not preloaded: the demo calls tick(at) itself.
#
#   scripts/demo/contact_center.sql  queues, agents, skills, workstreams, rules
#   scripts/demo/hours.sql           opening hours, overflow, escalation, aging, targets
#   scripts/demo/sim.sql             the clock, the people's behaviour, the story
#   scripts/demo/people.sql          the agents' shifts and the customers of the day
#   scripts/demo/day.sql             the day, scene by scene
#   scripts/demo/report.sql          the service level report and the agents' day
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "== building omniroute"
make -s >/dev/null
if [ "$(id -u)" -eq 0 ]; then
	make -s install >/dev/null
elif command -v sudo >/dev/null 2>&1; then
	sudo make -s install >/dev/null
else
	echo "demo.sh: installing the extension needs root: run this as root, or as a user with sudo" >&2
	exit 1
fi

faketime_lib=
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -e "$f" ] && { faketime_lib=$f; break; }
done
if [ -z "$faketime_lib" ]; then
	echo "demo.sh: libfaketime is missing (Debian: apt-get install libfaketime)" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/omniroute-demo.XXXXXX)
cleanup() { bash scripts/cluster.sh stop "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "== starting a throwaway cluster in $dir, its clock at the demo's day"
# no clock file yet: the server starts on real time; the demo writes it
eval "$(LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$dir/clock FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC OMNIROUTE_PRELOAD=0 OMNIROUTE_PGCONF="autovacuum = off" \
	bash scripts/cluster.sh start "$dir")"
export PGHOST PGPORT PGUSER

psql() { command psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
echo "== loading the contact center (scripts/demo/contact_center.sql, hours.sql, people.sql)"
psql -c "SET client_min_messages = warning" -c "CREATE EXTENSION omniroute" \
	-f scripts/demo/contact_center.sql -f scripts/demo/hours.sql -f scripts/demo/sim.sql
psql -v clock="$dir/clock" >/dev/null <<'SQL'
INSERT INTO demo.clock (file, now) VALUES (:'clock', '2026-03-03 07:55');
SELECT demo.set_clock('2026-03-03 07:55');
UPDATE omniroute.agent SET presence = 'offline';
SQL
psql -f scripts/demo/people.sql
psql -f scripts/demo/day.sql
psql -f scripts/demo/report.sql
echo
echo "== done; the cluster is stopped and removed"
