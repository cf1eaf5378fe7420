#!/bin/bash
# tests/configure/configure.sh CAIRN - configure steps over real SSH: ten
# test hosts (tests/static/hosts.sh: a bastion and nine hosts reachable only
# through it, each with its own sshd, hostname and private directory) taken
# by a stack on the static provider, configured through the bastion with
# files, templates, commands and an Ansible playbook; a second configure
# changes nothing; a changed step re-runs only where it changed; a host key
# changed behind cairn's back is refused; an unreachable host, a failing
# command and a template referencing a missing value fail their nodes
# only, clearly, and nothing is lost from the state.  TAP output.  Root.
set -u
CAIRN=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")

# shellcheck source=tests/lib/tap.sh
. "$HERE/../lib/tap.sh"
tap_skip_unless_hosts

HP=ccf$(( $$ % 100000 ))
HTMP=$(mktemp -d "/tmp/$HP.XXXXXX")
# shellcheck source=tests/static/hosts.sh
. "$HERE/../static/hosts.sh"

cleanup() { cd /; hosts_down; rm -rf "$HTMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE


hosts_up 9 || bail "cannot make the test hosts"
cd "$HTMP" || bail "no $HTMP"
export CAIRN_STATE=$HTMP/state.db NO_COLOR=1
cairn() { hosts_run "$CAIRN" "$@"; }
S=$HP
FS=$HOSTS_FS

# hosts 1-3 are db machines, 4-9 web machines
machines() {
	echo "      - {name: gw, address: $(hosts_addr 0), identity: $HTMP/id}"
	for i in 1 2 3; do echo "      - {name: m$i, address: $(hosts_addr $i), identity: $HTMP/id, labels: {role: db}}"; done
	for i in 4 5 6 7 8 9; do echo "      - {name: m$i, address: $(hosts_addr $i), identity: $HTMP/id, labels: {role: web}}"; done
}
DBRUN='echo db-$(hostname) > '$FS'/role'
WEBRUN='wc -l < '$FS'/app.conf > '$FS'/lines && cat '$FS'/motd'
TEMPLATE=app.conf.tmpl
stack() {
	cat > stack.yml <<-EOF
	stack: $S
	variables:
	  greeting: {default: hello}
	providers:
	  rack:
	    type: static
	    parallelism: 10
	    machines:
	$(machines)
	nodes:
	  bastion: {provider: rack, address: gw}
	  db:
	    provider: rack
	    match: {role: db}
	    count: 3
	    pool: db
	    ssh: {via: bastion}
	    configure:
	      - run: '$DBRUN'
	      - file: {path: $FS/db.conf, content: "port=5432\nname=\${self.name}\n", mode: "0600"}
	  web:
	    provider: rack
	    match: {role: web}
	    count: 6
	    pool: web
	    depends_on: [db]
	    ssh: {via: bastion}
	    configure:
	      - file: {path: $FS/motd, content: "\${var.greeting} from \${self.name}\n"}
	      - template: {path: $FS/etc/app.conf, source: $TEMPLATE, mode: "0640"}
	      - run: '$WEBRUN'
	      - ansible: {playbook: site.yml, groups: [frontend], vars: {color: blue}}
	EOF
}
cat > app.conf.tmpl <<'EOF'
# ${self.name}, made by cairn
listen ${self.ip}:8080
backends ${node.db[*].ip}
EOF
cat > site.yml <<EOF
- hosts: frontend
  gather_facts: false
  tasks:
    - name: write the color
      copy:
        dest: $FS/color
        content: "{{ color }} {{ inventory_hostname }}\n"
EOF
WEBRUN='wc -l < '$FS'/etc/app.conf > '$FS'/lines && cat '$FS'/motd'
stack

# the host a node was given, by the machine it was allocated: "m4" -> 4
host_of() {
	cairn --json state show "$S" "$1" 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["observed"]["machine"][1:])' 2>/dev/null
}
# what host I has at PATH (under its private directory)
on_host() { cat "$(hosts_fs "$1")/$2" 2>/dev/null; }
# the step events of a --json run: "ran skipped failed"
steps() {
	/usr/bin/python3 -c '
import json, sys
c = {"ok": 0, "skipped": 0, "failed": 0, "seeded": 0}
for l in sys.stdin:
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("event") == "step": c[e["status"]] += 1
print(c["ok"], c["skipped"], c["failed"])' <<<"$1"
}

