#!/usr/bin/env python3
# test-job.py: tether-job.exe under wine, driven the way Tether drives it
#
# Speaks src/win32/PROTOCOL.md to tether-job.exe over its stdin/stdout (as
# the core does), builds real process trees with tt-tree.exe (a onefile
# bootloader stand-in) and checks what is left both from Linux (/proc: wine
# processes carry their .exe name) and from inside wine (Toolhelp, through
# tt-tree.exe list / alive / port-free). Output is TAP.
#
# Usage: test-job.py (--bin DIR | --job EXE --tt EXE) [--only NAME,...]
#   DIR holds tether-job.exe and tt-tree.exe (run-tests.sh builds them).
# The wine prefix is $TETHER_WINEPREFIX, else /var/cache/tether-wine-job
# (~/.cache/tether-wine-job where that is not writable); created when
# missing, reused when present. It must be the tests' own: the end of the
# run stops that prefix's wineserver, and nothing else (winetest.py).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from winetest import WINE_TIMEOUT, Probe, Wine, default_prefix, run_tap, select, wait_for, winpath

FORCED_STOP_LIMIT_MS = 100  # the design's promise: kill -> empty

notes = []


def enc(text):
    """Percent-encodes a field the way the protocol wants it."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not data:
        return "%"
    out = []
    for b in data:
        if b < 0x21 or b == 0x25 or b == 0x7F:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
    # Bytes as code points 0-255: request() sends the line as latin-1, so
    # UTF-8 goes out unchanged.
    return "".join(out)


class Ctx:
    bin = None
    work = None
    tt = None
    job = None
    wine = None
    probe = None


def linux_tree_processes():
    """Our prefix's tt-tree.exe processes, seen from Linux: pid -> command line."""
    return Ctx.wine.linux_processes("tt-tree.exe")


