#!/bin/bash
# tests/libvirt/cluster.sh CAIRN SRCDIR BUILDDIR - the libvirt provider end to
# end, with a real libvirtd (started here when none runs) and qemu TCG guests
# booting the builtin tiny image:
#
#  1. bad input refused before anything is made: an image file that does
#     not exist, a CIDR that collides with a libvirt network made outside
#     cairn, a plan larger than the host's memory;
#  2. examples/cluster.yml (a bastion and three workers): apply, a command
#     on every node through the bastion, apply again changes nothing;
#  3. workers scaled 3 -> 5 -> 2;
#  4. a worker destroyed and undefined behind cairn's back: plan shows it,
#     apply re-creates it;
#  5. configure steps and health checks added, with a worker more: the new
#     worker's file and command run at first boot from its cloud-init seed,
#     the others' over SSH (updated in place); cairn health, cairn configure;
#  6. destroy: no domain, network, volume, pool or file of the stack left.
#
# Everything is named with a per-run prefix and removed at the end, pass or
# fail; the test ranges are blackholed on the host while the test runs.
# TAP output; "1..0 # SKIP" (status 0) when libvirt cannot run here.
set -u
CAIRN=$(realpath "$1"); SRC=$(realpath "$2"); BUILD=$(realpath "$3")
. "$SRC/tests/libvirt/libvirtd-env.sh"

P=$(lv_env_prefix)                      # ct<pid>-
STACK=${P}cluster
TMP=$(mktemp -d /tmp/cairn-lv.XXXXXX)
export CAIRN_STATE=$TMP/state.db
export CAIRN_IMAGE_DIR=$BUILD/images    # built once, kept between runs
GUARD=10.254.0.0/22                     # holds the stack's two /24s
# The example's 10.251.x is moved to 10.254.x, so that a `make demo` cluster
# left running on this machine (10.251.1-2.0/24) does not stop the test.
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"
TAP_DETAIL_LINES=40
tap_default_detail() { cat "$TMP/out" 2>/dev/null; }   # the last command's output
run() { "$CAIRN" "$@" >"$TMP/out" 2>&1; }

cleanup() {
	lv_env_teardown "$P"
	rm -rf "$TMP"
}
trap cleanup EXIT

lv_env_tap_start "$GUARD"
lv_env_tiny_image "$CAIRN"
ok "the tiny image is built ($(du -sh "$CAIRN_IMAGE_DIR/tiny" | cut -f1))"

# The example with this run's names.
stack_file() {   # COUNT [EXTRA-SED]
	sed -e "s/^stack: cluster$/stack: $STACK/" -e "s/10\.251\./10.254./g" -e "s/pool: cluster-images/pool: ${P}cluster-images/" \
	    -e "s/count: 3 /count: $1 /" ${2:+-e "$2"} "$SRC/examples/cluster.yml" > "$TMP/cluster.yml"
}
# every libvirt object of this run, one per line
leftovers() {
	{
		lv_virsh list --all --name
		lv_virsh net-list --all --name
		lv_virsh pool-list --all --name
		for pool in $(lv_virsh pool-list --all --name); do lv_virsh vol-list "$pool" 2>/dev/null | awk '{print $1}'; done
		ls /var/lib/libvirt/images 2>/dev/null
	} | grep "^$P" | sort -u
}
domains() { lv_virsh list --all --name | grep "^${STACK}-" | sort; }

# ---- 1. bad input ---------------------------------------------------------------
stack_file 1 's|{builtin: tiny}|{kernel: /nonexistent/vmlinuz}|'
run apply --auto-approve "$TMP/cluster.yml"
check "an image file that does not exist: apply fails" '[ $? -ne 0 ] && grep -q "kernel .*/nonexistent/vmlinuz.*No such file" "$TMP/out"'
check "... and leaves only the networks it made first" '[ -z "$(domains)" ]' "$(leftovers)"
run destroy --auto-approve "$STACK"
check "... which destroy removes" '[ $? -eq 0 ] && [ -z "$(leftovers)" ]' "$(leftovers)"

cat > "$TMP/clash.xml" <<-XML
<network><name>${P}clash</name><ip address='10.254.3.1' prefix='24'/></network>
XML
lv_virsh net-define "$TMP/clash.xml" >/dev/null
stack_file 1 's|cidr: 10.254.2.0/24|cidr: 10.254.3.0/25|'
run apply --auto-approve "$TMP/cluster.yml"
check "a CIDR that collides with a libvirt network: refused, naming it" \
	'[ $? -ne 0 ] && grep -q "overlaps libvirt network .${P}clash. (10.254.3.0/24)" "$TMP/out"'
run destroy --auto-approve "$STACK"
lv_virsh net-undefine "${P}clash" >/dev/null
check "... nothing of the stack left after destroy" '[ -z "$(leftovers)" ]' "$(leftovers)"

stack_file 1 's|memory: 192MiB|memory: 15TiB|'
run apply --auto-approve "$TMP/cluster.yml"
check "a plan larger than the host's memory: refused" '[ $? -ne 0 ] && grep -q "asks for 15TiB of memory; the libvirt host has" "$TMP/out"'
check "... no domain made" '[ -z "$(domains)" ]'
run destroy --auto-approve "$STACK"

