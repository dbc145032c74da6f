#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the CI variant of flatpak/org.tether.Tether.json to OUTPUT.

    standin-manifest.py MANIFEST OUTPUT

The real manifest builds on org.gnome.Platform, which CI cannot download;
this one is the same manifest on the stand-in runtime and SDK made from
Debian bookworm's packages (standin-runtime.sh). Only what must differ is
changed, so the two cannot drift apart:
  - runtime, runtime-version and sdk;
  - each meson module gets --libdir=lib (Debian's meson would pick
    lib/x86_64-linux-gnu, which flatpak-builder's PKG_CONFIG_PATH and the
    runtime's ld.so.conf do not cover);
  - a "dir" source's relative path is made absolute, since OUTPUT is
    written elsewhere.
"""

import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    source, output = sys.argv[1], sys.argv[2]
    with open(source) as f:
        manifest = json.load(f)

    manifest["runtime"] = "org.debian.bookworm.Platform"
    manifest["runtime-version"] = "12"
    manifest["sdk"] = "org.debian.bookworm.Sdk"

    base = os.path.dirname(os.path.abspath(source))
    for module in manifest.get("modules", []):
        if isinstance(module, str):
            sys.exit("%s: modules kept in other files are not supported here" % source)
        if module.get("buildsystem") == "meson":
            opts = module.setdefault("config-opts", [])
            if not any(o.startswith("--libdir") or o.startswith("-Dlibdir") for o in opts):
                opts.append("--libdir=lib")
        for src in module.get("sources", []):
            if src.get("type") == "dir" and not os.path.isabs(src["path"]):
                src["path"] = os.path.normpath(os.path.join(base, src["path"]))

    with open(output, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