class JobHelper:
    """tether-job.exe, with Tether's side of the protocol."""

    def __init__(self):
        self.err_path = os.path.join(Ctx.work, "job-stderr-%d.txt" % time.monotonic_ns())
        self.err = open(self.err_path, "wb")
        self.proc = Ctx.wine.popen([Ctx.job], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=self.err)
        self.lines = queue.Queue()
        self.events = []
        self.next_id = 1
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        hello = self.next_line(WINE_TIMEOUT)
        assert hello is not None, "no hello line within %d s" % WINE_TIMEOUT
        parts = hello[1].split(" ")
        assert len(parts) == 4 and parts[0] == "hello" and parts[1] == "2" and parts[3] == "job" \
            and parts[2].isdigit(), "bad hello line: %r" % hello[1]
        self.pid = int(parts[2])

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
        self.lines.put((time.monotonic(), None))

    def next_line(self, timeout):
        try:
            item = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if item[1] is None:
            self.lines.put(item)  # end of file stays visible
            return None
        return item

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, *fields, timeout=30):
        """Sends a request, returns (sent_at, reply fields after the id)."""
        rid = self.next_id
        self.next_id += 1
        sent = time.monotonic()
        self.send_raw((" ".join([str(rid)] + [str(f) for f in fields]) + "\n").encode("latin-1"))
        return sent, self.reply(rid, timeout)

    def reply(self, rid, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            item = self.next_line(max(0.0, deadline - time.monotonic()))
            assert item is not None, "no reply to request %s" % rid
            parts = item[1].split(" ")
            if parts[0] in ("exit", "empty"):
                self.events.append(item)
                continue
            assert parts[0] == str(rid), "reply %r out of order (expected id %s)" % (item[1], rid)
            return parts[1:]

    def ok(self, *fields, timeout=30):
        _, rep = self.request(*fields, timeout=timeout)
        assert rep[0] == "ok", "%s: %s" % (" ".join(map(str, fields)), " ".join(rep))
        return rep[1:]

    def members(self):
        rep = self.ok("members")
        n = int(rep[0])
        assert len(rep) == n + 1, "members count mismatch: %r" % rep
        return [int(p) for p in rep[1:]]

    def wait_event(self, predicate, timeout):
        """The first event matching predicate(fields), with its time."""
        for item in self.events:
            if predicate(item[1].split(" ")):
                self.events.remove(item)
                return item
        deadline = time.monotonic() + timeout
        while True:
            item = self.next_line(max(0.0, deadline - time.monotonic()))
            if item is None:
                return None
            if predicate(item[1].split(" ")):
                return item
            self.events.append(item)

    def spawn(self, argv, env=None, cwd="", flags="-"):
        env = env if env is not None else default_env()
        fields = ["spawn", flags, enc(cwd), len(argv)] + [enc(a) for a in argv] + [len(env)] + \
                 [enc(e) for e in env]
        rep = self.ok(*fields)
        return int(rep[0])

    def close(self, timeout=20):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        finally:
            self.err.close()

    def stderr_text(self):
        self.err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def default_env():
    return ["SystemRoot=C:\\windows", "PATH=C:\\windows\\system32;C:\\windows;" + winpath(Ctx.bin),
            "TEMP=C:\\windows\\temp", "TMP=C:\\windows\\temp"]


def new_run_dir():
    d = tempfile.mkdtemp(dir=Ctx.work, prefix="run-")
    return d


def start_tree(helper, mode="ignore", flags="-"):
    """Spawns the onefile stand-in and waits for the whole tree: bootloader,
    its console host, server, two helpers, one grandchild."""
    run = new_run_dir()
    boot = helper.spawn([winpath(Ctx.tt), "bootloader", mode, winpath(run)], flags=flags)
    server_txt = os.path.join(run, "server.txt")

    def ready():
        # Every process past its console set-up (server.txt, three ready-*).
        n_ready = len([n for n in os.listdir(run) if n.startswith("ready-") and not n.endswith(".tmp")])
        return n_ready == 3 and os.path.exists(server_txt) and helper.members()
    members = wait_for(ready, 20)
    assert members and len(members) == 6, "tree never reached 6 members: %r" % (members,)
    with open(server_txt) as f:
        port, server = (int(x) for x in f.read().split())
    return run, boot, server, port, members


def assert_tree_gone(members, port, keep_linux=(), keep_wine=()):
    """Nothing of the tree left, from Linux and from inside wine (but the
    processes named in keep_*, which were never part of it)."""
    def linux_left():
        return {p: c for p, c in linux_tree_processes().items() if p not in keep_linux}
    wait_for(lambda: not linux_left(), 5)
    assert not linux_left(), "tree processes still alive (Linux /proc): %r" % linux_left()
    alive = Ctx.probe.alive(members)
    assert not alive, "members still alive (inside wine): %r" % sorted(alive)
    left = {p: pp for p, pp in Ctx.probe.tree().items() if p not in keep_wine}
    assert not left, "tt-tree.exe still listed inside wine: %r" % left
    if port is not None:
        assert Ctx.probe.port_free(port), "port %d still held" % port


def cleanup_strays():
    """Between tests: anything of ours a failed test left, by pid."""
    for pid in linux_tree_processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Tests. Each raises AssertionError on failure.

def test_hello_and_tree_listed():
    """spawn: the whole onefile tree is in the job from the first instruction;
    members lists it, top-level is the bootloader alone; Linux and wine agree."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h)
        wine_view = Ctx.probe.tree()
        tree = set(wine_view)
        assert tree <= set(members), "tt-tree processes outside the job: %r" % (tree - set(members))
        assert len(tree) == 5, "expected 5 tt-tree.exe inside wine, got %r" % wine_view
        assert boot in tree and server in tree, "bootloader/server not seen inside wine"
        assert wine_view[server] == boot, "server's parent is not the bootloader"
        assert len(linux_tree_processes()) == 5, "expected 5 tt-tree.exe from Linux, got %r" % \
            linux_tree_processes()
        top = h.ok("top-level")
        assert top == ["1", str(boot)], "top-level: %r (bootloader %d)" % (top, boot)
        assert not Ctx.probe.port_free(port), "the server's port is not held"
        h.ok("kill")
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after kill"
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_kill_bootloader_alone():
    """The project's founding bug: the bootloader killed, the backend lives on
    with its port. Tether still lists it, and kill ends it."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h)
        rep = h.ok("signal", boot, 9)
        assert rep == ["1", "6"], "signal reply %r" % rep
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(boot)], 5)
        assert ev and ev[1].split()[2] == "137", "bootloader exit event: %r" % (ev,)
        left = wait_for(lambda: (lambda m: m if boot not in m else None)(h.members()), 5)
        assert left and len(left) == 5 and server in left, "after the bootloader: %r" % (left,)
        assert set(Ctx.probe.tree()) == set(members) & set(Ctx.probe.tree()) and \
            len(Ctx.probe.tree()) == 4, "inside wine: %r" % Ctx.probe.tree()
        assert len(linux_tree_processes()) == 4, "from Linux: %r" % linux_tree_processes()
        assert not Ctx.probe.port_free(port), "the orphaned server no longer holds its port?"
        top = h.ok("top-level")
        assert str(server) in top[1:], "the orphaned server is not top-level: %r" % top
        sent, rep = h.request("kill")
        assert rep == ["ok", "5", "5"], "kill reply %r" % rep
        ev = h.wait_event(lambda f: f == ["empty"], 5)
        assert ev, "no empty after kill"
        notes.append("forced stop (orphaned tree of 5): kill -> empty %.1f ms" % ((ev[0] - sent) * 1000))
        assert h.members() == [], "members after kill"
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_forced_stop_timing():
    """kill -> empty within 100 ms (TerminateJobObject, then the completion
    port's ACTIVE_PROCESS_ZERO), five times; the figures are printed."""
    h = JobHelper()
    figures = []
    try:
        for _ in range(5):
            run, boot, server, port, members = start_tree(h)
            sent, rep = h.request("kill")
            assert rep[0] == "ok", "kill reply %r" % rep
            ev = h.wait_event(lambda f: f == ["empty"], 5)
            assert ev, "no empty after kill"
            figures.append((ev[0] - sent) * 1000)
            assert_tree_gone(members, port)
        notes.append("forced stop kill -> empty (ms): " + ", ".join("%.1f" % x for x in figures) +
                     "; max %.1f" % max(figures))
        assert max(figures) <= FORCED_STOP_LIMIT_MS, "kill -> empty over %d ms: %r" % \
            (FORCED_STOP_LIMIT_MS, figures)
    finally:
        h.close()


