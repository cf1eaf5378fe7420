#!/usr/bin/env bash
# tiny-boot.sh [SRCROOT] — boot the cairn "tiny" image under qemu (TCG) with a NoCloud
# seed and check it over ssh.
#
# Builds the image with scripts/build-tiny-image.sh into a temp dir (or uses
# $CAIRN_IMAGE_DIR), makes a cidata seed ISO (ed25519 key, hostname, write_files with a
# block scalar and a b64 entry, runcmd), boots with user-mode networking (restrict=on,
# ssh forwarded from 127.0.0.1:PORT), waits for the ready line, then checks hostname,
# files, modes, runcmd, sftp, the console host key block against ssh-keyscan, and that
# an ACPI power-button press (system_powerdown) powers the guest off.
# Exit 77 (skip) when qemu-system-x86_64, xorriso, ssh or the kernel are missing.
set -euo pipefail

src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
READY_TIMEOUT=${CAIRN_TINY_READY_TIMEOUT:-120}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

for t in qemu-system-x86_64 xorriso ssh ssh-keygen ssh-keyscan sftp; do
	command -v "$t" >/dev/null || skip "$t not installed"
done
if [[ -z ${CAIRN_IMAGE_DIR:-} ]]; then
	compgen -G '/boot/vmlinuz-*' >/dev/null || skip "no kernel in /boot (linux-image-amd64)"
	for t in cpio gzip modprobe; do command -v "$t" >/dev/null || skip "$t not installed"; done
	[[ -x /bin/busybox && -x /usr/sbin/sshd ]] || skip "busybox-static or openssh-server missing"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-tiny-boot.XXXXXX")
qpid=""
cleanup() {
	local rc=$?
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && $rc -ne 77 && -f $tmp/console.log ]]; then
		echo "--- console.log ---" >&2
		tr -d '\r' <"$tmp/console.log" | tail -n 60 >&2
		echo "--- end ---" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- image --------------------------------------------------------------------------------
if [[ -n ${CAIRN_IMAGE_DIR:-} ]]; then
	img=$CAIRN_IMAGE_DIR
else
	img=$tmp/image
	bash "$src/scripts/build-tiny-image.sh" "$img" >/dev/null
fi
for f in vmlinuz initrd.img cmdline; do
	[[ -s $img/$f ]] || fail "image: $img/$f missing"
done
echo "image: initrd $(stat -c %s "$img/initrd.img") bytes, kernel $(stat -c %s "$img/vmlinuz") bytes"

# --- seed ----------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C cairn-tiny-test -f "$tmp/key"
ssh-keygen -q -t ed25519 -N '' -C host-given -f "$tmp/hostkey"   # handed over in ssh_keys
mkdir "$tmp/seed"
block_expected=$'first line\n  indented "second" line with $HOME and \\n\n\nafter a blank line\n'
head -c 300 /dev/urandom >"$tmp/blob"
blob_b64=$(base64 -w0 "$tmp/blob")
cat >"$tmp/seed/meta-data" <<EOF
instance-id: "iid-tiny-boot-$$"
local-hostname: "not-this-one"
EOF
cat >"$tmp/seed/user-data" <<EOF
#cloud-config
# written by tests/image/tiny-boot.sh
hostname: "tinytest"
disable_root: false
ssh_authorized_keys:
  - "$(cat "$tmp/key.pub")"
write_files:
  - path: /etc/cairn-test/block.txt
    content: |
      first line
        indented "second" line with \$HOME and \\n

      after a blank line
    permissions: '0640'
    owner: root:root
  - path: "/etc/cairn-test/blob.bin"
    encoding: b64
    content: "$blob_b64"
    permissions: "0600"
    owner: "root:root"
ssh_keys:
  ed25519_private: |
$(sed 's/^/    /' "$tmp/hostkey")
  ed25519_public: "$(cat "$tmp/hostkey.pub")"
runcmd:
  - "echo runcmd-ok > /root/runcmd.out"
  - [touch, /root/runcmd-list]
  - false
