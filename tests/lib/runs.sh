# tests/lib/runs.sh - sourced: what a test run makes outside itself (routes,
# network namespaces, daemons, libvirt objects) is written down as it is
# made, so that when the run is killed with SIGKILL (no trap runs) the next
# run of its kind removes it.
#
#   runs_claim KIND WHAT VALUE...   add "WHAT VALUE..." to this run's record
#   runs_unclaim KIND WHAT VALUE... take that line back (it was removed)
#   runs_done KIND                  this run removed everything: no record
#   runs_reap KIND HANDLER          for each record of a dead run: HANDLER
#                                   WHAT VALUE... per line, then the record goes
#   runs_starttime PID              the start time of PID (empty: gone, zombie)
#   runs_alive PID START            is PID alive and started at START?
#
# A record is $RUNS_DIR/KIND/PID, PID being the test shell's ($$, also in
# $(...)), first line "start T" with its start time: a PID reused by another
# process has another, so a live run is never mistaken for a dead one.
# $RUNS_DIR is under /run, a tmpfs: records go at reboot with the routes,
# namespaces and processes they name.
# shellcheck shell=bash

RUNS_DIR=${RUNS_DIR:-/run/cairn-tests}

# field 22 of /proc/PID/stat
runs_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }            # fields from 3 on: the name may hold spaces
	# shellcheck disable=SC2086
	set -- $stat
	[ "$1" != Z ] || return 1
	echo "${20}"
}

runs_alive() { [ -n "$2" ] && [ "$(runs_starttime "$1")" = "$2" ]; }

runs_claim() {
	local kind=$1 f
	shift
	f=$RUNS_DIR/$kind/$$
	mkdir -p "$RUNS_DIR/$kind" 2>/dev/null || return 0
	[ -s "$f" ] || echo "start $(runs_starttime $$)" > "$f"
	grep -qxF "$*" "$f" || echo "$*" >> "$f"
}

runs_unclaim() {
	local kind=$1 f line
	shift
	f=$RUNS_DIR/$kind/$$
	[ -f "$f" ] || return 0
	line=$*
	grep -vxF "$line" "$f" > "$f.new"; mv "$f.new" "$f"
}

runs_done() { rm -f "$RUNS_DIR/$1/$$"; }

runs_reap() {
	local kind=$1 handler=$2 f pid start line
	for f in "$RUNS_DIR/$kind"/*; do
		[ -f "$f" ] || continue
		pid=${f##*/}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		read -r _ start < "$f"
		runs_alive "$pid" "$start" && continue
		echo "removing what the dead run $pid left: $(sed 1d "$f" | tr '\n' ' ')" >&2
		while read -r line; do
			# shellcheck disable=SC2086
			"$handler" $line
		done < <(sed 1d "$f")
		rm -f "$f"
	done
}