# ---- 2. the cluster -------------------------------------------------------------
stack_file 3
t0=$(date +%s.%N)
run apply --auto-approve "$TMP/cluster.yml"
rc=$?
t1=$(date +%s.%N)
check "apply examples/cluster.yml (4 VMs) in $(printf %.0f "$(echo "$t1 - $t0" | bc)") s" '[ $rc -eq 0 ]'
check "4 domains running" '[ "$(lv_virsh list --name | grep -c "^${STACK}-")" -eq 4 ]' "$(lv_virsh list --all)"
for node in bastion worker-0 worker-1 worker-2; do
	run ssh "$STACK" "$node" -- hostname
	check "cairn ssh $node -- hostname (workers through the bastion)" '[ $? -eq 0 ] && [ "$(tr -d "\r\n" < "$TMP/out")" = "$node" ]'
done
run ssh "$STACK" worker-1 -- 'ip -4 -o addr show eth0'
check "worker-1 is on the private network only" 'grep -q "inet 10.254.2\." "$TMP/out"'
run output "$STACK" bastion
check "output bastion is its edge address" 'grep -q "^10\.254\.1\." "$TMP/out"'
run plan --detailed-exitcode "$TMP/cluster.yml"
check "plan after apply: no changes" '[ $? -eq 0 ]'
run apply --auto-approve "$TMP/cluster.yml"
check "apply again: nothing to do" '[ $? -eq 0 ] && grep -q "No changes" "$TMP/out"'

# ---- 3. scaling -----------------------------------------------------------------
stack_file 5
run apply --auto-approve "$TMP/cluster.yml"
check "scale the workers 3 -> 5" '[ $? -eq 0 ] && [ "$(domains | wc -l)" -eq 6 ]' "$(cat "$TMP/out"; domains)"
run ssh "$STACK" worker-4 -- hostname
check "worker-4 answers through the bastion" '[ $? -eq 0 ] && grep -q worker-4 "$TMP/out"'
stack_file 2
run apply --auto-approve "$TMP/cluster.yml"
check "scale the workers 5 -> 2" '[ $? -eq 0 ] && [ "$(domains | tr "\n" " ")" = "${STACK}-bastion ${STACK}-worker-0 ${STACK}-worker-1 " ]' "$(cat "$TMP/out"; domains)"
check "... and the removed workers' files are gone" \
	'! lv_virsh vol-list "${P}cluster-images" | grep -q "worker-[234]\."' "$(lv_virsh vol-list "${P}cluster-images")"

# ---- 4. drift -------------------------------------------------------------------
lv_virsh destroy "${STACK}-worker-1" >/dev/null
lv_virsh undefine "${STACK}-worker-1" >/dev/null
run plan --detailed-exitcode "$TMP/cluster.yml"
check "a worker undefined behind cairn's back: plan re-creates it" \
	'[ $? -eq 2 ] && grep -q "node.worker\[1\]" "$TMP/out" && grep -q "deleted outside cairn" "$TMP/out"'
run apply --auto-approve "$TMP/cluster.yml"
check "apply re-creates it" '[ $? -eq 0 ] && domains | grep -q "worker-1$"'
run ssh "$STACK" worker-1 -- hostname
check "... and it answers" '[ $? -eq 0 ] && grep -q worker-1 "$TMP/out"'
run refresh "$STACK"
check "cairn refresh: nothing gone" '[ $? -eq 0 ] && grep -q ", 0 gone" "$TMP/out"'

# ---- 5. configure steps and health checks on VMs ----------------------------------
# A third worker with steps and checks: its file and command steps go into its
# cloud-init seed and run at first boot; the two workers that exist get the
# steps over SSH through the bastion (an update in place, no VM replaced).
stack_file 3 $'/ssh: {via: bastion}/a\\\n    configure: [{file: {path: /etc/motd, content: "hi ${self.name}\\\\n", mode: "0600"}}, {run: "echo ran > /root/ran"}]\\\n    health: {ping: true, tcp: [22], command: "test -e /root/ran", interval: 2s, timeout: 10s}'
run --json apply --auto-approve "$TMP/cluster.yml"
check "steps and checks added, a worker more: apply" '[ $? -eq 0 ]'
check "... the new worker's steps ran at first boot (cloud-init), the others' over SSH" \
	'[ "$(grep -c "\"address\":\"node.worker\[2\]\".*\"status\":\"seeded\"" "$TMP/out")" = 2 ] && [ "$(grep -c "\"address\":\"node.worker\[[01]\]\".*\"status\":\"ok\"" "$TMP/out")" = 4 ]'
check "... and no VM was replaced" 'grep -q "\"created\":1,\"updated\":2,\"replaced\":0" "$TMP/out"'
run ssh "$STACK" worker-2 -- 'cat /etc/motd /root/ran; stat -c %a /etc/motd'
check "worker-2 holds its file (0600) and the command's mark" \
	'[ "$(tr -d "\r" < "$TMP/out" | tr "\n" " ")" = "hi worker-2 ran 600 " ]'
run ssh "$STACK" worker-0 -- cat /etc/motd
check "worker-0 holds its own" 'grep -q "^hi worker-0" "$TMP/out"'
run health "$STACK"
check "cairn health: every worker ready (ping through the bastion, tcp, command)" \
	'[ $? -eq 0 ] && [ "$(grep -c "answers ping" "$TMP/out")" = 3 ]'
run --json configure "$STACK"
check "cairn configure: nothing to run again" '[ $? -eq 0 ] && ! grep -q "\"status\":\"ok\"" "$TMP/out" && [ "$(grep -c "\"status\":\"skipped\"" "$TMP/out")" = 6 ]'

# ---- 6. destroy -----------------------------------------------------------------
run destroy --auto-approve "$STACK"
check "destroy" '[ $? -eq 0 ]'
check "no domain, network, volume, pool or file of the stack left" '[ -z "$(leftovers)" ]' "$(leftovers)"

tap_end
