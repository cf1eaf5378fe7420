# shellcheck shell=bash
# tests/libvirt/libvirtd-env.sh: a bash library (source it) that gives the
# libvirt end-to-end tests, and `make demo`, a working qemu:///system on a
# machine without systemd (a container), and cleans up after them.
#
#   lv_env_start              use a running libvirtd, or start virtlogd and
#                             libvirtd ourselves; 0 ready, 77 cannot (skip)
#   lv_env_stop               stop only the daemons lv_env_start started
#   lv_env_guard_range CIDR   `ip route add unreachable CIDR`, refused when
#                             CIDR is already routed or overlaps a route/address
#   lv_env_unguard_all        remove every route lv_env_guard_range added
#   lv_env_prefix             print a per-run name prefix (ct<pid>-), claimed
#   lv_env_claim PREFIX       record PREFIX as this run's (for other prefixes)
#   lv_env_cleanup PREFIX     destroy/undefine every domain, network, volume
#                             (in any pool) and pool whose name starts with PREFIX,
#                             and their QEMU logs in /var/log/libvirt/qemu
#   lv_env_teardown PREFIX    lv_env_cleanup, pool directories, guards, daemons
#   lv_env_tap_start CIDR     for a TAP test: lv_env_start and lv_env_guard_range
#                             CIDR, or "1..0 # SKIP" and exit 0 when libvirt
#                             cannot run here, or "Bail out!" and exit 1
#   lv_env_tiny_image CAIRN   the builtin tiny image in $CAIRN_IMAGE_DIR, built
#                             when missing, or "Bail out!" and exit 1
#   lv_virsh ARGS...          virsh -c qemu:///system ARGS...
#
# A test uses it like this:
#
#   . tests/libvirt/libvirtd-env.sh
#   P=$(lv_env_prefix)
#   trap 'lv_env_cleanup "$P"; lv_env_unguard_all; lv_env_stop' EXIT
#   lv_env_start || exit $?          # 77: skip, reason printed
#   lv_env_guard_range 10.213.6.0/23 || exit 1
#
# Facts this relies on (Debian 12, libvirt 9.0.0, QEMU 7.2, no systemd):
#
# * Nothing has to be configured.  `virtlogd -d` then `libvirtd -d` with the
#   stock /etc/libvirt files work as root: /run/libvirt/* is created by the
#   daemon, the security drivers are "none" (no AppArmor/SELinux here) and
#   "dac" (QEMU runs as libvirt-qemu:kvm and libvirt chowns the kernel, initrd,
#   disks and console files it is given, so give it copies in a 0755 directory,
#   never /boot itself).  The errors libvirtd logs at start (no D-Bus system
#   bus, so no firewalld; dmidecode cannot read /dev/mem; no udev DMI data) are
#   harmless.  So no /etc file is edited and no private config file is needed;
#   only the log goes to a private file, through LIBVIRT_LOG_OUTPUTS.
# * Autostart: libvirtd autostarts the networks, pools and domains linked
#   under /etc/libvirt/{qemu/networks,storage,qemu}/autostart, unless the
#   driver's marker file /run/libvirt/{network,storage,qemu}/autostarted
#   exists (the daemon creates it after its first autostart pass, so that a
#   restart does not autostart again).  When we start libvirtd ourselves we
#   create the markers first: the stock "default" network (NAT on
#   192.168.122.0/24, iptables MASQUERADE) and whatever else is autostart
#   never comes up behind the admin's back, and /etc is left alone.  If
#   autostart links exist we say so (a warning), we do not delete them.
#   The markers are what libvirtd itself leaves behind, so they stay.
# * libvirt refuses to start a network whose exact subnet is in the main
#   routing table ("Network is already in use by interface *"), and an
#   unreachable route counts.  So guard a range strictly larger than the
#   libvirt network (guard 10.213.6.0/23, give the network 10.213.7.1/24): the
#   bridge's /24 wins while the network is up, the /23 blackholes the rest and
#   everything once the bridge is gone.
# * libvirtd's network driver adds LIBVIRT_* chains and jumps to iptables and
#   ip6tables (filter, nat, mangle) on first use and never removes them.  When
#   we started libvirtd and those chains did not exist before, lv_env_stop
#   removes them again, if they are empty.
# * PID 1 of this container reaps orphans late, so a daemon we killed can stay
#   a zombie for a while: "kill -0" succeeds on it.  We look at /proc/PID/stat.
# * Stopping libvirtd does not stop QEMU or dnsmasq; run lv_env_cleanup first.
# * A run killed with SIGKILL (or whose machine session was cut) runs no trap:
#   its domains, networks, pools and guard routes stay, and the next run's
#   guard is refused because the range is still routed.  So each run records
#   what it claims (its prefixes and guarded ranges; tests/lib/runs.sh, kind
#   "libvirt"), and lv_env_start removes what the records of dead runs name,
#   and only that.
# * No sharing between runs: a second test that finds "our" libvirtd running
#   uses it (started=0), and loses it when the first test's lv_env_stop stops
#   it.  Run the libvirt tests one at a time, or start libvirtd once outside.

