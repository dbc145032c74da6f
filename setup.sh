#!/usr/bin/env bash
# Tether's one set-up script, for a fresh Debian 12 machine (run as root, or
# with sudo available). Usage:
#   ./setup.sh demo    install dependencies, build, run the bundled demo backend
#   ./setup.sh test    install dependencies, build, run the whole test suite
#   ./setup.sh build   install dependencies and build only
#   ./setup.sh bench   build and run the benchmarks in bench/ (not part of the tests)
#   ./setup.sh screenshot  take data/screenshots/main.png of the app on the demo (Xvfb)
#   ./setup.sh fuzz [SECONDS]  build the libFuzzer targets (clang, ASan, UBSan) and run
#                      each for SECONDS (default 60) on a copy of its corpus in tests/fuzz
#   ./setup.sh flatpak  build the Flatpak on a stand-in runtime made from Debian's packages
#                      (cached in /var/cache/tether-flatpak), install it, and run it
#   ./setup.sh flatpak-test  the same build, then the sandbox test (tests/flatpak)
#   ./setup.sh windows-deps  the mingw-w64 toolchain, wine and wixl, and GLib and
#                      json-glib built for Windows from Debian's sources (cached
#                      in /var/cache/tether-mingw: packaging/windows/build-deps.sh)
#   ./setup.sh windows  those, then the Windows cross build of the core,
#                      tetherctl and tether-job.exe in _build-win, staged with
#                      their DLLs in _build-win/stage, the MSI made of that
#                      (_build-win/tether-VERSION-x64.msi), and the tests
#                      under wine
set -euo pipefail

cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-_build}

# Debian 12 packages: build tools, libraries, and what the tests use.
PACKAGES=(
  meson ninja-build pkg-config gcc gettext
  libglib2.0-dev libglib2.0-bin libjson-glib-dev
  libsoup-3.0-dev  # rollback "http" (src/core/tether-http.c)
  python3
  # the desktop app
  libgtk-4-dev libadwaita-1-dev
  librsvg2-common  # SVG icons (only recommended by GTK; setup.sh skips recommends)
  # data validations (meson tests)
  desktop-file-utils appstream
  # the app's end-to-end test: a real window under Xvfb, driven through
  # AT-SPI from Debian's python3 (the python3 first on PATH may lack gi)
  xvfb xauth x11-utils dbus-daemon at-spi2-core python3-gi gir1.2-atspi-2.0
  # a stand-in desktop notification server for that test
  python3-dbusmock
  # what Debian's nginx links (the real-daemon test; see fetch_test_daemons)
  libcrypt1 libpcre2-8-0 libssl3 zlib1g
  # a real preforking server for the pool tests (signals mode); installs no service
  gunicorn
)

# Real servers the tests run, unpacked into $BUILD_DIR/test-deps rather than
# installed: installing nginx would enable a system service on port 80.
TEST_DAEMON_DEBS=(nginx)

# Only for ./setup.sh bench: what the sampler benchmark compares against,
# and gunicorn, the pool benchmark's peer.
BENCH_PACKAGES=(libgtop2-dev procps gunicorn)
# Only for ./setup.sh screenshot.
SCREENSHOT_PACKAGES=(imagemagick)
# Only for ./setup.sh fuzz: clang and its libFuzzer and sanitizer runtimes.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

