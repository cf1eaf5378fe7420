#!/bin/sh
# Run a fuzz target on a scratch copy of the seed corpus.
#
#   tests/fuzz/run-fuzz.sh BINARY CORPUS_DIR [ARG...]
#
# Makes a temporary directory, copies CORPUS_DIR into it, and runs
# "BINARY ARG... corpus" there with stdin from /dev/null: the source tree is
# never written (libFuzzer adds what it finds to its corpus directory), and
# includes named by an input resolve inside the scratch directory.  BINARY is
# the libFuzzer target (ARG are libFuzzer flags) or the gcc replay driver.
# The stacks in the include/ directory next to CORPUS_DIR are copied to
# inc/ in the scratch directory, so that inputs with "include: inc/..."
# exercise includes.
#
# When the run fails, what libFuzzer saved (crash-*, leak-*, timeout-*,
# oom-*, slow-unit-*) is copied to $FUZZ_ARTIFACTS (default:
# ./fuzz-artifacts, relative to where the script was started) and listed.
# The exit status is the target's, except that libFuzzer's 77 (its default
# for a crash or a leak) becomes 1: meson would count 77 as a skipped test.
set -u

bin=${1:?usage: run-fuzz.sh BINARY CORPUS_DIR [ARG...]}
corpus=${2:?usage: run-fuzz.sh BINARY CORPUS_DIR [ARG...]}
shift 2

here=$(pwd)
case $bin in /*) ;; *) bin=$here/$bin ;; esac
case $corpus in /*) ;; *) corpus=$here/$corpus ;; esac
artifacts=${FUZZ_ARTIFACTS:-$here/fuzz-artifacts}
case $artifacts in /*) ;; *) artifacts=$here/$artifacts ;; esac

[ -x "$bin" ] || { echo "run-fuzz.sh: '$bin' is not an executable" >&2; exit 2; }
[ -d "$corpus" ] || { echo "run-fuzz.sh: '$corpus' is not a directory" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
mkdir "$tmp/corpus" "$tmp/work" || exit 2
cp -R "$corpus"/. "$tmp/corpus/" || exit 2
include=$(dirname "$corpus")/include
if [ -d "$include" ]; then
	mkdir "$tmp/work/inc" && cp -R "$include"/. "$tmp/work/inc/" || exit 2
fi

cd "$tmp/work" || exit 2
"$bin" "$@" "$tmp/corpus" </dev/null
rc=$?

if [ "$rc" -ne 0 ]; then
	saved=0
	for f in crash-* leak-* timeout-* oom-* slow-unit-*; do
		[ -f "$f" ] || continue
		mkdir -p "$artifacts" && cp "$f" "$artifacts/" && saved=1 &&
			echo "run-fuzz.sh: saved $artifacts/$f"
	done
	[ "$saved" -eq 1 ] || echo "run-fuzz.sh: the target failed with status $rc; no artifact was saved"
fi
[ "$rc" -eq 77 ] && rc=1
exit "$rc"
