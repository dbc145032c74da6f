#!/usr/bin/env bash
# Builds what the Windows cross build links -- zlib, libffi, PCRE2, GLib 2.74
# and json-glib, and a stand-in libintl -- for x86_64-w64-mingw32 from
# Debian's own source packages (CI reaches Debian's repositories only), into
# a cached prefix. Usage:
#   packaging/windows/build-deps.sh [PREFIX]
# PREFIX defaults to $TETHER_MINGW_PREFIX, else /var/cache/tether-mingw.
# The prefix is rebuilt only when this script changes: its hash is the key
# (PREFIX/.recipe), and each step keeps what an earlier run built while its
# own recipe is unchanged (PREFIX/.step-*). Delete the prefix to start from
# nothing.
#
# What is in PREFIX afterwards:
#   bin/*.dll                 the DLLs a Windows program of Tether needs
#   lib/pkgconfig/*.pc        for the cross build
#   cross-mingw64.txt         a meson cross file for it (no exe_wrapper: the
#                             tests run under wine as build-machine scripts)
#
# Needs root (or sudo) for apt-get: the toolchain, wine, wixl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${1:-${TETHER_MINGW_PREFIX:-/var/cache/tether-mingw}}
HOST=x86_64-w64-mingw32
# Bookworm's: GLib >= 2.80 needs a newer meson than Debian 12's 1.0.1.
SOURCES=(zlib libffi pcre2 glib2.0 json-glib)
PACKAGES=(
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev
  wine wine64 wixl msitools
  dpkg-dev meson ninja-build pkg-config make gettext python3
)

recipe=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$PREFIX/.recipe" ] && [ "$(cat "$PREFIX/.recipe")" = "$recipe" ]; then
  echo "build-deps: $PREFIX is up to date (recipe ${recipe:0:12})"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

install_packages () {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build-deps: installing ${missing[*]}"
  # Another apt-get may hold the lock for a while (a shared machine).
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 \
    install -y -qq --no-install-recommends "${missing[@]}"
}

# A deb-src twin of every configured Debian source, so that apt-get source
# takes the sources from the same mirror the machine already uses.
add_deb_src () {
  local list=/etc/apt/sources.list.d/tether-deb-src.sources f
  local list1=/etc/apt/sources.list.d/tether-deb-src.list
  if apt-get source --print-uris -qq glib2.0 >/dev/null 2>&1; then
    return 0
  fi
  echo "build-deps: adding deb-src entries for the configured Debian mirror"
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && [ "$f" != "$list" ] || continue
      grep -qi debian "$f" || continue
      # deb822 stanzas: the same URIs, suites and components, as deb-src.
      sed -e 's/^Types:.*/Types: deb-src/' "$f"
      echo
    done
  } | $sudo tee "$list" >/dev/null
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list | $sudo tee "$list1" >/dev/null
  fi
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
}

write_cross_file () {
  # Debian's meson has no mingw cross file. The key is "pkgconfig": spelled
  # "pkg-config", meson 1.0 ignores it and finds no dependency at all.
  cat >"$1" <<EOF
[binaries]
c = '$HOST-gcc'
cpp = '$HOST-g++'
ar = '$HOST-ar'
strip = '$HOST-strip'
windres = '$HOST-windres'
pkgconfig = 'pkg-config'
$2

[properties]
pkg_config_libdir = ['$PREFIX/lib/pkgconfig']
needs_exe_wrapper = true

[built-in options]
c_args = ['-I$PREFIX/include']
c_link_args = ['-L$PREFIX/lib']

[host_machine]
system = 'windows'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
EOF
}

install_packages
add_deb_src