install_deps () {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup.sh: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

fetch_test_daemons () {
  local dest="$BUILD_DIR/test-deps" p sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  mkdir -p "$dest/debs"
  for p in "${TEST_DAEMON_DEBS[@]}"; do
    if ! ls "$dest/debs/${p}"_*.deb >/dev/null 2>&1; then
      echo "setup.sh: fetching Debian's $p (unpacked into $dest for the tests, not installed)"
      # apt-get download needs package lists; a fresh machine may have none.
      (cd "$dest/debs" && apt-get download -qq "$p" 2>/dev/null) ||
        { $sudo apt-get update -qq && (cd "$dest/debs" && apt-get download -qq "$p"); }
    fi
    dpkg-deb -x "$dest/debs/${p}"_*.deb "$dest"
  done
}

build () {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
  fi
  ninja -C "$BUILD_DIR"
}

# Each fuzz target (tests/fuzz/fuzz-NAME.c) and the longest input it tries:
# a datagram is read into 4 KiB, a stat line into 1 KiB, a control line may
# be 64 KiB (and the 65 000 '[' regression input must fit).
# A helper's output (fuzz-helper) is tried up to 64 KiB, many lines.
FUZZ_TARGETS=(profile:65536 json:65536 control:70000 notify:4096 stat:1024 text:4096 helper:65536)

# Builds the targets in FUZZ_DIR, runs each for $1 seconds, one after the
# other (these machines are shared), and prints one line per target.
# Returns non-zero when any target found a crash, a leak, a hang or a broken
# check; its input is kept and named.
fuzz () {
  local seconds=$1 dir=${FUZZ_DIR:-_fuzz} failed=0
  local entry name max_len run status log executions rate cov ft found

  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang meson setup "$dir" -Dfuzz=true -Dgui=false \
      -Db_sanitize=address,undefined -Db_lundef=false
  fi
  local targets=()
  for entry in "${FUZZ_TARGETS[@]}"; do
    targets+=("tests/fuzz/fuzz-${entry%%:*}")
  done
  ninja -C "$dir" "${targets[@]}"

  # json-glib's nodes come from GSlice: plain malloc lets ASan see them.
  export G_SLICE=always-malloc G_DEBUG=gc-friendly
  export UBSAN_OPTIONS=print_stacktrace=1

  for entry in "${FUZZ_TARGETS[@]}"; do
    name=${entry%%:*}
    max_len=${entry#*:}
    # A scratch copy: what the fuzzer adds never lands in the repository.
    run="$dir/fuzz-run/$name"
    rm -rf "$run"
    mkdir -p "$run/corpus"
    cp tests/fuzz/corpus/"$name"/* "$run/corpus/"
    log="$run/fuzz.log"
    status=0
    "$dir/tests/fuzz/fuzz-$name" "$run/corpus" \
      -max_total_time="$seconds" -max_len="$max_len" \
      -dict="tests/fuzz/$name.dict" -artifact_prefix="$run/" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?

    # The final stats, or the last status line when the target died.
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    [ -n "$executions" ] || executions=$(sed -n 's/^#\([0-9]*\)\t.*/\1/p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    [ -n "$rate" ] || rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | sed 's/.* //' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 || true)
    found=$(find "$run" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
              -o -name 'timeout-*' -o -name 'oom-*' \) | head -n 1)
    printf 'fuzz-%-8s %s s, %s executions, %s exec/s, %s edges, %s features, corpus %s: ' \
      "$name" "$seconds" "${executions:-?}" "${rate:-?}" "${cov#cov: }" "${ft#ft: }" \
      "$(find "$run/corpus" -type f | wc -l)"
    if [ "$status" -eq 0 ] && [ -z "$found" ]; then
      echo "no crash"
    else
      echo "FAILED (exit $status): ${found:-see $log}"
      grep -E '^(==[0-9]+==ERROR|SUMMARY|.*ERROR:|.*runtime error:)' "$log" | head -n 5 | sed 's/^/  /' || true
      failed=1
    fi
  done
  return "$failed"
}

# Only for ./setup.sh flatpak: flatpak-builder and what the stand-in runtime
# is made with (elfutils: flatpak-builder runs eu-strip on the host), and
# what the sandbox test uses.
FLATPAK_PACKAGES=(flatpak flatpak-builder ostree debootstrap elfutils bubblewrap
  xdg-dbus-proxy imagemagick)
# The runtime, the SDK, the flatpak user installation (its HOME) and
# flatpak-builder's state: kept between runs, so a rebuild only rebuilds the
# app. Delete the directory to start from nothing.
FLATPAK_CACHE=${TETHER_FLATPAK_CACHE:-/var/cache/tether-flatpak}

