#!/usr/bin/env bash
# Tether's one set-up script, for a fresh Debian 12 machine (run as root, or
# with sudo available). Usage:
#   ./setup.sh demo    install dependencies, build, run the bundled demo backend
#   ./setup.sh test    install dependencies, build, run the whole test suite
#   ./setup.sh build   install dependencies and build only
#   ./setup.sh bench   build and run the benchmarks in bench/ (not part of the tests)
#   ./setup.sh screenshot  take data/screenshots/main.png of the app on the demo (Xvfb)
set -euo pipefail

cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-_build}

# Debian 12 packages: build tools, libraries, and what the tests use.
PACKAGES=(
  meson ninja-build pkg-config gcc gettext
  libglib2.0-dev libglib2.0-bin libjson-glib-dev
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
)

# Real servers the tests run, unpacked into $BUILD_DIR/test-deps rather than
# installed: installing nginx would enable a system service on port 80.
TEST_DAEMON_DEBS=(nginx)

# Only for ./setup.sh bench: what the sampler benchmark compares against.
BENCH_PACKAGES=(libgtop2-dev procps)
# Only for ./setup.sh screenshot.
SCREENSHOT_PACKAGES=(imagemagick)

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
    bench/app-footprint.sh "$BUILD_DIR"
    ;;
  screenshot)
    install_deps "${SCREENSHOT_PACKAGES[@]}"
    build
    exec tests/ui/take-screenshot.sh "$BUILD_DIR" data/screenshots/main.png
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
