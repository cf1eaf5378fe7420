#!/bin/bash
# tests/static/reap.sh - test hosts (tests/static/hosts.sh) made by a run
# killed with SIGKILL: its sshds, namespaces, route and directories stay,
# since no trap ran.  The next run's hosts_up removes what the dead run
# recorded (tests/lib/runs.sh), and only that.  TAP output.  Root only.
set -u
HERE=$(dirname "$(realpath "$0")")

# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
tap_skip_unless_hosts

HP=crh$(( $$ % 100000 ))
HTMP=$(mktemp -d "/tmp/$HP.XXXXXX")
# shellcheck source=tests/static/hosts.sh
. "$HERE/hosts.sh"
CHILD=$(mktemp -d /tmp/crk.XXXXXX)
cleanup() { cd /; hosts_down; rm -rf "$HTMP" "$CHILD"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# PID 1 of a container may reap late: a zombie counts as gone
all_alive() { local p; for p; do [ -n "$(runs_starttime "$p")" ] || return 1; done; }
none_alive() { local p; for p; do [ -z "$(runs_starttime "$p")" ] || return 1; done; }

# the run that dies, with a bastion and a host
bash -c '
	HP=crk$(( $$ % 100000 )) HTMP=$1
	. "$2/hosts.sh"
	hosts_up 1 >/dev/null 2>&1 || exit 1
	echo "$HP $$ $HX ${HOSTS_PIDS[*]}" > "$HTMP/what"
	kill -KILL $$
' child "$CHILD" "$HERE"
rc=$?
read -r CP CPID CX CSSHD < "$CHILD/what" 2>/dev/null
check "a run with two test hosts killed with SIGKILL (status $rc)" '[ $rc = 137 ] && [ -n "${CP:-}" ]'
check "... left its namespaces, route and sshds" \
	'[ "$(ip netns list | grep -c "^$CP")" = 3 ] && [ -n "$(ip -4 route show exact "10.250.$CX.0/24")" ] &&
	 all_alive $CSSHD' "$(ip netns list; cat "$RUNS_DIR/hosts/$CPID" 2>&1)"

hosts_up 1 2>"$HTMP/reap.err" || bail "cannot make the test hosts" "$(cat "$HTMP/reap.err")"
check "the next hosts_up names the dead run" 'grep -q "the dead run $CPID left: dir $CHILD" "$HTMP/reap.err"' "$(cat "$HTMP/reap.err")"
sleep 0.5
check "... and removes its sshds, namespaces, route and directories" \
	'[ "$(ip netns list | grep -c "^$CP")" = 0 ] && [ -z "$(ip -4 route show exact "10.250.$CX.0/24")" ] &&
	 none_alive $CSSHD && [ ! -e "$CHILD" ] && [ ! -e "/tmp/$CP-fs" ]' \
	"$(ip netns list; ip route; ls -d "$CHILD" "/tmp/$CP-fs" 2>&1)"
check "... and its record; this run's own is there" '[ ! -e "$RUNS_DIR/hosts/$CPID" ] && grep -q "^netns ${HP}c$" "$RUNS_DIR/hosts/$$"'
check "this run's hosts work" 'hosts_run ssh -F none -i "$HTMP/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@"$(hosts_addr 0)" true 2>/dev/null'
hosts_down
check "hosts_down leaves no record" '[ ! -e "$RUNS_DIR/hosts/$$" ] && hosts_gone'
tap_end
