#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` runs: install what is missing, build,
# install, start a throwaway cluster with omniroute preloaded, load a small
# contact center, route 50 work items and print where each went and why.
# The cluster is stopped and removed at the end.
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

dir=$(mktemp -d /tmp/omniroute-demo.XXXXXX)
cleanup() { bash scripts/cluster.sh stop "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "== starting a throwaway cluster in $dir"
eval "$(bash scripts/cluster.sh start "$dir")"
export PGHOST PGPORT PGUSER

psql() { command psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
psql -c "CREATE EXTENSION omniroute"
echo "== loading the contact center (scripts/demo/contact_center.sql)"
psql -f scripts/demo/contact_center.sql
echo "== routing 50 work items (scripts/demo/traffic.sql)"
psql -f scripts/demo/traffic.sql >/dev/null
psql -f scripts/demo/report.sql
echo
echo "== done; the cluster is stopped and removed"
