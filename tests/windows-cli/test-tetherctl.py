#!/usr/bin/env python3
# test-tetherctl.py: the Windows build of tetherctl and the core, end to
# end under wine (TAP)
#
# tetherctl.exe supervises a onefile-bootloader stand-in (tt-tree.exe:
# bootloader -> server -> two helpers, one with a child) through
# tether-job.exe's job object, and is driven by tetherctl.exe clients over
# the loopback control transport. What a stop leaves is checked from Linux
# (/proc: wine runs each Windows process as a Linux process) and from
# inside wine (tt-tree.exe alive PID...).
#
#   test-tetherctl.py --tetherctl EXE --job EXE --tt EXE --dlls DIR
#
# The exes and the DLLs of DIR are staged together in a scratch folder,
# as an installation has them. The wine prefix is $TETHER_WINEPREFIX_CLI,
# else /var/cache/tether-wine-cli (or ~/.cache/tether-wine-cli): never the
# user's WINEPREFIX, since the run ends by stopping the prefix's
# wineserver (../windows/winetest.py).
#
# Under wine only CTRL_C_EVENT is delivered (no CTRL_BREAK), so the
# profiles stop with "SIGINT": the graceful path proven here is CTRL_C's.
#
# SPDX-License-Identifier: GPL-3.0-or-later
import argparse
import glob
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "windows"))
from winetest import WINE_TIMEOUT, Probe, Wine, default_prefix, run_tap, select, wait_for, winpath  # noqa: E402

FORCED_STOP_LIMIT_S = 0.100

notes = []


class Ctx:
    stage = None
    work = None
    wine = None
    probe = None
    n_profiles = 0


def exe(name):
    return os.path.join(Ctx.stage, name)


def tetherctl(*args, timeout=WINE_TIMEOUT):
    return Ctx.wine.run(exe("tetherctl.exe"), *args, timeout=timeout)


def tetherctl_json(*args, timeout=WINE_TIMEOUT):
    rc, out, err = tetherctl(*args, "--json", timeout=timeout)
    assert rc == 0, "tetherctl %s: exit %d: %s" % (" ".join(args), rc, err.strip()[-400:])
    return json.loads(out)


