# tests/lib/tap.sh - sourced: TAP output for the shell tests.
#
#   ok TEXT                   "ok N - TEXT"
#   not_ok TEXT [DETAIL]      "not ok N - TEXT", DETAIL as # lines (its last $TAP_DETAIL_LINES, 30)
#   check TEXT COND [DETAIL]  ok when COND (eval'ed) holds, else not_ok with DETAIL
#                             (when none is given: what tap_default_detail prints,
#                             nothing unless the test defines it)
#   bail TEXT [DETAIL]        "Bail out! TEXT" and exit 1
#   tap_end                   "1..N", and the exit status: 0 when nothing failed
#   tap_skip_unless_hosts     "1..0 # SKIP" and exit 0 unless this can make sshd test hosts
#                             (tests/static/hosts.sh: root, ip, unshare, sshd)
# shellcheck shell=bash

n=0; failed=0
TAP_DETAIL_LINES=${TAP_DETAIL_LINES:-30}
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n+1)); failed=$((failed+1)); echo "not ok $n - $1"
	[ -n "${2:-}" ] && sed 's/^/# /' <<<"$2" | tail -"$TAP_DETAIL_LINES"
	return 0
}
tap_default_detail() { :; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-$(tap_default_detail)}"; fi; }
bail() { echo "Bail out! $1"; [ -n "${2:-}" ] && sed 's/^/# /' <<<"$2"; exit 1; }
tap_end() { echo "1..$n"; [ "$failed" = 0 ]; }
tap_skip_unless_hosts() {
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || [ ! -x /usr/sbin/sshd ] ||
	   ! command -v unshare >/dev/null; then
		echo "1..0 # SKIP needs root, ip(8), unshare(1) and /usr/sbin/sshd"
		exit 0
	fi
}
