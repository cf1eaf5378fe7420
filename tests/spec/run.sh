#!/usr/bin/env bash
# Golden tests of the stack language: every file under tests/spec/ is a case.
#
#   tests/spec/run.sh path/to/cairn path/to/source-root
#   CAIRN_TEST_REGENERATE=1 tests/spec/run.sh ...   # rewrite the goldens
#
#   invalid/NNN-name.yml   must fail `cairn validate` with exit 1 and print
#                          exactly invalid/NNN-name.err on stderr
#   valid/NAME.yml         must validate; `cairn plan` against an empty state
#                          prints valid/NAME.plan, `cairn graph` valid/NAME.graph
#   examples/*.yml         must validate and plan (no golden)
#   inc/ folders           helper files of the cases above, never run alone
#
# A case may start with comment lines read by this script:
#   # args: --var n=3      extra arguments, passed before the file name
#   # todo: REASON         a known loader bug: the case is reported as TAP
#                          "# TODO" (an expected failure) until it is fixed;
#                          its golden is hand-written (what cairn should
#                          print) and regeneration leaves it alone
#
# Paths in the goldens read tests/spec/...: cairn runs from the source root.
# With CAIRN_TEST_REGENERATE=1 the goldens are written from cairn's output
# instead of compared (review the diff with git), after libvirt's
# VIR_TEST_REGENERATE_OUTPUT; exit statuses are still checked.
#
# Prints TAP and exits 1 when a case failed.
set -u

