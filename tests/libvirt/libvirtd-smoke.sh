#!/usr/bin/env bash
# tests/libvirt/libvirtd-smoke.sh: does qemu:///system work here, end to end?
#
# Starts libvirtd (tests/libvirt/libvirtd-env.sh), guards 10.213.6.0/23 with an
# unreachable route, defines an isolated libvirt network with DHCP on
# 10.213.7.0/24 and a directory pool under a temporary directory, and boots a
# TCG (type='qemu') domain with the host kernel and a throwaway busybox
# initramfs that takes a DHCP lease and prints "SMOKE-LEASE <ip>" on ttyS0.
# Checks the lease in net-dhcp-leases, domifaddr --source lease and the
# console; prints the time from `virsh start` to the lease.  Then boots the
# same guest with type='kvm' (when /dev/kvm exists) and reports what happens;
# that part never fails the test.  Everything named with the run's prefix is
# removed at the end, pass or fail, and checked gone.
#
# Exit: 0 pass, 1 fail, 77 skip (libvirt/QEMU/kernel cannot be had here).
# Env: SMOKE_GUARD (10.213.6.0/23), SMOKE_NET (10.213.7), SMOKE_TIMEOUT (180 s
# for the TCG lease), SMOKE_KVM_WAIT (60 s), SMOKE_KVM=0 to skip the KVM try.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/libvirt/libvirtd-env.sh
. "$here/libvirtd-env.sh"

GUARD=${SMOKE_GUARD:-10.213.6.0/23}
NET3=${SMOKE_NET:-10.213.7}
TIMEOUT=${SMOKE_TIMEOUT:-180}
KVM_WAIT=${SMOKE_KVM_WAIT:-60}
P=$(lv_env_prefix)
T=
fail=0

say()  { echo "smoke: $*"; }
bad()  { echo "smoke: FAIL: $*"; fail=1; }
skip() { echo "smoke: SKIP: $*"; exit 77; }
now()  { date +%s.%N; }
dt()   { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

finish() {
  local rc=$?
  trap - EXIT INT TERM
  [ $fail = 1 ] && [ $rc = 0 ] && rc=1
  if [ -n "$T" ] && [ $rc != 0 ] && [ $rc != 77 ]; then
    for f in "$T"/console-*.log /var/log/libvirt/qemu/"$P"*.log; do
      [ -s "$f" ] && { echo "--- tail $f"; tail -n 20 "$f"; }
    done
  fi
  if lv__ready; then
    lv_env_cleanup "$P" || rc=1
    # Nothing with our prefix is left, and no QEMU/dnsmasq of ours runs.
    local left
    left=$( { lv_virsh list --all --name; lv_virsh net-list --all --name
              lv_virsh pool-list --all --name; } 2>/dev/null | grep "^$P")
    [ -z "$left" ] || { echo "smoke: FAIL: left in libvirt: $left"; rc=1; }
  fi
  local stray=
  for _ in $(seq 50); do
    stray=$(ps -eo pid=,stat=,args= | awk -v p="$P" '$2 !~ /Z/ && index($0, p) &&
            ($3 ~ /qemu-system|dnsmasq/) { print $1 }')
    [ -z "$stray" ] && break; sleep 0.2
  done
  [ -z "$stray" ] || { echo "smoke: FAIL: processes of ours still run: $stray"; rc=1; }
  ip link show "${P}br" >/dev/null 2>&1 && { echo "smoke: FAIL: bridge ${P}br is left"; rc=1; }
  lv_env_unguard_all || rc=1
  lv_env_stop || rc=1
  [ -n "$T" ] && rm -rf "$T"
  case $rc in 0) echo "smoke: PASS" ;; 77) ;; *) echo "smoke: FAIL (rc $rc)" ;; esac
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || skip "must run as root (system libvirtd, routes)"
for b in virsh ip busybox cpio gzip; do
  command -v "$b" >/dev/null || skip "$b not found (scripts/deps.sh --test)"
done
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
  skip "/bin/busybox is not a static binary (install busybox-static)"