def test_stdin_eof_ends_tree():
    """Tether gone (its end of stdin closed): the helper ends the tree and exits."""
    h = JobHelper()
    run, boot, server, port, members = start_tree(h)
    rc = h.close()
    assert rc == 0, "helper exit status %r after end-of-file" % rc
    assert_tree_gone(members, port)


def test_helper_sigkill_ends_tree():
    """The helper's wine process killed with Linux kill -9: its job handle
    closes, KILL_ON_JOB_CLOSE ends the tree."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h)
        with open("/proc/%d/comm" % h.proc.pid) as f:
            comm = f.read().strip()
        assert comm == "tether-job.exe", "Popen pid is %r, not the helper" % comm
        os.kill(h.proc.pid, signal.SIGKILL)
        h.proc.wait(10)
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_helper_terminateprocess_ends_tree():
    """The helper ended by TerminateProcess from inside wine (Task Manager's
    way): the tree goes with it."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h)
        assert Ctx.probe.terminate(h.pid), "TerminateProcess of the helper failed"
        h.proc.wait(10)
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_outsider_untouched():
    """A process outside the job is never signalled or killed, even named."""
    out_path = os.path.join(Ctx.work, "outsider.txt")
    outsider = Ctx.wine.popen([Ctx.tt, "outsider"], stdout=open(out_path, "wb"))
    h = JobHelper()
    try:
        text = wait_for(lambda: open(out_path).read().strip(), 20)
        assert text.startswith("pid "), "outsider did not start: %r" % text
        opid = int(text.split()[1])
        run, boot, server, port, members = start_tree(h)
        assert opid not in members, "the outsider is listed as a member"
        for req in (("signal", opid, 9), ("signal", opid, 2), ("signal-subtree", opid, 9),
                    ("kill-subtree", opid), ("watch", opid)):
            _, rep = h.request(*req)
            assert rep[:2] == ["error", "3"], "%r on the outsider: %r" % (req, rep)
        h.ok("signal-all", 9)
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after signal-all 9"
        h.ok("kill")
        assert_tree_gone(members, port, keep_linux=(outsider.pid,), keep_wine=(opid,))
        assert Ctx.probe.alive([opid]) == {opid}, "the outsider was killed"
        assert outsider.poll() is None, "the outsider's wine process ended"
    finally:
        h.close()
        outsider.kill()
        outsider.wait(10)