# Builds the stand-in runtime and SDK once, then the app from this tree, and
# installs it in the cached user installation.
flatpak_build () {
  local manifest="$FLATPAK_CACHE/org.tether.Tether.json"
  flatpak/standin-runtime.sh "$FLATPAK_CACHE"
  export HOME="$FLATPAK_CACHE/home"
  flatpak/standin-manifest.py flatpak/org.tether.Tether.json "$manifest"
  echo "setup.sh: flatpak-builder (on org.debian.bookworm.Platform 12; log in $FLATPAK_CACHE/builder.log)"
  if ! flatpak-builder --user --install --force-clean --disable-rofiles-fuse \
      --state-dir="$FLATPAK_CACHE/builder-state" \
      "$FLATPAK_CACHE/build-dir" "$manifest" >"$FLATPAK_CACHE/builder.log" 2>&1; then
    tail -n 30 "$FLATPAK_CACHE/builder.log" >&2
    echo "setup.sh: flatpak-builder failed (whole log: $FLATPAK_CACHE/builder.log)" >&2
    return 1
  fi
  rm -rf "$FLATPAK_CACHE/build-dir"
  echo "setup.sh: org.tether.Tether installed (flatpak --user, HOME=$HOME)"
}

# The Windows cross build (x86_64-w64-mingw32) and its dependency prefix.
WIN_BUILD_DIR=${WIN_BUILD_DIR:-_build-win}
MINGW_PREFIX=${TETHER_MINGW_PREFIX:-/var/cache/tether-mingw}

windows_deps () {
  packaging/windows/build-deps.sh "$MINGW_PREFIX"
}