work=$(mktemp -d "${TMPDIR:-/tmp}/tether-mingw-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$PREFIX/.recipe"
mkdir -p "$PREFIX"/{bin,lib/pkgconfig,include}
export PKG_CONFIG_LIBDIR="$PREFIX/lib/pkgconfig"
unset PKG_CONFIG_PATH
jobs=$(nproc)

write_cross_file "$work/cross-build.txt" ""

# Each source package from the configured mirror: the candidate version,
# else the release's own (a mirror may carry the pool of bookworm but not
# of bookworm-security), else an upstream tarball of the same version from
# $TETHER_MINGW_SOURCES (default /var/cache/tether-mingw-sources;
# NAME-VERSION.tar.*), for a mirror that lacks a file altogether.
fetch_source () {
  local pkg=$1 release version upstream tarball
  release=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  if (cd "$work" && apt-get source -qq "$pkg" >>"$work/source.log" 2>&1); then
    return 0
  fi
  if (cd "$work" && apt-get source -qq "$pkg/$release" >>"$work/source.log" 2>&1); then
    echo "build-deps: $pkg: the $release version (the newer one is not on the mirror)"
    return 0
  fi
  version=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
  upstream=${version#*:}
  upstream=${upstream%-*}
  upstream=${upstream%%+*}
  tarball=$(ls "${TETHER_MINGW_SOURCES:-/var/cache/tether-mingw-sources}/$pkg-$upstream".tar.* 2>/dev/null | head -n 1 || true)
  if [ -n "$tarball" ]; then
    echo "build-deps: $pkg: not on the mirror; upstream $upstream from $tarball"
    tar -xf "$tarball" -C "$work"
    return 0
  fi
  tail -n 5 "$work/source.log" >&2
  echo "build-deps: cannot fetch the source of $pkg $version; put its upstream tarball" >&2
  echo "build-deps: $pkg-$upstream.tar.* in \$TETHER_MINGW_SOURCES" >&2
  return 1
}

echo "build-deps: fetching Debian source packages: ${SOURCES[*]}"
for pkg in "${SOURCES[@]}"; do
  fetch_source "$pkg"
done

srcdir () {
  find "$work" -maxdepth 1 -mindepth 1 -type d -name "$1-*" | head -n 1
}

log=$PREFIX/build.log
: >"$log"
# Each step is kept from an earlier run while its own recipe (the
# function's text and its arguments) and every step's before it are
# unchanged: an edit to a later step, or a run that failed half-way, does
# not build everything again. Any change from there on rebuilds the rest.
rebuilding=0
# (A step's function returns its failure itself: errexit does not reach
# into a function called as a condition.)
step () {
  local name=$1 key stamp
  shift
  key=$(printf '%s\n' "$(declare -f "$1")" "$*" | sha256sum | cut -c1-16)
  stamp="$PREFIX/.step-$name"
  if [ $rebuilding = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    echo "build-deps: $name (kept from an earlier run)"
    return 0
  fi
  rebuilding=1
  rm -f "$stamp"
  echo "build-deps: $name"
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "build-deps: failed (whole log: $log)" >&2
    exit 1
  fi
  echo "$key" >"$stamp"
}

# zlib: Debian's source has no mingw makefile (its win32/ is not shipped),
# and its configure script does not know mingw: the DLL is linked by hand
# (every function exported, as mingw does without a .def file).
ZLIB_OBJECTS=(adler32 compress crc32 deflate gzclose gzlib gzread gzwrite
  infback inffast inflate inftrees trees uncompr zutil)
zlib_build () {
  local s f version
  s=$(srcdir zlib)
  [ -n "$s" ] || return 1
  mkdir -p "$s/_mingw" || return 1
  for f in "${ZLIB_OBJECTS[@]}"; do
    "$HOST-gcc" -O2 -c "$s/$f.c" -o "$s/_mingw/$f.o" || return 1
  done
  "$HOST-gcc" -shared -o "$PREFIX/bin/zlib1.dll" "$s"/_mingw/*.o \
    -Wl,--out-implib,"$PREFIX/lib/libz.dll.a" || return 1
  cp "$s/zlib.h" "$s/zconf.h" "$PREFIX/include/" || return 1
  version=$(sed -n 's/^#define ZLIB_VERSION "\(.*\)"/\1/p' "$s/zlib.h")
  cat >"$PREFIX/lib/pkgconfig/zlib.pc" <<EOF
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: zlib
Description: zlib compression library
Version: $version
Libs: -L\${libdir} -lz
Cflags: -I\${includedir}
EOF
}

autotools_build () {
  local s
  s=$(srcdir "$1")
  shift
  mkdir -p "$s/_mingw"
  (cd "$s/_mingw" && ../configure --host="$HOST" --prefix="$PREFIX" \
     --enable-shared --disable-static "$@" && make -j"$jobs" && make install)
}

# Just enough libintl for GLib: messages stay untranslated on Windows
# (GLib >= 2.74's meson wants some libintl; Debian has none for mingw).
intl_build () {
  mkdir -p "$work/intl"
  cat >"$PREFIX/include/libintl.h" <<'EOF'
/* Stand-in libintl for Tether's Windows build: no translation. */
#pragma once
#include <locale.h>
#ifndef LC_MESSAGES
#define LC_MESSAGES 1729  /* gettext's own value where the C library has none */
#endif
#ifdef __cplusplus
extern "C" {
#endif
/* format_arg: a translated format is checked as the literal it came from
 * (GLib builds with -Werror=format-nonliteral). */
#define TETHER_INTL_ARG(n) __attribute__ ((__format_arg__ (n)))
char *gettext (const char *msgid) TETHER_INTL_ARG (1);
char *dgettext (const char *domain, const char *msgid) TETHER_INTL_ARG (2);
char *dcgettext (const char *domain, const char *msgid, int category) TETHER_INTL_ARG (2);
char *ngettext (const char *msgid, const char *plural, unsigned long n) TETHER_INTL_ARG (1) TETHER_INTL_ARG (2);
char *dngettext (const char *domain, const char *msgid, const char *plural, unsigned long n) TETHER_INTL_ARG (2) TETHER_INTL_ARG (3);
char *dcngettext (const char *domain, const char *msgid, const char *plural, unsigned long n, int category) TETHER_INTL_ARG (2) TETHER_INTL_ARG (3);
char *textdomain (const char *domain);
char *bindtextdomain (const char *domain, const char *dir);
char *bind_textdomain_codeset (const char *domain, const char *codeset);
#ifdef __cplusplus
}
#endif
EOF
  cat >"$work/intl/intl.c" <<'EOF'
#include <libintl.h>
char *gettext (const char *m) { return (char *) m; }
char *dgettext (const char *d, const char *m) { (void) d; return (char *) m; }
char *dcgettext (const char *d, const char *m, int c) { (void) d; (void) c; return (char *) m; }
char *ngettext (const char *m, const char *p, unsigned long n) { return (char *) (n == 1 ? m : p); }
char *dngettext (const char *d, const char *m, const char *p, unsigned long n) { (void) d; return (char *) (n == 1 ? m : p); }
char *dcngettext (const char *d, const char *m, const char *p, unsigned long n, int c) { (void) d; (void) c; return (char *) (n == 1 ? m : p); }
char *textdomain (const char *d) { return (char *) (d ? d : "messages"); }
char *bindtextdomain (const char *d, const char *dir) { (void) d; return (char *) dir; }
char *bind_textdomain_codeset (const char *d, const char *c) { (void) d; return (char *) c; }
EOF
  "$HOST-gcc" -O2 -c "$work/intl/intl.c" -I"$PREFIX/include" -o "$work/intl/intl.o" &&
    "$HOST-ar" rcs "$PREFIX/lib/libintl.a" "$work/intl/intl.o"
}

meson_build () {
  local s
  s=$(srcdir "$1")
  shift
  meson setup "$s/_mingw" "$s" --cross-file "$work/cross-build.txt" \
    --prefix="$PREFIX" --libdir=lib --buildtype=release -Ddefault_library=shared "$@" &&
    ninja -C "$s/_mingw" install
}

started=$(date +%s)
step libffi autotools_build libffi --disable-docs --disable-multi-os-directory
step pcre2 autotools_build pcre2 --disable-pcre2-16 --disable-pcre2-32 --disable-jit
step zlib zlib_build
step libintl intl_build
step glib meson_build glib2.0 -Dtests=false -Dinstalled_tests=false -Dman=false \
  -Dgtk_doc=false -Dlibmount=disabled -Dselinux=disabled -Dxattr=false \
  -Dnls=disabled -Dlibelf=disabled -Dsysprof=disabled
step json-glib meson_build json-glib -Dintrospection=disabled -Dgtk_doc=disabled \
  -Dman=false -Dtests=false

# Runtime DLLs of the toolchain, beside GLib's.
for dll in libgcc_s_seh-1.dll libwinpthread-1.dll; do
  found=$("$HOST-gcc" -print-file-name="$dll")
  [ -f "$found" ] || found=$(find /usr/lib/gcc/"$HOST" /usr/"$HOST" -name "$dll" 2>/dev/null | head -n 1)
  [ -n "$found" ] && cp "$found" "$PREFIX/bin/"
done

write_cross_file "$PREFIX/cross-mingw64.txt" ""
echo "$recipe" >"$PREFIX/.recipe"
echo "build-deps: done in $(( $(date +%s) - started )) s: $PREFIX"
