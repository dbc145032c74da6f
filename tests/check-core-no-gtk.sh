#!/bin/sh
# src/core/ is the GTK-free lifecycle library: the CLI, the shim and the tests
# link it without a display. Fails, naming the lines, if GTK or libadwaita
# creeps in.
set -u
core="$1"
hits=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](gtk|gdk|adwaita|adw)/' "$core" || true)
if [ -n "$hits" ]; then
  echo "src/core must not include GTK:" >&2
  echo "$hits" >&2
  exit 1
fi
# And the files must be there at all, or this check proves nothing.
ls "$core"/tether-supervisor.c >/dev/null || exit 1
exit 0
