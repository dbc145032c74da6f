#!/usr/bin/env bash
# `meson install` yields a working app and CLI: installs this build into a
# scratch DESTDIR and runs what landed there, never the build tree's copies.
#
# Usage: test-install.sh MESON BUILD_ROOT PREFIX BINDIR LIBEXECDIR VERSION
# (BINDIR and LIBEXECDIR as meson has them: relative to PREFIX.) TAP output.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail

meson=$1 build_root=$2 prefix=$3 bindir=$4 libexecdir=$5 version=$6
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tether-install-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
root="$scratch/dest$prefix"
n=0 failed=0

ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () {
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  shift
  for line in "$@"; do echo "# $line"; done
}

# The programs must find their shim themselves, as an installed app does.
unset TETHER_SHIM
export XDG_RUNTIME_DIR="$scratch/run" XDG_STATE_HOME="$scratch/state" XDG_CACHE_HOME="$scratch/cache"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

if out=$("$meson" install -C "$build_root" --no-rebuild --destdir "$scratch/dest" 2>&1); then
  ok "meson install --destdir"
else
  not_ok "meson install --destdir" "$(tail -n 5 <<<"$out")"
  echo "1..$n"
  exit 1
fi

tetherctl="$root/$bindir/tetherctl"
tether="$root/$bindir/tether"
shim="$root/$libexecdir/tether-shim"

out=$("$tetherctl" --version 2>&1)
if [ "$out" = "tetherctl $version" ]; then
  ok "installed tetherctl --version"
else
  not_ok "installed tetherctl --version" "got: $out" "expected: tetherctl $version"
fi

# --help is answered before the app needs a display or a session bus.
out=$(env -u DISPLAY -u WAYLAND_DISPLAY "$tether" --help 2>&1)
if [ $? -eq 0 ] && grep -q -- "--start" <<<"$out" && grep -q "PROFILE.json" <<<"$out"; then
  ok "installed tether --help"
else
  not_ok "installed tether --help" "got: $(head -n 5 <<<"$out")"
fi

# The German catalog, found by the installed tetherctl beside itself (the
# configured localedir holds none while it is only staged).
out=$(env -u LC_ALL -u LC_MESSAGES LANG=C.UTF-8 LANGUAGE=de "$tetherctl" --help 2>&1)
if grep -q "^Aufruf:" <<<"$out" && grep -q "Ein Backend im Vordergrund überwachen, bis Strg-C" <<<"$out"; then
  ok "LANGUAGE=de: the installed tetherctl speaks German"
else
  not_ok "LANGUAGE=de: the installed tetherctl speaks German" "got: $(head -n 3 <<<"$out")"
fi

# The desktop app's own strings (po/de.po covers them all): its options...
if [ -x "$tether" ]; then
  out=$(env -u DISPLAY -u WAYLAND_DISPLAY -u LC_ALL -u LC_MESSAGES LANG=C.UTF-8 LANGUAGE=de "$tether" --help 2>&1)
  if grep -q "Das Backend starten, sobald das Profil geöffnet ist" <<<"$out" && grep -q "PROFIL.json" <<<"$out"; then
    ok "LANGUAGE=de: the installed tether --help speaks German"
  else
    not_ok "LANGUAGE=de: the installed tether --help speaks German" "got: $(head -n 12 <<<"$out")"
  fi
fi

# ...and its window, read through AT-SPI in a private Xvfb: the title, the
# state pill and the Start button (tests/ui/test-i18n.py).
here=$(cd "$(dirname "$0")" && pwd)
schema=$root/share/glib-2.0/schemas
why_skip=
if [ ! -x "$tether" ]; then
  why_skip="the app is not built (-Dgui=false)"
elif ! command -v Xvfb >/dev/null || ! command -v dbus-run-session >/dev/null; then
  why_skip="no Xvfb or dbus-run-session"
elif ! /usr/bin/python3 -c 'import gi; gi.require_version("Atspi", "2.0")' 2>/dev/null; then
  why_skip="no python3-gi with Atspi"
elif [ ! -f "$schema/org.tether.Tether.gschema.xml" ] || ! command -v glib-compile-schemas >/dev/null; then
  why_skip="no staged GSettings schema to compile"
fi
if [ -n "$why_skip" ]; then
  n=$((n + 1)); echo "ok $n - LANGUAGE=de: the installed app's window speaks German # SKIP $why_skip"
else
  mkdir -p "$scratch/schemas" && cp "$schema"/*.gschema.xml "$scratch/schemas/" &&
    glib-compile-schemas "$scratch/schemas"
  out=$(env -u LC_ALL -u LC_MESSAGES LANG=C.UTF-8 LANGUAGE=de TETHER_APP="$tether" \
          GSETTINGS_SCHEMA_DIR="$scratch/schemas" \
          timeout 150 "$here/run-with-display.sh" /usr/bin/python3 "$here/ui/test-i18n.py" 2>&1)
  if [ $? -eq 0 ]; then
    ok "LANGUAGE=de: the installed app's window speaks German (title, state, Start button over AT-SPI)"
  else
    not_ok "LANGUAGE=de: the installed app's window speaks German (title, state, Start button over AT-SPI)" \
      "$(grep -v '^ok ' <<<"$out" | tail -n 25)"
  fi
fi

if [ -x "$shim" ]; then
  ok "tether-shim installed in libexecdir"
else
  not_ok "tether-shim installed in libexecdir" "no executable $shim"
fi

# The backend's parent is the shim that owns its tree: it must be the one
# beside the installed tetherctl, not the build tree's or another install's.
# owner=reaper with TETHER_FLATPAK_INFO pointing at a file: what the app
# picks in a Flatpak sandbox; auto picks cgroup or reaper on the host.
probe () {
  local owner_env=$1 name=$2
  local seen="$scratch/$name.shim" profile="$scratch/$name.json" events="$scratch/$name.events"
  cat >"$profile" <<EOF
{"name": "install-probe-$name",
 "command": ["sh", "-c", "readlink /proc/\$PPID/exe > '$seen'"]}
EOF
  env $owner_env timeout 30 "$tetherctl" run --json "$profile" >"$events" 2>&1
  if [ "$(cat "$seen" 2>/dev/null)" = "$shim" ]; then
    ok "$name: the backend runs under the installed shim"
  else
    not_ok "$name: the backend runs under the installed shim" \
      "its parent was: $(cat "$seen" 2>/dev/null || echo '(no answer)')" "expected: $shim" \
      "$(tail -n 3 "$events")"
  fi
  grep -o '"owner":"[a-z]*"' "$events" | head -n 1 | cut -d'"' -f4 >"$scratch/$name.owner"
}

probe "" host
probe "TETHER_FLATPAK_INFO=$scratch/host.json" flatpak
owner=$(cat "$scratch/host.owner") flatpak_owner=$(cat "$scratch/flatpak.owner")
if [ "$flatpak_owner" = reaper ]; then
  ok "with /.flatpak-info (TETHER_FLATPAK_INFO) auto ownership is the reaper shim"
else
  not_ok "with /.flatpak-info (TETHER_FLATPAK_INFO) auto ownership is the reaper shim" \
    "owner was: ${flatpak_owner:-none}; on this host auto gives ${owner:-none}"
fi

echo "1..$n"
exit $failed