# The host kernel: the newest /boot/vmlinuz-* whose modules are installed.
KVER=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
  v=${k#/boot/vmlinuz-}
  [ -r "$k" ] && [ -f "/lib/modules/$v/modules.dep" ] && { KVER=$v; break; }
done
[ -n "$KVER" ] || skip "no /boot/vmlinuz-* with /lib/modules/<ver> (install linux-image-amd64)"

lv_env_start || exit $?
lv_env_guard_range "$GUARD" || { echo "smoke: FAIL: cannot guard $GUARD"; exit 1; }

T=$(mktemp -d /tmp/cairn-smoke.XXXXXX) || exit 1
chmod 0755 "$T"    # QEMU runs as libvirt-qemu and must reach the files

# --- initramfs ---------------------------------------------------------------
M=/lib/modules/$KVER
mods=()
add_mod() {           # add_mod kernel/path.ko: dependencies first
  local m=$1 d x
  for x in "${mods[@]}"; do [ "$x" = "$m" ] && return; done
  d=$(awk -v m="$m:" '$1 == m { $1 = ""; print }' "$M/modules.dep")
  for x in $d; do add_mod "$x"; done
  mods+=("$m")
}
for name in virtio_pci virtio_net; do
  if grep -Eq "/$name\.ko" "$M/modules.builtin" 2>/dev/null; then
    say "$name is built into $KVER"
  else
    rel=$(grep -Eo "^[^:]*/$name\.ko(\.(xz|zst|gz))?:" "$M/modules.dep" | head -n1)
    [ -n "$rel" ] || skip "$name is neither built in nor a module of $KVER"
    add_mod "${rel%:}"
  fi
done
R=$T/root
mkdir -p "$R"/bin "$R"/dev "$R"/proc "$R"/sys "$R"/mod
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
: > "$R/modules"
for m in "${mods[@]}"; do
  b=$(basename "$m"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
  case $m in
    *.xz)  xz -dc "$M/$m" > "$R/mod/$b" ;;
    *.zst) zstd -qdc "$M/$m" > "$R/mod/$b" ;;
    *.gz)  gzip -dc "$M/$m" > "$R/mod/$b" ;;
    *)     cp "$M/$m" "$R/mod/$b" ;;
  esac || skip "cannot unpack module $m"
  echo "$b" >> "$R/modules"
done
cat > "$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
echo "SMOKE-INIT"
for m in $(/bin/busybox cat /modules); do /bin/busybox insmod /mod/$m || echo "SMOKE-INSMOD-FAIL $m"; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do /bin/busybox usleep 100000; i=$((i+1)); done
/bin/busybox ip link set lo up
/bin/busybox ip link set eth0 up || echo "SMOKE-NO-ETH0"
/bin/busybox udhcpc -i eth0 -s /dhcp.sh -n -q -t 30 -T 2 || echo "SMOKE-NO-LEASE"
while :; do /bin/busybox sleep 3600; done
EOF
cat > "$R/dhcp.sh" <<'EOF'
#!/bin/busybox sh
case $1 in
  bound|renew)
    /bin/busybox ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "SMOKE-LEASE $ip" ;;
esac
EOF
chmod 755 "$R/init" "$R/dhcp.sh"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$T/initrd.gz" || exit 1
cp "/boot/vmlinuz-$KVER" "$T/vmlinuz"   # a copy: libvirt's DAC driver chowns it
say "kernel $KVER, initramfs with ${#mods[@]} modules (${mods[*]##*/})"

# --- network and pool --------------------------------------------------------
lv_virsh net-define /dev/stdin >/dev/null <<EOF || { echo "smoke: FAIL: net-define"; exit 1; }
<network>
  <name>${P}net</name>
  <bridge name='${P}br' stp='off'/>
  <ip address='$NET3.1' prefix='24'>
    <dhcp><range start='$NET3.10' end='$NET3.100'/></dhcp>
  </ip>
</network>
EOF
lv_virsh net-start "${P}net" >/dev/null || { echo "smoke: FAIL: net-start ${P}net"; exit 1; }
say "network ${P}net (isolated, bridge ${P}br, $NET3.0/24, DHCP .10-.100) is active"

