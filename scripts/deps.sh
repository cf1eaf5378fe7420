#!/usr/bin/env bash
# Install the Debian 12 packages cairn needs to build (and, with --test, to run
# its tests).  Only what is missing is installed; when nothing is, this prints
# nothing and exits 0, so `make demo` and `make check` can call it every time.
#
#   scripts/deps.sh           build dependencies
#   scripts/deps.sh --test    build + test dependencies (cmocka, libFuzzer, peers)
#   scripts/deps.sh --demo    build + what `make demo` runs (libvirt, QEMU)
#
# Exit: 0 all present (or installed), 1 missing and not root / install failed,
# 2 usage error.
set -euo pipefail

build_pkgs=(build-essential pkg-config meson ninja-build libvirt-dev libxml2-dev libssh-dev
            libfyaml-dev libjansson-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev graphviz)
# clang + libclang-rt-14-dev: the libFuzzer harness (tests/fuzz, -Dfuzz=true);
# python3-yaml: a peer in the benchmarks; openssh-server, openssh-client and
# iproute2: the sshd test hosts of tests/ssh (in network namespaces).
# libvirt-daemon-system ... python3-libvirt: the libvirt end-to-end tests and
# bench/vms (Ansible's community.libvirt needs python3-libvirt and python3-lxml) and
# `make demo` (tests/libvirt/libvirtd-env.sh starts libvirtd without systemd;
# guests boot the host kernel with a busybox initramfs made with cpio, or a
# cloud-init seed ISO made with xorriso).  libvirt-daemon-config-network is a
# hard dependency of libvirt-daemon-system; its postinst only writes the
# inactive "default" network's XML and creates no autostart link.
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev python3-yaml
           openssh-server openssh-client iproute2
           libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base xorriso
           busybox-static linux-image-amd64 cpio cloud-init ansible python3-libvirt python3-lxml)

# what `make demo` runs: libvirt and QEMU, the tiny image's parts, the seeds
demo_pkgs=(libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base xorriso
           busybox-static linux-image-amd64 cpio openssh-server openssh-client iproute2 python3)

want=("${build_pkgs[@]}")
case "${1:-}" in
  "") ;;
  --test) want+=("${test_pkgs[@]}") ;;
  --demo) want+=("${demo_pkgs[@]}") ;;
  -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "usage: scripts/deps.sh [--test | --demo]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: install them as root with:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run to finish rather than failing on its lock.
apt_opts=(-q -o DPkg::Lock::Timeout=600)
# Start no service while installing (openssh-server would start an sshd on
# every address): the tests start their own daemons, in their own namespaces.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
