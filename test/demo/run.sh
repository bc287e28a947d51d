#!/usr/bin/env bash
# test/demo/run.sh — `make demo` still tells its day: scripts/demo.sh runs
# to the end (its own throwaway cluster, on the day's clock) and its output
# has what the day is for: a missed offer, an escalation that moves a chat,
# overflow both of a closed queue and after max_wait, customers who give up,
# a returning customer's chat held for their preferred agent and then given
# to them, explain() on a waiting chat, pick_next() taking the case that aged most,
# and the report's tables with rows (the day by queue, the outage hour by
# quarter hour, the twelve agents' day).  The demo runs twice: the day is
# the same both times (but for the cluster's directory and port).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=$(mktemp -d /tmp/omniroute-demo-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "demo: $*"; exit 1; }

for run in 1 2; do
	start=$(date +%s)
	bash scripts/demo.sh >"$out/$run" 2>&1 || { tail -n 40 "$out/$run"; fail "scripts/demo.sh failed (run $run)"; }
	echo "demo: run $run took $(($(date +%s) - start)) s"
done
o=$out/1

has() { grep -Eq -- "$1" "$o" || { tail -n 60 "$o"; fail "no line matching /$1/ ($2)"; }; }
has 'did not answer the offer within 1m00s: missed, Dmitri set inactive -> answered by' 'a missed offer'
has 'escalation step 2 moves it to General chat' 'an escalation'
has '^[0-9:]{8}  night-1 +Technical support is closed: transfer to General chat' 'overflow of a closed queue'
has '^[0-9:]{8}  night-1 +General chat is closed: transfer to Night desk -> answered by Jonas' 'the next hop'
has 'waited 20m00s in General chat: transfer to Night desk' 'overflow after max_wait'
has 'waited 6m00s in Technical support: transfer to General chat' 'overflow after max_wait in the outage'
has 'the customer gave up after' 'an abandoned chat'
has '^12:27:30  regular-1 +customer C8001 prefers Grace Okafor \(Lunch\); .* have room but pass it by: held for Grace until 12:32:30' 'a chat held for its preferred agent'
has '^12:30:00  regular-1 +after 2m30s a preferred agent freed capacity \(method preferred_agent\) -> answered by Grace Okafor' 'the preferred agent gets it'
has 'presence Lunch \(away\) is not allowed' 'explain() of a waiting chat'
has 'Elena calls pick_next\(\) and gets case-[0-9]+: .* lifted its priority from 0 to [1-9]' 'aging in the backlog'
has '^08:00 to 20:45: [0-9]+ customers came, [0-9]+ were answered' 'the day'
has '^== done' 'the end'

# the report's tables have rows
has '^ General chat +\| +[1-9][0-9]* +\| +[0-9]+ +\| +[0-9]+ +\| +[0-9]+ +\| [0-9]+%' 'the day by queue'
has '^ 15:00 +\| Technical support +\| +[1-9]' 'the outage hour by quarter hour'
agents=$(grep -Ec '^ [A-Z][^|]+\| [a-zA-Z_ ]+\| [0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2} \| +[0-9]+ \|' "$o" || true)
[ "$agents" = 12 ] || fail "the agents' day has $agents rows, not 12"

# the same day twice
if ! diff <(grep -v -e '/tmp/omniroute-demo\.' "$out/1") <(grep -v -e '/tmp/omniroute-demo\.' "$out/2") >"$out/diff"; then
	head -n 40 "$out/diff"
	fail "two runs told different days"
fi
echo "demo: ok ($(grep -c '' "$o") lines)"