mkdir -p "$T/pool"
lv_virsh pool-define-as "${P}pool" dir --target "$T/pool" >/dev/null &&
  lv_virsh pool-start "${P}pool" >/dev/null &&
  lv_virsh vol-create-as "${P}pool" "${P}scratch.qcow2" 16M --format qcow2 >/dev/null ||
  { echo "smoke: FAIL: storage pool ${P}pool"; exit 1; }
say "pool ${P}pool (dir $T/pool) with volume ${P}scratch.qcow2"

# --- the domain ----------------------------------------------------------------
domxml() {   # domxml NAME TYPE CONSOLE CPUXML
  cat <<EOF
<domain type='$2'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$T/vmlinuz</kernel>
    <initrd>$T/initrd.gz</initrd>
    <cmdline>console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 ignore_loglevel panic=-1</cmdline>
  </os>
  $4
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$T/pool/${P}scratch.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <source network='${P}net'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$3'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$3'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

D=${P}tcg
CON=$T/console-tcg.log
domxml "$D" qemu "$CON" "" | lv_virsh define /dev/stdin >/dev/null ||
  { echo "smoke: FAIL: define $D"; exit 1; }
MAC=$(lv_virsh domiflist "$D" | awk 'NF >= 5 { print $5; exit }')
[ -n "$MAC" ] || { echo "smoke: FAIL: no MAC for $D"; exit 1; }
t0=$(now)
lv_virsh start "$D" >/dev/null || { echo "smoke: FAIL: virsh start $D"; exit 1; }
t_out='' t_init='' lease_ip=''
while :; do
  el=$(dt "$t0" "$(now)")
  [ -z "$t_out" ] && [ -s "$CON" ] && t_out=$el
  [ -z "$t_init" ] && grep -q SMOKE-INIT "$CON" 2>/dev/null && t_init=$el
  lease_ip=$(lv_virsh net-dhcp-leases "${P}net" --mac "$MAC" 2>/dev/null |
             awk '{ for (i = 1; i <= NF; i++) if ($i == "ipv4") { split($(i+1), a, "/"); print a[1]; exit } }')
  [ -n "$lease_ip" ] && break
  [ "$(lv_virsh domstate "$D" 2>/dev/null)" = running ] ||
    { echo "smoke: FAIL: $D is $(lv_virsh domstate --reason "$D" 2>&1) before a lease"; exit 1; }
  awk -v a="$el" -v b="$TIMEOUT" 'BEGIN { exit !(a > b) }' &&
    { echo "smoke: FAIL: no lease for $MAC within ${TIMEOUT}s"; exit 1; }
  sleep 0.2
done
t_lease=$(dt "$t0" "$(now)")
say "TCG: first console output after ${t_out:-?}s, /init after ${t_init:-?}s, lease $lease_ip after ${t_lease}s (virsh start -> net-dhcp-leases)"

case $lease_ip in "$NET3".*) ;; *) bad "lease $lease_ip is not in $NET3.0/24" ;; esac
for _ in $(seq 50); do grep -q "SMOKE-LEASE" "$CON" 2>/dev/null && break; sleep 0.2; done
con_ip=$(grep -ao 'SMOKE-LEASE [0-9.]*' "$CON" | head -n1 | awk '{ print $2 }')
[ "$con_ip" = "$lease_ip" ] && say "console says SMOKE-LEASE $con_ip" ||
  bad "console says '${con_ip:-nothing}', the lease is $lease_ip"
if_ip=$(lv_virsh domifaddr "$D" --source lease 2>/dev/null |
        awk '$3 == "ipv4" { split($4, a, "/"); print a[1]; exit }')
[ "$if_ip" = "$lease_ip" ] && say "domifaddr --source lease says $if_ip" ||
  bad "domifaddr --source lease says '${if_ip:-nothing}', the lease is $lease_ip"
[ "$(lv_virsh domstate "$D")" = running ] && say "$D is running" || bad "$D is not running"
grep -q SMOKE-INSMOD-FAIL "$CON" && bad "insmod failed in the guest: $(grep -a SMOKE-INSMOD-FAIL "$CON")"
lv_virsh destroy "$D" >/dev/null || bad "virsh destroy $D"

