#!/usr/bin/env bash
# End-to-end tests of the cairn command line: exit statuses, the key lines of
# its output, bad input, and that validate and plan never write state.
#
#   tests/cli/run.sh path/to/cairn
#
# Prints TAP ("ok N - name" / "not ok N - name", then "1..N") and exits 1 when
# any case failed.  Each case runs cairn with its own temporary files; under
# ASan/LSan a leak or a sanitizer report makes the run exit non-zero, and the
# case fails.
set -u
HERE=$(dirname "$(realpath "$0")")

CAIRN=${1:?usage: tests/cli/run.sh path/to/cairn}
case $CAIRN in /*) ;; *) CAIRN=$PWD/$CAIRN ;; esac
[ -x "$CAIRN" ] || { echo "Bail out! '$CAIRN' is not an executable"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# No state, colour or variables from the environment of whoever runs us.
unset CAIRN_STATE NO_COLOR
for v in $(env | sed -n 's/^\(CAIRN_VAR_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export XDG_STATE_HOME=$tmp/xdg HOME=$tmp/home
STATE=$tmp/state.db

# shellcheck source=tests/cli/lib.sh
. "$HERE/lib.sh"

# run ARGS...: cairn's stdout in ./out, stderr in ./err, status in $rc.
run() {
	"$CAIRN" "$@" >out 2>err
	rc=$?
}

is_json() { python3 -m json.tool "$1" >/dev/null 2>&1; }
lines() { wc -l <"$1" | tr -d ' '; }
no_escapes() { ! grep -q $'\033' "$1"; }

# ---- stacks --------------------------------------------------------------------

cat >valid.yml <<'EOF'
stack: demo
providers:
  local: {type: process}
nodes:
  db:
    provider: local
    command: "sleep 100"
  app:
    provider: local
    command: "sleep 200"
    depends_on: [db]
EOF

cat >invalid.yml <<'EOF'
stack: demo
providers:
  local: {type: process}
nodes:
  app:
    provider: local
    comand: "sleep 100"
EOF

: >empty.yml
head -c 4096 /dev/urandom >binary.yml
truncate -s 100M huge.yml

# ---- help, version, dispatch ------------------------------------------------------

run --help
check "--help lists the commands" 0 "^usage: cairn"
expect "--help names validate" grep -q validate out
run
check "no command: usage on stderr, exit 2" 2 '' '^usage: cairn'
run --version
check "--version" 0 '^cairn [0-9]+\.[0-9]+\.[0-9]+$'
run version -v
check "version -v names the libraries" 0 'sqlite'
run --json version
expect "version --json is JSON" is_json out
run help plan
check "help plan shows the plan options" 0 'detailed-exitcode'
run plan --help
check "plan --help" 0 '^usage: cairn plan'
run help state
check "help state lists its subcommands" 0 'export'
run frob
check "unknown command exits 2" 2 '' "'frob' is not a cairn command"
run valdate valid.yml
check "unknown command suggests a near one" 2 '' "did you mean 'validate'"
run v valid.yml
check "ambiguous prefix names the candidates" 2 '' "ambiguous command 'v': validate, version"
run val --state "$STATE" valid.yml
check "unique prefix runs the command" 0 'valid'
run state l --state "$STATE"
check "unique prefix of a subcommand" 0
run state frob
check "unknown state command exits 2" 2 '' "not a 'cairn state' command"
run plan
check "plan without a file is a usage error" 2 '' '^usage: cairn plan'
run validate --frob valid.yml
check "unknown option is a usage error" 2 '' "unknown option '--frob'"
run plan valid.yml -o
check "missing option argument is a usage error" 2 '' "requires an argument"
run validate --var novalue valid.yml
check "--var without = is a usage error" 2 '' 'NAME=VALUE'

# ---- validate ---------------------------------------------------------------------

run --state "$STATE" validate valid.yml
check "validate a valid stack" 0 '^valid.yml: valid \(2 resources\)$'
run validate valid.yml -q
check "-q after the command silences validate" 0
expect "-q prints nothing" test ! -s out
run validate invalid.yml
check "validate an invalid stack exits 1" 1 '' '^invalid.yml:[0-9]+:[0-9]+: error: '
run validate valid.yml invalid.yml
check "one invalid file among several exits 1" 1 'valid.yml: valid'
run --json validate valid.yml invalid.yml
check "validate --json" 1 '"valid": false'
expect "validate --json is JSON" is_json out
python3 - out <<'PY' >/dev/null 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
f = d["files"]
assert f[0]["valid"] is True and f[0]["resources"] == 2
assert f[1]["valid"] is False and f[1]["diagnostics"][0]["line"] > 0
PY
expect "validate --json: files, valid, resources, diagnostics" test $? -eq 0

run validate missing.yml
check "missing file exits 1" 1 '' '^missing.yml: error: '
expect "missing file: one line" test "$(lines err)" -eq 1
run validate empty.yml
check "empty file exits 1" 1 '' '^empty.yml: error: '
expect "empty file: one line" test "$(lines err)" -eq 1
run validate binary.yml
check "binary file exits 1" 1 '' '^binary.yml: error: '
expect "binary file: one line" test "$(lines err)" -eq 1
start=$(date +%s%N)
run validate huge.yml
elapsed=$((($(date +%s%N) - start) / 1000000))
check "100 MB file exits 1" 1 '' '^huge.yml: error: '
expect "100 MB file: one line" test "$(lines err)" -eq 1
expect "100 MB file refused in under 2 s (${elapsed} ms)" test "$elapsed" -lt 2000
mkdir adir
run validate adir
check "a directory exits 1" 1 '' '^adir: error: '
run plan --state "$STATE" missing.yml
check "plan of a missing file exits 1" 1 '' '^missing.yml: error: '
expect "plan of a missing file: one line" test "$(lines err)" -eq 1

expect "validate and plan did not create the state" test ! -e "$STATE"
expect "nor the default state" test ! -e "$tmp/xdg/cairn"

# ---- plan ------------------------------------------------------------------------------

run --state "$STATE" plan valid.yml
check "plan against an empty state" 0 'create'
run --state "$STATE" plan --detailed-exitcode valid.yml
check "plan --detailed-exitcode with changes exits 2" 2
run --state "$STATE" plan --detailed-exitcode invalid.yml
check "plan --detailed-exitcode of an invalid stack exits 1" 1 '' 'error:'
run --state "$STATE" plan -o saved.json valid.yml
check "plan -o" 0
expect "plan -o writes JSON" is_json saved.json
expect "the saved plan records lineage and serial" \
	grep -q '"serial"' saved.json
expect "... and the lineage" grep -q '"lineage"' saved.json
run --state "$STATE" --json plan valid.yml
check "plan --json" 0 '"changes"'
expect "plan --json is JSON" is_json out
cp out plan.json
CAIRN_STATE=$STATE "$CAIRN" plan valid.yml >/dev/null 2>&1
expect "plan never creates the state file (also via CAIRN_STATE)" test ! -e "$STATE"

# ---- state -------------------------------------------------------------------------

# A state in which every resource of the plan exists, in the format of
# docs/internals/state.md, made from the plan's "after" attributes.
python3 - plan.json >state-doc.json <<'PY'
import json, sys, uuid
plan = json.load(open(sys.argv[1]))
now = "2026-01-01T00:00:00Z"
res = []
for c in plan["changes"]:
    res.append({
        "address": c["address"], "kind": c["kind"], "type": c["type"],
        "provider": c["provider"], "cairn_id": str(uuid.uuid4()),
        "desired_hash": "b2:00000000000000000000000000000000",
        "desired": c["after"], "observed": None, "status": "ready",
        "created_at": now, "updated_at": now,
    })
doc = {"format": "cairn-state", "version": 1, "pools": [],
       "stacks": [{"name": plan["stack"], "lineage": str(uuid.uuid4()), "serial": 7,
                   "created_at": now, "updated_at": now, "designs": [],
                   "resources": res}]}
json.dump(doc, sys.stdout, indent=1)
PY
run --state "$STATE" state import state-doc.json
check "state import" 0
# The imported objects are made up: against the stored state alone the plan
# has nothing to do, while the providers (asked first, by default) have none
# of them, so a refreshed plan re-creates them.
run --state "$STATE" plan --no-refresh --detailed-exitcode valid.yml
check "plan --no-refresh after importing what it wants: no changes, exit 0" 0
run --state "$STATE" plan --detailed-exitcode valid.yml
check "plan after importing objects that do not exist: re-created" 2 'deleted outside cairn'
run --state "$STATE" plan --no-refresh -o saved2.json valid.yml
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["serial"] == 7 and d["lineage"]' \
	saved2.json 2>/dev/null
expect "the saved plan carries the stored serial and lineage" test $? -eq 0
run --state "$STATE" state list
check "state list" 0 '^demo +7 +2 '
run --state "$STATE" --json state list
check "state list --json" 0 '"demo"'
expect "state list --json is JSON" is_json out
run --state "$STATE" state show demo
check "state show STACK" 0 'node\.app'
run --state "$STATE" state show demo node.app
check "state show STACK ADDRESS" 0 '"address": "node.app"'
expect "state show STACK ADDRESS is JSON" is_json out
run --state "$STATE" state show nosuch
check "state show of a missing stack exits 1" 1 '' "stack 'nosuch' not found in state $STATE"
run --state "$STATE" state show demo node.nosuch
check "state show of a missing resource exits 1" 1 '' "node.nosuch"
run --state "$STATE" state export
check "state export" 0 '"cairn-state"'
expect "state export is JSON" is_json out
run --state "$STATE" state export demo -o exported.json
check "state export STACK -o FILE" 0
expect "the export file is JSON" is_json exported.json
expect "the export file is private (0600)" test "$(stat -c %a exported.json)" = 600
run --state "$STATE" state export nosuch
check "state export of a missing stack exits 1" 1 '' "stack 'nosuch' not found"
run --state "$STATE" state import binary.yml
check "state import of a non-JSON file exits 1" 1 '' 'binary.yml'
run --state "$STATE" state show
check "state show without a stack is a usage error" 2 '' '^usage: cairn state show'
run help state export
check "help state export" 0 '^usage: cairn state export'
run --state "$STATE" plan -o "$tmp/no/such/dir/plan.json" valid.yml
check "plan -o to an unwritable path exits 1" 1 '' 'plan.json'
expect "... and shows no plan" test ! -s out
run --state "$tmp/other.db" state list
check "state list of a missing store" 0
expect "state list does not create the store" test ! -e "$tmp/other.db"

# ---- colour ---------------------------------------------------------------------------

# Colour needs a terminal: script(1) gives cairn one.
tty_run() {  # tty_run OUTFILE ARGS...
	local o=$1
	shift
	script -qefc "$(printf '%q ' "$CAIRN" "$@")" /dev/null >"$o" 2>/dev/null </dev/null
}
if command -v script >/dev/null 2>&1; then
	tty_run tty-color.txt validate invalid.yml
	if grep -q $'\033\[' tty-color.txt; then
		ok "colour on a terminal"
	else
		not_ok "colour on a terminal" "no escape codes in the output of validate on a pty"
	fi
	NO_COLOR=1 tty_run tty-nocolor.txt validate invalid.yml
	expect "NO_COLOR=1 turns colour off" no_escapes tty-nocolor.txt
	tty_run tty-nocolor2.txt --no-color validate invalid.yml
	expect "--no-color turns colour off" no_escapes tty-nocolor2.txt
	NO_COLOR= tty_run tty-empty.txt validate invalid.yml
	expect "an empty NO_COLOR does not" grep -q $'\033\[' tty-empty.txt
else
	for t in "colour on a terminal" "NO_COLOR" "--no-color" "empty NO_COLOR"; do
		n=$((n + 1)); echo "ok $n - $t # SKIP no script(1)"
	done
fi
run --state "$STATE" plan valid.yml
expect "no colour when not a terminal" no_escapes out

# ---- graph ---------------------------------------------------------------------------

run graph valid.yml
check "graph writes DOT" 0 '^digraph'
expect "graph output starts with digraph" test "$(head -c 7 out)" = digraph
run --json graph valid.yml
check "graph --json" 0 '"order"'
python3 - out <<'PY' >/dev/null 2>&1
import json, sys
g = json.load(open(sys.argv[1]))
assert sorted(g["nodes"]) == ["node.app", "node.db"]
assert ["node.app", "node.db"] in g["edges"]
assert g["order"].index("node.db") < g["order"].index("node.app")
PY
expect "graph --json: nodes, edges, topological order" test $? -eq 0
"$CAIRN" graph valid.yml 2>err | head -1 >/dev/null
expect "graph | head -1 prints no error" test ! -s err
run graph invalid.yml
check "graph of an invalid stack exits 1" 1 '' 'error:'

# ---- explain ---------------------------------------------------------------------------

run explain
check "explain lists types and sections" 0 'process'
expect "... and the sections" grep -q 'node' out
run explain libvirt
check "explain libvirt mentions image" 0 'image'
run explain node
check "explain node (a section)" 0 'provider'
run --json explain libvirt
expect "explain --json is JSON" is_json out
run explain frob
check "explain frob exits 1" 1 '' "'frob'"
run explain libvrt
check "explain suggests a near name" 1 '' "did you mean 'libvirt'"

# ---- verbosity --------------------------------------------------------------------------

run -v validate valid.yml
check "-v prints the time taken" 0 '' '^\(took [0-9]+\.[0-9]{2}s\)$'

tap_end