def test_ctrl_c_polite_stop():
    """The graceful step with spawn flag ctrl-c: signal 15 becomes CTRL_C_EVENT
    raised on the backend's console; the server's SetConsoleCtrlHandler runs,
    it closes its port and exits 0, the bootloader passes that on, and the
    tree empties by itself. (The default, CTRL_BREAK_EVENT, cannot be proven
    here: wine 8 does not implement CTRL_BREAK; that needs real Windows.)"""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h, mode="polite", flags="ctrl-c")
        rep = h.ok("signal", boot, 15)
        assert rep == ["1", "6"], "signal reply %r" % rep
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(boot)], 10)
        assert ev, "bootloader did not end after CTRL_C"
        assert ev[1].split()[2] == "0", "bootloader exit code %r: the server did not exit politely" % ev[1]
        assert os.path.exists(os.path.join(run, "polite.txt")), "the server's handler did not run"
        assert h.wait_event(lambda f: f == ["empty"], 10), "no empty after the polite stop; members %r, " \
            "events %r, inside wine %r" % (h.members(), h.events, Ctx.probe.tree())
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_ctrl_c_orphaned_server():
    """The founding case, then a polite stop: the bootloader killed alone, the
    orphaned server still stops on CTRL_C. With the spawned process gone the
    helper must attach to another process of the console, and the console's
    conhost.exe (a member, listed before the server here) is not one."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h, mode="polite", flags="ctrl-c")
        h.ok("signal", boot, 9)
        assert h.wait_event(lambda f: f[:2] == ["exit", str(boot)], 5), "bootloader did not end"
        wait_for(lambda: boot not in h.members(), 5)
        left = h.members()
        assert len(left) == 5 and server in left, "after the bootloader: %r" % left
        rep = h.ok("signal-all", 15)
        assert rep == ["5", "5"], "signal-all reply %r" % rep
        assert wait_for(lambda: os.path.exists(os.path.join(run, "polite.txt")), 10), \
            "the orphaned server's handler did not run"
        assert h.wait_event(lambda f: f == ["empty"], 10), "no empty after the polite stop; members %r" % \
            h.members()
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_ctrl_c_ignored_then_kill():
    """A backend that ignores CTRL_C survives the graceful step (so the
    previous test's stop is the handler's doing), and kill still ends it."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h, mode="ignore", flags="ctrl-c")
        rep = h.ok("signal-all", 2)
        assert rep == ["6", "6"], "signal-all reply %r" % rep
        time.sleep(1.5)
        assert sorted(h.members()) == sorted(members), "members changed after an ignored CTRL_C"
        assert not os.path.exists(os.path.join(run, "polite.txt")), "ignore mode stopped politely"
        h.ok("kill")
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after kill"
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_subtree_and_watch():
    """kill-subtree ends a helper and its child only; a watched member's exit
    is reported; signal-subtree counts what it reached."""
    h = JobHelper()
    try:
        run, boot, server, port, members = start_tree(h)
        view = Ctx.probe.tree()
        with_child = [p for p, pp in view.items() if pp == server and any(q == p for q in view.values())]
        assert len(with_child) == 1, "cannot find the helper with a child: %r" % view
        helper_pid = with_child[0]
        grandchild = [p for p, pp in view.items() if pp == helper_pid][0]
        assert h.ok("watch", server) == [], "watch reply"
        rep = h.ok("kill-subtree", helper_pid)
        assert rep == ["2", "6"], "kill-subtree reply %r" % rep
        left = wait_for(lambda: (lambda m: m if len(m) == 4 else None)(h.members()), 5)
        assert left and helper_pid not in left and grandchild not in left and server in left, \
            "after kill-subtree: %r" % (left,)
        rep = h.ok("signal-subtree", server, 9)
        assert rep == ["2", "4"], "signal-subtree reply %r (server and its other helper)" % rep
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(server)], 5)
        assert ev and ev[1].split()[2] == "137", "watched server's exit: %r" % (ev,)
        h.ok("kill")
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty"
        assert_tree_gone(members, port)
    finally:
        h.close()


