#!/bin/bash
# take-screenshot.sh BUILD_DIR OUT.png: the app on the demo backend.
#
# A private Xvfb session (tests/run-with-display.sh); the demo runs for a
# while so the graphs have something to show; the window is cropped out of
# the root window (no window manager: it sits at +0+0).
set -euo pipefail

build=$(cd "${1:?usage: take-screenshot.sh BUILD_DIR OUT.png}" && pwd)
out=$(realpath -m "${2:?usage: take-screenshot.sh BUILD_DIR OUT.png}")
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v import >/dev/null || { echo "take-screenshot.sh: imagemagick's import is missing" >&2; exit 2; }

TETHER_XVFB_SCREEN=1280x800x24 "$src/tests/run-with-display.sh" bash -s "$build" "$src" "$out" <<'INNER'
set -eu
build=$1 src=$2 out=$3
# Debian's python3 for the demo, so its command line shows a system path.
export PATH="/usr/bin:/bin:$PATH"
# A one-minute graph span: the 20 s run fills a third of the graphs.
export GSETTINGS_BACKEND=keyfile XDG_CONFIG_HOME="$XDG_RUNTIME_DIR/config"
mkdir -p "$XDG_CONFIG_HOME/glib-2.0/settings"
printf '[org/tether/Tether]\ngraph-span=uint32 60\nwindow-width=900\nwindow-height=600\n' \
  > "$XDG_CONFIG_HOME/glib-2.0/settings/keyfile"
cd "$src/examples"
"$build/src/ui/tether" --start demo.json &
app=$!
# Some traffic for the demo's status text and graphs.
for i in $(seq 20); do
  sleep 1
  python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8765/", timeout=2).read()' \
    >/dev/null 2>&1 || true
done
geometry=$(xwininfo -root -tree | awk '/"Demo server — Tether"/ { print $(NF-1); exit }')
import -window root -crop "${geometry%+*+*}+0+0" +repage "$out"
kill -TERM "$app"
wait "$app"
INNER
echo "take-screenshot.sh: wrote $out"
