# winetest.py: what the Windows tests share to run real programs under wine
#
# A wine prefix of the tests' own, wine calls that cannot hang a run or
# hold its pipes, the Windows processes seen from Linux (/proc) and from
# inside wine (tt-tree.exe's probes), and a TAP runner. Used by
# test-job.py, test-msi.py and ../windows-cli/test-tetherctl.py.
#
# Wine's quirks, each the reason for something here:
# - Whatever a wine call starts in the background (wineserver, services)
#   keeps that call's stdout and stderr: a test reading a pipe would wait
#   for them. So the wineserver is started first with its output going
#   nowhere (wineserver -p), and every call's output goes through files.
# - A wine call can hang (a cold prefix, a dialog nobody sees): each one
#   runs under timeout(1).
# - The prefix's wineserver outlives the tests unless stopped: the run
#   ends with wineserver -k, which is why the prefix must be the tests'
#   own, never the user's WINEPREFIX.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import shutil
import subprocess
import tempfile
import time
import traceback

WINE_TIMEOUT = 60  # one wine call, cold prefix included
PREFIX_TIMEOUT = 180  # wineboot -i, or the first call in a new prefix


def default_prefix(variable, name):
    """The tests' own prefix: $VARIABLE, else /var/cache/NAME (shared by
    the machine's test runs), else ~/.cache/NAME where /var/cache is not
    writable."""
    if os.environ.get(variable):
        return os.environ[variable]
    shared = os.path.join("/var/cache", name)
    if os.access(shared if os.path.isdir(shared) else "/var/cache", os.W_OK):
        return shared
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache, name)


def winpath(path):
    """A Linux path as wine sees it (drive Z: is /)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def wait_for(predicate, timeout, step=0.1):
    """predicate()'s first true value within timeout seconds, else its last."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Wine:
    """One wine prefix, with a scratch directory for the calls' output."""

    def __init__(self, prefix, work, env=None):
        self.prefix = prefix
        self.work = work
        self.extra_env = dict(env or {})

    def env(self):
        env = dict(os.environ)
        env["WINEPREFIX"] = self.prefix
        # Console programs only: no window may wait for a click on a desktop.
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        env.setdefault("WINEDEBUG", "-all")
        env.setdefault("WINEDLLOVERRIDES", "mscoree,mshtml=")
        env.update(self.extra_env)
        return env

    def run(self, *args, timeout=WINE_TIMEOUT, check=True, cwd=None):
        """A wine program to completion: (exit status, stdout, stderr), the
        output through files. With check, a timeout is a failure."""
        with tempfile.TemporaryFile(dir=self.work) as out, tempfile.TemporaryFile(dir=self.work) as err:
            proc = subprocess.run(["timeout", str(timeout), "wine"] + list(args), stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=err, env=self.env(), cwd=cwd or self.work)
            out.seek(0)
            err.seek(0)
            result = (proc.returncode, out.read().decode("utf-8", "replace").replace("\r\n", "\n"),
                      err.read().decode("utf-8", "replace").replace("\r\n", "\n"))
        if check and proc.returncode == 124:
            raise AssertionError("wine %s timed out after %d s" % (" ".join(args), timeout))
        return result

    def popen(self, args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              cwd=None):
        """A wine program in the background; stdout and stderr should be
        files (or pipes the test reads itself, to the end)."""
        return subprocess.Popen(["wine"] + list(args), stdin=stdin, stdout=stdout, stderr=stderr,
                                env=self.env(), cwd=cwd or self.work)

    def _server(self, flag):
        subprocess.run(["timeout", str(WINE_TIMEOUT), "wineserver", flag], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env())

    def prepare(self, *first_call):
        """Creates the prefix when missing, starts its wineserver with its
        output nowhere, and makes first_call (a quick program) with the time
        a cold prefix needs."""
        if not os.path.exists(os.path.join(self.prefix, "system.reg")):
            os.makedirs(self.prefix, exist_ok=True)
            subprocess.run(["timeout", str(PREFIX_TIMEOUT), "wineboot", "-i"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env())
        self._server("-p")
        self.run(*first_call, timeout=PREFIX_TIMEOUT)

    def stop_server(self):
        """Ends this prefix's wineserver and every wine process of it."""
        self._server("-k")

    def linux_processes(self, comm, marker=None):
        """This prefix's processes named comm (wine gives each Windows
        process its .exe name), seen from Linux: pid -> command line; with a
        marker, only those whose command line holds it."""
        found = {}
        prefix = ("WINEPREFIX=" + self.prefix).encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % entry, "rb") as f:
                    if f.read().strip() != comm.encode():
                        continue
                with open("/proc/%s/environ" % entry, "rb") as f:
                    if prefix not in f.read().split(b"\0"):
                        continue
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                continue
            if marker is None or marker in cmdline:
                found[int(entry)] = cmdline
        return found


