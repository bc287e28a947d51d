#!/usr/bin/env bash
# test/upgrade/run.sh — ALTER EXTENSION omniroute UPDATE from every released
# version (test/upgrade/releases) reaches exactly a fresh install, and the
# data survives it (README, Upgrading).  For each release, as a user would:
#   1. its library and scripts, built from the commit it was released from,
#      are installed into a private copy of the PostgreSQL installation;
#      a cluster of that copy, preloading omniroute, holds a contact center
#      configured, routed and worked at that version;
#   2. the current library is installed over it and the server restarted:
#      before the update, routing, the lifecycle and tick() refuse with an
#      error that names ALTER EXTENSION ... UPDATE, and the tick worker says
#      so once in the log, without an error loop;
#   3. after ALTER EXTENSION omniroute UPDATE, the schema equals a fresh
#      CREATE EXTENSION of the current version, object for object
#      (test/upgrade/catalog.sql; any difference fails with the diff), every
#      row of the release's columns is as it was (test/backup/digest.sql),
#      routing and the lifecycle go on, and the worker ticks again; a
#      workstream whose intervals exceed 0.2.0's bound (366 days) is cut to
#      it, with a warning, and the update does not fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD

. test/throwaway.sh
test_name=upgrade
pg=$(mktemp -d /tmp/omniroute-upgrade-pg.XXXXXX)
cluster=
cleanup() {
	[ -z "$cluster" ] || bash scripts/cluster.sh stop "$cluster" >/dev/null 2>&1 || true
	rm -rf "$pg"
}
trap cleanup EXIT

version=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" omniroute.control)
# the installation that pg_config (or PG_CONFIG) names: built against it,
# copied from it, with its layout, into a private directory
pgconfig=${PG_CONFIG:-pg_config}

# a private copy of the installation: what each step installs into it
# touches nothing else
. scripts/cluster.sh
PG_BINDIR=$(omniroute_pg_copy "$pg" "$pgconfig")
export PG_BINDIR

install_current() { make -s -C "$repo" install DESTDIR="$pg" PG_CONFIG="$pgconfig" >/dev/null; }
owner() { (cd / && runuser -u postgres -- "$@"); }
restart() {
	if [ "$(id -u)" -eq 0 ]; then
		owner "$PG_BINDIR/pg_ctl" -D "$cluster/data" -l "$cluster/log" -w -t 60 restart >/dev/null
	else
		"$PG_BINDIR/pg_ctl" -D "$cluster/data" -l "$cluster/log" -w -t 60 restart >/dev/null
	fi
}
# expect_refusal SQL: fails unless SQL is refused with 55000 naming the update
expect_refusal() {
	local out
	if out=$(psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d upgrade -c "$1" 2>&1); then
		fail "with the $version library and a $old database, this worked: $1"
	fi
	echo "$out" | grep -q '55000' || fail "refused without SQLSTATE 55000: $1: $out"
	echo "$out" | grep -q 'ALTER EXTENSION omniroute UPDATE' || fail "the refusal does not name the update: $1: $out"
}
# wait_log PATTERN: the server log gets a line matching it within 20 s
wait_log() {
	for _ in $(seq 1 100); do
		grep -q "$1" "$cluster/log" && return 0
		sleep 0.2
	done
	return 1
}