EOF
(cd "$tmp/seed" && xorriso -as mkisofs -quiet -output "$tmp/seed.iso" -volid cidata \
	-joliet -rock user-data meta-data) >/dev/null 2>&1 || fail "xorriso failed"

# --- boot ----------------------------------------------------------------------------------
port_in_use() { # listening TCP port on any local address (/proc/net/tcp{,6}, state 0A)
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
mkfifo "$tmp/mon.in" "$tmp/mon.out"
start_qemu() {
	: >"$tmp/console.log"
	t0=$(date +%s.%N)
	qemu-system-x86_64 -accel tcg -m 256 -nographic -nodefaults \
		-serial "file:$tmp/console.log" -monitor "pipe:$tmp/mon" \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$(cat "$img/cmdline")" \
		-drive "file=$tmp/seed.iso,if=virtio,format=raw,readonly=on" \
		-netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device virtio-net-pci,netdev=n0 \
		</dev/null >"$tmp/qemu.log" 2>&1 &
	qpid=$!
}
started=""
for attempt in 1 2 3 4 5; do
	port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	port_in_use "$port" && continue
	start_qemu
	# qemu exits at once when the forwarding port cannot be bound; wait until it has
	# produced console output or died
	while kill -0 "$qpid" 2>/dev/null && [[ ! -s $tmp/console.log ]]; do sleep 0.05; done
	if kill -0 "$qpid" 2>/dev/null; then started=1; break; fi
	wait "$qpid" 2>/dev/null || true
	qpid=""
	echo "qemu failed to start (attempt $attempt): $(cat "$tmp/qemu.log")" >&2
done
[[ -n $started ]] || fail "could not start qemu"

ready=""
deadline=$(($(date +%s) + READY_TIMEOUT))
while (($(date +%s) < deadline)); do
	if ready=$(tr -d '\r' <"$tmp/console.log" | grep -m1 '^cairn-tiny: ready '); then break; fi
	kill -0 "$qpid" 2>/dev/null || fail "qemu exited before the ready line: $(cat "$tmp/qemu.log")"
	sleep 0.1
done
[[ -n $ready ]] || fail "no ready line within ${READY_TIMEOUT}s"
t1=$(date +%s.%N)
boot_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "ready after ${boot_s}s: $ready"
[[ $ready =~ ^cairn-tiny:\ ready\ hostname=tinytest\ ip=([0-9]+\.){3}[0-9]+$ ]] ||
	fail "ready line malformed: $ready"
[[ $(tr -d '\r' <"$tmp/console.log" | grep -c '^cairn-tiny: ready ') -eq 1 ]] ||
	fail "more than one ready line"

# --- checks over ssh --------------------------------------------------------------------------
sshopts=(-i "$tmp/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o BatchMode=yes -o ConnectTimeout=20 -o LogLevel=ERROR)
gssh() { ssh "${sshopts[@]}" -p "$port" root@127.0.0.1 "$@"; }

[[ $(gssh hostname) == tinytest ]] || fail "hostname over ssh: $(gssh hostname)"
ok "hostname tinytest"
[[ $(echo "hello through cat" | gssh cat) == "hello through cat" ]] || fail "cat over ssh"
ok "cat works"
gssh cat /etc/cairn-test/block.txt >"$tmp/block.got"
printf '%s' "$block_expected" | cmp -s - "$tmp/block.got" ||
	fail "block.txt content: $(od -c "$tmp/block.got" | head)"
[[ $(gssh stat -c %a /etc/cairn-test/block.txt) == 640 ]] || fail "block.txt mode"
ok "write_files block scalar (content, mode 0640)"
[[ $(gssh sha256sum /etc/cairn-test/blob.bin | cut -d' ' -f1) == \
	$(sha256sum "$tmp/blob" | cut -d' ' -f1) ]] || fail "blob.bin content"
[[ $(gssh "stat -c '%a %U:%G' /etc/cairn-test/blob.bin") == "600 root:root" ]] || fail "blob.bin mode"
ok "write_files b64 (content, mode 0600)"
[[ $(gssh cat /root/runcmd.out) == runcmd-ok ]] || fail "runcmd string item"
gssh test -e /root/runcmd-list || fail "runcmd list item"
tr -d '\r' <"$tmp/console.log" | grep -q '^cairn-tiny: runcmd 3 failed' ||
	fail "failing runcmd item not reported"
ok "runcmd (string, list, failure logged)"
[[ $(gssh stat -c %a /root/.ssh /root/.ssh/authorized_keys | tr '\n' ' ') == "700 600 " ]] ||
	fail "authorized_keys modes"
printf 'get /etc/hostname %s/hostname.sftp\n' "$tmp" >"$tmp/sftp.batch"
sftp "${sshopts[@]}" -P "$port" -b "$tmp/sftp.batch" root@127.0.0.1 >/dev/null ||
	fail "sftp"
[[ $(cat "$tmp/hostname.sftp") == tinytest ]] || fail "sftp content"
ok "sftp"

# host keys: console block == what the ssh server presents
tr -d '\r' <"$tmp/console.log" |
	sed -n '/^-----BEGIN SSH HOST KEY KEYS-----$/,/^-----END SSH HOST KEY KEYS-----$/p' |
	grep -v -- '-----' | awk '{ print $1, $2 }' | sort >"$tmp/keys.console"
[[ -s $tmp/keys.console ]] || fail "no host key block on the console"
# One scan per key type the console lists, each retried: ssh-keyscan opens a
# connection per type at once, and under a loaded TCG guest one of them can
# time out and be dropped silently (a CI run lost the ed25519 key that way).
: >"$tmp/keys.scan"
for kt in $(awk '{ print $1 }' "$tmp/keys.console"); do
	for try in 1 2 3; do
		line=$(ssh-keyscan -T 30 -t "$kt" -p "$port" 127.0.0.1 2>/dev/null | grep -v '^#' |
			awk '{ print $2, $3 }')
		[[ -n $line ]] && break
		sleep 2
	done
	[[ -n $line ]] && echo "$line" >>"$tmp/keys.scan"
done
sort -o "$tmp/keys.scan" "$tmp/keys.scan"
[[ -s $tmp/keys.scan ]] || fail "ssh-keyscan found no keys"
diff -u "$tmp/keys.console" "$tmp/keys.scan" >&2 || fail "console host keys differ from ssh-keyscan"
ok "console host keys match ssh-keyscan ($(wc -l <"$tmp/keys.scan") keys)"
grep -qxF "$(awk '{ print $1, $2 }' "$tmp/hostkey.pub")" "$tmp/keys.scan" ||
	fail "the ssh_keys ed25519 host key is not the one served"
ok "ssh_keys host key served"

# sshd children that just ended are zombies for a moment: poll until none is left
zcmd='for f in /proc/[0-9]*/status; do awk '"'"'/^Name:/{n=$2} /^State:/{s=$2} /^PPid:/{p=$2} END{if (s=="Z") print n, "ppid=" p}'"'"' $f 2>/dev/null; done'
for _ in $(seq 50); do
	z=$(gssh "$zcmd")
	[[ -z $z ]] && break
	sleep 0.1
done
[[ -z $z ]] || fail "zombies in the guest: $z"
ok "no zombies"

# --- ACPI shutdown ---------------------------------------------------------------------------
echo system_powerdown >"$tmp/mon.in"
deadline=$(($(date +%s) + 60))
while kill -0 "$qpid" 2>/dev/null && (($(date +%s) < deadline)); do sleep 0.2; done
kill -0 "$qpid" 2>/dev/null && fail "guest did not power off after system_powerdown"
wait "$qpid" 2>/dev/null || true
qpid=""
ok "powered off on ACPI power button"
echo "PASS: tiny image ready in ${boot_s}s (initrd $(stat -c %s "$img/initrd.img") bytes)"
