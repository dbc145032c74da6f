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

measure () {  # measure LABEL PROFILE [GDK_DEBUG]
  "$src/tests/run-with-display.sh" bash -s "$1" "$2" "$build" "$warmup" "$window" "${3:-}" <<'INNER'
label=$1 profile=$2 build=$3 warmup=$4 window=$5
export GSETTINGS_BACKEND=memory GDK_DEBUG=$6
"$build/src/ui/tether" --start "$profile" >/dev/null 2>&1 &
app=$!
sleep "$warmup"
ticks () { awk '{ print $14 + $15 }' "/proc/$app/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$window"
t1=$(ticks); s1=$(date +%s.%N)
kb () { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$app/smaps_rollup"; }
rss=$(kb Rss) pss=$(kb Pss) priv=$(kb Private_Dirty)
procs=$("$build/src/cli/tetherctl" tree --json --profile "$profile" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["processes"])' 2>/dev/null || echo "?")
awk -v l="$label" -v r="$rss" -v p="$pss" -v d="$priv" -v a="$t0" -v b="$t1" -v hz="$hz" \
    -v s0="$s0" -v s1="$s1" -v n="$procs" \
  'BEGIN { printf "%-24s %6s %9.1f %9.1f %9.1f %8.2f\n", l, n, r / 1024, p / 1024, d / 1024,
           (b - a) / hz / (s1 - s0) * 100 }'
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
printf "%-24s %6s %9s %9s %9s %8s\n" "backend" "procs" "RSS MB" "PSS MB" "priv MB" "CPU %"
measure "demo" "$src/examples/demo.json"
measure "1000-process tree" "$tmp/tree-1000.json"
measure "demo, no GL" "$src/examples/demo.json" gl-disable
measure "1000-process tree, no GL" "$tmp/tree-1000.json" gl-disable
