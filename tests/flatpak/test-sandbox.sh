#!/usr/bin/env bash
# The Flatpak build of Tether in a real sandbox, on an adversarial backend.
#
# Usage: test-sandbox.sh OUT_DIR
# Run it inside tests/run-with-display.sh (a private Xvfb and session bus),
# with HOME holding the flatpak user installation where org.tether.Tether is
# installed (./setup.sh flatpak-test does all of this).
# OUT_DIR receives the app's log and a screenshot of the sandboxed window.
#
# It starts the sandboxed app on the bundled stubborn_tree.py (its main
# process, a double-forked setsid daemon and the daemon's worker all ignore
# SIGTERM), drives Start and Stop as a script would, through the actions
# the app exports on the session bus under its application id, and looks
# at the host's /proc for the backend's processes by a marker unique to this
# run. TAP output; every wait is bounded.
#
# What the stand-in runtime (Debian bookworm's packages) cannot prove and
# only a build on the real org.gnome.Platform can: that Tether builds and
# links against GNOME's own GLib/GTK/libadwaita versions, draws with the
# GL renderer, and opens profiles through the file chooser portal of a real
# desktop. The sandbox itself (bubblewrap, pid namespace, no cgroupfs, the
# D-Bus proxy) is flatpak's and the same as with any runtime.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail

out=$1
app=org.tether.Tether
mkdir -p "$out"
marker="tether-sandbox-test-$$-$RANDOM"
# The app's own data directory is the one host path the sandbox sees (at
# the same path), with no --filesystem permission.
appdir="$HOME/.var/app/$app"
profile="$appdir/sandbox-test-$$.json"
mkdir -p "$appdir"
cat >"$profile" <<EOF
{
  "name": "Sandbox test",
  "command": ["python3", "/app/share/tether/examples/stubborn_tree.py", "$marker"],
  "env": {"PYTHONUNBUFFERED": "1"},
  "stop": {"graceful_timeout": 2, "term_timeout": 2}
}
EOF

n=0 failed=0 app_pid=
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () {
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  shift
  for line in "$@"; do echo "# $line"; done
}
finish () {
  # Only what this test started: the flatpak run (and its sandbox) and the
  # marked backend, by pid.
  [ -n "$app_pid" ] && kill -KILL "$app_pid" 2>/dev/null
  [ -n "${flatpak_pid:-}" ] && kill -KILL "$flatpak_pid" 2>/dev/null
  for p in $(marked_pids); do kill -KILL "$p" 2>/dev/null; done
  rm -f "$profile"
  echo "1..$n"
  exit $failed
}
trap finish EXIT

