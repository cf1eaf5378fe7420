# tests/cli/lib.sh - sourced by tests/cli/run*.sh: TAP cases about one cairn
# run whose stdout is in ./out, stderr in ./err and status in $rc (the
# scripts' own run() puts them there).
#
#   ok NAME                    "ok N - NAME"
#   skip NAME WHY              "ok N - NAME # SKIP WHY"
#   not_ok NAME [LINE...]      "not ok N - NAME", the lines, then the first
#                              15 lines of ./out and ./err as # comments
#   check NAME STATUS [OUT_RE] [ERR_RE]
#                              ok when $rc is STATUS and stdout / stderr
#                              match the grep -E patterns given
#   expect NAME COMMAND...     ok when the command succeeds
#   tap_end                    "1..N", and status 0 when nothing failed
# shellcheck shell=bash

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do echo "#   $line"; done
	if [ -s out ]; then echo "#   stdout:"; sed -n '1,15s/^/#     /p' out; fi
	if [ -s err ]; then echo "#   stderr:"; sed -n '1,15s/^/#     /p' err; fi
}

check() {
	local name=$1 want=$2 out_re=${3:-} err_re=${4:-}

	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit status $rc, expected $want"
	elif [ -n "$out_re" ] && ! grep -Eq -- "$out_re" out; then
		not_ok "$name" "stdout does not match /$out_re/"
	elif [ -n "$err_re" ] && ! grep -Eq -- "$err_re" err; then
		not_ok "$name" "stderr does not match /$err_re/"
	else
		ok "$name"
	fi
}

expect() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

tap_end() { echo "1..$n"; [ "$failed" -eq 0 ]; }
