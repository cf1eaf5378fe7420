#!/bin/bash
# tests/e2e/faults.sh CAIRN TEST_PLUGIN_DIR - failures through the fault-
# injecting test plugin: retryable faults are retried to success; a
# permanent fault stops exactly its dependents, recorded as tasks, and the
# next apply finishes them once the fault is gone.  TAP output.
set -u
CAIRN=$(realpath "$1")
export CAIRN_PLUGIN_PATH=$(realpath "$2")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=tests/lib/tap.sh
. "$(dirname "$(realpath "$0")")/../lib/tap.sh"

cd "$TMP"
cat > stack.yml <<YAML
stack: faults
providers:
  t: {type: test, dir: $TMP/objs, scenario: $TMP/scenario.json, parallelism: 16,
      retry_base: 5ms, retry_cap: 20ms, retry_attempts: 20}
nodes:
  base: {}
  mid: {count: 5, depends_on: [base]}
  leaf: {count: 20, depends_on: [mid]}
  other: {count: 20}
YAML
st="--state $TMP/state.db"
calls() { grep -c "\"method\": *\"$1\"" objs/calls.log 2>/dev/null || echo 0; }

echo '{"seed": 11, "faults": [{"method": "create", "kind": "retryable", "probability": 0.2}]}' > scenario.json
out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1); rc=$?
retries=$(grep -c "retrying create" <<<"$out")
creates=$(calls create)
check "with 20% retryable faults the apply completes" '[ $rc = 0 ] && grep -q "46 created" <<<"$out"' "$out"
check "each retry is one more create call ($retries retries, $creates calls)" '[ $retries -gt 0 ] && [ $creates = $((46 + retries)) ]'
check "the plan after it shows no change" '"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null'
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1

echo '{"faults": [{"method": "create", "kind": "permanent", "match": "node.mid\\[2\\]"}]}' > scenario.json
out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1); rc=$?
check "a permanent fault fails the apply" '[ $rc = 1 ]' "$out"
check "independent branches carry on (25 created)" 'grep -q "25 created" <<<"$out"' "$out"
tasks=$("$CAIRN" $st --json task list --failed)
check "the failure and its 20 dependents are tasks" \
	'[ "$(python3 -c "import json,sys; t=json.load(sys.stdin); print(sum(x[\"status\"]==\"failed\" for x in t), sum(x[\"status\"]==\"blocked\" for x in t))" <<<"$tasks")" = "1 20" ]' "$tasks"
id=$(python3 -c 'import json,sys; print([x["id"] for x in json.load(sys.stdin) if x["status"] == "failed"][0])' <<<"$tasks")
out=$("$CAIRN" $st task retry "$id" 2>&1); rc=$?
check "task retry while the fault lasts fails again, and keeps the tasks" \
	'[ $rc = 1 ] && [ "$("$CAIRN" $st --json task list --failed | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 21 ]' "$out"
echo '{}' > scenario.json
out=$("$CAIRN" $st task retry "$id" 2>&1); rc=$?
check "once the fault is gone, task retry finishes it and what it blocked" \
	'[ $rc = 0 ] && grep -q "Retrying 21 tasks of stack faults" <<<"$out" && grep -q "21 created" <<<"$out"' "$out"
check "and no task is left" '[ "$("$CAIRN" $st --json task list --failed | tr -d "[:space:]")" = "[]" ]'
check "the plan of the file shows no change" '"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null'
out=$("$CAIRN" $st task retry "$id" 2>&1); rc=$?
check "a finished task cannot be retried" '[ $rc = 1 ] && grep -q "task $id not found" <<<"$out"' "$out"
out=$("$CAIRN" $st task retry --all 2>&1); rc=$?
check "task retry --all with nothing to do exits 0" '[ $rc = 0 ] && grep -q "no unfinished tasks" <<<"$out"' "$out"
out=$("$CAIRN" $st destroy --auto-approve faults 2>&1)
check "destroy deletes all 46" 'grep -q "46 deleted" <<<"$out"' "$out"

# Two applies started together: exactly one proceeds, the other fails at
# once naming the holder.
echo '{"latency_ms": 100}' > scenario.json
timed() { local t0 t1 rc; t0=$(date +%s%N); "$CAIRN" $st apply --auto-approve --parallelism 4 stack.yml >"$1.out" 2>&1; rc=$?; t1=$(date +%s%N); echo "$rc $(( (t1 - t0) / 1000000 ))" >"$1.rc"; }
timed a & timed b & wait
read -r rca msa <a.rc; read -r rcb msb <b.rc
if [ "$rca" = 0 ]; then win=a lose=b rcl=$rcb msl=$msb; else win=b lose=a rcl=$rca msl=$msa; fi
check "of two applies started together exactly one proceeds ($rca, $rcb)" \
	'[ "$(cat $win.rc | cut -d" " -f1)" = 0 ] && [ "$rcl" = 1 ]' "$(cat a.out b.out)"
check "the other fails within a second (${msl} ms) naming the holder" \
	'[ "$msl" -lt 1000 ] && grep -q "is locked by .*pid [0-9]* since" $lose.out' "$(cat $lose.out)"
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1

# Ctrl-C: no new operations, the ones in flight finish, exit 130; the next
# apply does the rest.
echo '{"latency_ms": 300}' > scenario.json
"$CAIRN" $st apply --auto-approve --parallelism 2 stack.yml >intr.out 2>&1 & pid=$!
sleep 1; kill -INT $pid; wait $pid; rc=$?
done_now=$("$CAIRN" $st --json state show faults | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["resources"]))')
check "an interrupted apply exits 130 having made part of the changes ($done_now of 46)" \
	'[ $rc = 130 ] && [ "$done_now" -gt 0 ] && [ "$done_now" -lt 46 ] && grep -q "Apply interrupted" intr.out' "$(cat intr.out)"
