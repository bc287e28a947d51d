# test/throwaway.sh — sourced by the test scripts that need a server of
# their own: throwaway_cluster NAME starts one in a fresh /tmp/omniroute-NAME.*
# directory (scripts/cluster.sh; OMNIROUTE_PGCONF and OMNIROUTE_PRELOAD pass
# through), exports PGHOST, PGPORT and PGUSER, sets dir to the directory, and
# stops and removes it when the script exits.  It also sets test_name to NAME,
# for the two helpers below.
#
# A script with more than one cluster (a standby, the new cluster of an
# upgrade) passes each further directory to throwaway_register DIR: every
# registered cluster is stopped and removed on exit too, the last registered
# first.
throwaway_dirs=()

throwaway_cleanup() {
	local i
	for ((i = ${#throwaway_dirs[@]} - 1; i >= 0; i--)); do
		bash scripts/cluster.sh stop "${throwaway_dirs[$i]}" >/dev/null 2>&1 || true
	done
}

# throwaway_register DIR: stop and remove DIR (made by scripts/cluster.sh)
# when the script exits
throwaway_register() {
	throwaway_dirs+=("$1")
	trap throwaway_cleanup EXIT
}

throwaway_cluster() {
	test_name=$1
	dir=$(mktemp -d "/tmp/omniroute-$1.XXXXXX")
	throwaway_register "$dir"
	eval "$(bash scripts/cluster.sh start "$dir" 2>"$dir.start-errors")"
	# a failed start prints nothing to eval: PGHOST would still name the
	# caller's server (make test exports its own)
	if [ "${PGHOST:-}" != "$dir" ]; then
		echo "$1: the throwaway cluster did not start: $(cat "$dir.start-errors")"
		rm -f "$dir.start-errors"
		exit 1
	fi
	rm -f "$dir.start-errors"
	export PGHOST PGPORT PGUSER
}

# fail MESSAGE: "NAME: MESSAGE", and the script stops with status 1
fail() { echo "$test_name: $*"; exit 1; }

# q SQL: one statement in the database named NAME, its result unaligned
q() { psql -X -At -q -v ON_ERROR_STOP=1 -d "$test_name" -c "$1"; }