# --- the same guest under KVM: report only -------------------------------------
kvm_try() {   # kvm_try NAME CPUXML LABEL
  local d=$1 con=$T/console-$1.log t0 el t_out='' t_init='' t_lease='' st ip=''
  if ! domxml "$d" kvm "$con" "$2" | lv_virsh define /dev/stdin >/dev/null 2>"$T/kvm.err"; then
    say "KVM[$3]: define failed: $(cat "$T/kvm.err")"; return
  fi
  t0=$(now)
  if ! lv_virsh start "$d" >/dev/null 2>"$T/kvm.err"; then
    say "KVM[$3]: virsh start failed after $(dt "$t0" "$(now)")s: $(tr '\n' ' ' < "$T/kvm.err")"
    tail -n 5 "/var/log/libvirt/qemu/$d.log" 2>/dev/null | sed "s/^/smoke: KVM[$3]: qemu log: /"
    return
  fi
  while :; do
    el=$(dt "$t0" "$(now)")
    [ -z "$t_out" ] && [ -s "$con" ] && t_out=$el
    [ -z "$t_init" ] && grep -q SMOKE-INIT "$con" 2>/dev/null && t_init=$el
    grep -q SMOKE-LEASE "$con" 2>/dev/null && { t_lease=$el; ip=$(grep -ao 'SMOKE-LEASE [0-9.]*' "$con" | awk '{ print $2; exit }'); break; }
    st=$(lv_virsh domstate --reason "$d" 2>/dev/null)
    case $st in running*) ;; *) break ;; esac
    awk -v a="$el" -v b="$KVM_WAIT" 'BEGIN { exit !(a > b) }' && break
    sleep 0.2
  done
  st=$(lv_virsh domstate --reason "$d" 2>/dev/null)
  say "KVM[$3]: after ${el}s: state '$st'; console bytes $(stat -c %s "$con" 2>/dev/null || echo 0);" \
      "first output ${t_out:-never}; /init ${t_init:-never}; lease ${ip:-none}${t_lease:+ after ${t_lease}s}"
  if [ -z "$t_lease" ] && [ "${st%% *}" = running ]; then
    # Where is the vCPU?  (the probe in cairn wants a signature)
    lv_virsh qemu-monitor-command --hmp "$d" 'info registers' 2>/dev/null |
      grep -E '^(RIP|RAX|CR0)|^EFER|HLT' | tr -s ' ' | sed "s/^/smoke: KVM[$3]: regs: /"
    lv_virsh qemu-monitor-command --hmp "$d" 'info cpus' 2>/dev/null | sed "s/^/smoke: KVM[$3]: cpus: /"
    sleep 2
    lv_virsh qemu-monitor-command --hmp "$d" 'info registers' 2>/dev/null |
      grep -E '^RIP' | tr -s ' ' | sed "s/^/smoke: KVM[$3]: regs 2s later: /"
  fi
  [ -s "$con" ] && { echo "smoke: KVM[$3]: console head:"; head -c 1500 "$con" | sed 's/^/    | /'; echo
                     echo "smoke: KVM[$3]: console tail:"; tail -n 8 "$con" | sed 's/^/    | /'; }
  grep -aiE 'error|warn|fault|kvm' "/var/log/libvirt/qemu/$d.log" 2>/dev/null | tail -n 8 |
    sed "s/^/smoke: KVM[$3]: qemu log: /"
  lv_virsh destroy "$d" >/dev/null 2>&1
  lv_virsh undefine "$d" >/dev/null 2>&1
}
if [ "${SMOKE_KVM:-1}" = 0 ]; then
  say "KVM: not tried (SMOKE_KVM=0)"
elif [ ! -e /dev/kvm ]; then
  say "KVM: /dev/kvm does not exist; not tried"
else
  kvm_try "${P}kvm" "" "default-cpu"
  kvm_try "${P}kvmh" "<cpu mode='host-passthrough'/>" "host-passthrough"
fi

exit $fail