def test_spawn_arguments_env_exit_code():
    """Command-line quoting survives the C runtime's parsing; a bare name is
    found through the env's PATH; the child gets exactly ENV; its output is
    the helper's stderr; its exit code is reported, then empty."""
    h = JobHelper()
    try:
        tricky = ["plain", "with space", "", "quote\"inside", "trailing\\", "back\\\\slash\\\"q",
                  "tab\there", "ünï cødé", "%percent%", "a\\\\ b\\"]
        pid = h.spawn(["tt-tree.exe", "args"] + tricky)
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(pid)], 10)
        assert ev and ev[1].split()[2] == "0", "args child: %r" % (ev,)
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after the child ended"
        got = [bytes.fromhex(l[4:]).decode("utf-8") for l in h.stderr_text().splitlines()
               if l.startswith("arg:")]
        assert got == tricky, "arguments came out as %r" % got

        pid = h.spawn(["tt-tree.exe", "env", "TETHER_PROBE"], env=default_env() + ["TETHER_PROBE=a b=c"])
        assert h.wait_event(lambda f: f[:2] == ["exit", str(pid)], 10), "env child did not end"
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after the env child"
        assert "env:a b=c" in h.stderr_text(), "env not passed: %r" % h.stderr_text()
        pid = h.spawn(["tt-tree.exe", "env", "TETHER_JOB_TEST_OWN"])
        assert h.wait_event(lambda f: f[:2] == ["exit", str(pid)], 10), "env child did not end"
        assert h.wait_event(lambda f: f == ["empty"], 5), "no empty after the env child"
        assert "env:(unset)" in h.stderr_text(), "the helper's own environment leaked"
        assert not [e for e in h.events if e[1] == "empty"], "an empty too many: %r" % h.events

        # A relative program path is taken from the child's directory.
        shutil.copy(Ctx.tt, os.path.join(Ctx.work, "tt-copy.exe"))
        pid = h.spawn(["sub\\..\\tt-copy.exe", "exit", "42"], cwd=winpath(Ctx.work))
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(pid)], 10)
        assert ev and ev[1] == "exit %d 42" % pid, "exit event %r" % (ev,)
        ev2 = h.wait_event(lambda f: f == ["empty"], 5)
        assert ev2 and ev2[0] >= ev[0], "empty missing or before the exit event"

        _, rep = h.request("spawn", "-", "%", 1, "no-such-program-here", 1, enc("PATH=C:\\windows"))
        assert rep[:2] == ["error", "2"], "missing program: %r" % rep
        _, rep = h.request("spawn", "-", enc("Z:\\no\\such\\dir"), 1, enc(Ctx.tt), 0)
        assert rep[:2] == ["error", "2"], "missing directory: %r" % rep
    finally:
        h.close()


def test_spawn_given_output_handles():
    """spawn stdout=H,stderr=H: the child writes into handles put into the
    helper (as Tether puts its log pipes), not into the helper's stderr; a
    handle that is not a file or pipe of the helper is refused, naming it."""
    h = JobHelper()
    try:
        out, err = os.path.join(Ctx.work, "given-out.txt"), os.path.join(Ctx.work, "given-err.txt")
        rc, text, _ = Ctx.wine.run(Ctx.tt, "give", str(h.pid), winpath(out), winpath(err), "event")
        assert rc == 0, "tt-tree give: exit %d" % rc
        v_out, v_err, v_event = text.split()
        pid = h.spawn(["tt-tree.exe", "talk", winpath(Ctx.work), "1000", "exit"],
                      flags="stdout=%s,stderr=%s" % (v_out, v_err))
        ev = h.wait_event(lambda f: f[:2] == ["exit", str(pid)], 20)
        assert ev and ev[1] == "exit %d 0" % pid, "talk child: %r" % (ev,)
        assert h.wait_event(lambda f: f == ["empty"], 10), "no empty after the talk child"
        with open(out, "rb") as f:
            lines = f.read().split(b"\n")
        assert lines[1000:] == [b"hello stdout", b"L" * 40000, b""] and lines[999].startswith(b"flood 00001000"), \
            "stdout file: %d lines, %r" % (len(lines), lines[:1])
        with open(err, "rb") as f:
            assert f.read() == b"hello stderr\ndone\n", "stderr file"
        assert "hello" not in h.stderr_text(), "the child wrote to the helper's stderr"
        for flags, named in (("stdout=%s" % v_event, "stdout handle %s" % v_event),
                             ("stderr=999996", "stderr handle 999996")):
            _, rep = h.request("spawn", flags, "%", 1, enc(Ctx.tt), 0)
            assert rep[:2] == ["error", "22"] and named.replace(" ", "%20") in rep[2], "%s: %r" % (flags, rep)
        assert h.members() == [], "helper no longer answers, or a child is left"
    finally:
        h.close()


