#!/bin/bash
# app-footprint.sh BUILD_DIR: the desktop app's memory and idle CPU.
#
# Runs the real app in a private Xvfb session (tests/run-with-display.sh),
# once on the bundled demo backend and once on a 1000-process tree, at the
# default 1 s refresh. After a warm-up it reads the app's own VmRSS and
# its CPU time (utime + stime from /proc/PID/stat) over a 30 s window.
# Targets: RSS <= 80 MB, idle CPU <= 2 % of one core.
set -euo pipefail

build=$(cd "${1:?usage: app-footprint.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
warmup=${WARMUP:-15}
window=${WINDOW:-30}

measure () {  # measure LABEL PROFILE
  "$src/tests/run-with-display.sh" bash -s "$1" "$2" "$build" "$warmup" "$window" <<'INNER'
label=$1 profile=$2 build=$3 warmup=$4 window=$5
export GSETTINGS_BACKEND=memory
"$build/src/ui/tether" --start "$profile" >/dev/null 2>&1 &
app=$!
sleep "$warmup"
ticks () { awk '{ print $14 + $15 }' "/proc/$app/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$window"
t1=$(ticks); s1=$(date +%s.%N)
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$app/status")
procs=$("$build/src/cli/tetherctl" status --json --profile "$profile" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("processes", "?"))' 2>/dev/null || echo "?")
awk -v l="$label" -v r="$rss_kb" -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" -v n="$procs" \
  'BEGIN { printf "%-28s %8s %10.1f %10.2f\n", l, n, r / 1024, (b - a) / hz / (s1 - s0) * 100 }'
kill -TERM "$app"; wait "$app" || true
INNER
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/tree-1000.json" <<JSON
{
  "name": "1000-process tree",
  "command": ["$build/tests/tether-test-tree", "tether-bench-footprint", "tree", "999"],
  "stop": {"graceful_timeout": 5}
}
JSON

echo "Desktop app footprint (1 s refresh; target RSS <= 80 MB, idle CPU <= 2 %)"
printf "%-28s %8s %10s %10s\n" "backend" "procs" "RSS (MB)" "CPU (%)"
measure "demo" "$src/examples/demo.json"
measure "1000-process tree" "$tmp/tree-1000.json"
