#!/bin/bash
# tests/e2e/apply.sh CAIRN SOURCE_ROOT PLUGIN_DIR - apply and destroy for real
# through the process plugin, with crashes at every journal failpoint and at
# random moments; lock contention; health checks on process nodes.  TAP output.
#
# Everything this test starts carries a per-run stack name and is killed at
# the end, pass or fail, by PID (found through CAIRN_STACK in /proc).
set -u
CAIRN=$(realpath "$1"); SRC=$(realpath "$2"); PLUGINS=$(realpath "$3")
export CAIRN_PLUGIN_PATH=$PLUGINS
export CAIRN_LOCK_LEASE=1s
STACK=e2e-$$-$RANDOM
TMP=$(mktemp -d)

procs() { grep -l "CAIRN_STACK=$STACK\b" /proc/[0-9]*/environ 2>/dev/null | sed 's|/proc/||; s|/environ||'; }
cleanup() { for p in $(procs); do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=tests/lib/tap.sh
. "$SRC/tests/lib/tap.sh"

cd "$TMP" || bail "no $TMP"
cat > stack.yml <<YAML
stack: $STACK
providers:
  local: {type: process}
nodes:
  db: {command: "exec sleep 600"}
  web:
    count: 4
    command: "exec sleep 601"
    env: {DB: "\${node.db.id}"}
    depends_on: [db]
  worker[1-3]: {command: "exec sleep 602"}
outputs:
  webs: \${node.web[*].id}
YAML
st="--state $TMP/state.db"
records() { "$CAIRN" $st --json state show "$STACK" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["resources"]))' 2>/dev/null || echo 0; }
converged() { # apply again, then: no changes, as many processes as records
	local out; out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1) || { echo "$out"; return 1; }
	"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null || { echo "plan shows changes"; return 1; }
	local p r; p=$(procs | wc -l); r=$(records)
	[ "$p" = 8 ] && [ "$r" = 8 ] || { echo "processes $p, records $r, want 8 and 8"; return 1; }
}
gone() { # destroy again, then: no process, no record
	"$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1 || return 1
	[ "$(procs | wc -l)" = 0 ] && [ "$(records)" = 0 ]
}

out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1); rc=$?
check "apply creates 8 processes" '[ $rc = 0 ] && [ "$(procs | wc -l)" = 8 ]' "$out"
check "the plan after apply shows no change" '"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null'
check "outputs are evaluated" '[ "$("$CAIRN" $st --json output "$STACK" | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"webs\"]))")" = 4 ]'
check "processes carry their cairn id" 'for p in $(procs); do grep -qz "^CAIRN_ID=" /proc/$p/environ || exit 1; done'
out=$("$CAIRN" $st destroy --auto-approve "$STACK" 2>&1); rc=$?
check "destroy removes every process and record" '[ $rc = 0 ] && [ "$(procs | wc -l)" = 0 ] && [ "$(records)" = 0 ]' "$out"

# Every failpoint, at several passes: the killed run leaves open intents;
# the next run resolves them and converges.
for fp in apply.after_intent apply.after_call apply.after_commit; do
	for at in 1 4 7; do
		CAIRN_FAILPOINT=$fp:$at "$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1; rc=$?
		sleep 1.2      # the killed holder's lease runs out
		msg=$(converged 2>&1); c=$?
		check "apply killed at $fp:$at ($rc) converges with no orphan" '[ $rc = 137 ] && [ $c = 0 ]' "$msg"
		CAIRN_FAILPOINT=$fp:$at "$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1; rc=$?
		sleep 1.2
		check "destroy killed at $fp:$at ($rc) finishes with nothing left" '[ $rc = 137 ] && gone'
	done
done

# The recovery itself killed at each of its steps: the intents stay open
# (or are closed) consistently, and the run after converges.
for fp in recover.after_read recover.after_commit; do
	CAIRN_FAILPOINT=apply.after_call:4 "$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1
	sleep 1.2
	CAIRN_FAILPOINT=$fp:1 "$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1; rc=$?
	sleep 1.2
	msg=$(converged 2>&1); c=$?
	check "recovery of an open create killed at $fp ($rc) converges with no orphan" '[ $rc = 137 ] && [ $c = 0 ]' "$msg"
	"$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1