def test_malformed_requests():
    """Hostile and malformed lines: each gets its error reply, in order, with
    the right id (0 when none), and the helper keeps answering."""
    h = JobHelper()
    try:
        cases = [
            (b"members\n", "0", "22"),
            (b"abc members\n", "0", "22"),
            (b"0 members\n", "0", "22"),
            (b"-5 members\n", "0", "22"),
            (b"99999999999999999999999 members\n", "0", "22"),
            (b"5 bogus\n", "5", "22"),
            (b"6 spawn\n", "6", "22"),
            (b"7 spawn - % 0 0\n", "7", "22"),
            (b"8 spawn - % 99999999999 x 0\n", "8", "22"),
            (b"9 spawn - %ZZ 1 x 0\n", "9", "22"),
            (b"10 spawn - % 1 a%00b 0\n", "10", "22"),
            (b"11 spawn nope % 1 x 0\n", "11", "22"),
            (b"12 spawn - % 1 x 1 NOEQUALS\n", "12", "22"),
            (b"13 spawn - % 1 \xff\xfe 0\n", "13", "22"),
            (b"14 signal 1 99\n", "14", "22"),
            (b"15 signal -1 9\n", "15", "22"),
            (b"16 signal 4294967296 9\n", "16", "22"),
            (b"17 signal 4 15 extra\n", "17", "22"),
            (b"18 watch 0\n", "18", "22"),
            (b"19 members extra\n", "19", "22"),
            (b"20 freeze\n", "20", "38"),
            (b"21 thaw\n", "21", "38"),
            (b"22 freeze-except 4\n", "22", "38"),
            (b"23 signal 4 9\n", "23", "3"),
            (b"24 kill-subtree 4\n", "24", "3"),
            (b"25 \x00\x01\x02 binary\n", "0", "22"),
            (b"26 spawn - % 2 x\n", "26", "22"),
            (b"27  members\n", "27", "22"),
            (b"28 spawn - % 1 " + b"A" * 40000 + b" 0\n", "28", "7"),
            (b"30 spawn - % 1 no-such-program-at-all 0\n", "30", "2"),
            (b"29 spawn - % 3 x " + b"y" * 33000 + b" z 0\n", "29", "7"),
            (b"31 spawn stdout=abc % 1 x 0\n", "31", "22"),
            (b"32 spawn ctrl-c,stderr=0 % 1 x 0\n", "32", "22"),
            (b"33 spawn stdout=4294967296 % 1 x 0\n", "33", "22"),
            (b"34 spawn stderr=1000000 % 1 x 0\n", "34", "22"),
        ]
        for line, rid, errnum in cases:
            h.send_raw(line)
        for line, rid, errnum in cases:
            item = h.next_line(10)
            assert item is not None, "no reply to %r" % line[:40]
            parts = item[1].split(" ")
            assert parts[0] == rid and parts[1] == "error" and parts[2] == errnum and len(parts) == 4, \
                "reply to %r: %r (expected %s error %s)" % (line[:40], item[1][:80], rid, errnum)
        # Over 1 MiB: refused with its id, the rest skipped, the next line fine.
        h.send_raw(b"40 spawn - % 1 " + b"x" * (1024 * 1024 + 10) + b" 0\n41 members\n")
        item = h.next_line(20)
        assert item and item[1].startswith("40 error 22 "), "overlong line: %r" % (item,)
        item = h.next_line(10)
        assert item and item[1] == "41 ok 0", "after the overlong line: %r" % (item,)
        # Exactly at the limit (1048576 bytes with the '\n'): not too long.
        head = b"42 spawn - % 1 "
        line = head + b"x" * (1024 * 1024 - len(head) - 3) + b" 0\n"
        assert len(line) == 1024 * 1024
        h.send_raw(line)
        item = h.next_line(20)
        assert item and item[1].startswith("42 error ") and not item[1].startswith("42 error 22 "), \
            "a line at the limit was refused as too long: %r" % (item[1][:60] if item else None)
        h.send_raw(b"43 members\r\n")
        item = h.next_line(10)
        assert item and item[1] == "43 ok 0", "CRLF line: %r" % (item,)
        # Pipelined: 300 requests in one write, 300 replies in order.
        h.send_raw(b"".join(b"%d members\n" % (100 + i) for i in range(300)))
        for i in range(300):
            item = h.next_line(10)
            assert item and item[1] == "%d ok 0" % (100 + i), "pipelined reply %d: %r" % (i, item)
        # Junk built from the protocol's own words, seeded so a failure can be
        # replayed: every line gets exactly one reply, with its id.
        rng = random.Random(17)
        words = [b"spawn", b"members", b"top-level", b"watch", b"signal", b"signal-all", b"signal-subtree",
                 b"kill-subtree", b"freeze", b"thaw", b"freeze-except", b"-", b"ctrl-c", b"%", b"%2", b"%zz",
                 b"%00", b"0", b"1", b"2", b"9", b"15", b"4294967295", b"4294967296", b"-1", b"\xff", b"\t",
                 b"99999999999999999999", b"a=b", b"PATH=C:\\", b"", b"\r"]
        junk = []
        for i in range(400):
            fields = [rng.choice(words) for _ in range(rng.randrange(0, 12))]
            junk.append(b"%d " % (1000 + i) + b" ".join(fields) + b"\n")
        h.send_raw(b"".join(junk))
        for i in range(400):
            item = h.next_line(15)
            assert item is not None, "no reply to junk line %d: %r" % (i, junk[i])
            parts = item[1].split(" ")
            while parts[0] in ("exit", "empty"):
                item = h.next_line(15)
                assert item is not None, "no reply to junk line %d: %r" % (i, junk[i])
                parts = item[1].split(" ")
            assert parts[0] == str(1000 + i) and parts[1] in ("ok", "error"), \
                "reply to junk line %d %r: %r" % (i, junk[i], item[1][:80])
        assert h.proc.poll() is None, "the helper died"
        assert h.ok("members") == ["0"], "helper no longer answers"
    finally:
        rc = h.close()
    assert rc == 0, "helper exit status %r" % rc


