#!/usr/bin/env bash
# scripts/setup.sh — install what `make`, `make test` and `make demo` need.
# It needs only bash and apt, so it is the first command on a machine without
# make (a minimal Debian 12 has none); scripts/test.sh and scripts/demo.sh,
# which `make test` and `make demo` run, call it first themselves.
#
# Idempotent and quiet when everything is present: asks dpkg which of the
# packages below are not installed, and only then runs `apt-get update` (once)
# and `apt-get install -y` for the missing ones.  Uses sudo when not root.
# Non-interactive: safe in CI with no terminal.
set -euo pipefail

PACKAGES=(
	postgresql-15                          # server + initdb/pg_ctl
	postgresql-server-dev-15               # PGXS, pg_regress, pg_isolation_regress
	postgresql-15-pgtap                    # the pgtap extension
	libtap-parser-sourcehandler-pgtap-perl # pg_prove
	gcc make                               # the build itself
	git                                    # test/upgrade builds released versions from their commits
	python3-psycopg                        # examples/ (the agent desktop and app) and test/client
	libfaketime                            # make demo: the demo server runs on the day's clock
)

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: nothing we can install; say what is needed if it is missing.
	for cmd in pg_config pg_prove make cc; do
		command -v "$cmd" >/dev/null 2>&1 || {
			echo "setup.sh: no dpkg here and '$cmd' is missing; install PostgreSQL 15 server+dev, pgTAP and pg_prove" >&2
			exit 1
		}
	done
	exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo -n)
else
	echo "setup.sh: missing packages (${missing[*]}) and not root, no sudo" >&2
	exit 1
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