usage() { echo "usage: tests/spec/run.sh CAIRN_BINARY SOURCE_ROOT" >&2; exit 2; }
[ $# -eq 2 ] || usage
CAIRN=$1
case $CAIRN in /*) ;; *) CAIRN=$PWD/$CAIRN ;; esac
[ -x "$CAIRN" ] || { echo "Bail out! '$CAIRN' is not an executable"; exit 1; }
cd "$2" || { echo "Bail out! cannot cd to '$2'"; exit 1; }
[ -d tests/spec/invalid ] || { echo "Bail out! '$2' is not cairn's source root"; exit 1; }

REGEN=${CAIRN_TEST_REGENERATE:-0}
[ "$REGEN" = 0 ] && REGEN=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-spec-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Nothing from the environment of whoever runs us: no state, no variables,
# no colour.
unset CAIRN_STATE
for v in $(env | sed -n 's/^\(CAIRN_VAR_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export NO_COLOR=1 XDG_STATE_HOME=$tmp/xdg HOME=$tmp/home LC_ALL=C

n=0
failed=0
todo=     # "# TODO reason" of the case being run, or empty

ok() {
	n=$((n + 1))
	echo "ok $n - $1${todo:+ $todo}"
}

# not_ok NAME [COMMENT-LINE]...: a failed case; the lines follow as TAP comments.
not_ok() {
	n=$((n + 1))
	echo "not ok $n - $1${todo:+ $todo}"
	[ -n "$todo" ] || failed=$((failed + 1))
	shift
	for line in "$@"; do echo "#   $line"; done
}

# comment FILE: a file's first 30 lines as TAP comments.
comment() { sed -n '1,30s/^/#     /p' "$1"; }

# run OUT ERR ARGS...: cairn's stdout in OUT, stderr in ERR, status in $rc.
run() {
	local out=$1 err=$2
	shift 2
	"$CAIRN" "$@" >"$out" 2>"$err"
	rc=$?
}

# sanitized ERR: ok when ERR holds no sanitizer report.
sanitized() { ! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }

# golden NAME GOLDEN ACTUAL: compare ACTUAL with GOLDEN, or rewrite GOLDEN.
golden() {
	local name=$1 want=$2 got=$3

	if [ -n "$REGEN" ] && [ -n "$todo" ]; then
		# The golden of a known bug says what cairn should print:
		# kept until the "# todo:" line goes.
		not_ok "$name" "golden kept: remove the todo line to regenerate it"
	elif [ -n "$REGEN" ]; then
		cp "$got" "$want"
		ok "$name"
	elif [ ! -e "$want" ]; then
		not_ok "$name" "no golden file '$want' (CAIRN_TEST_REGENERATE=1 writes it)"
		comment "$got"
	elif cmp -s "$want" "$got"; then
		ok "$name"
	else
		not_ok "$name" "output differs from '$want':"
		diff -u "$want" "$got" | sed -n '1,60s/^/#     /p'
	fi
}

# header FILE: set $args (array) and $todo from the case's first comment lines.
header() {
	local line reason
	args=()
	todo=
	while IFS= read -r line; do
		case $line in
		'# args:'*) read -ra args <<<"${line#'# args:'}" ;;
		'# todo:'*) reason=${line#'# todo:'}; todo="# TODO${reason}" ;;
		'#'*) ;;
		*) break ;;
		esac
	done <"$1"
}

# ---- invalid stacks: exit 1 and exactly the expected messages ------------------

for f in tests/spec/invalid/*.yml; do
	name=invalid/$(basename "$f" .yml)
	header "$f"
	start=$(date +%s%N)
	run "$tmp/out" "$tmp/err" --no-color validate "${args[@]}" "$f"
	end=$(date +%s%N)
	if ! sanitized "$tmp/err"; then
		not_ok "$name" "sanitizer report:"
		comment "$tmp/err"
	elif [ "$rc" -ne 1 ]; then
		not_ok "$name" "exit status $rc, expected 1"
		comment "$tmp/err"
	elif [ -s "$tmp/out" ]; then
		not_ok "$name" "unexpected output on stdout:"
		comment "$tmp/out"
	else
		golden "$name" "${f%.yml}.err" "$tmp/err"
	fi

	# The one timing check: an alias bomb is a denial of service, refused
	# at once rather than expanded.
	case $f in
	*billion-laughs*)
		ms=$(((end - start) / 1000000))
		if [ "$ms" -lt 2000 ]; then
			ok "$name refused in under 2 s (${ms} ms)"
		else
			not_ok "$name refused in under 2 s" "took ${ms} ms"
		fi
		;;
	esac
done
todo=

# ---- valid stacks: validate, plan against an empty state, graph ----------------

for f in tests/spec/valid/*.yml; do
	name=valid/$(basename "$f" .yml)
	header "$f"
	state=$(mktemp -d "$tmp/state.XXXXXX")

	run "$tmp/out" "$tmp/err" --no-color validate "${args[@]}" "$f"
	if [ "$rc" -eq 0 ] && sanitized "$tmp/err"; then
		ok "$name validates"
	else
		not_ok "$name validates" "exit status $rc, expected 0"
		comment "$tmp/err"
	fi

	run "$tmp/out" "$tmp/err" --no-color --state "$state/state.db" plan "${args[@]}" "$f"
	if [ "$rc" -ne 0 ] || ! sanitized "$tmp/err"; then
		not_ok "$name plan" "exit status $rc, expected 0"
		comment "$tmp/err"
	elif grep -qF "$state" "$tmp/out" "$tmp/err"; then
		not_ok "$name plan" "the output shows the state path '$state'"
	else
		golden "$name plan" "${f%.yml}.plan" "$tmp/out"
	fi

	run "$tmp/out" "$tmp/err" --no-color graph "${args[@]}" "$f"
	if [ "$rc" -ne 0 ] || ! sanitized "$tmp/err"; then
		not_ok "$name graph" "exit status $rc, expected 0"
		comment "$tmp/err"
	else
		golden "$name graph" "${f%.yml}.graph" "$tmp/out"
	fi
done
todo=

# ---- examples: what users copy must validate and plan --------------------------

for f in examples/*.yml; do
	[ -e "$f" ] || continue
	name=$f
	state=$(mktemp -d "$tmp/state.XXXXXX")

	run "$tmp/out" "$tmp/err" --no-color validate "$f"
	if [ "$rc" -eq 0 ] && sanitized "$tmp/err"; then
		ok "$name validates"
	else
		not_ok "$name validates" "exit status $rc, expected 0"
		comment "$tmp/err"
	fi

	run "$tmp/out" "$tmp/err" --no-color --state "$state/state.db" plan "$f"
	if [ "$rc" -eq 0 ] && sanitized "$tmp/err"; then
		ok "$name plans"
	else
		not_ok "$name plans" "exit status $rc, expected 0"
		comment "$tmp/err"
	fi
done

# ---- bad input: one clear line, exit 1, no state written -----------------------

bad=$tmp/bad
mkdir -p "$bad/directory.yml"
: >"$bad/empty.yml"
head -c 4096 /dev/urandom >"$bad/binary.yml"
# A NUL byte for sure, whatever the random bytes were.
printf '\0' | dd of="$bad/binary.yml" bs=1 seek=100 conv=notrunc status=none
truncate -s 100M "$bad/huge.yml"

for what in "missing:a missing file" "directory:a directory" "empty:an empty file" \
	    "binary:a binary file" "huge:a 100 MB file"; do
	label=${what#*:}
	what=${what%%:*}
	f=$bad/$what.yml
	for cmd in validate plan; do
		name="bad input: $cmd of $label"
		state=$bad/state-$what-$cmd.db
		run "$tmp/out" "$tmp/err" --no-color --state "$state" "$cmd" "$f"
		lines=$(wc -l <"$tmp/err")
		if [ "$rc" -ne 1 ]; then
			not_ok "$name" "exit status $rc, expected 1"
			comment "$tmp/err"
		elif [ "$lines" -ne 1 ]; then
			not_ok "$name" "$lines lines on stderr, expected exactly one:"
			comment "$tmp/err"
		elif [ -e "$state" ]; then
			not_ok "$name" "the state '$state' was created"
		else
			ok "$name"
		fi
	done
done

echo "1..$n"
[ "$failed" -eq 0 ]
