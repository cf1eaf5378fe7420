#!/bin/bash
# tests/e2e/crash.sh CAIRN PLUGIN_DIR KIND [KILLS] - crash safety at scale.
#
# KIND test:    a 500-resource stack on the fault-injecting test plugin;
# KIND process: a 60-resource stack on the process plugin (real processes).
#
# KILLS times (default 200 for test, 50 for process; $CAIRN_CRASH_KILLS
# overrides): start an apply, SIGKILL it at a random moment, then check that
# one more apply converges, the plan after it shows no change, and the
# provider holds exactly the objects the state knows (no orphan, no
# duplicate); then the same for a destroy (the next destroy leaves nothing).
# The moments are drawn uniformly over the length of an unkilled run,
# measured first.  TAP output; everything made is removed at the end.
set -u
CAIRN=$(realpath "$1"); PLUGINS=$(realpath "$2"); KIND=$3
export CAIRN_PLUGIN_PATH=$PLUGINS
export CAIRN_LOCK_LEASE=300ms          # a killed holder's lock frees itself quickly
TMP=$(mktemp -d)
STACK=crash-$KIND-$$-$RANDOM
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$(realpath "$0")")/../lib/tap.sh"

procs() { grep -l "CAIRN_STACK=$STACK\b" /proc/[0-9]*/environ 2>/dev/null | sed 's|/proc/||; s|/environ||'; }
cleanup() { for p in $(procs); do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
cd "$TMP"

case $KIND in
test)
	KILLS=${4:-${CAIRN_CRASH_KILLS:-200}}; WANT=500
	cat > stack.yml <<-YAML
	stack: $STACK
	providers:
	  t: {type: test, dir: $TMP/objs, parallelism: 20}
	networks:
	  lan: {provider: t, cidr: 10.250.0.0/16}
	nodes:
	  db: {count: 20, provider: t, networks: [lan]}
	  app: {count: 200, provider: t, depends_on: [db]}
	  worker: {count: 279, provider: t}
	YAML
	# the plugin's own view: every object of the stack, by cairn id
	objects() {
		python3 - "$PLUGINS/cairn-provider-test" "$TMP/objs" "$STACK" <<-'PY'
		import json, subprocess, sys
		p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
		msgs = [{"id": 1, "method": "handshake", "params": {"protocol": 1, "stack": sys.argv[3],
		         "provider": "t", "type": "test", "config": {"dir": sys.argv[2]}}},
		        {"id": 2, "method": "list", "params": {"stack": sys.argv[3]}}]
		out, _ = p.communicate("".join(json.dumps(m) + "\n" for m in msgs).encode(), timeout=60)
		for line in out.splitlines():
		    m = json.loads(line)
		    if m.get("id") == 2:
		        for o in m["result"]["objects"]:
		            print(o["cairn_id"], o.get("address"))
		PY
	}
	;;
process)
	KILLS=${4:-${CAIRN_CRASH_KILLS_PROCESS:-50}}; WANT=60
	cat > stack.yml <<-YAML
	stack: $STACK
	providers:
	  local: {type: process, parallelism: 20}
	nodes:
	  db: {count: 10, command: "exec sleep 600"}
	  app: {count: 30, command: "exec sleep 601", depends_on: [db]}
	  worker: {count: 20, command: "exec sleep 602"}
	YAML
	objects() {
		for p in $(procs); do
			tr '\0' '\n' </proc/$p/environ 2>/dev/null | sed -n 's/^CAIRN_ID=//p' | tr '\n' ' '
			echo "pid$p"
		done
	}
	;;
*) bail "unknown kind '$KIND'" ;;
esac
st="--state $TMP/state.db"

# what the state knows, as "cairn_id address" lines
known() {
	"$CAIRN" $st --json state show "$STACK" 2>/dev/null |
		python3 -c 'import json,sys; [print(r["cairn_id"], r["address"]) for r in json.load(sys.stdin)["resources"]]' 2>/dev/null
}
# the provider holds exactly what the state knows, WANT of them
matches() {
	local want=$1 k o
	k=$(known | awk '{print $1}' | sort)
	o=$(objects | awk '{print $1}' | sort)
	[ "$(wc -l <<<"$o" | tr -d ' ')" = "$want" ] || [ "$want" = 0 -a -z "$o" ] ||
		{ echo "the provider holds $(grep -c . <<<"$o") objects, want $want"; return 1; }
	[ -z "$(uniq -d <<<"$o")" ] || { echo "duplicates: $(uniq -d <<<"$o" | head -3)"; return 1; }
	[ "$k" = "$o" ] || { echo "state and provider differ:"; diff <(echo "$k") <(echo "$o") | head -5; return 1; }
}
converge() {
	local out
	out=$("$CAIRN" $st apply --auto-approve --lock-timeout 5s stack.yml 2>&1) || { echo "apply: $out" | tail -5; return 1; }
	"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null 2>&1 || { echo "the plan shows changes"; return 1; }
	matches $WANT
}
finish_destroy() {
	local out
	out=$("$CAIRN" $st destroy --auto-approve --lock-timeout 5s "$STACK" 2>&1) || { echo "destroy: $out" | tail -5; return 1; }
	[ -z "$(known)" ] || { echo "the state still has $(known | wc -l) resources"; return 1; }
	matches 0
}
# ms of an unkilled run
timed() { local t0; t0=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( ($(date +%s%N) - t0) / 1000000 )); }
# run "$@" and SIGKILL it after a random moment in [0, $1 ms)
kill_within() {
	local span=$1 pid; shift
	"$@" >/dev/null 2>&1 & pid=$!
	sleep "$(awk -v s=$RANDOM -v span="$span" 'BEGIN { srand(s); printf "%.3f", rand() * span / 1000 }')"
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}

apply_ms=$(timed "$CAIRN" $st apply --auto-approve stack.yml)
msg=$(converge 2>&1); check "an apply of $WANT resources ($apply_ms ms) holds exactly what the state knows" '[ -z "$msg" ]' "$msg"
destroy_ms=$(timed "$CAIRN" $st destroy --auto-approve "$STACK")
msg=$(finish_destroy 2>&1); check "a destroy ($destroy_ms ms) leaves nothing" '[ -z "$msg" ]' "$msg"

bad_apply=0; bad_destroy=0; first_apply=""; first_destroy=""
for i in $(seq 1 "$KILLS"); do
	kill_within "$apply_ms" "$CAIRN" $st apply --auto-approve stack.yml
	if ! msg=$(converge 2>&1); then
		bad_apply=$((bad_apply + 1)); [ -n "$first_apply" ] || first_apply="kill $i: $msg"
		"$CAIRN" $st apply --auto-approve --lock-timeout 5s stack.yml >/dev/null 2>&1
	fi
	kill_within "$destroy_ms" "$CAIRN" $st destroy --auto-approve "$STACK"
	if ! msg=$(finish_destroy 2>&1); then
		bad_destroy=$((bad_destroy + 1)); [ -n "$first_destroy" ] || first_destroy="kill $i: $msg"
		"$CAIRN" $st destroy --auto-approve --lock-timeout 5s "$STACK" >/dev/null 2>&1
	fi
done
check "$KILLS applies of $WANT killed at random moments: each time the next apply converges, no orphan, no duplicate ($bad_apply bad)" \
	'[ $bad_apply = 0 ]' "$first_apply"
check "$KILLS destroys killed at random moments: each time the next destroy leaves nothing ($bad_destroy bad)" \
	'[ $bad_destroy = 0 ]' "$first_destroy"

tap_end
