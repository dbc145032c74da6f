#!/bin/sh
# src/core/ is the GTK-free lifecycle library: the CLI, the shim and the
# tests link it without a display. Fails, naming what it found, if GTK,
# GDK, GSK, libadwaita, Pango or cairo creep in -- in the built library's
# symbols (what it would need at link time) or in an include.
#   check-core-no-gtk.sh SRC_CORE_DIR LIBTETHER_CORE_A
set -u
core="$1"
lib="$2"

# The files must be there at all, or this check proves nothing.
[ -f "$core/tether-supervisor.c" ] || { echo "no $core/tether-supervisor.c" >&2; exit 1; }
[ -s "$lib" ] || { echo "no library at $lib" >&2; exit 1; }

# Every symbol the library uses but does not define.
undefined=$(nm -u "$lib" 2>/dev/null) || { echo "nm cannot read $lib" >&2; exit 1; }
[ -n "$undefined" ] || { echo "nm found no symbols in $lib" >&2; exit 1; }
# It must use GLib (a sanity check that the list is real).
echo "$undefined" | grep -q ' g_object_new$' || { echo "no GLib symbol in $lib?" >&2; exit 1; }
hits=$(echo "$undefined" | grep -E ' (gtk|gdk|gsk|adw|pango|cairo)_' || true)
if [ -n "$hits" ]; then
  echo "libtether-core uses GUI symbols:" >&2
  echo "$hits" >&2
  exit 1
fi

hits=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"]((gtk|gdk|gsk|adwaita|adw|pango|cairo)/|(gtk|gdk|adwaita|pango|cairo)\.h)' "$core" || true)
if [ -n "$hits" ]; then
  echo "src/core must not include GTK:" >&2
  echo "$hits" >&2
  exit 1
fi
exit 0