class Probe:
    """tt-tree.exe's probes: what wine itself says about processes and ports.
    A probe that did not run is a failure, never an empty answer: "nothing
    left" would pass by itself."""

    def __init__(self, wine, tt):
        self.wine = wine
        self.tt = tt

    def _run(self, *args, ok=(0,)):
        rc, out, err = self.wine.run(self.tt, *args)
        assert rc in ok, "probe tt-tree.exe %s: exit %d %s" % (" ".join(args), rc, (out + err).strip()[-300:])
        return rc, out

    def tree(self):
        """Every tt-tree.exe inside wine: pid -> parent pid."""
        _, out = self._run("list")
        found = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                found[int(parts[0])] = int(parts[1])
        return found

    def alive(self, pids):
        """Which of these Windows pids are alive."""
        if not pids:
            return set()
        _, out = self._run("alive", *[str(p) for p in pids])
        answers = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
        assert sorted(answers) == sorted(str(p) for p in set(pids)), "probe alive %s: %r" % (pids, out)
        return {int(p) for p, state in answers.items() if state == "alive"}

    def port_free(self, port):
        """Whether PORT can be bound again (exit 1: it cannot)."""
        rc, out = self._run("port-free", str(port), ok=(0, 1))
        assert out.strip() == ("free" if rc == 0 else "in-use"), "probe port-free %s: %r" % (port, out)
        return rc == 0

    def terminate(self, pid):
        """TerminateProcess, as Task Manager would."""
        rc, _ = self._run("terminate", str(pid), ok=(0, 1))
        return rc == 0


def run_tap(wine, tests, first_call, notes, after_each=None):
    """Runs tests (functions raising AssertionError on failure) as TAP:
    the plan first, one line per test with its time, notes as comments.
    Prepares the prefix first and always stops its wineserver and removes
    the scratch directory at the end. Returns the exit status."""
    print("1..%d" % len(tests), flush=True)
    failed = 0
    try:
        started = time.monotonic()
        wine.prepare(*first_call)
        print("# wine prefix %s ready in %.1f s" % (wine.prefix, time.monotonic() - started), flush=True)
        for number, test in enumerate(tests, 1):
            started = time.monotonic()
            try:
                test()
                status, detail = "ok", ""
            except Exception as e:
                failed += 1
                status, detail = "not ok", " # %s" % str(e).replace("\n", " ")[:500]
                for line in traceback.format_exc().splitlines():
                    print("#   " + line)
            finally:
                if after_each is not None:
                    after_each()
            print("%s %d - %s (%.1f s)%s" % (status, number, test.__name__[5:], time.monotonic() - started,
                                             detail), flush=True)
            for note in notes:
                print("# " + note, flush=True)
            notes.clear()
    finally:
        wine.stop_server()
        shutil.rmtree(wine.work, ignore_errors=True)
    return 1 if failed else 0


def select(tests, only):
    """The tests named in only (comma-separated, with or without test_)."""
    if not only:
        return list(tests)
    wanted = set(only.split(","))
    return [t for t in tests if t.__name__ in wanted or t.__name__[5:] in wanted]