# ---- apply configures ---------------------------------------------------------

out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "apply: 10 machines taken and configured through the bastion" \
	'[ $rc = 0 ] && grep -q "12 created" <<<"$out" && grep -q "Configure steps: 30 ran" <<<"$out"' "$out"
all_ok=1; why=
for i in 0 1 2 3 4 5; do
	h=$(host_of "node.web[$i]")
	[ "$(on_host "$h" motd)" = "hello from web-$i" ] || { all_ok=0; why+="web-$i motd: $(on_host "$h" motd); "; }
	[ "$(stat -c %a "$(hosts_fs "$h")/etc/app.conf" 2>/dev/null)" = 640 ] || { all_ok=0; why+="web-$i app.conf mode; "; }
	grep -qx "listen $(hosts_addr "$h"):8080" "$(hosts_fs "$h")/etc/app.conf" 2>/dev/null || { all_ok=0; why+="web-$i listen; "; }
	[ "$(on_host "$h" lines)" = 3 ] || { all_ok=0; why+="web-$i lines; "; }
	[ "$(on_host "$h" color)" = "blue web-$i" ] || { all_ok=0; why+="web-$i color: $(on_host "$h" color); "; }
done
check "web nodes: file, template (mode 0640, own address), command and Ansible playbook on each" '[ $all_ok = 1 ]' "$why"
dbips=$(for i in 0 1 2; do hosts_addr "$(host_of "node.db[$i]")"; done | paste -sd, -)
h=$(host_of "node.web[0]")
check "the template lists every db node's address in order" \
	'grep -qx "backends $dbips" "$(hosts_fs "$h")/etc/app.conf"' "$(on_host "$h" etc/app.conf); want $dbips"
all_ok=1; why=
for i in 0 1 2; do
	h=$(host_of "node.db[$i]")
	[ "$(on_host "$h" role)" = "db-$HP-h$h" ] || { all_ok=0; why+="db-$i role: $(on_host "$h" role); "; }
	[ "$(stat -c %a "$(hosts_fs "$h")/db.conf" 2>/dev/null)" = 600 ] || { all_ok=0; why+="db-$i mode; "; }
done
check "db nodes: the command ran on each as itself, the file is 0600" '[ $all_ok = 1 ]' "$why"
check "nothing was written on the bastion" '[ -z "$(ls -A "$(hosts_fs 0)")" ]' "$(ls -A "$(hosts_fs 0)")"
out=$(cairn plan --detailed-exitcode stack.yml 2>&1); rc=$?
check "the plan after apply shows no change" '[ $rc = 0 ]' "$out"

# ---- a second configure changes nothing --------------------------------------------

h=$(host_of "node.web[0]")
before=$(stat -c %Y.%i "$(hosts_fs "$h")/motd" "$(hosts_fs "$h")/etc/app.conf")
sleep 1
out=$(cairn --json configure "$S" 2>&1); rc=$?
check "a second configure runs no step (0 ran, 30 unchanged)" '[ $rc = 0 ] && [ "$(steps "$out")" = "0 30 0" ]' "$out"
check "... and touches no file" '[ "$(stat -c %Y.%i "$(hosts_fs "$h")/motd" "$(hosts_fs "$h")/etc/app.conf")" = "$before" ]'
out=$(cairn --json configure --force "$S" db 2>&1); rc=$?
check "configure --force db runs the db nodes' 6 steps again, and only those" \
	'[ $rc = 0 ] && [ "$(steps "$out")" = "6 0 0" ]' "$out"

# ---- a changed step runs again where it changed, and only there ------------------