# shellcheck source=tests/lib/runs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runs.sh"

LV_URI=${LV_URI:-qemu:///system}
LV_ENV_STARTED=0          # 1 when lv_env_start started libvirtd itself
LV_ENV_LIBVIRTD_PID=      # the PIDs of daemons we started, only those
LV_ENV_VIRTLOGD_PID=
LV_ENV_DIR=               # our pid files and the daemon log
LV_ENV_FW_CLEAN=0         # 1: remove libvirt's iptables chains on stop
LV_ENV_GUARDS=()          # CIDRs lv_env_guard_range added

lv__msg() { echo "libvirtd-env: $*" >&2; }

lv_virsh() { virsh -q -c "$LV_URI" "$@"; }

lv__ready() { timeout 10 virsh -c "$LV_URI" version >/dev/null 2>&1; }

# Is PID alive and not a zombie, and (when given) is its command NAME?
lv__alive() {
  local pid=$1 name=${2:-} stat
  [ -n "$pid" ] && stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ] || return 1
  [ -z "$name" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]
}

# The live (not zombie) processes named NAME, like `pgrep -x NAME`, which
# also lists zombies: a daemon an earlier test stopped can linger as one.
lv__pgrep() {
  local pid out=
  for pid in $(pgrep -x "$1"); do lv__alive "$pid" "$1" && out="$out $pid"; done
  [ -n "$out" ] && echo $out
}

lv__log_tail() {
  [ -n "$LV_ENV_DIR" ] && [ -s "$LV_ENV_DIR/libvirtd.log" ] || return 0
  lv__msg "last lines of $LV_ENV_DIR/libvirtd.log:"
  tail -n 15 "$LV_ENV_DIR/libvirtd.log" | sed 's/^/  /' >&2
}

lv__fw_chains_exist() {
  iptables -w -S LIBVIRT_INP >/dev/null 2>&1 || ip6tables -w -S LIBVIRT_INP >/dev/null 2>&1
}

# Remove libvirt's firewall chains, but only those that are empty.
lv__fw_remove() {
  local x t c j
  for x in iptables ip6tables; do
    command -v "$x" >/dev/null || continue
    for c in INP OUT FWI FWO FWX; do
      [ "$($x -w -S LIBVIRT_$c 2>/dev/null | wc -l)" = 1 ] || continue
      case $c in INP) j=INPUT ;; OUT) j=OUTPUT ;; *) j=FORWARD ;; esac
      while $x -w -D "$j" -j "LIBVIRT_$c" 2>/dev/null; do :; done
      $x -w -X "LIBVIRT_$c" 2>/dev/null || lv__msg "could not remove $x chain LIBVIRT_$c"
    done
    for t in nat mangle; do
      [ "$($x -w -t $t -S LIBVIRT_PRT 2>/dev/null | wc -l)" = 1 ] || continue
      while $x -w -t $t -D POSTROUTING -j LIBVIRT_PRT 2>/dev/null; do :; done
      $x -w -t $t -X LIBVIRT_PRT 2>/dev/null || lv__msg "could not remove $x -t $t chain LIBVIRT_PRT"
    done
  done
}

lv_env_claim() { runs_claim libvirt prefix "$1"; }

# What a dead run's record names (runs_reap): its objects and guards.
lv__reap_line() {
  case $1 in
  prefix)
    [ ${#2} -ge 3 ] || return 0
    lv_env_cleanup "$2" >/dev/null 2>&1 || lv__msg "could not remove every object named $2*"
    rm -rf "/var/lib/libvirt/images/$2"* ;;
  guard)
    lv__valid_cidr "$2" && ip route del unreachable "$2" 2>/dev/null ;;
  esac
  return 0
}

# Remove what dead runs claimed.  Called by lv_env_start once libvirt answers.
lv__reap_stale() { runs_reap libvirt lv__reap_line 2>&1 | sed 's/^/libvirtd-env: /' >&2; }

