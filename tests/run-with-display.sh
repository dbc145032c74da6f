#!/bin/bash
# run-with-display.sh COMMAND ARGS...
#
# Runs COMMAND inside a private, throwaway graphical session so UI tests can
# drive the real app over AT-SPI:
#   - its own Xvfb (display number picked by Xvfb itself via -displayfd, so
#     parallel copies never collide), 1280x800x24, no TCP;
#   - its own D-Bus session bus (dbus-run-session); the AT-SPI bus
#     (org.a11y.Bus) is D-Bus-activated from it on first use, so the
#     accessibility bus, registry and apps are private to this run too;
#   - its own XDG_RUNTIME_DIR (unless TETHER_KEEP_RUNTIME_DIR is set).
# Exits with COMMAND's status; 99 if the session could not be set up.
# On exit (normal, error or signal) it kills Xvfb and every process started
# under it -- including daemons that double-forked away or were D-Bus
# activated -- and removes its temporary directories.
#
# Environment knobs:
#   TETHER_KEEP_RUNTIME_DIR  keep the caller's XDG_RUNTIME_DIR
#   TETHER_XVFB_TIMEOUT      seconds to wait for Xvfb (default 30)
#   TETHER_XVFB_SCREEN       default 1280x800x24
#   TETHER_DISPLAY_VERBOSE   show the bus daemons' and AT-SPI services'
#                            output live on stderr (by default it goes to
#                            a log printed only if COMMAND fails)

set -u

