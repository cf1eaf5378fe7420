#!/bin/bash
# tests/libvirt/reap.sh - a libvirt test killed with SIGKILL runs no trap: its
# network, pool directory and guard route stay, and the next run's guard of
# the same range is refused (the CI failure of 2026-12-07: an interrupted
# libvirt-cluster left 10.254.0.0/22 routed and the next one bailed out).
# lv_env_start removes what the records of dead runs name, and only that:
#
#  1. a child run claims a prefix, guards a range, makes and starts a libvirt
#     network in it, and is killed with SIGKILL;
#  2. its network, bridge and route are still there, and the range cannot be
#     guarded again;
#  3. the reaper (what lv_env_start runs) removes them and the record; this
#     run's own record and objects, alive, are left alone;
#  4. the range can be guarded again.
# TAP output; "1..0 # SKIP" when libvirt cannot run here.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/tests/libvirt/libvirtd-env.sh"

P=$(lv_env_prefix)                      # ct<pid>-: this (live) run
GUARD=10.244.0.0/23                     # the dead run's range
MINE=10.244.4.0/23                      # this run's range
TMP=$(mktemp -d /tmp/cairn-reap.XXXXXX)
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"

CHILD_P=
cleanup() {
	# in case the reaper failed: the dead run's things by hand
	[ -n "$CHILD_P" ] && { lv_env_cleanup "$CHILD_P" >/dev/null 2>&1; rm -f "$RUNS_DIR/libvirt/${CHILD_P//[!0-9]/}"; }
	ip route del unreachable "$GUARD" 2>/dev/null
	lv_env_teardown "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT

lv_env_tap_start "$MINE"
cat > "$TMP/mine.xml" <<-XML
<network><name>${P}lan</name><ip address='10.244.5.1' prefix='24'/></network>
XML
lv_virsh net-define "$TMP/mine.xml" >/dev/null || bail "net-define ${P}lan"

# 1. the run that dies: it uses our libvirtd, so nothing of it outlives it
#    but what it made.
bash -c '
	. "$1/tests/libvirt/libvirtd-env.sh"
	P=$(lv_env_prefix)
	echo "$P" > "$2/child-prefix"
	lv_env_start 2>/dev/null || exit 1
	lv_env_guard_range "$3" 2>/dev/null || exit 1
	cat > "$2/net.xml" <<-XML
	<network><name>${P}lan</name><bridge name="${P%-}br"/><ip address="10.244.1.1" prefix="24"/></network>
	XML
	lv_virsh net-define "$2/net.xml" >/dev/null && lv_virsh net-start "${P}lan" >/dev/null || exit 1
	mkdir -p "/var/lib/libvirt/images/${P}pool"
	kill -KILL $$
' child "$SRC" "$TMP" "$GUARD"
rc=$?
CHILD_P=$(cat "$TMP/child-prefix" 2>/dev/null)
check "a run killed with SIGKILL (status $rc)" '[ $rc -eq 137 ] && [ -n "$CHILD_P" ]'
# 2. what it left
check "... left its network running" '[ "$(lv_virsh net-list --name | grep -c "^${CHILD_P}lan$")" = 1 ]'
check "... and its guard route" '[ -n "$(ip -4 route show exact "$GUARD" type unreachable)" ]'
check "... so the range cannot be guarded again" '! (RUNS_DIR=$TMP/none; lv_env_guard_range "$GUARD" 2>/dev/null)'
# 3. reaped
lv__reap_stale 2>"$TMP/reap.err"
check "the reaper names the dead run" 'grep -q "the dead run ${CHILD_P//[!0-9]/} left: prefix $CHILD_P guard $GUARD" "$TMP/reap.err"' "$(cat "$TMP/reap.err")"
check "... and removes its network, bridge, pool directory and route" \
	'! lv_virsh net-info "${CHILD_P}lan" >/dev/null 2>&1 && ! ip link show "${CHILD_P%-}br" >/dev/null 2>&1 &&
	 [ ! -e "/var/lib/libvirt/images/${CHILD_P}pool" ] && [ -z "$(ip -4 route show exact "$GUARD")" ]'
check "... and its record" '[ ! -e "$RUNS_DIR/libvirt/${CHILD_P//[!0-9]/}" ]'
check "this live run's network, route and record are left alone" \
	'lv_virsh net-info "${P}lan" >/dev/null 2>&1 && [ -n "$(ip -4 route show exact "$MINE" type unreachable)" ] &&
	 grep -qx "prefix $P" "$RUNS_DIR/libvirt/$$"'
# 4. the range is free again
check "the range can be guarded again" 'lv_env_guard_range "$GUARD" 2>/dev/null'
tap_end
