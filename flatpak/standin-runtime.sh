#!/usr/bin/env bash
# Builds and installs a stand-in Flatpak runtime and SDK made from Debian
# bookworm's own packages: org.debian.bookworm.Platform and .Sdk, branch 12.
# It is what CI builds Tether on, since Flathub (org.gnome.Platform) cannot
# be reached there. Users build on the real runtime (see README.md).
#
# Usage: flatpak/standin-runtime.sh CACHE_DIR
#
# Everything lives under CACHE_DIR: the debootstrap trees, the OSTree repo
# the runtimes are exported to, and the flatpak user installation (HOME is
# CACHE_DIR/home for every flatpak command). A stamp file records what was
# built from which package lists; when it matches, nothing is done, so a
# second run costs a second. Run as root (debootstrap and chroot).
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

cache=${1:?usage: $0 CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# What Tether needs at run time (GTK, libadwaita, json-glib, libsoup), what
# a GTK app needs to draw (icons, SVG loader, fonts, MIME data), python3 for
# the bundled example backends, and flatpak-spawn.
RUNTIME_PACKAGES=(
  libgtk-4-1 libadwaita-1-0 libjson-glib-1.0-0 libsoup-3.0-0
  adwaita-icon-theme hicolor-icon-theme librsvg2-common shared-mime-info
  fonts-cantarell fonts-dejavu-core locales
  python3-minimal python3
  flatpak-xdg-utils
)
# Tether's build: compiler, meson, the -dev packages, and what configure
# looks for (gettext, the data validators, /usr/bin/python3 for the tests,
# xmllint for the GResource's xml-stripblanks).
SDK_PACKAGES=(
  "${RUNTIME_PACKAGES[@]}"
  gcc libc6-dev meson ninja-build pkg-config gettext
  libglib2.0-dev libglib2.0-dev-bin libgtk-4-dev libadwaita-1-dev
  libjson-glib-dev libsoup-3.0-dev
  desktop-file-utils appstream libxml2-utils
  appstream-util  # appstream-compose, which flatpak-builder runs at the end
)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BRANCH=12
export HOME="$cache/home"
mkdir -p "$HOME"

log () { echo "standin-runtime: $*"; }

stamp="$cache/runtime.stamp"
want="v1 ${RUNTIME_PACKAGES[*]} | ${SDK_PACKAGES[*]}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   flatpak --user info org.debian.bookworm.Sdk//$BRANCH >/dev/null 2>&1 &&
   flatpak --user info org.debian.bookworm.Platform//$BRANCH >/dev/null 2>&1; then
  log "org.debian.bookworm.Platform and .Sdk $BRANCH are installed in $cache (cached)"
  exit 0
fi

mounted=()
cleanup () {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT

# One minimal bookworm, copied for the runtime and the SDK.
base="$cache/base"
if [ ! -f "$base/.complete" ]; then
  rm -rf "$base"
  log "debootstrap --variant=minbase bookworm from $MIRROR (a few minutes)"
  debootstrap --variant=minbase bookworm "$base" "$MIRROR" >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  touch "$base/.complete"
fi

# Installs $2... into a copy of the base at $1, as a Flatpak runtime tree.
make_tree () {
  local dir=$1; shift
  rm -rf "$dir"
  cp -a "$base" "$dir"
  rm -f "$dir/.complete"
  mount -t proc proc "$dir/proc"
  mounted+=("$dir/proc")
  # No service may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 755 "$dir/usr/sbin/policy-rc.d"
  chroot "$dir" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$dir" \
    apt-get install -y -qq --no-install-recommends "$@" >"$dir.log" 2>&1 ||
    { tail -n 20 "$dir.log" >&2; exit 1; }
  # German and English UTF-8 locales for the translation tests.
  printf 'en_US.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n' >"$dir/etc/locale.gen"
  chroot "$dir" locale-gen >/dev/null
  chroot "$dir" apt-get clean
  umount -l "$dir/proc"
  rm -f "$dir/usr/sbin/policy-rc.d"

  # A Flatpak runtime is /usr alone: /etc comes from usr/etc, the host's
  # users and hosts from flatpak itself.
  rm -rf "$dir/usr/etc"
  cp -a "$dir/etc" "$dir/usr/etc"
  rm -f "$dir/usr/etc/passwd" "$dir/usr/etc/group" "$dir/usr/etc/hosts" \
        "$dir/usr/etc/shadow" "$dir/usr/etc/gshadow" "$dir/usr/etc/resolv.conf"
  echo "/app/lib" >"$dir/usr/etc/ld.so.conf.d/app.conf"
  ln -sf ../sbin/ldconfig "$dir/usr/bin/ldconfig"
  if [ -x "$dir/usr/libexec/flatpak-xdg-utils/flatpak-spawn" ]; then
    ln -sf ../libexec/flatpak-xdg-utils/flatpak-spawn "$dir/usr/bin/flatpak-spawn"
  fi
}

write_metadata () {
  local dir=$1 name=$2
  cat >"$dir/metadata" <<EOF
[Runtime]
name=$name
runtime=org.debian.bookworm.Platform/x86_64/$BRANCH
sdk=org.debian.bookworm.Sdk/x86_64/$BRANCH
EOF
}

repo="$cache/repo"
[ -d "$repo/objects" ] || ostree init --mode=archive-z2 --repo="$repo"

log "building the runtime tree (apt-get in a chroot)"
make_tree "$cache/platform" "${RUNTIME_PACKAGES[@]}"
write_metadata "$cache/platform" org.debian.bookworm.Platform
log "building the SDK tree (apt-get in a chroot)"
make_tree "$cache/sdk" "${SDK_PACKAGES[@]}"
write_metadata "$cache/sdk" org.debian.bookworm.Sdk

log "exporting both to $repo and installing them (user installation in $HOME)"
flatpak build-export --runtime --files=usr "$repo" "$cache/platform" $BRANCH >/dev/null
flatpak build-export --runtime --files=usr "$repo" "$cache/sdk" $BRANCH >/dev/null
flatpak --user remote-add --if-not-exists --no-gpg-verify tether-standin "$repo"
flatpak --user install -y --noninteractive --reinstall tether-standin \
  org.debian.bookworm.Platform//$BRANCH org.debian.bookworm.Sdk//$BRANCH >/dev/null
# The trees are in the repo now; keep only the base for the next rebuild.
rm -rf "$cache/platform" "$cache/sdk"
echo "$want" >"$stamp"
log "installed: $(du -sh "$HOME/.local/share/flatpak/runtime/org.debian.bookworm.Platform" | cut -f1) runtime," \
    "$(du -sh "$HOME/.local/share/flatpak/runtime/org.debian.bookworm.Sdk" | cut -f1) SDK"
