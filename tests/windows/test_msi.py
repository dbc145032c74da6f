# test_msi.py: the MSI of packaging/windows/tether.wxs, built with wixl,
# installed under wine, used, uninstalled. Run through
# run-tests.sh --msi (test-job.py --extra test_msi:test_msi_install_run_uninstall).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import shutil
import subprocess


import __main__ as t

PACKAGING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging", "windows")
# Temporary directories (C:\windows\temp, each user's Temp): msiexec's
# scratch space, not the package's. Everything else must be as before,
# the installer cache C:\windows\Installer included.
VOLATILE = ("/windows/temp/", "/Temp/")
# Made by a prefix's first msiexec and kept, empty, as on Windows.
MSIEXEC_DIRS = ("/windows/Installer",)


def drive_c_files():
    root = os.path.join(t.PREFIX, "drive_c")
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):] + "/"
        for name in dirnames + filenames:
            out.add(rel + name)
    return out


def build_msi(work):
    """wixl with relative Source paths (it refuses absolute ones): the files
    are staged next to each other and wixl runs from there."""
    stage = os.path.join(work, "stage")
    os.makedirs(os.path.join(stage, "bin"), exist_ok=True)
    os.makedirs(os.path.join(stage, "doc"), exist_ok=True)
    shutil.copy(t.Ctx.job, os.path.join(stage, "bin", "tether-job.exe"))
    shutil.copy(t.Ctx.tt, os.path.join(stage, "bin", "tt-tree.exe"))
    shutil.copy(os.path.join(PACKAGING, "README.txt"), os.path.join(stage, "doc", "README.txt"))
    msi = os.path.join(work, "tether.msi")
    proc = subprocess.run(["wixl", "-a", "x64", "-D", "BinDir=bin", "-D", "DocDir=doc", "-D", "Version=0.0.1",
                           "-o", msi, os.path.abspath(os.path.join(PACKAGING, "tether.wxs"))],
                          cwd=stage, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0 and os.path.exists(msi), "wixl failed: %s" % proc.stdout.decode()[-400:]
    return msi


def test_msi_install_run_uninstall():
    """wixl builds the MSI; msiexec /i /qn installs it; the installed helper
    holds the installed example tree (spawn, members, kill); msiexec /x
    removes it and leaves no file, folder, shortcut or registry key."""
    work = t.Ctx.work
    msi = build_msi(work)
    installed = os.path.join(t.PREFIX, "drive_c", "Program Files", "Tether")
    assert not os.path.exists(installed), \
        "Tether is already installed in %s (an earlier run's?): start from a new prefix" % t.PREFIX
    before = drive_c_files()
    rc, _ = t.wine_run("msiexec", "/i", t.winpath(msi), "/qn", timeout=180)
    assert rc == 0, "msiexec /i exit status %d" % rc
    try:
        check_installed_then_uninstall(msi, installed, before)
    except BaseException:
        # Leave the prefix as it was for the next run, whatever failed.
        t.wine_run("msiexec", "/x", t.winpath(msi), "/qn", timeout=180, check=False)
        raise


def check_installed_then_uninstall(msi, installed, before):
    for rel in ("tether-job.exe", "README.txt", os.path.join("examples", "tt-tree.exe")):
        assert os.path.isfile(os.path.join(installed, rel)), "not installed: %s" % rel
    added = drive_c_files() - before
    shortcuts = [p for p in added if p.endswith("/Start Menu/Programs/Tether/Tether.lnk")]
    # Wine's msiexec puts an ALLUSERS=1 shortcut in the user's Start menu;
    # Windows puts it in ProgramData's. Either is the package's one.
    assert len(shortcuts) == 1, "Start-menu shortcut: %r" % sorted(p for p in added if "Start Menu" in p)
    rc, text = t.wine_run("reg", "query", "HKLM\\Software\\Tether")
    assert rc == 0 and "StartMenuShortcut" in text, "registry value missing: %r" % text

    h = t.JobHelper(exe="C:\\Program Files\\Tether\\tether-job.exe")
    try:
        run, boot, server, port, members = t.start_tree(
            h, tt="C:\\Program Files\\Tether\\examples\\tt-tree.exe")
        rep = h.ok("kill")
        assert rep == ["6", "6"], "kill reply %r" % rep
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after kill"
        t.assert_tree_gone(members, port)
    finally:
        assert h.close() == 0, "installed helper did not exit cleanly"

    rc, _ = t.wine_run("msiexec", "/x", t.winpath(msi), "/qn", timeout=180)
    assert rc == 0, "msiexec /x exit status %d" % rc
    left = sorted(p for p in drive_c_files() - before
                  if not any(v in p + "/" for v in VOLATILE) and p not in MSIEXEC_DIRS)
    assert not left, "left behind after uninstall: %r" % left
    assert not os.path.exists(installed), "install directory still there"
    rc, text = t.wine_run("reg", "query", "HKLM\\Software\\Tether")
    assert rc != 0, "registry key left behind: %r" % text