me=${0##*/}

die() {
    echo "$me: error: $*" >&2
    exit 99
}

[ $# -ge 1 ] || { echo "usage: $me COMMAND [ARGS...]" >&2; exit 2; }

command -v Xvfb >/dev/null 2>&1 ||
    die "Xvfb not found (Debian: apt-get install xvfb)"
command -v dbus-run-session >/dev/null 2>&1 ||
    die "dbus-run-session not found (Debian: apt-get install dbus-daemon)"

work=$(mktemp -d "${TMPDIR:-/tmp}/tether-display.XXXXXXXX") ||
    die "mktemp failed"

# Every process we start inherits this variable (dbus-daemon passes its
# environment on to the services it activates, e.g. at-spi-bus-launcher and
# at-spi2-registryd), so cleanup can find all of them through
# /proc/PID/environ even after they reparented to init.
token="${work##*/}.$$"
export TETHER_DISPLAY_SESSION="$token"

xvfb_pid=
cmd_pid=
cleaned=

# PIDs of our live descendants, found by the token in their initial
# environment. One grep over all environ files is much cheaper than a
# process per PID on a loaded machine.
session_pids() {
    local f p
    for f in $(grep -lzx "TETHER_DISPLAY_SESSION=$token" \
                   /proc/[0-9]*/environ 2>/dev/null); do
        p=${f#/proc/}; p=${p%/environ}
        # Not ourselves, nor our $(...) subshell or the grep (both gone by now).
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        [ -e "/proc/$p" ] && echo "$p"
    done
}

kill_session() {
    local pids i
    pids=$(session_pids)
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2>/dev/null
    # Up to ~3 s for a polite exit, then SIGKILL whatever is left
    # (including anything forked meanwhile).
    for i in $(seq 30); do
        pids=$(session_pids)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    kill -KILL $pids 2>/dev/null
    sleep 0.1
    pids=$(session_pids)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    return 0
}

cleanup() {
    [ -n "$cleaned" ] && return
    cleaned=1
    trap '' INT TERM HUP
    kill_session
    # Xvfb carries the token too, but make sure it is gone and reaped
    # (SIGTERM lets it remove its /tmp/.X<n>-lock file).
    if [ -n "$xvfb_pid" ]; then
        kill -TERM "$xvfb_pid" 2>/dev/null
        wait "$xvfb_pid" 2>/dev/null
    fi
    rm -rf "$work"
}

on_signal() {
    cleanup
    trap - "$1"
    kill -s "$1" $$
    exit $((128 + $2))
}
trap 'cleanup' EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

# --- private X server -------------------------------------------------------
# Xvfb writes the display number it managed to grab (it tries :0, :1, ...,
# taking a lock file for each, so parallel servers never pick the same one)
# to the -displayfd file descriptor once it is ready to accept connections.
Xvfb -displayfd 3 -screen 0 "${TETHER_XVFB_SCREEN:-1280x800x24}" \
     -nolisten tcp -noreset \
     3>"$work/displayfd" </dev/null >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!

timeout=${TETHER_XVFB_TIMEOUT:-30}
deadline=$((SECONDS + timeout))
display=
while :; do
    # A complete line means Xvfb is listening.
    # (read fails until it has seen the newline.)
    if read -r display 2>/dev/null <"$work/displayfd"; then
        break
    fi
    if ! kill -0 "$xvfb_pid" 2>/dev/null; then
        wait "$xvfb_pid"; st=$?
        echo "$me: error: Xvfb exited (status $st) before it was ready; its log:" >&2
        tail -n 25 "$work/xvfb.log" | sed 's/^/  | /' >&2
        exit 99
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "$me: error: Xvfb not ready after ${timeout}s (TETHER_XVFB_TIMEOUT); its log:" >&2
        tail -n 25 "$work/xvfb.log" | sed 's/^/  | /' >&2
        exit 99
    fi
    sleep 0.05
done
case $display in
    ''|*[!0-9]*) die "Xvfb reported a bogus display number: '$display'" ;;
esac

# --- environment ------------------------------------------------------------
export DISPLAY=":$display"
export GDK_BACKEND=x11
export GSK_RENDERER=cairo
export LIBGL_ALWAYS_SOFTWARE=1
# Anything that would disable the accessibility bridge or point clients at
# a bus outside this session.
unset NO_AT_BRIDGE GTK_A11Y AT_SPI_BUS_ADDRESS WAYLAND_DISPLAY \
      DBUS_SESSION_BUS_ADDRESS DBUS_STARTER_ADDRESS DBUS_STARTER_BUS_TYPE \
      GTK_MODULES XAUTHORITY

if [ -z "${TETHER_KEEP_RUNTIME_DIR:-}" ]; then
    mkdir -m 0700 "$work/runtime" || die "cannot create runtime dir"
    export XDG_RUNTIME_DIR="$work/runtime"
fi

# --- run --------------------------------------------------------------------
# The bus daemons and everything they activate (at-spi-bus-launcher, the
# AT-SPI bus, at-spi2-registryd) inherit dbus-daemon's stdout, which would
# otherwise be COMMAND's stdout: registryd prints "SpiRegistry daemon is
# running..." there, which is not TAP.  Send all of it to a log instead,
# shown if COMMAND fails.
dbus_log="$work/dbus.log"
if [ -n "${TETHER_DISPLAY_VERBOSE:-}" ]; then
    dbus_log=/dev/stderr
fi
dbus_daemon=$(command -v dbus-daemon) || die "dbus-daemon not found"
printf '#!/bin/sh\nexec %q "$@" >>%q 2>&1\n' "$dbus_daemon" "$dbus_log" \
    >"$work/dbus-daemon"
chmod +x "$work/dbus-daemon"

# In the background + wait so that our signal traps run immediately; the
# explicit <&0 keeps the caller's stdin (bash would otherwise give a
# background job /dev/null).
dbus-run-session --dbus-daemon="$work/dbus-daemon" -- "$@" <&0 &
cmd_pid=$!
wait "$cmd_pid"
status=$?

if [ "$status" -ne 0 ] && [ -s "$work/dbus.log" ]; then
    echo "$me: command failed (status $status); session bus / AT-SPI log:" >&2
    tail -n 60 "$work/dbus.log" | sed 's/^/  | /' >&2
fi

cleanup
exit "$status"
