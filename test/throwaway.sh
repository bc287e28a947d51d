# test/throwaway.sh — sourced by the test scripts that need a server of
# their own: throwaway_cluster NAME starts one in a fresh /tmp/omniroute-NAME.*
# directory (scripts/cluster.sh; OMNIROUTE_PGCONF and OMNIROUTE_PRELOAD pass
# through), exports PGHOST, PGPORT and PGUSER, sets dir to the directory, and
# stops and removes it when the script exits.
throwaway_cluster() {
	dir=$(mktemp -d "/tmp/omniroute-$1.XXXXXX")
	trap 'bash scripts/cluster.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
	eval "$(bash scripts/cluster.sh start "$dir" 2>/dev/null)"
	export PGHOST PGPORT PGUSER
}