# Host pids whose command line carries the marker.
marked_pids () {
  local f p
  for f in $(grep -lF -- "$marker" /proc/[0-9]*/cmdline 2>/dev/null); do
    p=${f#/proc/}; p=${p%/cmdline}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || echo "$p"
  done
}
count_marked () { marked_pids | wc -l; }

# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for () {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
have_marked () { [ "$(count_marked)" -ge "$1" ]; }
no_marked () { [ "$(count_marked)" -eq 0 ]; }
bus_name_owned () {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner "$app" 2>/dev/null | grep -q true
}
# The app's own tetherctl, in its sandbox (the control socket is in the
# sandbox's private $XDG_RUNTIME_DIR).
status_json () { flatpak enter "$app_pid" tetherctl status --json --profile="$profile" 2>&1; }
status_is () { status_json | grep -q "\"state\" *: *\"$1\""; }

# The sandboxed app's host pid: the process running /app/bin/tether on our
# profile (not flatpak run's or bwrap's, which carry the profile too).
find_app_pid () {
  local f p argv0
  for f in $(grep -lF -- "$profile" /proc/[0-9]*/cmdline 2>/dev/null); do
    p=${f#/proc/}; p=${p%/cmdline}
    argv0=$(tr '\0' '\n' <"$f" 2>/dev/null | head -n 1)
    case "$argv0" in tether|*/tether) echo "$p"; return 0 ;; esac
  done
  return 1
}

# 1. The app starts in the sandbox and owns its name on the session bus.
flatpak --user run --env=GSK_RENDERER=cairo --env=GDK_BACKEND=x11 \
  "$app" "$profile" >"$out/app.log" 2>&1 &
flatpak_pid=$!
if wait_for 120 bus_name_owned && app_pid=$(find_app_pid); then
  ok "the sandboxed app runs (host pid $app_pid) and owns $app on the session bus"
else
  not_ok "the sandboxed app runs and owns $app on the session bus" "$(tail -n 20 "$out/app.log")"
  exit
fi
if [ -e "/proc/$app_pid/root/.flatpak-info" ] &&
   [ "$(readlink "/proc/$app_pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
  ok "it is sandboxed: /.flatpak-info and its own pid namespace"
else
  not_ok "it is sandboxed: /.flatpak-info and its own pid namespace"
fi

# 2. Start through the exported action; the whole adversarial tree appears.
if gapplication action "$app" start 2>"$out/gapplication.err" && wait_for 60 have_marked 3; then
  ok "start: the backend, its setsid daemon and the daemon's worker run ($(count_marked) marked processes)"
else
  not_ok "start: the backend, its setsid daemon and the daemon's worker run" \
    "marked processes: $(count_marked)" "$(cat "$out/gapplication.err")" "$(tail -n 10 "$out/app.log")"
fi

pids=$(marked_pids)
inside=1
for p in $pids; do
  [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$(readlink "/proc/$app_pid/ns/pid")" ] || inside=0
done
if [ "$inside" = 1 ] && [ -n "$pids" ]; then
  ok "every backend process runs inside the app's sandbox"
else
  not_ok "every backend process runs inside the app's sandbox"
fi

if wait_for 30 status_is running && status_json | grep -q '"owner" *: *"reaper"'; then
  ok "inside the sandbox the tree is owned by the reaper shim (no cgroup)"
else
  not_ok "inside the sandbox the tree is owned by the reaper shim (no cgroup)" "$(status_json | head -n 20)"
fi

# 3. A look at the sandboxed window (xwininfo finds it by its title).
if wait_for 30 sh -c "xwininfo -root -tree 2>/dev/null | grep -q 'Sandbox test'"; then
  sleep 2  # let it draw the running tree
  if import -window root "$out/sandbox.png" 2>"$out/import.err"; then
    ok "screenshot of the sandboxed window: $out/sandbox.png"
  else
    not_ok "screenshot of the sandboxed window" "$(cat "$out/import.err")"
  fi
else
  not_ok "the sandboxed window is shown" "$(xwininfo -root -tree 2>&1 | grep -v '(has no name)' | head -n 15)"
fi

# 4. Stop (the graceful ladder: every process ignores SIGTERM, so it ends
# in a forced stop after 2 + 2 s): not one of them survives on the host.
if gapplication action "$app" stop 2>"$out/gapplication.err" && wait_for 40 no_marked; then
  ok "stop: zero survivors in the host's /proc"
else
  not_ok "stop: zero survivors in the host's /proc" "left: $(marked_pids | tr '\n' ' ')" \
    "$(cat "$out/gapplication.err")"
fi
if wait_for 20 status_is stopped; then
  ok "the app reports the backend stopped"
else
  not_ok "the app reports the backend stopped" "$(status_json | head -n 10)"
fi

# 5. Start again, then SIGKILL the sandboxed app: its shim sees the control
# socket close and kills the tree. (The sandbox's pid namespace ends with
# the app too, so this also proves nothing escaped the sandbox; the shim's
# own EOF kill is what test-cli sigkill-shim proves on the host.)
if gapplication action "$app" start 2>"$out/gapplication.err" && wait_for 60 have_marked 3; then
  ok "started again ($(count_marked) marked processes)"
else
  not_ok "started again" "marked processes: $(count_marked)" "$(cat "$out/gapplication.err")"
fi
kill -KILL "$app_pid"
if wait_for 30 no_marked; then
  ok "SIGKILL of the sandboxed app: zero survivors in the host's /proc"
else
  not_ok "SIGKILL of the sandboxed app: zero survivors in the host's /proc" "left: $(marked_pids | tr '\n' ' ')"
fi
if wait_for 30 sh -c "! kill -0 $flatpak_pid 2>/dev/null"; then
  ok "flatpak run ended with the app"
  flatpak_pid=
else
  not_ok "flatpak run ended with the app"
fi
app_pid=
