#!/bin/bash
# flatpak-footprint.sh BUILD_DIR: the desktop app's memory and idle CPU on
# the demo backend, sandboxed (the Flatpak ./setup.sh flatpak installed, with
# HOME at its cache) next to unsandboxed (BUILD_DIR's tether), each in a
# private Xvfb session at the default 1 s refresh. After a warm-up it reads
# the app's own VmRSS/PSS and its CPU time over a 30 s window, as
# app-footprint.sh does.
set -euo pipefail

build=$(cd "${1:?usage: flatpak-footprint.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
warmup=${WARMUP:-15}
window=${WINDOW:-30}

measure () {  # measure LABEL COMMAND...
  "$src/tests/run-with-display.sh" bash -s "$warmup" "$window" "$@" <<'INNER'
warmup=$1 window=$2 label=$3; shift 3
export GSETTINGS_BACKEND=memory
"$@" >/dev/null 2>&1 &
launcher=$!
sleep "$warmup"
# The app itself: the process whose argv[0] is tether (flatpak run and
# bwrap come before it).
app=
for f in /proc/[0-9]*/cmdline; do
  p=${f#/proc/}; p=${p%/cmdline}
  grep -qzx "TETHER_DISPLAY_SESSION=$TETHER_DISPLAY_SESSION" "/proc/$p/environ" 2>/dev/null || continue
  case "$(tr '\0' '\n' <"$f" 2>/dev/null | head -n 1)" in tether|*/tether) app=$p ;; esac
done
[ -n "$app" ] || { echo "$label: the app did not start" >&2; exit 1; }
ticks () { awk '{ print $14 + $15 }' "/proc/$app/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$window"
t1=$(ticks); s1=$(date +%s.%N)
kb () { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$app/smaps_rollup"; }
awk -v l="$label" -v r="$(kb Rss)" -v p="$(kb Pss)" -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" \
  'BEGIN { printf "%-12s %9.1f %9.1f %8.2f\n", l, r / 1024, p / 1024, (b - a) / hz / (s1 - s0) * 100 }'
kill -TERM "$app" 2>/dev/null
wait "$launcher" || true
INNER
}

echo "Desktop app on the demo backend, sandboxed and not (1 s refresh)"
printf "%-12s %9s %9s %8s\n" "app" "RSS MB" "PSS MB" "CPU %"
measure "unsandboxed" "$build/src/ui/tether" --start "$src/examples/demo.json"
# The stand-in runtime has no Mesa, so the sandboxed GDK never loads GL
# drivers; this line is the fair comparison for it.
measure "host, no GL" env GDK_DEBUG=gl-disable "$build/src/ui/tether" --start "$src/examples/demo.json"
measure "Flatpak" flatpak --user run --env=GSK_RENDERER=cairo --env=GSETTINGS_BACKEND=memory \
  org.tether.Tether --start /app/share/tether/examples/demo.json