class Run:
    """tetherctl.exe run PROFILE in the background, as a person runs it."""

    def __init__(self, mode, talk=None):
        Ctx.n_profiles += 1
        self.dir = os.path.join(Ctx.work, "run%d" % Ctx.n_profiles)
        os.makedirs(self.dir)
        # Unique per run: the tree's Linux command lines carry it.
        self.marker = "tt-mark-%d-%d" % (os.getpid(), Ctx.n_profiles)
        self.marker_dir = os.path.join(self.dir, self.marker)
        os.makedirs(self.marker_dir)
        self.profile = os.path.join(self.dir, "profile.json")
        with open(self.profile, "w") as f:
            json.dump({
                "name": "Bootloader stand-in %d" % Ctx.n_profiles,
                "command": [winpath(exe("tt-tree.exe"))] + (["bootloader", mode, winpath(self.marker_dir)]
                                                            if talk is None else ["talk", winpath(self.marker_dir), talk]),
                "cwd": winpath(self.dir),
                "stop": {"signal": "SIGINT", "graceful_timeout": 10, "term_timeout": 5},
            }, f)
        self.out = open(os.path.join(self.dir, "run.out"), "wb")
        self.err = open(os.path.join(self.dir, "run.err"), "wb")
        self.proc = Ctx.wine.popen([exe("tetherctl.exe"), "run", "--json", winpath(self.profile)],
                                   stdout=self.out, stderr=self.err, cwd=self.dir)
        server = os.path.join(self.marker_dir, "server.txt" if talk is None else "talked.txt")
        if not wait_for(lambda: os.path.exists(server) and os.path.getsize(server) > 0, 120):
            raise AssertionError("the server did not start within 60 s: %s" % self.log_tail())
        with open(server) as f:
            self.port, self.server_pid = [int(x) for x in f.read().split()[:2]]

    def log_tail(self):
        self.err.flush()
        with open(os.path.join(self.dir, "run.err"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-600:]

    def ctl(self, *args, timeout=WINE_TIMEOUT):
        return tetherctl(*args, "--profile", winpath(self.profile), timeout=timeout)

    def ctl_json(self, *args, timeout=WINE_TIMEOUT):
        return tetherctl_json(*args, "--profile", winpath(self.profile), timeout=timeout)

    def members(self):
        """The tree's tt-tree.exe processes (wine may add a conhost.exe)."""
        tree = self.ctl_json("tree")
        self.last_tree = tree["processes"]
        return sorted(p["pid"] for p in tree["processes"] if (p.get("name") or "").lower() == "tt-tree.exe")

    def linux(self):
        """The tree's processes from Linux: wine runs each Windows process as
        a Linux process with the Windows command line for its own, and
        every process of the stand-in carries the run's marker on it."""
        return Ctx.wine.linux_processes("tt-tree.exe", self.marker)

    def events(self):
        self.out.flush()
        with open(os.path.join(self.dir, "run.out"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def finish(self):
        """After a stop through the control endpoint, tetherctl run waits
        for a start (as on Linux; Ctrl+C would end it): end it."""
        self.proc.kill()
        self.proc.wait(10)
        self.out.close()
        self.err.close()

    def kill_outright(self):
        """SIGKILL to tetherctl.exe's Linux process: no handler runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def test_run_tree_stop_leaves_nothing():
    run = Run("polite")
    members = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(run.members()), 20)
    assert members and len(members) == 5, "expected 5 members (bootloader, server, 2 helpers, a child), got %r" % members
    assert run.server_pid in members
    linux = run.linux()
    assert len(linux) >= 5, "Linux sees %d of the tree's processes: %r" % (len(linux), linux)
    # The sampler's Windows source: a working set per member (wine's is
    # the Linux process's RSS; its CPU times are not the members').
    rss = [p["rss_bytes"] for p in run.last_tree if (p.get("name") or "").lower() == "tt-tree.exe"]
    assert all(r > 1 << 20 for r in rss), "working sets: %r" % rss
    # Command lines, read from each process (not from the profile): every
    # process of the stand-in carries the run's marker directory.
    cmdlines = [p.get("cmdline") or "" for p in run.last_tree if (p.get("name") or "").lower() == "tt-tree.exe"]
    assert all(run.marker in c and "tt-tree.exe" in c.lower() for c in cmdlines), "command lines: %r" % cmdlines
    roles = sorted(c.split()[1] for c in cmdlines)
    assert roles == ["bootloader", "grandchild", "helper", "helper", "server"], "roles: %r" % roles
    notes.append("a member's command line: %s" % min(cmdlines, key=len))
    status = run.ctl_json("status")
    assert status["state"] == "running", "state %r" % status["state"]
    assert status["owner"] == "job", "owner %r" % status["owner"]
    notes.append("tree: %d tt-tree.exe members %s of %d (%s); %d Linux processes"
                 % (len(members), members, len(run.last_tree),
                    ", ".join(sorted({p.get("name") or "?" for p in run.last_tree})), len(linux)))

    rc, out, err = run.ctl("stop")
    assert rc == 0, "stop: exit %d: %s" % (rc, err.strip())
    notes.append("stop: " + out.strip())
    assert os.path.exists(os.path.join(run.marker_dir, "polite.txt")), \
        "the server never saw CTRL_C (no polite.txt)"
    assert wait_for(lambda: not run.linux(), 5), "left on Linux: %r" % run.linux()
    assert not Ctx.probe.alive(members), "alive in wine: %r" % Ctx.probe.alive(members)
    ended = [e for e in run.events() if e.get("event") == "stopped"]
    assert ended and ended[-1]["graceful"] >= 5 and not ended[-1]["forced"], \
        "not a graceful stop: %r" % (ended or run.events()[-3:])
    run.finish()


def test_killed_bootloader_rest_listed_then_stopped():
    run = Run("polite")
    members = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(run.members()), 20)
    assert members and len(members) == 5, "members %r" % members
    bootloader = run.ctl_json("status")["main_pid"]
    assert Ctx.probe.terminate(bootloader), "could not terminate the bootloader"
    rest = wait_for(lambda: (lambda m: m if bootloader not in m else None)(run.members()), 10)
    assert rest and len(rest) == 4 and run.server_pid in rest, "after the bootloader died: %r" % rest
    notes.append("bootloader %d killed; still members: %s" % (bootloader, rest))
    rc, out, err = run.ctl("stop", timeout=90)
    assert rc == 0, "stop: exit %d: %s" % (rc, err.strip())
    assert wait_for(lambda: not run.linux(), 5), "left on Linux: %r" % run.linux()
    assert not Ctx.probe.alive(rest)
    run.finish()


def test_tetherctl_killed_tree_dies():
    run = Run("ignore")
    members = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(run.members()), 20)
    assert members and len(members) == 5, "members %r" % members
    before = len(run.linux())
    started = time.monotonic()
    run.kill_outright()
    gone = wait_for(lambda: not run.linux(), 10, step=0.02)
    took = time.monotonic() - started
    assert gone, "left on Linux 10 s after tetherctl was killed: %r" % run.linux()
    assert not Ctx.probe.alive(members), "alive in wine: %r" % Ctx.probe.alive(members)
    notes.append("tetherctl.exe SIGKILLed: %d Linux processes gone within %.3f s" % (before, took))


def test_forced_stop_within_100ms():
    run = Run("ignore")
    members = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(run.members()), 20)
    assert members and len(members) == 5, "members %r" % members
    report = run.ctl_json("kill")
    elapsed = report["elapsed"]
    notes.append("forced stop (TerminateJobObject) to empty: %.3f s, as tetherctl reports it; ended %r"
                 % (elapsed, report["ended"]))
    assert report["forced"], "not reported as forced: %r" % report
    assert elapsed <= FORCED_STOP_LIMIT_S, "forced stop took %.3f s" % elapsed
    assert wait_for(lambda: not run.linux(), 5), "left on Linux: %r" % run.linux()
    assert not Ctx.probe.alive(members)
    run.finish()


def test_output_logged_flood_bounded():
    """The backend's stdout and stderr reach the log through tether-job.exe:
    tetherctl logs shows each line with its stream (a long line cut at 16384
    bytes), the log file holds them, --json passes them on as output events,
    a flood of 100 MB is kept or counted (every line one or the other) while
    tetherctl's memory stays bounded, stop leaves nothing; without --json
    tetherctl run copies the output to its stderr."""
    n = 1000000
    run = Run("talk", talk=str(n))
    logs = lambda: [json.loads(l) for l in run.ctl("logs", "-n", "10000", "--json")[1].splitlines()]
    assert wait_for(lambda: [l for l in logs() if l["text"] == "done"], 30), "no \"done\" in tetherctl logs"
    said = [(l["stream"], l["text"]) for l in logs()]
    assert ("stdout", "hello stdout") in said and ("stderr", "hello stderr") in said, said[-8:]
    assert [t for s, t in said if t.startswith("L")] == ["L" * 16384] * 2 + ["L" * 7232], "the long line"
    rc, out, _ = run.ctl("logs", "-n", "3")
    assert rc == 0 and " E done" in out, "tetherctl logs: %r" % out
    events = [(e["stream"], e["text"]) for e in run.events() if e.get("event") == "output"]
    assert ("stderr", "hello stderr") in events and ("stdout", "hello stdout") in events, events[-5:]
    endpoint = [e for e in run.events() if e.get("event") == "control"][0]["socket"]
    path = os.path.join(Ctx.wine.prefix, "drive_c", *endpoint[3:-len(".endpoint")].split("\\"), "backend.log")
    with open(path, encoding="utf-8") as f:
        kept = [line.split(" ", 2) for line in f.read().splitlines()]
    assert ["stdout", "hello stdout"] in [k[1:] for k in kept], "not in %s" % path
    flood = [k for k in kept if k[2].startswith("flood ")]
    dropped = sum(int(k[2].split()[1]) for k in kept if " dropped: " in k[2])
    assert len(flood) + dropped == n, "kept %d + dropped %d != %d" % (len(flood), dropped, n)
    with open("/proc/%d/status" % run.proc.pid) as f:
        peak_kb = int([l.split()[1] for l in f if l.startswith("VmHWM:")][0])
    assert peak_kb < 80 * 1024, "tetherctl.exe's peak memory %d kB after a 100 MB flood" % peak_kb
    first = next(i for i, k in enumerate(kept) if k[2].startswith("flood "))
    last = next((i for i, k in enumerate(kept) if " dropped: " in k[2]), first + len(flood)) - 1
    span = (time.mktime(time.strptime(kept[last][0][:19], "%Y-%m-%dT%H:%M:%S")) + float(kept[last][0][19:-1])
            - time.mktime(time.strptime(kept[first][0][:19], "%Y-%m-%dT%H:%M:%S")) - float(kept[first][0][19:-1]))
    with open(os.path.join(run.marker_dir, "talked.txt")) as f:
        wrote_ms = int(f.read().split()[1])
    notes.append("flood of %d lines (100 MB) written in %.1f s: %d kept, %d dropped; the drain kept %d lines "
                 "in %.3f s before it dropped (%.0f lines/s); tetherctl.exe peak %d MB"
                 % (n, wrote_ms / 1000, len(flood), dropped, last - first + 1, span,
                    (last - first + 1) / max(span, 0.001), peak_kb // 1024))
    rc, out, err = run.ctl("stop")
    assert rc == 0, "stop: exit %d: %s" % (rc, err.strip())
    assert wait_for(lambda: not run.linux(), 5), "left on Linux: %r" % run.linux()
    run.finish()
    with open(run.profile) as f:
        profile = json.load(f)
    profile["command"][3:] = ["0", "exit"]
    with open(run.profile, "w") as f:
        json.dump(profile, f)
    rc, out, err = tetherctl("run", winpath(run.profile))
    assert rc == 0 and "hello stdout\n" in err and "hello stderr\n" in err and "done\n" in err and err.count("L") == 40000, \
        "tetherctl run's copy: exit %d, %r" % (rc, err[-300:])


def test_outsider_untouched():
    outsider_out = open(os.path.join(Ctx.work, "outsider.out"), "wb")
    outsider = Ctx.wine.popen([exe("tt-tree.exe"), "outsider"], stdout=outsider_out)
    try:
        def outsider_pid():
            with open(os.path.join(Ctx.work, "outsider.out")) as f:
                words = f.read().split()
            return int(words[1]) if len(words) >= 2 and words[0] == "pid" else None
        pid = wait_for(outsider_pid, 30)
        assert pid, "the outsider did not say its pid"
        run = Run("ignore")
        members = wait_for(lambda: (lambda m: m if len(m) >= 5 else None)(run.members()), 20)
        assert pid not in members, "the outsider %d is listed as a member" % pid
        rc, out, err = run.ctl("send-signal", str(pid), "KILL")
        assert rc != 0, "tetherctl signalled a process outside the tree: %s" % out
        run.ctl_json("kill")
        run.finish()
        assert Ctx.probe.alive([pid]) == {pid}, "the outsider %d died with the tree" % pid
    finally:
        outsider.kill()
        outsider.wait(10)
        outsider_out.close()


def test_list_and_control_endpoint():
    run = Run("polite")
    rc, out, err = tetherctl("list")
    assert rc == 0 and run.ctl_json("status")["name"] in out, "list: %s %s" % (out, err)
    control = [e for e in run.events() if e.get("event") == "control"]
    assert control, "no control event"
    where = control[0]["socket"]
    assert where.lower().startswith("c:\\users\\") and "\\appdata\\local\\tether\\" in where.lower(), \
        "the endpoint is not in the user's local application data: %s" % where
    endpoint = os.path.join(Ctx.wine.prefix, "drive_c", *where[3:].split("\\"))
    notes.append("control endpoint: %s" % where)
    with open(endpoint) as f:
        lines = f.read().split("\n")
    port, client_token, server_token = lines[1].split()
    assert len(client_token) == 64 and len(server_token) == 64 and client_token != server_token
    assert not Ctx.probe.port_free(port), "the control port %s is not in use" % port
    # Without the secret, nothing is served: a wrong first line is hung up on.
    import socket
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        sock.sendall(b"0" * 64 + b"\n" + b'{"method": "status"}\n')
        got = sock.recv(4096)
    assert got == b"", "the server answered a client without the secret: %r" % got[:200]
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        sock.sendall(client_token.encode() + b"\n" + b'{"method": "status"}\n')
        reply = b""
        while reply.count(b"\n") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    answer, status = reply.split(b"\n")[:2]
    assert answer.decode() == server_token, "the server did not prove itself: %r" % answer[:100]
    assert json.loads(status)["ok"], status
    run.ctl_json("kill")
    run.finish()


TESTS = [
    test_run_tree_stop_leaves_nothing,
    test_killed_bootloader_rest_listed_then_stopped,
    test_tetherctl_killed_tree_dies,
    test_forced_stop_within_100ms,
    test_outsider_untouched,
    test_output_logged_flood_bounded,
    test_list_and_control_endpoint,
]


def stage(args):
    Ctx.stage = os.path.join(Ctx.work, "stage")
    os.makedirs(Ctx.stage)
    for path in (args.tetherctl, args.job, args.tt):
        shutil.copy(path, Ctx.stage)
    # GLib's DLLs, and the helpers GLib spawns through (beside its DLL).
    for path in glob.glob(os.path.join(args.dlls, "*.dll")) + \
            glob.glob(os.path.join(args.dlls, "gspawn-win64-helper*.exe")):
        shutil.copy(path, Ctx.stage)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tetherctl", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--tt", required=True)
    parser.add_argument("--dlls", required=True, help="the folder of the DLLs tetherctl.exe needs")
    parser.add_argument("--only", default="")
    args = parser.parse_args()

    Ctx.work = tempfile.mkdtemp(prefix="tether-cli-win-")
    # The test's GLib warnings are failures, as in every test of Tether.
    Ctx.wine = Wine(default_prefix("TETHER_WINEPREFIX_CLI", "tether-wine-cli"), Ctx.work,
                    env={"G_DEBUG": "fatal-criticals"})
    stage(args)
    Ctx.probe = Probe(Ctx.wine, exe("tt-tree.exe"))
    return run_tap(Ctx.wine, select(TESTS, args.only), [exe("tt-tree.exe"), "list"], notes)


if __name__ == "__main__":
    sys.exit(main())
