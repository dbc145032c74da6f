#!/usr/bin/env python3
# test-msi.py: the installer ./setup.sh windows built, under wine (TAP)
#
# Installs the MSI (msiexec /i /qn), checks that it holds exactly the
# staged build and that two builds of that stage have the same component
# GUIDs, runs the installed tetherctl.exe on the installed example profile
# (the onefile stand-in tt-tree.exe, through the installed tether-job.exe),
# stops it and checks that nothing of the tree is left, from Linux (/proc)
# and from inside wine, then uninstalls (msiexec /x /qn) and checks that no
# file and no registry key of the package is left.
#
#   test-msi.py --msi FILE --stage DIR --built EXE...
#
# FILE is the MSI, DIR the staging it was built from; the EXEs are the
# build's programs: an MSI older than one of them is stale (ninja ran after
# setup.sh) and fails the run rather than testing old programs.
# The wine prefix is $TETHER_WINEPREFIX_MSI, else /var/cache/tether-wine-msi
# (or ~/.cache/tether-wine-msi); the package must not be installed in it
# when the run starts.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

from winetest import Probe, Wine, default_prefix, run_tap, wait_for, winpath

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_MSI = os.path.join(HERE, "..", "..", "packaging", "windows", "build-msi.py")
INSTALLED = "C:\\Program Files\\Tether"
EXAMPLE = INSTALLED + "\\examples\\onefile-tree.json"
# The example's DIR (%TEMP%\...): where its server writes its port.
EXAMPLE_DIR = "tether-onefile-example"
# Registry keys of the product; Uninstall\{ProductCode} and the
# installer's own records are found by comparing exports.
PRODUCT_KEY = "HKLM\\Software\\Tether"
EXPORTED_ROOTS = ("HKLM\\Software", "HKCU\\Software")
# Temporary directories (C:\windows\temp, each user's Temp): msiexec's
# scratch space and the example's, not the package's. Made by a prefix's
# first msiexec and kept, empty, as on Windows: the installer cache.
VOLATILE = ("/windows/temp/", "/Temp/")
MSIEXEC_DIRS = ("/windows/Installer",)
# The same for the installer's registry records: their containers, kept
# with no value and no subkey.
MSIEXEC_KEYS = tuple("HKEY_LOCAL_MACHINE\\Software\\" + k for k in (
    "Classes\\Installer", "Classes\\Installer\\Features", "Classes\\Installer\\Products",
    "Classes\\Installer\\UpgradeCodes", "Microsoft\\Windows\\CurrentVersion\\Installer\\UpgradeCodes",
    "Microsoft\\Windows\\CurrentVersion\\Installer\\UserData",
    "Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18",
    "Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Components",
    "Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products"))
# What running tetherctl leaves in the user's profile (its control
# endpoints): the user's data, which no uninstaller removes.
USER_DATA = "/AppData/Local/tether/"

notes = []


class Ctx:
    msi = None
    stage = None
    built = []
    work = None
    wine = None
    probe = None
    before_files = None
    before_keys = None


def installed_path(windows_path):
    """Where a C:\\ path of the prefix is on Linux."""
    assert windows_path[:3].upper() == "C:\\"
    return os.path.join(Ctx.wine.prefix, "drive_c", *windows_path[3:].split("\\"))


def drive_c_files():
    root = os.path.join(Ctx.wine.prefix, "drive_c")
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):] + "/"
        for name in dirnames + filenames:
            out.add(rel + name)
    return out


def registry_keys():
    """Every key under EXPORTED_ROOTS, as reg export names it, with the
    number of values it holds."""
    keys = {}
    for root in EXPORTED_ROOTS:
        out = os.path.join(Ctx.work, "export.reg")
        rc, _, err = Ctx.wine.run("reg", "export", root, winpath(out), "/y")
        assert rc == 0, "reg export %s: exit %d %s" % (root, rc, err.strip())
        with open(out, "rb") as f:
            data = f.read()
        text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8", "replace")
        key = None
        for line in text.splitlines():
            if line.startswith("["):
                key = line.strip()[1:-1]
                keys[key] = 0
            elif key is not None and line[:1] in ('"', "@"):
                keys[key] += 1
    return keys


