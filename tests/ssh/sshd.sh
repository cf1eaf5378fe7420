#!/bin/bash
# tests/ssh/sshd.sh SSH_PROBE - src/ssh against real sshd, in network
# namespaces made for the run: a client, a bastion and a node that only the
# bastion can reach.  TAP output.  Needs root, ip(8) and /usr/sbin/sshd.
#
#   client ${P}c  10.250.X.1/30 --- 10.250.X.2/30  ${P}b bastion (no forwarding)
#                                   10.250.X.5/30 --- 10.250.X.6/30  ${P}n node
#
# The host gets "unreachable 10.250.X.0/24" first, so that nothing of the
# range can leave it; everything carries the prefix ${P} and is removed at
# the end, pass or fail: the sshd we started (by PID), the namespaces (and
# with them the veths), the route, the temporary directory.
set -u
PROBE=$(realpath "$1")

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || [ ! -x /usr/sbin/sshd ]; then
	echo "1..0 # SKIP needs root, ip(8) and /usr/sbin/sshd"
	exit 0
fi

P=cst$$
TMP=$(mktemp -d "/tmp/$P.XXXXXX")
NS=()
PIDS=()
ROUTE=
MADE_RUN_SSHD=

cleanup() {
	local pid child
	for pid in "${PIDS[@]}"; do
		for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$child" 2>/dev/null; done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	PIDS=()
	for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NS=()
	[ -n "$ROUTE" ] && ip route del unreachable "$ROUTE" 2>/dev/null
	ROUTE=
	[ -n "$MADE_RUN_SSHD" ] && rmdir /run/sshd 2>/dev/null
	MADE_RUN_SSHD=
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# shellcheck source=tests/lib/tap.sh
. "$(dirname "$(realpath "$0")")/../lib/tap.sh"

# ---- the network ------------------------------------------------------------

# A /24 of 10.250/16 that the host does not route or use yet.
X=
for i in $(seq 0 199); do
	x=$(( ($$ + i) % 200 + 20 ))
	if ! ip -4 route show table all | grep -q "10\.250\.$x\." &&
	   ! ip -4 addr show | grep -q "10\.250\.$x\."; then
		X=$x; break
	fi
done
[ -n "$X" ] || bail "no free 10.250.X.0/24 range"
ip route add unreachable "10.250.$X.0/24" || bail "cannot add the unreachable route guard"
ROUTE="10.250.$X.0/24"
C=10.250.$X.1 B=10.250.$X.2 BN=10.250.$X.5 N=10.250.$X.6

for ns in ${P}c ${P}b ${P}n; do
	ip netns add "$ns" || bail "cannot create namespace $ns"
	NS+=("$ns")
	ip -n "$ns" link set lo up
done
ip link add ${P}c0 netns ${P}c type veth peer name ${P}b0 netns ${P}b || bail "cannot create veth ${P}c0"
ip link add ${P}b1 netns ${P}b type veth peer name ${P}n0 netns ${P}n || bail "cannot create veth ${P}b1"
ip -n ${P}c addr add $C/30 dev ${P}c0
ip -n ${P}b addr add $B/30 dev ${P}b0
ip -n ${P}b addr add $BN/30 dev ${P}b1
ip -n ${P}n addr add $N/30 dev ${P}n0
for l in ${P}c:${P}c0 ${P}b:${P}b0 ${P}b:${P}b1 ${P}n:${P}n0; do ip -n "${l%%:*}" link set "${l#*:}" up; done
# The client routes the node's /30 to the bastion, which must not forward it:
# the node can be reached only through sshd on the bastion.
ip -n ${P}c route add 10.250.$X.4/30 via $B
ip netns exec ${P}b sysctl -qw net.ipv4.ip_forward=0

# ---- keys and sshd ----------------------------------------------------------

[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd && MADE_RUN_SSHD=1; }
cd "$TMP" || bail "no $TMP"
for h in bastion node; do ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$TMP/$h.host" || bail "ssh-keygen"; done
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa -f "$TMP/rsa.host" || bail "ssh-keygen rsa"
fp() { ssh-keygen -lf "$1" | awk '{print $2}'; }
FP_B=$(fp bastion.host.pub) FP_N=$(fp node.host.pub)
KB=$(cat bastion.host.pub) KN=$(cat node.host.pub) KR=$(cat rsa.host.pub)

# The user key is made by src/ssh and kept sealed under a KEK: never in clear on disk.
"$PROBE" --kek "$TMP/kek" --keygen "$TMP/user.key" "$TMP/user.pub" --comment "$P-user" || bail "keygen"
"$PROBE" --kek "$TMP/kek" --keygen "$TMP/other.key" "$TMP/other.pub" --comment "$P-other" || bail "keygen"
cp user.pub authorized_keys
check "the generated private key is stored sealed" \
	'grep -q "^sb1:" user.key && ! grep -q "PRIVATE KEY" user.key && [ "$(stat -c %a kek)" = 600 ]'
check "the generated public key's fingerprint is OpenSSH's" \
	'[ "$("$PROBE" --fingerprint "$(cat user.pub)")" = "$(fp user.pub)" ]'

# sshd_config NAME ADDRESS PORT HOSTKEY EXTRA...
sshd_config() {
	local name=$1 addr=$2 port=$3 hostkey=$4; shift 4
	{
		echo "ListenAddress $addr"
		echo "Port $port"
		echo "HostKey $TMP/$hostkey"
		echo "AuthorizedKeysFile $TMP/authorized_keys"
		echo "PidFile $TMP/$name.pid"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "PermitRootLogin prohibit-password"
		echo "LogLevel VERBOSE"
		printf '%s\n' "$@"
	} > "$TMP/$name.conf"
}
# start_sshd NAME NAMESPACE ADDRESS PORT: run it, wait until it listens.
start_sshd() {
	local name=$1 ns=$2 addr=$3 port=$4 i
	ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$TMP/$name.conf" 2>>"$TMP/$name.log" &
	PIDS+=($!)
	for i in $(seq 50); do
		ip netns exec "$ns" ss -Hltn "src $addr and sport = :$port" | grep -q LISTEN && return 0
		sleep 0.1
	done
	bail "sshd $name does not listen" "$(cat "$TMP/$name.log")"
}
sshd_config bastion $B 22 bastion.host "AllowTcpForwarding yes" "Subsystem sftp /usr/lib/openssh/sftp-server"
# the node is a small image: no sftp-server
sshd_config node $N 22 node.host "AllowTcpForwarding no"
sshd_config node-late $N 2222 node.host "AllowTcpForwarding no"
sshd_config bastion-closed $B 2200 bastion.host "AllowTcpForwarding no"
start_sshd bastion ${P}b $B 22
start_sshd node ${P}n $N 22
start_sshd bastion-closed ${P}b $B 2200

probe() { ip netns exec ${P}c "$PROBE" --kek "$TMP/kek" --key "$TMP/user.key" --user root "$@"; }
via() { probe --bastion $B:22 --bastion-known "$KB" "$@"; }

# ---- the checks -------------------------------------------------------------

out=$(probe --host $B --known "$KB" -- 'echo "on $(hostname -I)"' 2>&1); rc=$?
check "a command runs on the bastion directly" '[ $rc = 0 ] && grep -qw "$B" <<<"$out"' "$out"

out=$(probe --host $B --print-host-key 2>&1); rc=$?
check "trust on first use returns the host key seen" \
	'[ $rc = 0 ] && [ "$out" = "$(cut -d" " -f1,2 bastion.host.pub)" ]' "$out"

out=$(via --host $N --known "$KN" -- 'echo "on $(hostname -I)"' 2>&1); rc=$?
check "a command runs on the node through the bastion" '[ $rc = 0 ] && grep -qw "$N" <<<"$out"' "$out"

out=$(via --host $N --print-host-key 2>&1); rc=$?
check "through the bastion, both host keys seen are returned" \
	'[ $rc = 0 ] && grep -qxF "$(cut -d" " -f1,2 node.host.pub)" <<<"$out" && grep -qxF "bastion: $(cut -d" " -f1,2 bastion.host.pub)" <<<"$out"' "$out"

out=$(probe --host $N --timeout 2000 -- true 2>&1); rc=$?
check "the node is not reachable directly from the client (retryable)" \
	'[ $rc = 255 ] && grep -q "error (retryable): cannot connect to .root@$N:22." <<<"$out"' "$out"
check "not even by ping" '! ip netns exec ${P}c ping -c1 -W1 $N >/dev/null 2>&1'

via --host $N --known "$KN" -- 'echo out; echo err >&2; exit 7' >o.txt 2>e.txt; rc=$?
check "the exit status is carried (7)" '[ $rc = 7 ]'
check "stdout and stderr are carried apart" '[ "$(cat o.txt)" = out ] && [ "$(cat e.txt)" = err ]' \
	"stdout: $(cat o.txt) stderr: $(cat e.txt)"

out=$(via --host $N -- 'kill -TERM $$' 2>&1); rc=$?
check "a command ended by SIGTERM exits 143" '[ $rc = 143 ]' "rc $rc: $out"

head -c 3000000 /dev/urandom > big.in
out=$(via --host $N --stdin big.in -- 'sha256sum' 2>&1); rc=$?
check "3 MB of stdin reach the node whole through the bastion" \
	'[ $rc = 0 ] && [ "${out%% *}" = "$(sha256sum < big.in | cut -d" " -f1)" ]' "$out"
out=$(via --host $N --timeout 1000 --stdin big.in -- 'sleep 3; sha256sum' 2>&1); rc=$?
check "a node that reads its stdin 3 s late, with a 1 s session timeout, gets it whole" \
	'[ $rc = 0 ] && [ "${out%% *}" = "$(sha256sum < big.in | cut -d" " -f1)" ]' "$out"
out=$(via --host $N -- 'head -c 3000000 /dev/zero | tr "\0" a; head -c 100000 /dev/zero | tr "\0" e >&2' 2>e.txt | wc -c); rc=$?
check "3 MB of stdout and 100 kB of stderr come back whole" '[ "$out" = 3000000 ] && [ "$(wc -c < e.txt)" = 100000 ]' \
	"stdout $out bytes, stderr $(wc -c < e.txt) bytes"
out=$(via --host $N --cmd-timeout 1000 -- 'sleep 30' 2>&1); rc=$?
check "a command past its timeout fails (retryable)" '[ $rc = 255 ] && grep -q "timed out after 1000 ms" <<<"$out"' "$out"

mkdir -p remote
printf 'key = "value"\n' > content
out=$(probe --host $B --known "$KB" --stdin content --put "$TMP/remote/bastion.conf" --mode 0640 2>&1); rc=$?
check "put_file writes a file with its mode over SFTP" \
	'[ $rc = 0 ] && cmp -s content remote/bastion.conf && [ "$(stat -c %a remote/bastion.conf)" = 640 ]' \
	"$out $(ls -l remote)"
printf 'second version\n' > content2
probe --host $B --stdin content2 --put "$TMP/remote/bastion.conf" --mode 0600 >/dev/null 2>&1
check "put_file replaces a file and its mode" \
	'cmp -s content2 remote/bastion.conf && [ "$(stat -c %a remote/bastion.conf)" = 600 ]'
out=$(via --host $N --known "$KN" --stdin big.in --put "$TMP/remote/it's a node file" --mode 0604 2>&1); rc=$?
check "put_file writes through the bastion on a node without sftp-server" \
	'[ $rc = 0 ] && cmp -s big.in "remote/it'"'"'s a node file" && [ "$(stat -c %a "remote/it'"'"'s a node file")" = 604 ]' \
	"$out $(ls -l remote)"
check "(the node refused the sftp subsystem, so that was the cat fallback)" \
	'grep -q "subsystem request for sftp" node.log' "$(tail -5 node.log)"
out=$(via --host $N --stdin content --put "$TMP/no/such/dir/f" 2>&1); rc=$?
check "put_file into a missing directory fails with the node's message" \
	'[ $rc = 255 ] && grep -q "error (permanent): cannot write .*No such file or directory\|error (permanent): cannot write .*nonexistent" <<<"$out"' "$out"
out=$(probe --host $B --stdin content --put "$TMP/no/such/dir/f" 2>&1); rc=$?
check "and over SFTP too" '[ $rc = 255 ] && grep -q "error (permanent): cannot write .*no such file" <<<"$out"' "$out"

out=$(via --host $N --known "$KB" -- true 2>&1); rc=$?
check "a wrong pinned host key fails, permanent, with both fingerprints" \
	'[ $rc = 255 ] && grep -q "error (permanent): host key mismatch for .root@$N:22." <<<"$out" && grep -qF "offered ssh-ed25519 $FP_N" <<<"$out" && grep -qF "pinned key is $FP_B" <<<"$out"' "$out"
out=$(probe --host $B --known "$KN" -- true 2>&1); rc=$?
check "a wrong pinned host key of the bastion too" \
	'[ $rc = 255 ] && grep -q "host key mismatch for .root@$B:22." <<<"$out" && grep -qF "$FP_B" <<<"$out" && grep -qF "$FP_N" <<<"$out"' "$out"
out=$(via --host $N --known "$KR" -- true 2>&1); rc=$?
check "a pinned key of a type the server lacks fails as a mismatch" \
	'[ $rc = 255 ] && grep -q "error (permanent): host key mismatch.*offers no key of the pinned types" <<<"$out" && grep -qF "$(fp rsa.host.pub)" <<<"$out"' "$out"
out=$(probe --host $B --known "$KN" --known "$KB" -- true 2>&1); rc=$?
check "one matching key among several pins is enough" '[ $rc = 0 ]' "$out"

out=$(ip netns exec ${P}c "$PROBE" --kek "$TMP/kek" --key "$TMP/other.key" --host $B -- true 2>&1); rc=$?
check "a wrong user key fails with an authentication error (permanent)" \
	'[ $rc = 255 ] && grep -q "error (permanent): authentication failed on .root@$B:22.: the server refused key $(fp other.pub)" <<<"$out"' "$out"
out=$(ip netns exec ${P}c "$PROBE" --kek "$TMP/kek" --key "$TMP/other.key" --bastion $B:22 --host $N -- true 2>&1); rc=$?
check "a wrong user key on the bastion names the bastion" \
	'[ $rc = 255 ] && grep -q "authentication failed on .root@$B:22." <<<"$out" && grep -q "through bastion" <<<"$out"' "$out"
head -c 32 /dev/urandom > kek2; chmod 600 kek2
out=$(ip netns exec ${P}c "$PROBE" --kek "$TMP/kek2" --key "$TMP/user.key" --host $B -- true 2>&1); rc=$?
check "a sealed key under the wrong KEK does not open" '[ $rc = 255 ] && grep -q "wrong key" <<<"$out"' "$out"

out=$(probe --bastion $B:2200 --host $N -- true 2>&1); rc=$?
check "a bastion that refuses forwarding fails, permanent" \
	'[ $rc = 255 ] && grep -q "error (permanent): the bastion refuses to forward to .$N:22. (administratively prohibited)" <<<"$out"' "$out"
out=$(via --host $N --port 2299 --timeout 3000 -- true 2>&1); rc=$?
check "a node port the bastion cannot reach fails, retryable" \
	'[ $rc = 255 ] && grep -q "error (retryable): the bastion cannot open a connection to .$N:2299." <<<"$out"' "$out"

# wait_ready: sshd on node port 2222 starts 2 s after the probe begins.
t0=$(date +%s%N)
via --host $N --port 2222 --known "$KN" --wait 30000 -- 'echo ready' >wait.out 2>wait.err & wpid=$!
sleep 2
start_sshd node-late ${P}n $N 2222
wait $wpid; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "wait_ready retries until a late sshd answers (${ms} ms)" \
	'[ $rc = 0 ] && [ "$(cat wait.out)" = ready ] && [ $ms -ge 2000 ]' "$(cat wait.out wait.err)"
check "(the bastion was refused the node's port meanwhile: it did retry)" \
	'grep -q "connect_to $N port 2222: failed" bastion.log' "$(tail -5 bastion.log)"
t0=$(date +%s%N)
out=$(via --host $N --port 2299 --wait 1500 -- true 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "wait_ready gives up at its deadline with the last error (${ms} ms)" \
	'[ $rc = 255 ] && grep -q "error (retryable): .$N. not ready after [0-9]* ms ([0-9]* attempts): the bastion cannot open a connection" <<<"$out" && [ $ms -ge 1500 ] && [ $ms -lt 5000 ]' "$out"
out=$(via --host $N --known "$KB" --wait 10000 -- true 2>&1); rc=$?
check "wait_ready does not retry a host key mismatch" \
	'[ $rc = 255 ] && grep -q "host key mismatch" <<<"$out" && ! grep -q "not ready after" <<<"$out"' "$out"

out=$(via --host $N --known "$KN" --parallel 8 -- 'echo $((6 * 7))' 2>&1); rc=$?
check "8 sessions through the bastion in parallel threads" '[ $rc = 0 ] && [ "$out" = "8 sessions ok: 42" ]' "$out"
out=$(probe --host $B --known "$KB" --parallel 8 --stdin big.in -- 'sha256sum' 2>&1); rc=$?
check "8 direct sessions in parallel, each with 3 MB of stdin" \
	'[ $rc = 0 ] && grep -q "^8 sessions ok: $(sha256sum < big.in | cut -d" " -f1)" <<<"$out"' "$out"

# ---- the end ----------------------------------------------------------------

mine=$(printf '%s ' "${PIDS[@]}")
alive() { local p; for p in $mine; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
cd /
cleanup
check "everything is removed: sshd ($mine), namespaces, route, files" \
	'! ip netns list | grep -q "^$P" && ! ip -4 route show table all | grep -q "10\.250\.$X\." && ! alive && [ ! -d "$TMP" ]'
tap_end