releases=0
while read -r old commit; do
	case $old in '' | \#*) continue ;; esac
	releases=$((releases + 1))
	git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null ||
		fail "commit $commit of release $old is not in this clone's history (a shallow clone?)"

	# 1. the release, with data
	src=$pg/src-$old
	mkdir -p "$src"
	git -C "$repo" archive "$commit" | tar -x -C "$src"
	make -s -C "$src" -j2 PG_CONFIG="$pgconfig" >/dev/null 2>&1 || fail "could not build release $old"
	make -s -C "$src" install DESTDIR="$pg" PG_CONFIG="$pgconfig" >/dev/null

	dir=$(mktemp -d "/tmp/omniroute-upgrade.XXXXXX")
	OMNIROUTE_PGCONF="omniroute.database = 'upgrade'\nomniroute.tick_interval = 200" \
		bash scripts/cluster.sh start "$dir" >/dev/null 2>&1 || fail "the cluster of release $old did not start"
	cluster=$dir
	. "$dir/env"
	export PGHOST PGPORT PGUSER
	createdb upgrade
	psql -X -q -v ON_ERROR_STOP=1 -d upgrade -c "CREATE EXTENSION omniroute" \
		-f scripts/demo/contact_center.sql -f scripts/demo/traffic.sql -f test/backup/work.sql >/dev/null ||
		fail "could not load the contact center at $old"
	[ "$(q "SELECT extversion FROM pg_extension WHERE extname = 'omniroute'")" = "$old" ] ||
		fail "the release's default version is not $old"
	# a workstream whose intervals a release took but 0.2.0 bounds (366 days)
	createdb clamp
	clamped=0
	if psql -X -q -d clamp -c "CREATE EXTENSION omniroute" \
		-c "INSERT INTO omniroute.queue (id, name) VALUES (1, 'q')" \
		-c "INSERT INTO omniroute.workstream (id, name, fallback_queue_id, offer_timeout, auto_close_after, wrap_up_block)
		    VALUES (1, 'forever', 1, '178000000 years', '2 years', '10 minutes')" >/dev/null 2>&1; then
		clamped=1
	fi
	columns=$(q "SELECT string_agg(c.relname || '.' || a.attname, ',')
	               FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
	               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	              WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	                AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omniroute')")

	# 2. the new library, before the update
	install_current
	restart
	expect_refusal "INSERT INTO omniroute.work_item (workstream_id) VALUES (1)"
	expect_refusal "SELECT omniroute.tick()"
	expect_refusal "SELECT omniroute.close(id) FROM omniroute.work_item WHERE state = 'active' LIMIT 1"
	expect_refusal "SELECT omniroute.simulate(1, '{}')"
	said="tick worker: extension omniroute in database \"upgrade\" is at version $old, but its library is version $version"
	wait_log "$said" || fail "the worker did not say that the database waits for the update"
	sleep 1 # five more ticks: the worker must stay quiet
	[ "$(grep -c "$said" "$cluster/log")" -eq 1 ] ||
		fail "the worker repeats itself: $(grep "$said" "$cluster/log" | head -5)"
	worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'omniroute tick'")
	[ -n "$worker" ] || fail "no tick worker is running"
	! grep -q "\[$worker\] .*ERROR" "$cluster/log" ||
		fail "the worker logs errors before the update: $(grep "\[$worker\] .*ERROR" "$cluster/log" | head -3)"

	# 3. the update (the data as it is now: a refused insert took an id)
	psql -X -At -d upgrade -v only_columns="$columns" -f test/backup/digest.sql >"$pg/before"
	q "ALTER EXTENSION omniroute UPDATE" >/dev/null
	[ "$(q "SELECT extversion FROM pg_extension WHERE extname = 'omniroute'")" = "$version" ] ||
		fail "ALTER EXTENSION omniroute UPDATE did not reach $version from $old"
	createdb fresh
	psql -X -q -v ON_ERROR_STOP=1 -d fresh -c "CREATE EXTENSION omniroute" >/dev/null
	psql -X -At -v ON_ERROR_STOP=1 -d upgrade -f test/upgrade/catalog.sql >"$pg/updated.catalog"
	psql -X -At -v ON_ERROR_STOP=1 -d fresh -f test/upgrade/catalog.sql >"$pg/fresh.catalog"
	[ "$(wc -l <"$pg/fresh.catalog")" -gt 100 ] || fail "the catalog description is too short"
	if ! diff -u --label "updated from $old" --label "fresh $version" "$pg/updated.catalog" "$pg/fresh.catalog"; then
		fail "ALTER EXTENSION UPDATE from $old differs from a fresh install of $version (diff above)"
	fi
	psql -X -At -d upgrade -v only_columns="$columns" -f test/backup/digest.sql >"$pg/after"
	diff -u "$pg/before" "$pg/after" || fail "the data changed in the update from $old (diff above)"
	# intervals over 366 days are cut to 366 days, with a warning naming the workstream
	if [ "$clamped" = 1 ]; then
		out=$(psql -X -q -v ON_ERROR_STOP=1 -d clamp -c "ALTER EXTENSION omniroute UPDATE" 2>&1) ||
			fail "the update from $old failed on a workstream with an offer_timeout of 178000000 years: $out"
		echo "$out" | grep -q 'WARNING: .*workstream 1 (forever)' ||
			fail "the update from $old cut the intervals of workstream 1 without a warning naming it: $out"
		[ "$(psql -X -At -d clamp -c "SELECT offer_timeout || ' ' || auto_close_after || ' ' || wrap_up_block FROM omniroute.workstream")" = "366 days 366 days 00:10:00" ] ||
			fail "the update from $old did not cut the intervals over 366 days to 366 days"
	fi

	wait_log "ticking in database \"upgrade\"" || fail "the worker does not tick after the update"
	got=$(q "INSERT INTO omniroute.work_item (workstream_id, external_id, context)
	         VALUES (1, 'after-update', '{\"topic\": \"delivery\"}') RETURNING state || ' ' || queue_id")
	case $got in open\ [0-9]* | offered\ [0-9]*) ;; *) fail "an insert after the update did not route: $got" ;; esac
	item=$(q "SELECT id FROM omniroute.work_item WHERE state = 'active' ORDER BY id LIMIT 1")
	[ "$(q "SELECT (omniroute.close($item)).state")" = closed ] || fail "close() after the update failed"
	q "SELECT omniroute.tick(now() + interval '1 hour')" >/dev/null

	bash scripts/cluster.sh stop "$cluster" >/dev/null 2>&1
	cluster=
	echo "upgrade: $old -> $version: refused before the update, same catalog as a fresh install ($(wc -l <"$pg/fresh.catalog") objects), data kept ($(grep -c . "$pg/before") tables and sequences)$([ "$clamped" = 0 ] || echo ", intervals over 366 days cut with a warning"), routes and ticks after"
done <test/upgrade/releases
[ "$releases" -gt 0 ] || fail "no releases listed in test/upgrade/releases"
echo "upgrade: ok"