def msi_table(path, table):
    proc = subprocess.run(["msiinfo", "export", path, table], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, "msiinfo export %s: %s" % (table, proc.stderr.decode()[-300:])
    return proc.stdout.decode()


def staged_files():
    out = []
    for dirpath, _, filenames in os.walk(Ctx.stage):
        out += [os.path.relpath(os.path.join(dirpath, n), Ctx.stage) for n in filenames]
    return sorted(out)


def test_msi_current_and_guids_stable():
    """The MSI is newer than the build's programs, and a build of a copy of
    its stage elsewhere has the same components with the same GUIDs (wixl's
    Guid="*" follows the installed path, not the source)."""
    assert os.path.isfile(Ctx.msi), "no MSI at %s: ./setup.sh windows builds it" % Ctx.msi
    for exe in Ctx.built:
        assert os.path.getmtime(Ctx.msi) >= os.path.getmtime(exe), \
            "the MSI is older than %s: run ./setup.sh windows to stage and build it again" % exe
    copy = os.path.join(Ctx.work, "elsewhere", "stage")
    shutil.copytree(Ctx.stage, copy)
    again = os.path.join(Ctx.work, "again.msi")
    proc = subprocess.run([sys.executable, BUILD_MSI, copy, "0.0.1", again], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    assert proc.returncode == 0, "build-msi.py: %s" % proc.stdout.decode()[-400:]
    for table in ("Component", "File", "Directory", "FeatureComponents"):
        assert msi_table(Ctx.msi, table) == msi_table(again, table), "the %s table differs between builds" % table
    components = [line.split("\t") for line in msi_table(Ctx.msi, "Component").splitlines()[3:]]
    notes.append("%d components, GUIDs the same in a second build: %s"
                 % (len(components), ", ".join(c[1] for c in components[:2]) + ", ..."))


def test_install_holds_the_stage():
    """msiexec /i /qn installs every staged file, byte for byte, the
    Start-menu shortcut and the product's registry value."""
    installed = installed_path(INSTALLED)
    assert not os.path.exists(installed), \
        "Tether is already installed in %s (an earlier run's?): start from a new prefix" % Ctx.wine.prefix
    Ctx.before_files = drive_c_files()
    Ctx.before_keys = registry_keys()
    rc, _, _ = Ctx.wine.run("msiexec", "/i", winpath(Ctx.msi), "/qn", timeout=180)
    assert rc == 0, "msiexec /i exit status %d" % rc
    files = staged_files()
    assert "tetherctl.exe" in files and "tether-job.exe" in files and \
        os.path.join("examples", "onefile-tree.json") in files, "the stage lacks a program: %r" % files
    for rel in files:
        target = os.path.join(installed, rel)
        assert os.path.isfile(target), "not installed: %s" % rel
        assert filecmp.cmp(os.path.join(Ctx.stage, rel), target, shallow=False), "installed %s differs" % rel
    installed_files = sorted(os.path.relpath(os.path.join(d, n), installed)
                             for d, _, names in os.walk(installed) for n in names)
    assert installed_files == files, "installed beyond the stage: %r" % sorted(set(installed_files) - set(files))
    added = drive_c_files() - Ctx.before_files
    # Wine's msiexec puts an ALLUSERS=1 shortcut in the user's Start menu;
    # Windows puts it in ProgramData's. Either is the package's one.
    shortcuts = [p for p in added if p.endswith("/Start Menu/Programs/Tether/Tether command prompt.lnk")]
    assert len(shortcuts) == 1, "Start-menu shortcut: %r" % sorted(p for p in added if "Start Menu" in p)
    rc, out, _ = Ctx.wine.run("reg", "query", PRODUCT_KEY)
    assert rc == 0 and "StartMenuShortcut" in out, "registry value missing: %r" % out
    # What the shortcut runs: a command prompt in the installation folder,
    # where tetherctl is found by name.
    rc, out, err = Ctx.wine.run("cmd", "/c", "tetherctl.exe --help", cwd=installed)
    assert rc == 0 and "tetherctl" in out, "tetherctl --help in %s: exit %d %s %s" % (INSTALLED, rc, out, err)
    notes.append("%d files installed in %s" % (len(files), INSTALLED))


def test_installed_tetherctl_runs_example():
    """The installed tetherctl.exe runs the installed example profile: the
    onefile tree (bootloader, server, two helpers, a grandchild) in the
    installed helper's job; tetherctl stop reaches the server's CTRL_C
    handler and leaves nothing, seen from Linux and from inside wine."""
    tetherctl = INSTALLED + "\\tetherctl.exe"
    probe = Probe(Ctx.wine, INSTALLED + "\\examples\\tt-tree.exe")
    _, temp, _ = Ctx.wine.run("cmd", "/c", "echo %TEMP%")
    run_dir = os.path.join(installed_path(temp.strip()), EXAMPLE_DIR)
    shutil.rmtree(run_dir, ignore_errors=True)
    out_path = os.path.join(Ctx.work, "run.out")
    with open(out_path, "wb") as out, open(os.path.join(Ctx.work, "run.err"), "wb") as err:
        proc = Ctx.wine.popen([tetherctl, "run", "--json", EXAMPLE], stdout=out, stderr=err)
    try:
        def ready():
            names = os.listdir(run_dir) if os.path.isdir(run_dir) else []
            return "server.txt" in names and len([n for n in names if n.startswith("ready-")
                                                  and not n.endswith(".tmp")]) == 3
        assert wait_for(ready, 60), "the example's tree did not start within 60 s: %s" % \
            open(os.path.join(Ctx.work, "run.err"), errors="replace").read()[-600:]
        with open(os.path.join(run_dir, "server.txt")) as f:
            port, server = (int(x) for x in f.read().split())

        rc, out, err = Ctx.wine.run(tetherctl, "tree", "--json", "--profile", EXAMPLE)
        assert rc == 0, "tetherctl tree: exit %d %s" % (rc, err)
        processes = json.loads(out)["processes"]
        members = sorted(p["pid"] for p in processes if (p.get("name") or "").lower() == "tt-tree.exe")
        assert len(members) == 5 and server in members, "the tree's tt-tree.exe: %r" % members
        linux = Ctx.wine.linux_processes("tt-tree.exe", EXAMPLE_DIR)
        assert len(linux) == 5, "Linux sees %r" % linux
        # The bootloader's command line is the profile's (.\tt-tree.exe);
        # the processes it started name the program it runs.
        started = [c for c in linux.values() if " bootloader " not in c]
        assert len(started) == 4 and all(c.startswith(INSTALLED + "\\examples\\tt-tree.exe ") for c in started), \
            "not the installed tt-tree.exe: %r" % linux
        assert set(probe.tree()) == set(members), "inside wine %r, tetherctl %r" % (probe.tree(), members)
        assert not probe.port_free(port), "the example's server holds no port"

        rc, out, err = Ctx.wine.run(tetherctl, "stop", "--profile", EXAMPLE, timeout=90)
        assert rc == 0, "tetherctl stop: exit %d %s" % (rc, err)
        notes.append("installed tetherctl, example tree %s; stop: %s" % (members, out.strip()))
        assert os.path.exists(os.path.join(run_dir, "polite.txt")), "the server never saw CTRL_C"
        assert wait_for(lambda: not Ctx.wine.linux_processes("tt-tree.exe", EXAMPLE_DIR), 5), \
            "left on Linux: %r" % Ctx.wine.linux_processes("tt-tree.exe", EXAMPLE_DIR)
        assert not probe.alive(members), "alive in wine: %r" % probe.alive(members)
        assert not probe.tree(), "tt-tree.exe still listed inside wine: %r" % probe.tree()
        assert probe.port_free(port), "port %d still held" % port
        with open(out_path, errors="replace") as f:
            stopped = [e for e in (json.loads(l) for l in f if l.startswith("{")) if e.get("event") == "stopped"]
        assert stopped and stopped[-1]["graceful"] >= 5 and not stopped[-1]["forced"], \
            "not a graceful stop: %r" % stopped
    finally:
        # After a stop, tetherctl run waits for a start: end it (and with
        # it the job, should a check above have failed first).
        proc.kill()
        proc.wait(10)


def test_uninstall_leaves_nothing():
    """msiexec /x /qn removes every file, folder, shortcut and registry key
    of the package."""
    assert Ctx.before_files is not None, "nothing to uninstall: the install test failed first"
    rc, _, _ = Ctx.wine.run("msiexec", "/x", winpath(Ctx.msi), "/qn", timeout=180)
    assert rc == 0, "msiexec /x exit status %d" % rc
    added = drive_c_files() - Ctx.before_files
    user_data = sorted(p for p in added if USER_DATA in p + "/")
    left = sorted(p for p in added if not any(v in p + "/" for v in VOLATILE + (USER_DATA,))
                  and p not in MSIEXEC_DIRS)
    assert not left, "left behind after uninstall: %r" % left
    assert not os.path.exists(installed_path(INSTALLED)), "install directory still there"
    rc, out, _ = Ctx.wine.run("reg", "query", PRODUCT_KEY)
    assert rc != 0, "registry key left behind: %r" % out
    after = registry_keys()
    keys = sorted(k for k in set(after) - set(Ctx.before_keys) if k not in MSIEXEC_KEYS or after[k])
    assert not keys, "registry keys left behind: %r" % keys
    notes.append("left: only tetherctl's per-user data %r" % user_data)


TESTS = [
    test_msi_current_and_guids_stable,
    test_install_holds_the_stage,
    test_installed_tetherctl_runs_example,
    test_uninstall_leaves_nothing,
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--msi", required=True)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--built", nargs="+", default=[], help="the build's programs the MSI must be newer than")
    args = parser.parse_args()
    Ctx.msi = os.path.abspath(args.msi)
    Ctx.stage = os.path.abspath(args.stage)
    Ctx.built = args.built
    Ctx.work = tempfile.mkdtemp(prefix="tether-msi-test-")
    Ctx.wine = Wine(default_prefix("TETHER_WINEPREFIX_MSI", "tether-wine-msi"), Ctx.work)
    return run_tap(Ctx.wine, TESTS, ["cmd", "/c", "ver"], notes)


if __name__ == "__main__":
    sys.exit(main())