# Configures (once), builds and stages: every program with the DLLs it
# loads and GLib's spawn helpers, as an installation has them (wine, like
# Windows, looks for DLLs beside the program).
windows_build () {
  windows_deps
  # A directory of that name from a native build is not ours to reuse.
  if [ -f "$WIN_BUILD_DIR/build.ninja" ] && ! grep -q "x86_64-w64-mingw32-gcc" "$WIN_BUILD_DIR/build.ninja"; then
    echo "setup.sh: $WIN_BUILD_DIR is not a Windows cross build; configuring it afresh"
    rm -rf "$WIN_BUILD_DIR"
  fi
  # The cross file has no exe_wrapper: nothing runs under wine but the
  # tests, which are build-machine scripts.
  if [ ! -f "$WIN_BUILD_DIR/build.ninja" ]; then
    meson setup "$WIN_BUILD_DIR" --cross-file "$MINGW_PREFIX/cross-mingw64.txt" -Dgui=false
  fi
  ninja -C "$WIN_BUILD_DIR"
  rm -rf "$WIN_BUILD_DIR/stage"
  mkdir -p "$WIN_BUILD_DIR/stage"
  # GLib spawns through gspawn-win64-helper*.exe, which must sit beside it.
  cp "$WIN_BUILD_DIR/src/cli/tetherctl.exe" "$WIN_BUILD_DIR/src/win32/tether-job.exe" \
     "$MINGW_PREFIX"/bin/*.dll "$MINGW_PREFIX"/bin/gspawn-win64-helper*.exe "$WIN_BUILD_DIR/stage/"
  # The bundled example: the onefile stand-in and a profile that runs it.
  mkdir -p "$WIN_BUILD_DIR/stage/examples"
  cp packaging/windows/README.txt "$WIN_BUILD_DIR/stage/"
  cp "$WIN_BUILD_DIR/tests/windows/tt-tree.exe" packaging/windows/examples/*.json "$WIN_BUILD_DIR/stage/examples/"
  echo "setup.sh: Windows programs and their DLLs staged in $WIN_BUILD_DIR/stage"
  windows_msi
}

# The installer: everything staged, installed in the same layout.
windows_msi () {
  local version
  version=$(meson introspect --projectinfo "$WIN_BUILD_DIR" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
  packaging/windows/build-msi.py "$WIN_BUILD_DIR/stage" "$version" "$WIN_BUILD_DIR/tether-$version-x64.msi"
}

have_display () {
  [ -n "${WAYLAND_DISPLAY:-}" ] || [ -n "${DISPLAY:-}" ]
}

case "${1:-}" in
  demo)
    install_deps
    build
    if have_display; then
      echo "setup.sh: starting Tether on the demo backend; closing the window offers to stop it."
      exec "$BUILD_DIR/src/ui/tether" --start examples/demo.json
    fi
    echo "setup.sh: no display (neither WAYLAND_DISPLAY nor DISPLAY is set): running the demo"
    echo "setup.sh: backend with tetherctl instead; press Ctrl-C to stop it (gracefully)."
    exec "$BUILD_DIR/src/cli/tetherctl" run examples/demo.json
    ;;
  test)
    install_deps
    build
    fetch_test_daemons
    # --num-processes 2: the process-tree tests measure timeouts; a 2-core
    # machine gives each a core.
    exec meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2
    ;;
  build)
    install_deps
    build
    ;;
  bench)
    install_deps "${BENCH_PACKAGES[@]}"
    # A build dir configured before libgtop was installed must look again.
    if [ -f "$BUILD_DIR/build.ninja" ]; then
      meson setup --reconfigure "$BUILD_DIR" >/dev/null
    fi
    build
    export TETHER_TEST_TREE="$PWD/$BUILD_DIR/tests/tether-test-tree"
    "$BUILD_DIR/bench/bench-kill"
    echo
    "$BUILD_DIR/bench/bench-sampler"
    echo
    "$BUILD_DIR/bench/bench-mainloop"
    echo
    "$BUILD_DIR/bench/bench-pool"
    echo
    "$BUILD_DIR/bench/bench-rollback"
    echo
    "$BUILD_DIR/bench/bench-log"
    echo
    bench/app-footprint.sh "$BUILD_DIR"
    echo
    tests/run-with-display.sh /usr/bin/python3 bench/ui-stop.py "$BUILD_DIR"
    ;;
  screenshot)
    install_deps "${SCREENSHOT_PACKAGES[@]}"
    build
    exec tests/ui/take-screenshot.sh "$BUILD_DIR" data/screenshots/main.png
    ;;
  fuzz)
    seconds=${2:-60}
    # 0 would be no limit at all to libFuzzer.
    case "$seconds" in
      ''|*[!0-9]*|0|0*) echo "setup.sh: fuzz takes a number of seconds from 1, not \"$seconds\"" >&2; exit 2 ;;
    esac
    install_deps "${FUZZ_PACKAGES[@]}"
    fuzz "$seconds"
    ;;
  flatpak)
    install_deps "${FLATPAK_PACKAGES[@]}"
    flatpak_build
    if have_display; then
      echo "setup.sh: running the sandboxed Tether on the demo backend"
      exec flatpak --user run org.tether.Tether --demo
    fi
    echo "setup.sh: no display: run it with HOME=$HOME flatpak --user run org.tether.Tether --demo,"
    echo "setup.sh: or ./setup.sh flatpak-test to try it in a private Xvfb"
    ;;
  flatpak-test)
    install_deps "${FLATPAK_PACKAGES[@]}"
    flatpak_build
    out="$BUILD_DIR/flatpak-test"
    rm -rf "$out"
    mkdir -p "$out"
    # Bounded on top of its own bounded waits: a hung sandbox fails the run.
    timeout -k 10 600 tests/run-with-display.sh \
      tests/flatpak/test-sandbox.sh "$PWD/$out" | tee "$out/tap.txt"
    ;;
  windows-deps)
    windows_deps
    ;;
  windows)
    windows_build
    # Under wine (tests/windows, tests/windows-cli), each test owning its
    # wine prefix; bounded on top of their own timeouts.
    timeout -k 10 1500 meson test -C "$WIN_BUILD_DIR" --print-errorlogs
    ;;
  *)
    sed -n '2,21p' "$0" >&2
    exit 2
    ;;
esac
