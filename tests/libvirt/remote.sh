#!/bin/bash
# tests/libvirt/remote.sh CAIRN - the libvirt provider on a remote
# hypervisor: qemu+libssh://root@HOST/system, where HOST is an sshd in a
# network namespace of the test (tests/static/hosts.sh) on this machine, so
# that libvirt's SSH transport really carries the calls (virt-ssh-helper on
# the far side reaches the local libvirtd).  A network and a volume are made,
# found again (plan: no change), and destroyed, leaving nothing.  The host
# key is checked against a known_hosts file of the test's; nothing is
# written under ~/.ssh.  TAP output; skips where libvirt or sshd hosts
# cannot run.
set -u
CAIRN=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")

# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
tap_skip_unless_hosts
# shellcheck source=tests/libvirt/libvirtd-env.sh
. "$HERE/libvirtd-env.sh"

HP=crv$(( $$ % 100000 ))
HTMP=$(mktemp -d "/tmp/$HP.XXXXXX")
# shellcheck source=tests/static/hosts.sh
. "$HERE/../static/hosts.sh"
P=$(lv_env_prefix)
GUARD=10.245.0.0/16
cleanup() { cd /; lv_env_teardown "$P"; hosts_down; rm -rf "$HTMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

lv_env_tap_start "$GUARD"
hosts_up 0 || bail "cannot make the test host"
cd "$HTMP" || bail "no $HTMP"
export CAIRN_STATE=$HTMP/state.db NO_COLOR=1
cairn() { hosts_run "$CAIRN" "$@"; }
HOST=$(hosts_addr 0)
echo "$HOST $(cut -d' ' -f1,2 "$HTMP/$HP-bastion.host.pub")" > known_hosts
STACK=${P}remote
URI="qemu+libssh://root@$HOST/system?keyfile=$HTMP/id&known_hosts=$HTMP/known_hosts&known_hosts_verify=normal"

cat > stack.yml <<EOF
stack: $STACK
providers:
  far: {type: libvirt, uri: "$URI", pool: ${P}remote-images}
networks:
  lan: {cidr: 10.245.3.0/24, mode: isolated}
volumes:
  data: {size: 64MiB}
EOF

out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "apply through qemu+libssh://root@$HOST/system: a network and a volume" \
	'[ $rc = 0 ] && grep -q "3 created\|2 created" <<<"$out"' "exit $rc: $out"
check "... which the hypervisor holds" \
	'lv_virsh net-list --all --name | grep -q "^${STACK}-lan$" && lv_virsh vol-list "${P}remote-images" | grep -q "data"' \
	"$(lv_virsh net-list --all; lv_virsh vol-list "${P}remote-images" 2>&1)"
check "... reached over SSH (the host's sshd logged the session)" \
	'grep -q "Accepted publickey for root" "$HTMP/$HP-bastion.log"' "$(tail -5 "$HTMP/$HP-bastion.log")"
out=$(cairn plan --detailed-exitcode stack.yml 2>&1); rc=$?
check "plan through the remote URI: no change (objects found by their stamps)" '[ $rc = 0 ]' "exit $rc: $out"
out=$(cairn destroy --auto-approve "$STACK" 2>&1); rc=$?
check "destroy through it" '[ $rc = 0 ]' "$out"
check "... leaves no network, volume or pool of the run" \
	'! lv_virsh net-list --all --name | grep -q "^$P" && ! lv_virsh pool-list --all --name | grep -q "^$P"' \
	"$(lv_virsh net-list --all; lv_virsh pool-list --all)"
# qemu+ssh:// runs OpenSSH's ssh, which checks the host key against the user's
# known_hosts (libvirt hands it no other): an unknown host is refused, clearly
sed -i "s|qemu+libssh://|qemu+ssh://|" stack.yml
out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "qemu+ssh:// to a host the user's known_hosts lacks: refused at once, naming why, nothing made" \
	'[ $rc = 1 ] && grep -q "cannot connect to libvirt: .*Host key verification failed" <<<"$out" && ! lv_virsh net-list --all --name | grep -q "^$P"' "$out"
check "nothing was written under ~/.ssh" '[ ! -e ~/.ssh/known_hosts ] || ! grep -q "$HOST" ~/.ssh/known_hosts'

tap_end
