#!/usr/bin/env bash
# run-tests.sh: builds tether-job.exe and the test programs with mingw-w64
# and runs the Windows tests under wine. One command, TAP on stdout, exit
# status 0 only when every test passed (77, meson's "skipped", when the
# tools are missing: a skip is never a pass).
#
#   tests/windows/run-tests.sh [--only NAME,...]
#
# (The MSI's test, test-msi.py, needs the whole cross build: ./setup.sh
# windows runs it.)
#
# Environment:
#   TETHER_WINEPREFIX   the wine prefix the tests own (created when missing,
#                       reused when present; its wineserver is stopped at
#                       the end). Default: /var/cache/tether-wine-job, or
#                       ~/.cache/tether-wine-job where /var/cache is not
#                       writable. A WINEPREFIX of yours is never used.
#   TETHER_WIN32_BIN    where to build (default: a temporary directory)
#   CC_MINGW            the cross compiler (default x86_64-w64-mingw32-gcc)
#
# Needs: gcc-mingw-w64-x86-64, wine (wine64) 8, python3.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${CC_MINGW:-x86_64-w64-mingw32-gcc}
export WINEDEBUG=${WINEDEBUG:--all}
export WINEDLLOVERRIDES="mscoree,mshtml="
# No display: console programs only, and no dialog can wait for a click.
unset DISPLAY WAYLAND_DISPLAY

only=
while [ $# -gt 0 ]; do
  case $1 in
    --only) only=$2; shift ;;
    *) echo "usage: $0 [--only NAME,...]" >&2; exit 2 ;;
  esac
  shift
done

missing=
for tool in "$cc" wine wineserver python3 timeout; do
  command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "1..0 # SKIP missing:$missing (apt-get install gcc-mingw-w64-x86-64 wine wine64)"
  exit 77
fi

bin=${TETHER_WIN32_BIN:-}
if [ -z "$bin" ]; then
  bin=$(mktemp -d "${TMPDIR:-/tmp}/tether-win32-bin.XXXXXX")
  trap 'rm -rf "$bin"' EXIT
fi
mkdir -p "$bin"

# Static libgcc: the programs need no DLL but Windows' own.
cflags="-std=c11 -O2 -Wall -Wextra -Werror -static-libgcc -static"
if ! "$cc" $cflags -o "$bin/tether-job.exe" "$root/src/win32/tether-job.c" ||
   ! "$cc" $cflags -municode -o "$bin/tt-tree.exe" "$here/tt-tree.c" -lws2_32; then
  echo "1..1"
  echo "not ok 1 - build with $cc"
  exit 1
fi

args=(--bin "$bin")
[ -n "$only" ] && args+=(--only "$only")
python3 "$here/test-job.py" "${args[@]}"
