# tests/static/hosts.sh - sourced: test hosts as network namespaces, each
# with its own sshd, host key and hostname; one bastion, the others reachable
# only through it.  For the static provider's tests, configuration tests and
# bench/fanout.
#
#   client ${HP}c  10.250.X.1/30 --- 10.250.X.2/30  ${HP}b  bastion (sshd, no IP forwarding)
#                                     10.250.X.129/25 bridge ${HP}br
#                                       |-- ${HP}h1  10.250.X.130  sshd, hostname ${HP}-h1
#                                       |-- ...
#                                       `-- ${HP}hN  10.250.X.(129+N)
#
# The host gets "unreachable 10.250.X.0/24" before anything else, so that no
# packet of the range can leave it.  cairn runs in the client namespace
# (hosts_run), which routes the hosts' /25 to the bastion; the bastion does
# not forward, so the hosts are reachable only through its sshd.
#
#   hosts_up N          make the network, the bastion and N hosts, start every sshd
#   hosts_run CMD...    run CMD in the client namespace
#   hosts_addr I        the address of host I (0: the bastion, as the client sees it)
#   hosts_stop_sshd I   stop host I's sshd (0: the bastion's); hosts_start_sshd I again
#   hosts_rekey I       give host I a new host key (restarts its sshd)
#   hosts_fs I          the directory that host I sees at $HOSTS_FS, from outside
#   hosts_authorize I F the public keys host I accepts for root: file F (- : none)
#   hosts_down          remove everything hosts_up made (also on EXIT: call it from the trap)
#
# The hosts share the machine's file system, but each has a private directory
# of its own at the same path, $HOSTS_FS (/tmp/$HP-fs): its sshd runs in a
# mount namespace where $HTMP/fs/NAME is bound there, so what a session
# writes under $HOSTS_FS lands on that host only.
#
# What a run makes is recorded as it is made (tests/lib/runs.sh, kind
# "hosts"): the next hosts_up removes what a run killed with SIGKILL left
# (its sshds, by PID and start time; namespaces; route; directories).
#
# Set before sourcing: HP (a per-run prefix, at most 8 characters) and HTMP (a
# directory for keys, configs and logs).  The user key is $HTMP/id (an
# OpenSSH ed25519 key, mode 0600), trusted by every host as root.
# shellcheck shell=bash

# shellcheck source=tests/lib/runs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runs.sh"

HOSTS_NS=()
HOSTS_PIDS=()     # index I: the sshd of host I (0: the bastion)
HOSTS_ROUTE=
HOSTS_MADE_RUN_SSHD=
HOSTS_N=0
HX=
HOSTS_FS=

hosts_down() {
	local pid child
	for pid in "${HOSTS_PIDS[@]}"; do
		[ -n "$pid" ] || continue
		for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$child" 2>/dev/null; done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	HOSTS_PIDS=()
	for ns in "${HOSTS_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	HOSTS_NS=()
	[ -n "$HOSTS_ROUTE" ] && ip route del unreachable "$HOSTS_ROUTE" 2>/dev/null
	HOSTS_ROUTE=
	[ -n "$HOSTS_MADE_RUN_SSHD" ] && rmdir /run/sshd 2>/dev/null
	HOSTS_MADE_RUN_SSHD=
	[ -n "$HOSTS_FS" ] && rmdir "$HOSTS_FS" 2>/dev/null
	HOSTS_FS=
	runs_done hosts
}

# What a dead run's record names (runs_reap).
_hosts_reap_line() {
	local child
	case $1 in
	sshd)
		runs_alive "$2" "${3:-}" || return 0
		for child in $(ps -o pid= --ppid "$2" 2>/dev/null); do kill "$child" 2>/dev/null; done
		kill "$2" 2>/dev/null ;;
	netns) ip netns del "$2" 2>/dev/null ;;
	route) ip route del unreachable "$2" 2>/dev/null ;;
	dir) case $2 in /tmp/?*) rm -rf -- "$2" ;; esac ;;
	esac
	return 0
}

# hosts_gone: nothing of the run is left (namespaces, route, sshd)
hosts_gone() {
	! ip netns list | grep -q "^$HP" && ! ip -4 route show table all | grep -q "10\.250\.$HX\."
}

hosts_addr() {
	if [ "$1" = 0 ]; then echo "10.250.$HX.2"; else echo "10.250.$HX.$((129 + $1))"; fi
}

hosts_run() { ip netns exec "${HP}c" "$@"; }

hosts_fs() { echo "$HTMP/fs/$(_hosts_name "$1")"; }

hosts_authorize() {
	local f="$HTMP/keys/$(_hosts_name "$1")"
	if [ "$2" = - ]; then : > "$f"; else cp "$2" "$f"; fi
}

_hosts_ns() { if [ "$1" = 0 ]; then echo "${HP}b"; else echo "${HP}h$1"; fi; }
_hosts_name() { if [ "$1" = 0 ]; then echo "${HP}-bastion"; else echo "${HP}-h$1"; fi; }