DBRUN='echo db2-$(hostname) > '$FS'/role'
stack
out=$(cairn plan stack.yml 2>&1)
check "a changed db step: plan updates the 3 db nodes, in place" \
	'grep -q "Plan: 0 to create, 3 to update, 0 to replace, 0 to delete" <<<"$out"' "$out"
out=$(cairn --json apply --auto-approve stack.yml 2>&1); rc=$?
check "apply runs that step on the db nodes only (3 ran, 3 unchanged)" \
	'[ $rc = 0 ] && [ "$(steps "$out")" = "3 3 0" ]' "$out"
h=$(host_of "node.db[1]")
check "... which hold the new result" '[ "$(on_host "$h" role)" = "db2-$HP-h$h" ]' "$(on_host "$h" role)"
echo "# edited" >> app.conf.tmpl
out=$(cairn plan stack.yml 2>&1)
check "an edited template: the plan updates the 6 web nodes, saying which file changed" \
	'grep -q "Plan: 0 to create, 6 to update" <<<"$out" && grep -q "node.web\[0\]  (update: configure: .*app.conf.tmpl. changed since it was last applied)" <<<"$out"' "$out"
out=$(cairn --json configure "$S" web 2>&1); rc=$?
check "an edited template: configure web renders it again, 6 nodes, that step only" \
	'[ $rc = 0 ] && [ "$(steps "$out")" = "6 18 0" ]' "$out"
h=$(host_of "node.web[3]")
check "... and the nodes have the new file" 'grep -qx "# edited" "$(hosts_fs "$h")/etc/app.conf"' "$(on_host "$h" etc/app.conf)"
out=$(cairn plan --detailed-exitcode stack.yml 2>&1); rc=$?
check "... after which the plan is clean" '[ $rc = 0 ]' "$out"

# ---- killed in the middle ------------------------------------------------------------

DBRUN='sleep 1; echo db3-$(hostname) > '$FS'/role'
stack
CAIRN_LOCK_LEASE=300ms hosts_run "$CAIRN" apply --auto-approve stack.yml >/dev/null 2>&1 &
pid=$!
sleep 0.6
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
out=$(cairn plan stack.yml 2>&1)
check "SIGKILL in the middle of configuring: the plan still updates the db nodes" \
	'grep -q "3 to update" <<<"$out"' "$out"
out=$(CAIRN_LOCK_LEASE=300ms cairn apply --auto-approve --lock-timeout 5s stack.yml 2>&1); rc=$?
check "... the next apply finishes them" '[ $rc = 0 ]' "$out"
out=$(cairn plan --detailed-exitcode stack.yml 2>&1); rc=$?
h=$(host_of "node.db[2]")
check "... and converges: no change left, every db node holds the new result" \
	'[ $rc = 0 ] && [ "$(on_host "$h" role)" = "db3-$HP-h$h" ]' "$out"

# ---- bad input: per node, the others carry on, the state keeps everything ----------

WEBRUN='test ${self.index} != 2 || { echo "web-2 refuses" >&2; exit 7; }'
stack
out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "a command that fails on one node: apply fails" '[ $rc = 1 ]' "$out"
check "... naming the node, the step, the status and what it said" \
	'grep -q "node.web\[2\]: step 3 (run) failed: step 3 (run) exited with status 7: web-2 refuses" <<<"$out"' "$out"
check "... the other five carry on" '[ "$(grep -c "node.web\[[013-5]\]: updated" <<<"$out")" = 5 ]' "$out"
check "... and the state still holds all 10 nodes and 2 pools" \
	'[ "$(cairn --json state show "$S" | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"resources\"]))")" = 12 ]'
out=$(cairn plan stack.yml 2>&1)
check "the plan says web-2's configuration failed" \
	'grep -q "configuration failed at step 3" <<<"$out" && grep -q "1 to update" <<<"$out"' "$out"
WEBRUN='wc -l < '$FS'/etc/app.conf > '$FS'/lines && cat '$FS'/motd'
stack
out=$(cairn apply --auto-approve stack.yml 2>&1); rc=$?
check "fixed: apply finishes it" '[ $rc = 0 ]' "$out"