TESTS = [
    test_hello_and_tree_listed,
    test_kill_bootloader_alone,
    test_forced_stop_timing,
    test_stdin_eof_ends_tree,
    test_helper_sigkill_ends_tree,
    test_helper_terminateprocess_ends_tree,
    test_outsider_untouched,
    test_ctrl_c_polite_stop,
    test_ctrl_c_orphaned_server,
    test_ctrl_c_ignored_then_kill,
    test_subtree_and_watch,
    test_spawn_arguments_env_exit_code,
    test_spawn_given_output_handles,
    test_malformed_requests,
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", help="directory holding tether-job.exe and tt-tree.exe")
    parser.add_argument("--job", help="tether-job.exe (default: BIN/tether-job.exe)")
    parser.add_argument("--tt", help="tt-tree.exe (default: BIN/tt-tree.exe)")
    parser.add_argument("--only", default="")
    args = parser.parse_args()

    if not args.bin and not (args.job and args.tt):
        parser.error("give --bin, or --job and --tt")
    Ctx.job = os.path.abspath(args.job or os.path.join(args.bin, "tether-job.exe"))
    Ctx.tt = os.path.abspath(args.tt or os.path.join(args.bin, "tt-tree.exe"))
    Ctx.bin = os.path.dirname(Ctx.tt)
    Ctx.work = tempfile.mkdtemp(prefix="tether-job-test-")
    # In the helper's environment, never in a child's (spawn passes exactly ENV).
    Ctx.wine = Wine(default_prefix("TETHER_WINEPREFIX", "tether-wine-job"), Ctx.work,
                    env={"TETHER_JOB_TEST_OWN": "leaked"})
    Ctx.probe = Probe(Ctx.wine, Ctx.tt)
    return run_tap(Ctx.wine, select(TESTS, args.only), [Ctx.tt, "list"], notes, after_each=cleanup_strays)


if __name__ == "__main__":
    sys.exit(main())
