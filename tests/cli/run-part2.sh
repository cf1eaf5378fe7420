#!/usr/bin/env bash
# End-to-end tests of the part-2 commands of the cairn command line: pool,
# provider, output, task and state unlock.  Their data comes from a crafted
# cairn-state document (docs/internals/state.md) loaded with `state import`;
# the one thing a document does not carry, a stack lock, is written into the
# SQLite store with python3's sqlite3 module.
#
#   tests/cli/run-part2.sh path/to/cairn
#
# Prints TAP ("ok N - name" / "not ok N - name", then "1..N") and exits 1 when
# any case failed.  Under ASan/LSan a leak or a sanitizer report makes cairn
# exit non-zero, and the case fails.
set -u
HERE=$(dirname "$(realpath "$0")")

CAIRN=${1:?usage: tests/cli/run-part2.sh path/to/cairn}
case $CAIRN in /*) ;; *) CAIRN=$PWD/$CAIRN ;; esac
[ -x "$CAIRN" ] || { echo "Bail out! '$CAIRN' is not an executable"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cli2-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
tmp=$(pwd -P)    # plugin paths are stored with their directory resolved

unset CAIRN_STATE NO_COLOR CAIRN_PLUGIN_PATH
export XDG_STATE_HOME=$tmp/xdg HOME=$tmp/home
STATE=$tmp/state.db

# shellcheck source=tests/cli/lib.sh
. "$HERE/lib.sh"

# run ARGS...: cairn --state $STATE ARGS, stdout in ./out, stderr in ./err, status in $rc.
run() {
	"$CAIRN" --state "$STATE" "$@" >out 2>err
	rc=$?
}

is_json() { python3 -m json.tool "$1" >/dev/null 2>&1; }
# py NAME CODE: ok when the python code (reading ./out as `d`) runs without error.
py() {
	local name=$1
	if python3 -c "import json, sys; d = json.load(open('out')); $2" 2>pyerr; then
		ok "$name"
	else
		not_ok "$name" "python: $2" "$(tail -1 pyerr)"
	fi
}

# ---- the state: one stack with pooled resources, outputs and tasks ------------------

python3 - >doc.json <<'PY'
import json
now = "2026-01-01T00:00:00Z"
def res(addr, pool=None):
    desired = {"command": "sleep 100"}
    if pool:
        desired["pool"] = pool
    return {"address": addr, "kind": "node", "type": "process", "provider": "local",
            "cairn_id": None, "desired_hash": "b2:00000000000000000000000000000000",
            "desired": desired, "observed": None, "status": "ready",
            "created_at": now, "updated_at": now}
demo = {"name": "demo", "lineage": "0f8fad5b-d9cb-469f-a165-70867728950e", "serial": 5,
        "created_at": now, "updated_at": now, "designs": [],
        "resources": [res("node.db"), res("node.web[0]", "web"),
                      res("node.web[1]", "web"), res("node.web[2]", "web")],
        "outputs": {"url": "http://10.0.0.5:8080/", "port": 8080,
                    "hosts": ["web-0", "web-1"], "tls": False},
        "tasks": [
            {"address": "node.db", "op": "create", "status": "failed", "attempts": 5,
             "last_error": "process exited at once (status 127)\nsh: frob: not found",
             "created_at": now, "updated_at": now},
            {"address": "node.web[2]", "op": "create", "status": "blocked", "attempts": 0,
             "last_error": None, "created_at": now, "updated_at": now},
            {"address": "node.web[1]", "op": "update", "status": "done", "attempts": 2,
             "last_error": None, "created_at": now, "updated_at": now}],
        "intents": []}
empty = {"name": "bare", "lineage": "1f8fad5b-d9cb-469f-a165-70867728950e", "serial": 0,
         "created_at": now, "updated_at": now, "designs": [], "resources": [],
         "outputs": None, "tasks": [], "intents": []}
doc = {"format": "cairn-state", "version": 1, "stacks": [demo, empty],
       "pools": [{"name": "web", "description": "the web tier", "stack": "demo",
                  "created_at": now}]}
json.dump(doc, open("/dev/stdout", "w"), indent=1)
PY

# ---- dispatch and usage ---------------------------------------------------------------

run help
check "help lists pool, task, provider, output" 0 '^  pool '
expect "... and provider" grep -Eq '^  provider ' out
expect "... and output" grep -Eq '^  output ' out
expect "... and task" grep -Eq '^  task ' out
run help pool
check "help pool lists its subcommands" 0 'remove'
run help state unlock
check "help state unlock" 0 '^usage: cairn state unlock STACK'
run pool
check "pool without a subcommand is a usage error" 2 '' 'no pool command given'
run pool frob
check "unknown pool command exits 2" 2 '' "not a 'cairn pool' command"
run task
check "task without a subcommand exits 2" 2
run provider
check "provider without a subcommand exits 2" 2
run output
check "output without a stack is a usage error" 2 '' '^usage: cairn output'
run output demo url extra
check "output with three operands exits 2" 2 '' 'too many arguments'
run pool show
check "pool show without a name exits 2" 2 '' '^usage: cairn pool show'
run pool create
check "pool create without a name exits 2" 2 '' 'no pool given'
run pool create a b
check "pool create with two names exits 2" 2 '' 'too many arguments'
run pool list --frob
check "unknown option of pool list exits 2" 2 '' "unknown option '--frob'"
run pool create --description
check "--description without its text exits 2" 2 '' 'requires an argument'
run provider add onlyname
check "provider add without a path exits 2" 2 '' 'no executable given'
run provider remove
check "provider remove without a name exits 2" 2
run task show
check "task show without an id exits 2" 2
run task show abc
check "task show of a non-number exits 2" 2 '' "'abc' is not a task id"
run state unlock
check "state unlock without a stack exits 2" 2 '' 'no stack given'
run po list
check "'po' is the unique prefix of pool" 0
run prov list
check "'prov' is the unique prefix of provider" 0

# ---- read-only commands never create the store --------------------------------------

for c in "pool list" "task list" "provider list"; do
	run $c
	check "$c of a missing store exits 0" 0
done
run output demo
check "output of a missing store: stack not found, exit 1" 1 '' "stack 'demo' not found"
expect "the read-only commands did not create the store" test ! -e "$STATE"

# ---- pool -------------------------------------------------------------------------------

run pool create fast --description "SSD-backed nodes"
check "pool create" 0 '' "^Created pool 'fast'\.$"
run pool create fast
check "pool create of an existing pool exits 1" 1 '' "pool 'fast' already exists"
run pool list
check "pool list" 0 '^fast +0 +- +[0-9T:-]+Z +SSD-backed nodes$'
expect "pool list has a header" grep -Eq '^NAME +MEMBERS +STACK +CREATED +DESCRIPTION$' out
run --json pool list
check "pool list --json" 0
expect "pool list --json is JSON" is_json out
py "pool list --json: name, description, stack, members, created_at" \
	'p = d[0]; assert (p["name"], p["description"], p["stack"], p["members"]) == ("fast", "SSD-backed nodes", None, 0) and p["created_at"]'
run pool show fast
check "pool show" 0 '^description: +SSD-backed nodes$'
expect "pool show: no members" grep -Eq '^members: +0$' out
run --json pool show fast
py "pool show --json has an empty resources array" 'assert d["name"] == "fast" and d["resources"] == []'
run pool show nosuch
check "pool show of a missing pool exits 1" 1 '' "pool 'nosuch' not found"
run pool remove fast
check "pool remove of an empty pool" 0 '' "^Removed pool 'fast'\.$"
run pool show fast
check "the removed pool is gone" 1 '' "pool 'fast' not found"
run pool remove fast
check "pool remove of a missing pool exits 1" 1 '' "pool 'fast' not found"
run --json pool create json1
check "pool create --json" 0
py "pool create --json prints the pool" 'assert d["name"] == "json1" and d["members"] == 0'
run --json pool remove json1
py "pool remove --json" 'assert d == {"removed": "json1"}'

run state import doc.json
if [ "$rc" -ne 0 ]; then
	not_ok "state import of the crafted document" "exit status $rc"
	echo "Bail out! cannot import the test state"
	exit 1
fi
ok "state import of a document with pools, outputs and tasks"

run pool list
check "pool list counts the members of an imported pool" 0 '^web +3 +demo '
run pool show web
check "pool show lists the members" 0 '^demo +node\.web\[0\]$'
expect "... all three" test "$(grep -c '^demo  *node\.web' out)" -eq 3
expect "... and not the resource outside the pool" test "$(grep -c 'node\.db' out)" -eq 0
expect "pool show names the creating stack" grep -Eq '^stack: +demo$' out
run --json pool show web
py "pool show --json lists stack and address of each member" \
	'assert d["members"] == 3 and [r["address"] for r in d["resources"]] == ["node.web[0]", "node.web[1]", "node.web[2]"] and {r["stack"] for r in d["resources"]} == {"demo"}'
run pool remove web
check "removing a non-empty pool is refused" 1 '' "^cairn: pool 'web' still holds 3 resources$"
run pool show web
check "... and the pool stays" 0
run --json pool remove web
check "the refusal with --json exits 1" 1 '' '"code": *"conflict"'

# ---- output -----------------------------------------------------------------------------

run output demo
check "output lists NAME = VALUE" 0 '^url += "http://10\.0\.0\.5:8080/"$'
expect "... numbers as JSON" grep -Eq '^port += 8080$' out
expect "... lists as JSON" grep -Eq '^hosts += \["web-0","web-1"\]$' out
expect "... by name" test "$(cut -d' ' -f1 out | tr '\n' ' ')" = "hosts port tls url "
run output demo url
check "output NAME prints a string raw" 0
expect "... without quotes" test "$(cat out)" = "http://10.0.0.5:8080/"
run output demo port
check "output NAME of a number" 0 '^8080$'
run output demo tls
check "output NAME of a boolean" 0 '^false$'
run output demo hosts
check "output NAME of a list prints JSON" 0
expect "... that parses" is_json out
run --json output demo
check "output --json" 0
py "output --json is the object of all outputs" \
	'assert d == {"url": "http://10.0.0.5:8080/", "port": 8080, "hosts": ["web-0", "web-1"], "tls": False}'
run --json output demo url
py "output --json NAME is the value as JSON" 'assert d == "http://10.0.0.5:8080/"'
run output demo nosuch
check "output of a missing name exits 1" 1 '' "output 'nosuch' not found in stack 'demo'"
run output nosuch
check "output of a missing stack exits 1" 1 '' "stack 'nosuch' not found"
run output bare
check "output of a stack without outputs exits 0" 0 '' "stack 'bare' has no outputs"
expect "... and prints nothing on stdout" test ! -s out
run --json output bare
py "output --json of a stack without outputs is {}" 'assert d == {}'

# ---- task -------------------------------------------------------------------------------

run task list
check "task list" 0 '^[0-9]+ +demo +node\.db +create +failed +5 +process exited at once \(status 127\) \.\.\.$'
expect "task list has a header" grep -Eq '^ID +STACK +ADDRESS +OP +STATUS +ATTEMPTS +LAST ERROR$' out
expect "task list shows done tasks too" grep -Eq 'node\.web\[1\] +update +done' out
run task list --failed
check "task list --failed shows failed and blocked" 0 'node\.web\[2\] +create +blocked +0 +-$'
expect "... and not done ones" test "$(grep -c ' done ' out)" -eq 0
run --json task list --failed
check "task list --json" 0
py "task list --json: id, stack, address, op, status, attempts, last_error" \
	'assert sorted(t["status"] for t in d) == ["blocked", "failed"]; t = [t for t in d if t["status"] == "failed"][0]; assert t["stack"] == "demo" and t["address"] == "node.db" and t["op"] == "create" and t["attempts"] == 5 and t["last_error"].endswith("not found") and t["id"] > 0'
id=$(python3 -c 'import json; print([t["id"] for t in json.load(open("out")) if t["status"] == "failed"][0])' 2>/dev/null)
run task list demo
check "task list STACK" 0 'node\.db'
run task list bare
check "task list of a stack without tasks" 0 '' 'no tasks in stack bare'
run task list nosuch
check "task list of a missing stack exits 1" 1 '' "stack 'nosuch' not found"
run task show "${id:-1}"
check "task show ID" 0 '^status: +failed$'
expect "task show prints the whole error" grep -q '^sh: frob: not found$' out
run --json task show "${id:-1}"
py "task show --json" 'assert d["address"] == "node.db" and "\n" in d["last_error"]'
run task show 99999
check "task show of a missing task exits 1" 1 '' 'task 99999 not found'

# ---- provider ---------------------------------------------------------------------------

mkdir -p bin plugdir adir
printf '#!/bin/sh\nexit 0\n' >bin/myplug
chmod +x bin/myplug
printf '#!/bin/sh\nexit 0\n' >bin/noexec
chmod -x bin/noexec
printf '#!/bin/sh\nexit 0\n' >plugdir/cairn-provider-findme
chmod +x plugdir/cairn-provider-findme

run provider add myplug bin/myplug
check "provider add" 0 '' "^Registered provider 'myplug': $tmp/bin/myplug\.$"
run provider list
check "provider list shows the registered one, with its absolute path" 0 \
	"^myplug +registered +ok +$tmp/bin/myplug\$"
run --json provider list
check "provider list --json" 0
py "provider list --json: name, source, path, executable" \
	'p = [p for p in d if p["name"] == "myplug"][0]; assert p == {"name": "myplug", "source": "registered", "path": "'"$tmp"'/bin/myplug", "executable": True}'
if grep -q '"process"' out; then
	py "provider list finds the reference plugin 'process'" \
		'p = [p for p in d if p["name"] == "process"][0]; assert p["source"] == "found" and p["path"].startswith("/")'
else
	skip "provider list finds the reference plugin 'process'" "the process plugin is not built next to this cairn"
fi
CAIRN_PLUGIN_PATH=$tmp/plugdir run provider list
check "provider list finds plugins in CAIRN_PLUGIN_PATH" 0 \
	"^findme +found +ok +$tmp/plugdir/cairn-provider-findme\$"
cp bin/myplug bin/other
run provider add myplug bin/other
check "provider add of a registered name replaces its path" 0 '' "\(was $tmp/bin/myplug\)"
ln -s myplug bin/link
run provider add linked ./bin/../bin/link
check "provider add keeps a symlink, resolving only its directory" 0 '' "^Registered provider 'linked': $tmp/bin/link\.\$"
run provider remove linked
check "... and provider remove forgets it" 0
run provider add broken bin/noexec
check "provider add of a non-executable file exits 1" 1 '' "'bin/noexec' is not executable"
run provider add broken bin/missing
check "provider add of a missing file exits 1" 1 '' "cannot use 'bin/missing'"
run provider add broken adir
check "provider add of a directory exits 1" 1 '' "'adir' is not a regular file"
run provider add Bad/Name bin/myplug
check "provider add of a bad name exits 1" 1 '' "'Bad/Name' is not a provider type name"
run --json provider add jsonplug "$tmp/bin/myplug"
py "provider add --json" 'assert d["name"] == "jsonplug" and d["path"] == "'"$tmp"'/bin/myplug"'
chmod -x bin/other
run provider list
check "provider list flags a registered file no longer executable" 0 \
	"^myplug +registered +not executable +$tmp/bin/other\$"
run provider remove myplug
check "provider remove" 0 '' "^Removed provider 'myplug'\.$"
run provider list
expect "the removed provider is not listed" test "$(grep -c '^myplug ' out)" -eq 0
run provider remove myplug
check "provider remove of an unregistered name exits 1" 1 '' "provider 'myplug' is not registered"
run --json provider remove jsonplug
py "provider remove --json" 'assert d == {"removed": "jsonplug"}'

# ---- state unlock -----------------------------------------------------------------------

run state unlock demo
check "state unlock of an unlocked stack exits 1" 1 '' "stack 'demo' is not locked"
run state unlock nosuch
check "state unlock of a missing stack exits 1" 1 '' "stack 'nosuch' not found"

# A lock as a live apply holds it: the row cairn_store_lock_acquire() writes.
lock_stack() {
	python3 - "$STATE" "$1" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
db.execute("INSERT INTO locks (stack, holder, fence, acquired_ms, expires_ms) VALUES (?, ?, 7, ?, ?)",
           (sys.argv[2], "alice@box pid 4242", now - 60000, now + 3600000))
db.commit()
PY
}
if lock_stack demo 2>pyerr; then
	run state unlock demo
	check "state unlock forces a held lock" 0 '' \
		"^Unlocked stack 'demo' \(was held by alice@box pid 4242 since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)\.$"
	run state unlock demo
	check "... and the stack is unlocked" 1 '' "stack 'demo' is not locked"
	python3 - "$STATE" <<'PY' >/dev/null 2>&1
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT kind FROM events WHERE stack = 'demo' AND kind = 'lock.forced'").fetchall()
assert len(rows) == 1
PY
	expect "the forced unlock is recorded as an event" test $? -eq 0
	lock_stack demo 2>/dev/null
	run --json state unlock demo
	check "state unlock --json" 0
	py "state unlock --json: stack, holder, fence, since, expires, forced_by" \
		'assert d["stack"] == "demo" and d["holder"] == "alice@box pid 4242" and d["fence"] == 7 and d["since"].endswith("Z") and "@" in d["forced_by"]'
else
	for t in "state unlock forces a held lock" "the stack is unlocked" "recorded as an event" \
		 "state unlock --json"; do
		skip "$t" "cannot write a lock row: $(tail -1 pyerr)"
	done
fi

tap_end