_hosts_config() {
	local i=$1 name addr extra
	name=$(_hosts_name "$i") addr=$(hosts_addr "$i")
	if [ "$i" = 0 ]; then extra="AllowTcpForwarding yes"; else extra="AllowTcpForwarding no"; fi
	cat > "$HTMP/$name.conf" <<-EOF
	ListenAddress $addr
	Port 22
	HostKey $HTMP/$name.host
	AuthorizedKeysFile $HTMP/keys/$name
	PidFile none
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	MaxStartups 100:30:200
	LogLevel VERBOSE
	Subsystem sftp /usr/lib/openssh/sftp-server
	$extra
	EOF
}

# hosts_start_sshd I: sshd of host I in its namespace, with its own hostname
# (a UTS namespace of its own); waits until it listens.
hosts_start_sshd() {
	local i=$1 ns name addr k
	ns=$(_hosts_ns "$i") name=$(_hosts_name "$i") addr=$(hosts_addr "$i")
	# ip netns exec, unshare and sh exec in turn: $! is sshd itself
	mkdir -p "$HTMP/fs/$name"
	ip netns exec "$ns" unshare --uts --mount --propagation private \
		sh -c "mount --bind '$HTMP/fs/$name' '$HOSTS_FS' && hostname '$name' && exec /usr/sbin/sshd -D -e -f '$HTMP/$name.conf'" \
		2>>"$HTMP/$name.log" &
	HOSTS_PIDS[$i]=$!
	runs_claim hosts sshd "$!" "$(runs_starttime $!)"
	for k in $(seq 100); do
		ip netns exec "$ns" ss -Hltn "src $addr and sport = :22" | grep -q LISTEN && return 0
		sleep 0.05
	done
	echo "sshd of $name does not listen: $(tail -3 "$HTMP/$name.log")" >&2
	return 1
}

hosts_stop_sshd() {
	local i=$1 pid=${HOSTS_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	HOSTS_PIDS[$i]=
}

hosts_rekey() {
	local i=$1 name
	name=$(_hosts_name "$i")
	hosts_stop_sshd "$i"
	rm -f "$HTMP/$name.host" "$HTMP/$name.host.pub"
	ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$HTMP/$name.host" || return 1
	hosts_start_sshd "$i"
}

hosts_up() {
	local n=$1 i x ns b
	HOSTS_N=$n
	runs_reap hosts _hosts_reap_line
	runs_claim hosts dir "$HTMP"
	for i in $(seq 0 199); do
		x=$(( ($$ + i * 7) % 200 + 20 ))
		if ! ip -4 route show table all | grep -q "10\.250\.$x\." &&
		   ! ip -4 addr show | grep -q "10\.250\.$x\."; then
			HX=$x; break
		fi
	done
	[ -n "$HX" ] || { echo "no free 10.250.X.0/24 range" >&2; return 1; }
	ip route add unreachable "10.250.$HX.0/24" || return 1
	HOSTS_ROUTE="10.250.$HX.0/24"
	runs_claim hosts route "$HOSTS_ROUTE"

	for ns in "${HP}c" "${HP}b"; do
		ip netns add "$ns" || return 1
		HOSTS_NS+=("$ns")
		runs_claim hosts netns "$ns"
		ip -n "$ns" link set lo up
	done
	b=${HP}b
	ip link add "${HP}c0" netns "${HP}c" type veth peer name "${HP}b0" netns "$b" || return 1
	ip -n "${HP}c" addr add "10.250.$HX.1/30" dev "${HP}c0"
	ip -n "$b" addr add "10.250.$HX.2/30" dev "${HP}b0"
	ip -n "${HP}c" link set "${HP}c0" up
	ip -n "$b" link set "${HP}b0" up
	ip -n "$b" link add "${HP}br" type bridge || return 1
	ip -n "$b" addr add "10.250.$HX.129/25" dev "${HP}br"
	ip -n "$b" link set "${HP}br" up
	ip -n "${HP}c" route add "10.250.$HX.128/25" via "10.250.$HX.2"
	ip netns exec "$b" sysctl -qw net.ipv4.ip_forward=0
	for i in $(seq 1 "$n"); do
		ns=${HP}h$i
		ip netns add "$ns" || return 1
		HOSTS_NS+=("$ns")
		runs_claim hosts netns "$ns"
		ip -n "$ns" link set lo up
		ip link add "${HP}e$i" netns "$ns" type veth peer name "${HP}p$i" netns "$b" || return 1
		ip -n "$ns" addr add "$(hosts_addr "$i")/25" dev "${HP}e$i"
		ip -n "$ns" link set "${HP}e$i" up
		ip -n "$b" link set "${HP}p$i" master "${HP}br" up
	done

	[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd && HOSTS_MADE_RUN_SSHD=1; }
	HOSTS_FS=/tmp/$HP-fs
	mkdir "$HOSTS_FS" || return 1
	runs_claim hosts dir "$HOSTS_FS"
	ssh-keygen -q -t ed25519 -N '' -C "$HP-user" -f "$HTMP/id" || return 1
	mkdir -p "$HTMP/keys"
	for i in $(seq 0 "$n"); do
		cp "$HTMP/id.pub" "$HTMP/keys/$(_hosts_name "$i")"
		ssh-keygen -q -t ed25519 -N '' -C "$(_hosts_name "$i")" -f "$HTMP/$(_hosts_name "$i").host" || return 1
		_hosts_config "$i"
		hosts_start_sshd "$i" || return 1
	done
}