printf 'x ${node.db[0].port}\n' >> app.conf.tmpl
out=$(cairn configure "$S" 2>&1); rc=$?
check "a template with a missing value: every web node fails, saying where" \
	'[ $rc = 1 ] && [ "$(grep -c "node.web\[[0-5]\]: step 2 (template) failed: template .*app.conf.tmpl.: 5:3: \${node.db\[0\].port}: node.db\[0\] has no .port. (yet)" <<<"$out")" = 6 ]' "$out"
check "... the db nodes are configured all the same" '! grep -q "node.db\[[0-2]\].*failed" <<<"$out"' "$out"
sed -i '$d' app.conf.tmpl
echo "# once more" >> app.conf.tmpl
h5=$(host_of "node.web[5]")
hosts_stop_sshd "$h5"
out=$(cairn configure "$S" 2>&1); rc=$?
check "an unreachable host fails its node, with its address" \
	'[ $rc = 1 ] && grep -q "node.web\[5\]: configure failed: .*$(hosts_addr "$h5")" <<<"$out"' "$out"
check "... the other web nodes are configured" '[ "$(grep -c "node.web\[[0-4]\]: configured" <<<"$out")" = 5 ]' "$out"
hosts_start_sshd "$h5" || bail "cannot restart sshd"
out=$(cairn configure "$S" 2>&1); rc=$?
check "once it answers again, configure succeeds everywhere" '[ $rc = 0 ]' "$out"

# ---- a host key changed behind cairn's back ---------------------------------------

h=$(host_of "node.web[1]")
hosts_rekey "$h" || bail "cannot rekey"
echo "# again" >> app.conf.tmpl
out=$(cairn configure "$S" 2>&1); rc=$?
check "a host key changed behind cairn's back is refused for that node" \
	'[ $rc = 1 ] && grep -q "node.web\[1\]: configure failed: .*host key" <<<"$out"' "$out"
check "... its file is left as it was, the others are configured" \
	'! grep -qx "# again" "$(hosts_fs "$h")/etc/app.conf" && grep -qx "# again" "$(hosts_fs "$(host_of "node.web[0]")")/etc/app.conf"'

# ---- a failed play ---------------------------------------------------------------------

cp site.yml site.yml.good
cat >> site.yml <<'EOF'
    - name: refuse web-2
      fail: {msg: "web-2 is not welcome"}
      when: inventory_hostname == "web-2"
EOF
out=$(cairn configure "$S" web 2>&1); rc=$?
check "a failed play fails the step on that node with Ansible's message" \
	'[ $rc = 1 ] && grep -q "node.web\[2\]: step 4 (ansible) failed: step 4 (ansible) exited with status 2: task .refuse web-2.: web-2 is not welcome" <<<"$out"' "$out"
check "... the play ran on the other nodes (web-1's host key is still refused)" \
	'[ "$(grep -c "node.web\[[0345]\]: configured" <<<"$out")" = 4 ] && grep -q "node.web\[1\]: configure failed: host key mismatch" <<<"$out"' "$out"
mv site.yml.good site.yml

# ---- a key the host no longer accepts ------------------------------------------------

h=$(host_of "node.web[3]")
hosts_authorize "$h" -
echo "# and again" >> app.conf.tmpl
out=$(cairn configure "$S" web-3 web-4 2>&1); rc=$?
check "a host that no longer accepts the key: its node fails, saying so" \
	'[ $rc = 1 ] && grep -q "node.web\[3\]: configure failed: .*$(hosts_addr "$h").*\(refused\|denied\|authenticat\)" <<<"$out"' "$out"
check "... the other node named is configured" 'grep -q "node.web\[4\]: configured" <<<"$out"' "$out"
hosts_authorize "$h" "$HTMP/id.pub"

# ---- destroy -----------------------------------------------------------------------

out=$(cairn destroy --auto-approve "$S" 2>&1); rc=$?
check "destroy releases every machine" '[ $rc = 0 ] && grep -q "12 deleted" <<<"$out"' "$out"
cd /
hosts_down
check "nothing of the run is left (namespaces, routes, sshd)" 'hosts_gone'

tap_end
