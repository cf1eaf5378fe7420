#!/usr/bin/env bash
# The demo of part 1: validate, plan and graph every stack in examples/
# against a fresh, throw-away state.  `make demo` runs it after building.
#
#   CAIRN=path/to/cairn scripts/demo.sh      (default: build/cairn)
#
# The DOT graph of each example is also rendered to build/demo/NAME.svg when
# graphviz is installed (scripts/deps.sh installs it).
set -uo pipefail

CAIRN=${CAIRN:-build/cairn}
out=${CAIRN_DEMO_OUT:-build/demo}

if [ ! -x "$CAIRN" ]; then
  echo "demo: no cairn binary at '$CAIRN' (build it with 'make')" >&2
  exit 1
fi
shopt -s nullglob
examples=(examples/*.yml)
if [ ${#examples[@]} -eq 0 ]; then
  echo "demo: no stacks in examples/" >&2
  exit 1
fi

state_dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX") || exit 1
trap 'rm -rf "$state_dir"' EXIT
state="$state_dir/state.db"
mkdir -p "$out"

failed=0
run() {
  echo "\$ cairn $*"
  "$CAIRN" --state "$state" "$@" || { echo "demo: 'cairn $*' failed (exit $?)" >&2; failed=$((failed + 1)); }
}

for f in "${examples[@]}"; do
  name=$(basename "$f" .yml)
  printf '\n==== %s ====\n' "$f"
  run validate "$f"
  run plan "$f"
  echo "\$ cairn graph $f"
  if dot_out=$("$CAIRN" --state "$state" graph "$f"); then
    printf '%s\n' "$dot_out"
    if command -v dot >/dev/null 2>&1; then
      if printf '%s\n' "$dot_out" | dot -Tsvg -o "$out/$name.svg"; then
        echo "(drawn to $out/$name.svg)"
      else
        echo "demo: graphviz could not draw the graph of '$f'" >&2
        failed=$((failed + 1))
      fi
    fi
  else
    echo "demo: 'cairn graph $f' failed" >&2
    failed=$((failed + 1))
  fi
done

printf '\n'
if [ $failed -ne 0 ]; then
  echo "demo: $failed command(s) failed" >&2
  exit 1
fi
echo "demo: ${#examples[@]} example(s) validated, planned and graphed"
