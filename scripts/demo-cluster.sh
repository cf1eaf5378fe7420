#!/usr/bin/env bash
# The demo of part 3: real VMs.  Starts libvirtd and virtlogd when they are
# not running (there may be no systemd), builds the tiny image, applies
# examples/cluster.yml (a bastion and three workers on private libvirt
# networks), prints the inventory and how to reach and remove it all.
#
#   CAIRN=path/to/cairn scripts/demo-cluster.sh      (default: build/cairn)
#
# The cluster stays up: the last lines say how to destroy it.  The state is
# cairn's default ($XDG_STATE_HOME/cairn/state.db), so plain `cairn` commands
# see it.  CAIRN_DEMO_KEEP_DAEMONS=0 stops the daemons this script started
# after destroying the cluster at once (what CI-like runs want).
set -uo pipefail

CAIRN=$(realpath "${CAIRN:-build/cairn}")
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/libvirt/libvirtd-env.sh"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
[ -n "${NO_COLOR:-}" ] && say() { printf '\n%s\n' "$*"; }

lv_env_start || { echo "demo: libvirt cannot run on this machine (see above)" >&2; exit 1; }
if [ "${CAIRN_DEMO_KEEP_DAEMONS:-1}" = 0 ]; then
	trap 'lv_env_stop' EXIT
fi

say "\$ cairn image build tiny"
if ! "$CAIRN" image list | grep -q '^tiny *yes'; then
	"$CAIRN" image build tiny || exit 1
else
	echo "(already built: $("$CAIRN" --json image list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["path"])'))"
fi

say "\$ cairn apply --auto-approve examples/cluster.yml"
"$CAIRN" apply --auto-approve "$here/examples/cluster.yml" || { echo "demo: apply failed" >&2; exit 1; }

say "Inventory"
"$CAIRN" --json state show cluster | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%-10s %-9s %-14s %s" % ("NAME", "POOL", "IP", "STATE"))
for r in d["resources"]:
    if r["kind"] != "node":
        continue
    o = r.get("observed") or {}
    print("%-10s %-9s %-14s %s" % (r["desired"]["name"], r["desired"].get("pool", "-"),
                                   o.get("ip", "-"), o.get("state", r.get("status"))))'

say "\$ cairn ssh cluster worker-0 -- uname -a      (through the bastion)"
"$CAIRN" ssh cluster worker-0 -- uname -a

if [ "${CAIRN_DEMO_KEEP_DAEMONS:-1}" = 0 ]; then
	say "\$ cairn destroy --auto-approve cluster"
	"$CAIRN" destroy --auto-approve cluster
	exit $?
fi
cat <<EOT

The cluster is up.  Next:
  $CAIRN ssh cluster worker-1                 # a shell on a worker, through the bastion
  $CAIRN ssh cluster bastion -- ip -4 addr    # one command
  $CAIRN plan examples/cluster.yml            # nothing to do (try: virsh destroy cluster-worker-2)
  $CAIRN destroy --auto-approve cluster       # remove it all: domains, networks, volumes, pool
EOT