done
for fp in recover.after_read recover.after_delete recover.after_commit; do
	"$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1
	CAIRN_FAILPOINT=apply.after_intent:2 "$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1
	sleep 1.2
	CAIRN_FAILPOINT=$fp:1 "$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1; rc=$?
	sleep 1.2
	check "recovery of an open delete killed at $fp ($rc), then destroy: nothing left" '[ $rc = 137 ] && gone'
done

# SIGKILL at random moments (the plugin's processes start fast: aim early).
for i in $(seq 1 6); do
	"$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1 & pid=$!
	sleep "0.0$((RANDOM % 9))"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	sleep 1.2
	msg=$(converged 2>&1); c=$?
	check "apply killed at random ($i) converges with no orphan" '[ $c = 0 ]' "$msg"
	"$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1 & pid=$!
	sleep "0.0$((RANDOM % 9))"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
	sleep 1.2
	check "destroy killed at random ($i) finishes with nothing left" 'gone'
done

# The lock: a holder killed with SIGKILL keeps it until its lease runs out;
# meanwhile another apply fails at once naming it; afterwards it takes over.
CAIRN_FAILPOINT=apply.after_intent:2 "$CAIRN" $st apply --auto-approve stack.yml >/dev/null 2>&1 & pid=$!
wait $pid
t0=$(date +%s%N)
err=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1 >/dev/null); rc=$?
t1=$(date +%s%N)
check "while the lock is held, apply fails within a second naming the holder" \
	'[ $rc = 1 ] && grep -q "is locked by .* pid $pid" <<<"$err" && [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]' "$err"
err=$("$CAIRN" $st apply --auto-approve --lock-timeout 3s stack.yml 2>&1 >/dev/null); rc=$?
check "with --lock-timeout it waits for the dead holder's lease and takes over" '[ $rc = 0 ]' "$err"
check "and the stack converges" "converged" ""
"$CAIRN" $st destroy --auto-approve "$STACK" >/dev/null 2>&1

# Health checks on process nodes: a process's services are on this machine's
# loopback (its ip is 127.0.0.1).  The dependent waits for the checks; a
# killed server goes failed after retries rounds.
PORT=$((20000 + $$ % 20000))
while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
cat > health.yml <<YAML
stack: $STACK
providers:
  local: {type: process}
nodes:
  api:
    command: "exec python3 -m http.server $PORT --bind 127.0.0.1"
    health: {ping: true, tcp: [$PORT], http: ["http://\${self.ip}:$PORT/"], interval: 1s, retries: 2}
  client:
    command: "exec sleep 604"
    env: {API: "http://\${node.api.ip}:$PORT/"}
    depends_on: [api]
YAML
sh="--state $TMP/health.db"
out=$("$CAIRN" $sh apply --auto-approve health.yml 2>&1); rc=$?
check "process nodes with health checks: the dependent is made once the server answers" \
	'[ $rc = 0 ] && grep -q "node.client: created" <<<"$out"' "$out"
out=$("$CAIRN" $sh health "$STACK" 2>&1); rc=$?
check "cairn health: ping, tcp and http on 127.0.0.1 ready" \
	'[ $rc = 0 ] && grep -q "reply from 127.0.0.1" <<<"$out" && grep -q "tcp:$PORT .* ready .*connected" <<<"$out" &&
	 grep -q "http:http://127.0.0.1:$PORT/ .* ready .*HTTP 200" <<<"$out"' "$out"
check "... and the dependent got the address" 'grep -qz "^API=http://127.0.0.1:$PORT/" /proc/$(pgrep -f "exec sleep 604|^sleep 604" | head -1)/environ'
kill "$(pgrep -f "http.server $PORT")"
"$CAIRN" $sh health "$STACK" >/dev/null 2>&1
out=$("$CAIRN" $sh health "$STACK" 2>&1); rc=$?
check "the server killed: failed after two rounds (exit 1)" \
	'[ $rc = 1 ] && grep -q "^api .*failed" <<<"$out" && grep -q "connection refused" <<<"$out"' "$out"
out=$("$CAIRN" $sh destroy --auto-approve "$STACK" 2>&1)
check "... destroyed, nothing left" '[ -z "$(procs)" ]' "$out"

tap_end