# lv_env_start: 0 when qemu:///system answers, 77 when libvirt cannot be had
# here (the reason is printed; the caller should `exit 77`).
lv_env_start() {
  local b d f i pid
  if lv__ready; then
    LV_ENV_STARTED=0
    lv__msg "using the libvirtd already running ($LV_URI)"
    lv__reap_stale
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    lv__msg "SKIP: $LV_URI does not answer and only root can start libvirtd"
    return 77
  fi
  for b in virsh libvirtd virtlogd; do
    command -v "$b" >/dev/null || {
      lv__msg "SKIP: $b not found (install libvirt-daemon-system: scripts/deps.sh --test)"
      return 77; }
  done
  [ -x /usr/bin/qemu-system-x86_64 ] || {
    lv__msg "SKIP: /usr/bin/qemu-system-x86_64 not found (install qemu-system-x86)"; return 77; }
  if pid=$(lv__pgrep libvirtd); then
    lv__msg "SKIP: a libvirtd (pid $(echo $pid)) runs but $LV_URI does not answer; not starting another"
    return 77
  fi

  for f in /etc/libvirt/qemu/networks/autostart/*.xml /etc/libvirt/qemu/autostart/*.xml \
           /etc/libvirt/storage/autostart/*.xml; do
    [ -e "$f" ] && lv__msg "warning: autostart link $f exists; the libvirtd we start will NOT autostart it (marker in /run/libvirt), and we leave the link alone"
  done
  mkdir -p /run/libvirt/network /run/libvirt/qemu /run/libvirt/storage &&
    for d in network qemu storage; do
      [ -e "/run/libvirt/$d/autostarted" ] || : > "/run/libvirt/$d/autostarted"
    done || { lv__msg "cannot create the autostart markers under /run/libvirt"; return 77; }

  LV_ENV_DIR=$(mktemp -d /tmp/cairn-libvirtd.XXXXXX) || return 77
  lv__fw_chains_exist && LV_ENV_FW_CLEAN=0 || LV_ENV_FW_CLEAN=1

  if pid=$(lv__pgrep virtlogd); then
    lv__msg "using the virtlogd already running (pid $(echo $pid))"
  else
    if ! virtlogd -d -p "$LV_ENV_DIR/virtlogd.pid"; then
      lv__msg "SKIP: virtlogd -d failed"; return 77
    fi
    for i in $(seq 50); do [ -s "$LV_ENV_DIR/virtlogd.pid" ] && break; sleep 0.1; done
    LV_ENV_VIRTLOGD_PID=$(cat "$LV_ENV_DIR/virtlogd.pid" 2>/dev/null)
    lv__alive "$LV_ENV_VIRTLOGD_PID" virtlogd || {
      lv__msg "SKIP: virtlogd did not stay up (pid file: ${LV_ENV_VIRTLOGD_PID:-none})"
      LV_ENV_VIRTLOGD_PID=; return 77; }
  fi

  LV_ENV_STARTED=1
  if ! LIBVIRT_LOG_OUTPUTS="3:file:$LV_ENV_DIR/libvirtd.log" \
       libvirtd -d -p "$LV_ENV_DIR/libvirtd.pid"; then
    lv__msg "SKIP: libvirtd -d failed"; lv__log_tail; lv_env_stop; return 77
  fi
  for i in $(seq 50); do [ -s "$LV_ENV_DIR/libvirtd.pid" ] && break; sleep 0.1; done
  LV_ENV_LIBVIRTD_PID=$(cat "$LV_ENV_DIR/libvirtd.pid" 2>/dev/null)
  for i in $(seq 60); do          # 30 s
    lv__ready && break
    lv__alive "$LV_ENV_LIBVIRTD_PID" libvirtd || break
    sleep 0.5
  done
  if ! lv__ready; then
    if lv__alive "$LV_ENV_LIBVIRTD_PID" libvirtd; then
      lv__msg "SKIP: libvirtd (pid $LV_ENV_LIBVIRTD_PID) runs but $LV_URI did not answer within 30 s"
    else
      lv__msg "SKIP: libvirtd exited during start-up"
    fi
    lv__log_tail; lv_env_stop; return 77
  fi
  lv__msg "started virtlogd (pid ${LV_ENV_VIRTLOGD_PID:-not ours}) and libvirtd (pid $LV_ENV_LIBVIRTD_PID), log $LV_ENV_DIR/libvirtd.log"
  lv__reap_stale
  return 0
}

lv__kill() {    # PID NAME: SIGTERM, wait 10 s, SIGKILL
  local pid=$1 name=$2 i
  lv__alive "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 100); do lv__alive "$pid" "$name" || return 0; sleep 0.1; done
  lv__msg "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  for i in $(seq 50); do lv__alive "$pid" "$name" || return 0; sleep 0.1; done
  lv__msg "$name (pid $pid) is still alive after SIGKILL"
  return 1
}

# lv_env_stop: stop the daemons lv_env_start started (none when it found one
# running).  Idempotent.
lv_env_stop() {
  local rc=0
  [ "$LV_ENV_STARTED" = 1 ] || [ -n "$LV_ENV_VIRTLOGD_PID" ] || return 0
  if [ -n "$LV_ENV_LIBVIRTD_PID" ]; then
    lv__kill "$LV_ENV_LIBVIRTD_PID" libvirtd || rc=1
    [ $rc = 0 ] && lv__msg "stopped libvirtd (pid $LV_ENV_LIBVIRTD_PID)"
  fi
  if [ -n "$LV_ENV_VIRTLOGD_PID" ]; then
    lv__kill "$LV_ENV_VIRTLOGD_PID" virtlogd || rc=1
    [ $rc = 0 ] && lv__msg "stopped virtlogd (pid $LV_ENV_VIRTLOGD_PID)"
  fi
  [ "$LV_ENV_FW_CLEAN" = 1 ] && [ $rc = 0 ] && lv__fw_remove
  [ -n "$LV_ENV_DIR" ] && [ $rc = 0 ] && [ -z "${LV_ENV_KEEP:-}" ] && rm -rf "$LV_ENV_DIR"
  LV_ENV_STARTED=0 LV_ENV_LIBVIRTD_PID='' LV_ENV_VIRTLOGD_PID='' LV_ENV_FW_CLEAN=0
  return $rc
}

# CIDR helpers (IPv4).
lv__ip2int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(( (a << 24) | (b << 16) | (c << 8) | d ))
}
lv__valid_cidr() {
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] || return 1
  local i; for i in 1 2 3 4; do [ "${BASH_REMATCH[$i]}" -le 255 ] || return 1; done
  [ "${BASH_REMATCH[5]}" -le 32 ] && [ "${BASH_REMATCH[5]}" -ge 1 ]
}
lv__overlap() {   # A/len B/len
  local a=${1%/*} al=${1#*/} b=${2%/*} bl=${2#*/} m s
  m=$(( al < bl ? al : bl )); s=$(( 32 - m ))
  [ $(( $(lv__ip2int "$a") >> s )) -eq $(( $(lv__ip2int "$b") >> s )) ]
}

