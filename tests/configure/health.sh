#!/bin/bash
# tests/configure/health.sh CAIRN - health checks against real hosts: a
# bastion and four hosts (tests/static/hosts.sh), each host running sshd
# and a small HTTP server in its namespace; ping, tcp, http and command
# checks through the bastion gate the nodes' dependents at apply; `cairn
# health --watch` sees a stopped sshd and a stopped listener go failed
# within retries x interval; a node that never passes is tainted and its
# dependents wait.  TAP output.  Root only.
# (a bastion and five hosts: web on 1-3, "late" on 4, "app" on 5)
set -u
CAIRN=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")

# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
tap_skip_unless_hosts

HP=chl$(( $$ % 100000 ))
HTMP=$(mktemp -d "/tmp/$HP.XXXXXX")
# shellcheck source=tests/static/hosts.sh
. "$HERE/../static/hosts.sh"

HTTP_PIDS=()
WATCH_PID=
cleanup() {
	cd /
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
	for p in "${HTTP_PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	hosts_down
	rm -rf "$HTMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE


hosts_up 5 || bail "cannot make the test hosts"
cd "$HTMP" || bail "no $HTMP"
export CAIRN_STATE=$HTMP/state.db NO_COLOR=1
cairn() { hosts_run "$CAIRN" "$@"; }
S=$HP

# an HTTP server on host I (port 8080), in its namespace
http_start() {
	ip netns exec "${HP}h$1" python3 -m http.server 8080 --bind "$(hosts_addr "$1")" \
		--directory "$HTMP" >/dev/null 2>&1 &
	HTTP_PIDS[$1]=$!
	for _ in $(seq 50); do
		ip netns exec "${HP}h$1" ss -Hltn "sport = :8080" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}
http_stop() { kill "${HTTP_PIDS[$1]}" 2>/dev/null; wait "${HTTP_PIDS[$1]}" 2>/dev/null; HTTP_PIDS[$1]=; }
for i in 1 2 3; do http_start "$i" || bail "no HTTP server on host $i"; done

# web-N on hosts 1-3; "late" on host 4, whose HTTP server is not up; the
# app depends on both
cat > stack.yml <<EOF
stack: $S
providers:
  rack:
    type: static
    machines:
      - {name: gw, address: $(hosts_addr 0), identity: $HTMP/id}
      - {name: m1, address: $(hosts_addr 1), identity: $HTMP/id, labels: {role: web}}
      - {name: m2, address: $(hosts_addr 2), identity: $HTMP/id, labels: {role: web}}
      - {name: m3, address: $(hosts_addr 3), identity: $HTMP/id, labels: {role: web}}
      - {name: m4, address: $(hosts_addr 4), identity: $HTMP/id, labels: {role: late}}
      - {name: m5, address: $(hosts_addr 5), identity: $HTMP/id, labels: {role: app}}
nodes:
  bastion:
    provider: rack
    address: gw
    health: {ping: true, tcp: [22], interval: 1s, timeout: 1s}
  web:
    provider: rack
    match: {role: web}
    count: 3
    ssh: {via: bastion}
    health:
      ping: true
      tcp: [22]
      http: ["http://\${self.ip}:8080/"]
      command: "test -d /tmp"
      interval: 1s
      timeout: 5s
      retries: 3
  late:
    provider: rack
    match: {role: late}
    ssh: {via: bastion}
    health: {http: ["http://\${self.ip}:8080/"], interval: 1s, timeout: 1s, retries: 2}
  app:
    provider: rack
    match: {role: app}
    ssh: {via: bastion}
    depends_on: [late]
EOF
host_of() {
	cairn --json state show "$S" "$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["observed"]["machine"][1:])' 2>/dev/null
}

# ---- gating at apply ----------------------------------------------------------------

t0=$(date +%s.%N)
out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
t1=$(date +%s.%N)
waited=$(grep -o "node.late: create failed: health checks did not pass in [0-9.]* s" <<<"$out" | awk '{print $(NF-1)}')
check "apply: a node whose checks never pass fails after retries x interval (2 s; ${waited:-?} s)" \
	'awk -v w="${waited:-0}" "BEGIN { exit !(w >= 1.9) }"' "$out"
check "... naming the check and what it saw" \
	'[ $rc = 1 ] && grep -q "node.late: create failed: health checks did not pass in [0-9.]* s: http:http://$(hosts_addr 4):8080/: .*Connection refused" <<<"$out"' "$out"
check "... its dependent waits for it, and is not made" 'grep -q "node.app: not created: a resource it depends on failed" <<<"$out"' "$out"
check "... the healthy nodes are made (4 created) in $(printf %.1f "$(echo "$t1 - $t0" | bc)") s" \
	'grep -q "4 created" <<<"$out"' "$out"
out=$(cairn plan stack.yml 2>&1)
check "the plan replaces the node that failed its checks (tainted) and makes its dependent" \
	'grep -q "node.late .*tainted" <<<"$out" && grep -q "1 to create, 0 to update, 1 to replace" <<<"$out"' "$out"
http_start 4 || bail "no HTTP server on host 4"
out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "once it answers, apply replaces it and makes the dependent" \
	'[ $rc = 0 ] && grep -q "1 created, 0 updated, 1 replaced" <<<"$out"' "$out"

# ---- cairn health -------------------------------------------------------------------

out=$(cairn health "$S" 2>&1); rc=$?
check "cairn health: every node ready (exit 0)" '[ $rc = 0 ] && [ "$(grep -c " ready " <<<"$out")" -ge 5 ]' "$out"
check "... with each check: ping, tcp:22, http, command" \
	'grep -q "ping .* ready .*answers ping" <<<"$out" && grep -q "tcp:22 .* ready .*connected" <<<"$out" && grep -q "http:http://.* ready .*HTTP 200" <<<"$out" && grep -q "command .* ready .*exit 0" <<<"$out"' "$out"
check "... the bastion answers ICMP in-process" 'grep -q "reply from $(hosts_addr 0)" <<<"$out"' "$out"
out=$(cairn --json health "$S" web-0 2>&1)
check "--json, one node: its checks with state, fails, since" \
	'/usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); assert len(d)==1 and d[0][\"name\"]==\"web-0\" and d[0][\"state\"]==\"ready\" and len(d[0][\"checks\"])==4 and all(c[\"fails\"]==0 and c[\"since\"] for c in d[0][\"checks\"])" <<<"$out"' "$out"

# ---- failures seen by --watch ----------------------------------------------------------

h_ssh=$(host_of "node.web[0]") h_http=$(host_of "node.web[1]")
ip netns exec "${HP}c" "$CAIRN" health --watch "$S" > watch.log 2>&1 &
WATCH_PID=$!    # ip netns exec execs: this is cairn
sleep 2
t_stop=$(date +%s)
hosts_stop_sshd "$h_ssh"
http_stop "$h_http"
for _ in $(seq 150); do
	grep -q "node.web\[0\]  is failed" watch.log && grep -q "node.web\[1\]  is failed" watch.log && break
	sleep 0.1
done
t_seen=$(date +%s)
kill -INT "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=
check "--watch: a stopped sshd makes its node failed (tcp:22 and command)" \
	'grep -q "node.web\[0\]  tcp:22: failed" watch.log && grep -q "node.web\[0\]  command: failed" watch.log && grep -q "node.web\[0\]  is failed" watch.log' "$(cat watch.log)"
check "--watch: a stopped listener makes its node failed (http)" \
	'grep -q "node.web\[1\]  http:.*: failed" watch.log && grep -q "node.web\[1\]  is failed" watch.log' "$(cat watch.log)"
check "... within retries x interval (3 s) and a round: $((t_seen - t_stop)) s" '[ $((t_seen - t_stop)) -le 12 ]' "$(cat watch.log)"
check "... and the healthy node stays ready" '! grep -q "node.web\[2\]  is failed" watch.log' "$(cat watch.log)"
out=$(cairn health --no-check "$S" 2>&1); rc=$?
check "cairn health --no-check shows the recorded states (exit 1: not all ready)" \
	'[ $rc = 1 ] && grep -q "^web-0  *failed" <<<"$out" && grep -q "^web-1  *failed" <<<"$out"' "$out"
hosts_start_sshd "$h_ssh" || bail "cannot restart sshd"
http_start "$h_http" || bail "cannot restart the HTTP server"
out=$(cairn health "$S" 2>&1); rc=$?
check "both back: one round makes them ready again" '[ $rc = 0 ]' "$out"

# ---- destroy ---------------------------------------------------------------------------

out=$(cairn destroy --auto-approve "$S" 2>&1); rc=$?
check "destroy" '[ $rc = 0 ]' "$out"
cd /
for p in "${HTTP_PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
HTTP_PIDS=()
hosts_down
check "nothing of the run is left (namespaces, routes, servers)" 'hosts_gone'

tap_end