echo '{}' > scenario.json
out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1); rc=$?
check "the next apply makes the rest" '[ $rc = 0 ] && grep -q "$((46 - done_now)) created" <<<"$out"' "$out"
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1

# A second Ctrl-C abandons the calls in flight: exit 130 at once, their
# intents stay open, and the next apply resolves them and converges.
echo '{"latency_ms": 3000}' > scenario.json
"$CAIRN" $st apply --auto-approve --parallelism 4 stack.yml >intr2.out 2>&1 & pid=$!
sleep 1; kill -INT $pid; sleep 0.3; t0=$(date +%s%N); kill -INT $pid; wait $pid; rc=$?; t1=$(date +%s%N)
open=$("$CAIRN" $st state export | python3 -c 'import json,sys; print(sum(len(s["intents"]) for s in json.load(sys.stdin)["stacks"]))')
check "a second Ctrl-C exits 130 at once ($(( (t1 - t0) / 1000000 )) ms), leaving $open intents open" \
	'[ $rc = 130 ] && [ $(( (t1 - t0) / 1000000 )) -lt 1500 ] && [ "$open" -gt 0 ]' "$(cat intr2.out)"
echo '{}' > scenario.json
sleep 1.2
out=$("$CAIRN" $st apply --auto-approve stack.yml 2>&1); rc=$?
check "the next apply resolves them and converges" \
	'[ $rc = 0 ] && "$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null' "$out"
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1

# Saved plans, --target and --replace.
echo '{}' > scenario.json
"$CAIRN" $st plan stack.yml -o plan.json >/dev/null 2>&1
"$CAIRN" $st plan stack.yml -o plan-b.json >/dev/null 2>&1
out=$("$CAIRN" $st apply --auto-approve plan.json 2>&1); rc=$?
check "a saved plan applies as reviewed" '[ $rc = 0 ] && grep -q "46 created" <<<"$out"' "$out"
check "and the plan of the file shows no change" '"$CAIRN" $st plan --detailed-exitcode stack.yml >/dev/null'
c0=$(calls create)
out=$("$CAIRN" $st apply --auto-approve plan-b.json 2>&1); rc=$?
check "a saved plan made against an older state is refused, nothing done" '[ $rc = 1 ] && grep -q "plan is stale" <<<"$out" && [ "$(calls create)" = $c0 ]' "$out"
"$CAIRN" $st plan stack.yml -o plan-c.json >/dev/null 2>&1
python3 -c 'import json,sys; d=json.load(open("plan-c.json")); d["design"]["nodes"]["other"]["count"]=30; json.dump(d,open("plan-c.json","w"))'
out=$("$CAIRN" $st apply --auto-approve plan-c.json 2>&1); rc=$?
check "an edited saved plan is refused" '[ $rc = 1 ] && grep -q "does not match its hash" <<<"$out"' "$out"
out=$("$CAIRN" $st apply --auto-approve --replace "node.mid[1]" stack.yml 2>&1); rc=$?
check "--replace re-creates what did not change" '[ $rc = 0 ] && grep -q "1 replaced" <<<"$out"' "$out"
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1
out=$("$CAIRN" $st apply --auto-approve --target "node.leaf[3]" stack.yml 2>&1); rc=$?
check "--target makes the target and what it depends on (7 of 46)" '[ $rc = 0 ] && grep -q "7 created" <<<"$out"' "$out"
"$CAIRN" $st destroy --auto-approve faults >/dev/null 2>&1

# A call in flight in the plugin when cairn is killed must not finish
# afterwards: the next run's recovery would not find what it makes (an
# orphan).  Each create takes 400 ms; cairn dies 250 ms in, while every
# create is under way in the plugin, which dies with it (PR_SET_PDEATHSIG).
cat > race.yml <<YAML
stack: race
providers:
  t: {type: test, dir: $TMP/race, scenario: $TMP/race.json, parallelism: 10}
nodes:
  n: {count: 10}
YAML
# the plugin's own count of its objects
race_objects() {
	python3 - "$CAIRN_PLUGIN_PATH/cairn-provider-test" "$TMP/race" <<-'PY'
	import json, subprocess, sys
	p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
	msgs = [{"id": 1, "method": "handshake", "params": {"protocol": 1, "stack": "race", "provider": "t",
	         "type": "test", "config": {"dir": sys.argv[2]}}},
	        {"id": 2, "method": "list", "params": {"stack": "race"}}]
	out, _ = p.communicate("".join(json.dumps(m) + "\n" for m in msgs).encode(), timeout=60)
	print([len(json.loads(l)["result"]["objects"]) for l in out.splitlines() if json.loads(l).get("id") == 2][0])
	PY
}
bad=0
for i in 1 2 3; do
	echo '{"latency_ms": 400}' > race.json
	CAIRN_LOCK_LEASE=300ms "$CAIRN" $st apply --auto-approve race.yml >/dev/null 2>&1 & pid=$!
	sleep 0.25; kill -9 $pid; wait $pid 2>/dev/null
	echo '{}' > race.json
	CAIRN_LOCK_LEASE=300ms "$CAIRN" $st apply --auto-approve --lock-timeout 5s race.yml >/dev/null 2>&1
	sleep 0.6    # longer than what was left of a create begun before the kill
	[ "$(race_objects)" = 10 ] || bad=$((bad + 1))
	"$CAIRN" $st destroy --auto-approve race >/dev/null 2>&1
done
check "creates in flight when cairn is killed do not finish later: no orphan after 3 kills ($bad bad)" '[ $bad = 0 ]'

tap_end