# lv_env_guard_range CIDR: blackhole CIDR on the host so that nothing for a
# test range can leave by the default route.  Refused (1) when CIDR, or any
# part of it, is already routed (any table, default route aside) or on an
# interface.  The libvirt network must be strictly inside CIDR (see above).
lv_env_guard_range() {
  local cidr=${1:-} net len dst line
  lv__valid_cidr "$cidr" || { lv__msg "guard: '$cidr' is not an IPv4 CIDR like 10.213.6.0/23"; return 1; }
  net=${cidr%/*} len=${cidr#*/}
  [ $(( $(lv__ip2int "$net") & ((1 << (32 - len)) - 1) )) -eq 0 ] ||
    { lv__msg "guard: $cidr has host bits set"; return 1; }
  if [ -n "$(ip -4 route show table all exact "$cidr" 2>/dev/null)" ]; then
    lv__msg "guard: refusing $cidr, it is already routed: $(ip -4 route show table all exact "$cidr" | head -n1)"
    return 1
  fi
  while read -r line; do
    set -- $line
    case $1 in unreachable|blackhole|prohibit|throw|local|broadcast|unicast|anycast|multicast|nat) shift ;; esac
    dst=$1
    [ "$dst" = default ] && continue
    [[ $dst == */* ]] || dst=$dst/32
    lv__valid_cidr "$dst" || continue
    [ "${dst#*/}" = 0 ] && continue
    if lv__overlap "$cidr" "$dst"; then
      lv__msg "guard: refusing $cidr, it overlaps the route: $line"; return 1
    fi
  done < <(ip -4 -o route show table all 2>/dev/null)
  while read -r line; do
    set -- $line        # N: IFACE inet ADDR/LEN ...
    if lv__overlap "$cidr" "$4"; then
      lv__msg "guard: refusing $cidr, it overlaps the address $4 on $2"; return 1
    fi
  done < <(ip -4 -o addr show 2>/dev/null)
  if ! ip route add unreachable "$cidr"; then
    lv__msg "guard: 'ip route add unreachable $cidr' failed"; return 1
  fi
  LV_ENV_GUARDS+=("$cidr")
  runs_claim libvirt guard "$cidr"
  lv__msg "guard: $cidr is unreachable on the host until lv_env_unguard_all"
}

lv_env_unguard_all() {
  local c rc=0
  for c in "${LV_ENV_GUARDS[@]}"; do
    if ip route del unreachable "$c" 2>/dev/null || [ -z "$(ip -4 route show exact "$c" type unreachable)" ]; then
      lv__msg "guard: removed $c"
      runs_unclaim libvirt guard "$c"
    else
      lv__msg "guard: could not remove 'unreachable $c'"; rc=1
    fi
  done
  LV_ENV_GUARDS=()
  return $rc
}

lv_env_prefix() { lv_env_claim "ct$$-"; echo "ct$$-"; }

# lv_env_cleanup PREFIX: remove every libvirt object named PREFIX*.  For use
# in traps: it goes on past errors, and returns 1 if anything is left.
lv_env_cleanup() {
  local p=${1:-} n pool v left=0
  if [ ${#p} -lt 3 ]; then
    lv__msg "cleanup: refusing prefix '$p' (shorter than 3 characters)"; return 1
  fi
  lv__ready || { lv__msg "cleanup: $LV_URI does not answer; nothing cleaned"; return 1; }
  while read -r n; do
    [ -n "$n" ] && [[ $n == "$p"* ]] || continue
    lv_virsh destroy "$n" >/dev/null 2>&1
    lv_virsh undefine --nvram "$n" >/dev/null 2>&1 || lv_virsh undefine "$n" >/dev/null 2>&1
    lv_virsh dominfo "$n" >/dev/null 2>&1 && { lv__msg "cleanup: domain $n is left"; left=1; }
  done < <(lv_virsh list --all --name 2>/dev/null)
  while read -r n; do
    [ -n "$n" ] && [[ $n == "$p"* ]] || continue
    lv_virsh net-destroy "$n" >/dev/null 2>&1
    lv_virsh net-undefine "$n" >/dev/null 2>&1
    lv_virsh net-info "$n" >/dev/null 2>&1 && { lv__msg "cleanup: network $n is left"; left=1; }
  done < <(lv_virsh net-list --all --name 2>/dev/null)
  while read -r pool; do
    [ -n "$pool" ] || continue
    while read -r v _; do
      [ -n "$v" ] && [[ $v == "$p"* ]] || continue
      lv_virsh vol-delete --pool "$pool" "$v" >/dev/null 2>&1 ||
        { lv__msg "cleanup: could not delete volume $v of pool $pool"; left=1; }
    done < <(lv_virsh vol-list "$pool" 2>/dev/null)
  done < <(lv_virsh pool-list --name 2>/dev/null)
  while read -r n; do
    [ -n "$n" ] && [[ $n == "$p"* ]] || continue
    lv_virsh pool-destroy "$n" >/dev/null 2>&1
    lv_virsh pool-undefine "$n" >/dev/null 2>&1
    lv_virsh pool-info "$n" >/dev/null 2>&1 && { lv__msg "cleanup: pool $n is left"; left=1; }
  done < <(lv_virsh pool-list --all --name 2>/dev/null)
  # libvirt keeps each domain's QEMU log; drop ours (LV_ENV_KEEP=1 keeps them).
  [ -n "${LV_ENV_KEEP:-}" ] || rm -f /var/log/libvirt/qemu/"$p"*.log
  return $left
}

# lv_env_teardown PREFIX: the end of a test, pass or fail: every libvirt
# object and pool directory named PREFIX*, the guards, the daemons we started.
# The run's record goes only when all of it went (else the next run retries).
lv_env_teardown() {
  local rc=0
  lv_env_cleanup "$1" >/dev/null 2>&1 || rc=1
  [ ${#1} -ge 3 ] && rm -rf "/var/lib/libvirt/images/$1"*
  lv_env_unguard_all >/dev/null 2>&1 || rc=1
  [ $rc = 0 ] && runs_done libvirt
  lv_env_stop
}

lv_env_tap_start() {
  # a TAP skip is "1..0 # SKIP" and status 0 (meson counts any other status as ERROR)
  lv_env_start || { echo "1..0 # SKIP libvirt cannot run here"; exit 0; }
  lv_env_guard_range "$1" || { echo "Bail out! cannot guard $1"; exit 1; }
}

lv_env_tiny_image() {
  local out
  [ -s "$CAIRN_IMAGE_DIR/tiny/initrd.img" ] && return 0
  out=$("$1" -q image build tiny 2>&1) ||
    { echo "Bail out! cairn image build tiny"; sed 's/^/# /' <<<"$out"; exit 1; }
}
