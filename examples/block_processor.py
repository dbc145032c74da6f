#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tether's rollback demo: a block processor made of five processes.

Python 3 standard library only.

    python3 block_processor.py [--state-dir DIR] [--interval 0.05] [--blocks N]
                               [--bad-block N] [--monitor-port 0]
                               [--rollback-port PORT]

Tether starts one command; that main process starts four children of its own
(fork + exec of this script with the role as first argument, so every one
has its own command line):

    producer  serves fake blocks on loopback HTTP (a port the kernel picks):
              GET /block/N -> {"n": N, "hash": "<sha256 of 'block N'>"}
    fetcher   fetches the blocks one after another, one per --interval
              seconds, and records each one in DIR/progress and DIR/counter;
              every 10th block it sends X_TETHER_CHECKPOINT=<N> block <N>
              itself. With --blocks N it idles after block N.
    lookout   watches the progress; with --bad-block N it declares block N
              bad once it is processed ("lookout: block N is bad" on stderr,
              DIR/bad) and takes that back when a rollback undoes it
    monitor   loopback HTTP on --monitor-port (0: the kernel picks one):
              GET /           {"processDir": {role: {"pid": ...}, ...},
                               "last_block": N, "resumed_from": N,
                               "rollbacks": [{"to": N, "from": N, "message":
                                   TEXT, "via": "monitor" or "main",
                                   "time": UNIX}, ...]}   (this run's)
              POST /rollback  {"rollbackIndex": N, "message": "..."} sends
                              the fetcher back to block N and answers
                              {"ok": true, "rolledBackTo": N} once it is
                              there (400: bad body, 409: N is beyond the
                              last block, 504: the fetcher did not answer).
                              N may also be a string of digits (Tether's
                              checkpoint IDs are strings).
    main      the process Tether started: picks where to start, binds the
              HTTP ports (handing each socket to its server), starts the
              four, answers for them to Tether and stops them. With
              --rollback-port it serves POST /rollback itself (same body,
              400, 409) for Tether's HTTP rollback, which freezes every
              process but the main one before it asks: the monitor could not
              answer, nor the fetcher acknowledge. So this one answers
              {"ok": true, "rolledBackTo": N, "pending": true} at once, and
              the fetcher goes back before its next block once thawed.

Where it starts: block $TETHER_CHECKPOINT + 1 when that is set (Tether's
restart rollback), else after the block in DIR/progress, else at block 1.

State in DIR (default $XDG_STATE_HOME/tether-examples/block-processor, or
~/.local/state/...), one number and a newline per file unless said otherwise;
the files are replaced whole (written aside, then renamed):
    progress        the last block processed
    counter         the same, rewritten after every block
    resumed_from    the block this run started after
    runs.log        a line added per start: "start resumed_from=N pid=P source=S"
    monitor.port    producer.port    the ports in use
    pids            "role pid" per line, once all five run
    bad             the bad block, while the state includes it
    rollback-to     a rollback asked for: block, "monitor" or "main", message
                    (a line each); rollback-claimed while the fetcher carries
                    it out, gone once done
    rollbacks.jsonl the rollbacks the fetcher carried out in this run, a JSON
                    object per line (as in the monitor's "rollbacks")
    lock            held by the main process (flock)

Environment: TETHER_CHECKPOINT (see above); NOTIFY_SOCKET, passed on to the
fetcher only; the main process sets BLOCK_PROCESSOR_PRODUCER (host:port of
the producer), BLOCK_PROCESSOR_LISTEN_FD (the producer's and the monitor's
socket) and BLOCK_PROCESSOR_PIDS (role=pid,..., for the monitor).

sd_notify when $NOTIFY_SOCKET is set: READY=1 once the producer and the
monitor answer, STATUS=block N now and then, the fetcher's checkpoints,
STOPPING=1. SIGTERM or SIGINT stops it: the children get SIGTERM and are
waited for, then it exits 0. When a child dies on its own the main process
stops the others and exits 1. One instance per state directory (a lock).
"""

import fcntl
import os
import signal
import socket
import sys
import threading
import time

ROLES = ("producer", "fetcher", "lookout", "monitor")
STATUS_INTERVAL = 1.0
CHECKPOINT_EVERY = 10
READY_TIMEOUT = 20.0        # for the producer and the monitor to answer
CHILD_STOP_TIMEOUT = 5.0
ROLLBACK_TIMEOUT = 10.0     # for the fetcher to take a rollback
HTTP_TIMEOUT = 5.0
MAX_BODY = 65536
MAX_BLOCK = 10 ** 15
MAX_ROLLBACKS_KEPT = 100    # in the monitor's GET /
# Signals are blocked and waited for with sigtimedwait(), never handled:
# a Python handler that sets a threading.Event can deadlock when it runs
# while the main thread holds that event's lock, and a handler's wake-up
# can come after the wait has begun. Threads inherit the mask.
MAIN_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
CHILD_SIGNALS = {signal.SIGTERM, signal.SIGUSR1}   # SIGUSR1: the monitor's nudge

ENV_PRODUCER = "BLOCK_PROCESSOR_PRODUCER"     # host:port of the producer
ENV_LISTEN_FD = "BLOCK_PROCESSOR_LISTEN_FD"   # a listening socket, bound by main
ENV_PIDS = "BLOCK_PROCESSOR_PIDS"             # role=pid,... (for the monitor)

ROLE = "block_processor"


def log(*parts):
    # One write per line: lines of threads and processes do not interleave.
    line = " ".join([ROLE + ":"] + [str(p) for p in parts])
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


# --- sd_notify --------------------------------------------------------------

class Notifier:
    """sd_notify over $NOTIFY_SOCKET (datagrams; '@' = abstract namespace)."""

    def __init__(self):
        self.addr = None
        self.sock = None
        self.warned = False
        path = os.environ.get("NOTIFY_SOCKET")
        if not path:
            return
        self.addr = "\0" + path[1:] if path.startswith("@") else path
        try:
            # Non-blocking: a supervisor that falls behind costs a dropped
            # notification, never a stalled block.
            self.sock = socket.socket(socket.AF_UNIX,
                                      socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        except OSError as e:
            log("notify: cannot create socket:", e)

    def send(self, *lines):
        if self.sock is None:
            return
        try:
            self.sock.sendto("\n".join(lines).encode("utf-8"), self.addr)
        except OSError as e:
            if not self.warned:
                self.warned = True
                log("notify: send failed:", e)


# --- state files ------------------------------------------------------------

def state_path(state_dir, name):
    return os.path.join(state_dir, name)


def write_atomic(path, text):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_number(path):
    """The number a state file starts with, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            value = int(f.read(64).split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return value if value >= 0 else None


def remove(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def is_block_number(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BLOCK


# --- HTTP, the little that is needed ----------------------------------------
# http.server and urllib pull in email, http.client and more; start-up time
# matters here (five interpreters start at once), so this is hand-made:
# HTTP/1.0, one request per connection, Content-Length bodies only.

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 411: "Length Required", 413: "Payload Too Large",
           500: "Internal Server Error", 504: "Gateway Timeout"}


class HTTPError(Exception):
    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.extra = extra


def http_call(address, method, path, body=b"", timeout=HTTP_TIMEOUT):
    """(status, body) of one request to address (host, port)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        head = "%s %s HTTP/1.0\r\nHost: %s:%d\r\n" % (method, path, address[0], address[1])
        if body or method == "POST":
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, sep, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split()
    if not sep or len(parts) < 2 or not parts[1].isdigit():
        raise OSError("not an HTTP answer")
    return int(parts[1]), rest


def serve_http(sock, route):
    """Answers every connection on sock in a thread of its own, with
    route(method, path, body) -> (code, json_text). Returns at once."""

    def answer(conn):
        with conn:
            try:
                conn.settimeout(HTTP_TIMEOUT)
                rfile = conn.makefile("rb")
                line = rfile.readline(8193)
                parts = line.decode("latin-1").split()
                if not parts:
                    return
                length = 0
                for _ in range(100):
                    header = rfile.readline(8193)
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode("latin-1").partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        if not value.strip().isdigit():
                            raise HTTPError(400, "bad Content-Length")
                        length = int(value.strip())
                    elif name == "transfer-encoding":
                        raise HTTPError(411, "send the body with a Content-Length")
                if len(parts) not in (2, 3):
                    raise HTTPError(400, "bad request line")
                if not 0 <= length <= MAX_BODY:
                    raise HTTPError(413, "the body is too large")
                body = rfile.read(length) if length else b""
                code, text = route(parts[0], parts[1], body)
            except HTTPError as e:
                code, text = e.code, json_error(str(e), **e.extra)
            except (OSError, ValueError):
                return  # timed out, reset, or not HTTP: nothing to answer
            except Exception as e:   # a bug, or JSON nested too deep
                log("error while answering a request: %r" % e)
                code, text = 500, json_error("internal error")
            data = text.encode("utf-8")
            head = ("HTTP/1.0 %d %s\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %d\r\n"
                    "Cache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n" % (code, REASONS.get(code, "Error"), len(data)))
            try:
                conn.sendall(head.encode("latin-1") + data)
            except OSError:
                pass

    def accept_loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                time.sleep(0.05)
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


def json_error(message, **extra):
    return json_reply(dict({"ok": False, "error": message}, **extra))


def inherited_listener():
    fd = int(os.environ.pop(ENV_LISTEN_FD))
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    return sock


# --- rollback requests --------------------------------------------------------
# The monitor and the main process ask; the fetcher carries out. A request is
# DIR/rollback-to: the block, who asked, the message (a line each). The
# fetcher claims it by renaming it to DIR/rollback-claimed, goes back, adds a
# line to DIR/rollbacks.jsonl and removes the claimed file: that is the
# acknowledgement.

def one_line(text):
    return " ".join(str(text).split())


def parse_rollback(body):
    """(block, message) from a POST /rollback body; HTTPError 400 if bad."""
    import json
    try:
        request = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):   # UnicodeDecodeError is a ValueError
        raise HTTPError(400, "the body is not JSON") from None
    if not isinstance(request, dict) or "rollbackIndex" not in request:
        raise HTTPError(400, 'expected {"rollbackIndex": N, "message": TEXT}')
    index = request["rollbackIndex"]
    if isinstance(index, str) and index.isdigit() and index.isascii():
        index = int(index)   # checkpoint IDs are strings to Tether
    if not is_block_number(index):
        raise HTTPError(400, "rollbackIndex must be a block number (0 or more)")
    message = request.get("message", "")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise HTTPError(400, "message must be a string")
    return index, message


def ask_rollback(state_dir, index, message, via, fetcher_pid):
    """Files the request (after the 409 check); returns the block it was at.
    Raises HTTPError 409 when index is beyond the last block."""
    last = read_number(state_path(state_dir, "progress")) or 0
    if index > last:
        raise HTTPError(409, "block %d is beyond the last block processed, %d" % (index, last),
                        last_block=last)
    shown = one_line(message)[:200]
    log("rollback to block %d asked (at block %d)%s" % (index, last, ": " + shown if shown else ""))
    write_atomic(state_path(state_dir, "rollback-to"),
                 "%d\n%s\n%s\n" % (index, via, one_line(message)[:1000]))
    # Wakes the fetcher from its wait (or, frozen, as soon as it is thawed).
    try:
        os.kill(fetcher_pid, signal.SIGUSR1)
    except (TypeError, OSError):
        pass
    return last


def json_reply(obj):
    import json
    return json.dumps(obj) + "\n"


def wait_signals(signals, timeout):
    """Sleeps until one of signals (blocked) comes or timeout seconds have
    passed; returns the set of those that came."""
    got = set()
    info = signal.sigtimedwait(signals, max(timeout, 0.0))
    while info is not None:
        got.add(info.si_signo)
        info = signal.sigtimedwait(signals, 0)
    return got


def wait_for_stop(parent):
    """Returns on SIGTERM, or when the main process is gone."""
    while signal.SIGTERM not in wait_signals({signal.SIGTERM}, 1.0):
        if os.getppid() != parent:
            log("the main process is gone, exiting")
            return


# --- producer ---------------------------------------------------------------

def run_producer(args):
    import hashlib

    def route(method, path, body):
        if method != "GET":
            raise HTTPError(405, "only GET")
        prefix, _, number = path.partition("/block/")
        if prefix or not number.isdigit() or int(number) > MAX_BLOCK:
            raise HTTPError(404, "GET /block/N with N a block number")
        n = int(number)
        digest = hashlib.sha256(("block %d" % n).encode("ascii")).hexdigest()
        return 200, '{"n": %d, "hash": "%s"}\n' % (n, digest)

    parent = os.getppid()
    serve_http(inherited_listener(), route)
    wait_for_stop(parent)
    return 0


# --- fetcher ----------------------------------------------------------------

def run_fetcher(args):
    import json

    host, _, port = os.environ[ENV_PRODUCER].rpartition(":")
    producer = (host, int(port))
    notifier = Notifier()
    parent = os.getppid()
    progress_file = state_path(args.state_dir, "progress")
    counter_file = state_path(args.state_dir, "counter")
    request_file = state_path(args.state_dir, "rollback-to")
    claimed_file = state_path(args.state_dir, "rollback-claimed")
    rollbacks_file = state_path(args.state_dir, "rollbacks.jsonl")
    done = None

    def record(n):
        write_atomic(progress_file, "%d\n" % n)
        write_atomic(counter_file, "%d\n" % n)

    def take_rollback():
        # The rename is the claim: the monitor may withdraw a request that
        # nobody has claimed (by removing it), never one that is under way.
        try:
            os.rename(request_file, claimed_file)
        except FileNotFoundError:
            return None
        try:
            with open(claimed_file, encoding="utf-8") as f:
                lines = f.read().split("\n")
            target = int(lines[0])
        except (OSError, ValueError):
            target = None
        if target is None or target < 0:
            log("ignoring an unreadable rollback request")
            target = None
        else:
            record(target)
            log("rolled back from block %d to block %d" % (position, target))
            with open(rollbacks_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({
                    "to": target, "from": position,
                    "message": lines[2] if len(lines) > 2 else "",
                    "via": lines[1] if len(lines) > 1 else "",
                    "time": round(time.time(), 3)}) + "\n")
        remove(claimed_file)   # the acknowledgement the monitor waits for
        return target

    def fetch(n):
        status, body = http_call(producer, "GET", "/block/%d" % n)
        if status != 200:
            raise OSError("the producer answered %d" % status)
        block = json.loads(body)
        if not isinstance(block, dict) or block.get("n") != n or len(str(block.get("hash"))) != 64:
            raise OSError("the producer sent a wrong block: %r" % body[:100])

    position = args.start
    log("starting at block %d" % (position + 1))
    due = time.monotonic()
    outage = False
    while True:
        if os.getppid() != parent:
            log("the main process is gone, exiting")
            break
        target = take_rollback()
        if target is not None:
            position = target
            done = None
            due = time.monotonic() + args.interval
        elif args.blocks is not None and position >= args.blocks:
            if done != position:
                done = position
                log("at block %d, idling (--blocks %d)" % (position, args.blocks))
            due = time.monotonic() + args.interval
        elif time.monotonic() >= due:
            n = position + 1
            try:
                fetch(n)
            except (OSError, ValueError) as e:
                if not outage:
                    log("cannot fetch block %d: %s; retrying" % (n, e))
                    outage = True
                due = time.monotonic() + max(args.interval, 0.2)
            else:
                if outage:
                    log("fetching again")
                    outage = False
                # A rollback asked for meanwhile (while we were frozen, say)
                # comes first: block n is not recorded, nor reported.
                target = take_rollback()
                if target is not None:
                    position = target
                    done = None
                else:
                    record(n)
                    position = n
                    if n % CHECKPOINT_EVERY == 0 and not os.path.exists(request_file):
                        notifier.send("X_TETHER_CHECKPOINT=%d block %d" % (n, n))
                        log("checkpoint %d" % n)
                due = max(due + args.interval, time.monotonic())
        # SIGUSR1 (the monitor's nudge) ends the wait early.
        if signal.SIGTERM in wait_signals(CHILD_SIGNALS, min(due - time.monotonic(), 1.0)):
            break
    return 0


# --- lookout ----------------------------------------------------------------

def run_lookout(args):
    parent = os.getppid()
    progress_file = state_path(args.state_dir, "progress")
    bad_file = state_path(args.state_dir, "bad")
    poll = min(max(args.interval / 2, 0.02), 0.25)
    last = None
    bad = None
    while True:
        current = read_number(progress_file)
        if current is not None and current != last:
            if last is not None and current < last:
                log("progress went back from block %d to block %d" % (last, current))
            last = current
            if args.bad_block is not None:
                now_bad = current >= args.bad_block
                if now_bad and bad is not True:
                    log("block %d is bad" % args.bad_block)
                    write_atomic(bad_file, "%d\n" % args.bad_block)
                elif not now_bad and bad is not False:
                    if remove(bad_file):
                        log("block %d is undone (at block %d now)" % (args.bad_block, current))
                bad = now_bad
        if args.bad_block is None and bad is None:
            remove(bad_file)   # a bad block of an earlier run's --bad-block
            bad = False
        if signal.SIGTERM in wait_signals({signal.SIGTERM}, poll):
            break
        if os.getppid() != parent:
            log("the main process is gone, exiting")
            break
    return 0


# --- monitor ----------------------------------------------------------------

def run_monitor(args):
    import json

    pids = {}
    for item in os.environ.pop(ENV_PIDS, "").split(","):
        role, _, pid = item.partition("=")
        if pid.isdigit():
            pids[role] = int(pid)
    pids["monitor"] = os.getpid()
    progress_file = state_path(args.state_dir, "progress")
    request_file = state_path(args.state_dir, "rollback-to")
    claimed_file = state_path(args.state_dir, "rollback-claimed")
    rollbacks_file = state_path(args.state_dir, "rollbacks.jsonl")
    rollback_lock = threading.Lock()

    def last_block():
        n = read_number(progress_file)
        return args.start if n is None else n

    def rollbacks():
        done = []
        try:
            with open(rollbacks_file, encoding="utf-8") as f:
                for line in f:
                    try:
                        done.append(json.loads(line))
                    except ValueError:
                        pass   # a line cut short
        except OSError:
            pass
        return done[-MAX_ROLLBACKS_KEPT:]

    def overview():
        return json_reply({
            "processDir": {role: {"pid": pid} for role, pid in pids.items()},
            "last_block": last_block(),
            "resumed_from": args.start,
            "rollbacks": rollbacks(),
        })

    def wait_gone(deadline, *paths):
        while time.monotonic() < deadline:
            if not any(os.path.exists(p) for p in paths):
                return True
            time.sleep(0.005)
        return False

    def rollback(index, message):
        with rollback_lock:
            ask_rollback(args.state_dir, index, message, "monitor", pids.get("fetcher"))
            if not wait_gone(time.monotonic() + ROLLBACK_TIMEOUT, request_file, claimed_file):
                if remove(request_file):
                    log("the fetcher did not take the rollback to block %d" % index)
                    return 504, json_error("the fetcher did not take the rollback in %g s"
                                           % ROLLBACK_TIMEOUT)
                # Claimed meanwhile: it is under way, and gets its time.
                if not wait_gone(time.monotonic() + ROLLBACK_TIMEOUT, claimed_file):
                    return 504, json_error("the fetcher did not finish the rollback")
            return 200, json_reply({"ok": True, "rolledBackTo": index})

    def route(method, path, body):
        path = path.split("?", 1)[0]
        if path == "/":
            if method != "GET":
                raise HTTPError(405, "only GET")
            return 200, overview()
        if path == "/rollback":
            if method != "POST":
                raise HTTPError(405, "only POST")
            return rollback(*parse_rollback(body))
        raise HTTPError(404, "GET / or POST /rollback")

    parent = os.getppid()
    serve_http(inherited_listener(), route)
    wait_for_stop(parent)
    return 0


# --- the main process -------------------------------------------------------

class Child:
    def __init__(self, role, pid):
        self.role = role
        self.pid = pid
        self.status = None


def describe_status(status):
    if os.WIFSIGNALED(status):
        return "was killed by signal %d" % os.WTERMSIG(status)
    return "exited with status %d" % os.WEXITSTATUS(status)


def spawn(role, argv, env, pass_fd=None):
    """fork + exec of this script as role; returns the pid.

    The child starts with SIGTERM and SIGUSR1 blocked (a signal mask is kept
    across exec), so one that comes while its interpreter starts waits for
    it, and with SIGINT ignored (that too is kept across exec): Ctrl-C in a
    terminal reaches the whole process group, and the main process handles
    it for all."""
    pid = os.fork()
    if pid == 0:
        try:
            if pass_fd is not None:
                os.set_inheritable(pass_fd, True)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, CHILD_SIGNALS)
            os.execve(sys.executable, argv, env)
        except BaseException as e:
            try:
                os.write(2, ("block_processor: cannot start the %s: %s\n" % (role, e)).encode())
            finally:
                os._exit(127)
    return pid


def listen(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def default_state_dir():
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "tether-examples", "block-processor")


def start_position(state_dir, notifier):
    """(block, source) to start after; exits 2 on a bad $TETHER_CHECKPOINT."""
    value = os.environ.get("TETHER_CHECKPOINT", "").strip()
    if value:
        # Tether passes the checkpoint's ID; a label after it is tolerated.
        word = value.split()[0]
        if not (word.isdigit() and word.isascii()) or int(word) > MAX_BLOCK:
            log("TETHER_CHECKPOINT=%r is not a block number" % value)
            notifier.send("STATUS=Cannot resume: TETHER_CHECKPOINT=%s is not a block number"
                          % word[:64], "ERRNO=22")
            sys.exit(2)
        return int(word), "TETHER_CHECKPOINT"
    n = read_number(state_path(state_dir, "progress"))
    if n is not None:
        return n, "progress"
    return 0, "none"


def serve_rollback(sock, state_dir, fetcher_pid):
    """The main process's own POST /rollback, for Tether's HTTP rollback:
    Tether freezes every process but the main one and then asks, so this
    cannot wait for the fetcher. It files the request and answers at once;
    the fetcher goes back before its next block, as soon as it is thawed."""
    lock = threading.Lock()

    def route(method, path, body):
        if path.split("?", 1)[0] != "/rollback":
            raise HTTPError(404, "POST /rollback")
        if method != "POST":
            raise HTTPError(405, "only POST")
        index, message = parse_rollback(body)
        with lock:
            ask_rollback(state_dir, index, message, "main", fetcher_pid)
        return 200, json_reply({"ok": True, "rolledBackTo": index, "pending": True})

    serve_http(sock, route)


def main_process(args, parser):
    if args.interval <= 0:
        parser.error("--interval must be more than 0")
    if args.blocks is not None and args.blocks < 0:
        parser.error("--blocks must not be negative")
    if args.bad_block is not None and args.bad_block < 1:
        parser.error("--bad-block must be 1 or more")
    for name in ("monitor_port", "rollback_port"):
        if not 0 <= getattr(args, name) <= 65535:
            parser.error("--%s must be 0 to 65535" % name.replace("_", "-"))

    notifier = Notifier()
    state_dir = os.path.abspath(args.state_dir or default_state_dir())
    try:
        os.makedirs(state_dir, exist_ok=True)
        lock_fd = os.open(state_path(state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        busy = isinstance(e, BlockingIOError)
        text = ("another block_processor uses %s" % state_dir if busy
                else "cannot use the state directory %s: %s" % (state_dir, e.strerror or e))
        log(text)
        notifier.send("STATUS=" + text, "ERRNO=%d" % (e.errno or 0))
        return 1

    sockets = []
    for port in (0, args.monitor_port, args.rollback_port or None):
        try:
            sockets.append(None if port is None else listen(port))
        except OSError as e:
            text = "cannot listen on 127.0.0.1:%d: %s" % (port, e.strerror or e)
            log(text)
            notifier.send("STATUS=" + text, "ERRNO=%d" % (e.errno or 0))
            return 1
    producer_sock, monitor_sock, rollback_sock = sockets
    producer_port = producer_sock.getsockname()[1]
    monitor_port = monitor_sock.getsockname()[1]

    start, source = start_position(state_dir, notifier)
    for name in os.listdir(state_dir):
        if name.endswith(".tmp") or name in ("rollback-to", "rollback-claimed", "pids"):
            remove(state_path(state_dir, name))   # left by a run that was killed
    remove(state_path(state_dir, "rollbacks.jsonl"))   # this run's only
    for name in ("progress", "counter", "resumed_from"):
        write_atomic(state_path(state_dir, name), "%d\n" % start)
    with open(state_path(state_dir, "runs.log"), "a", encoding="utf-8") as f:
        f.write("start resumed_from=%d pid=%d source=%s\n" % (start, os.getpid(), source))
    write_atomic(state_path(state_dir, "producer.port"), "%d\n" % producer_port)
    write_atomic(state_path(state_dir, "monitor.port"), "%d\n" % monitor_port)

    base_env = dict(os.environ)
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "TETHER_CHECKPOINT"):
        base_env.pop(name, None)
    base_env[ENV_PRODUCER] = "127.0.0.1:%d" % producer_port
    script = sys.argv[0]
    common = ["--state-dir", state_dir]
    interval = ["--interval", repr(args.interval)]
    children = []

    def start_child(role, options, env=None, pass_fd=None):
        env = dict(env or base_env)
        if pass_fd is not None:
            env[ENV_LISTEN_FD] = str(pass_fd)
        argv = [sys.executable, script, role] + common + options
        children.append(Child(role, spawn(role, argv, env, pass_fd)))

    start_child("producer", [], pass_fd=producer_sock.fileno())
    fetcher_env = dict(base_env)
    if "NOTIFY_SOCKET" in os.environ:
        fetcher_env["NOTIFY_SOCKET"] = os.environ["NOTIFY_SOCKET"]  # its checkpoints
    start_child("fetcher", ["--start", str(start)] + interval
                + (["--blocks", str(args.blocks)] if args.blocks is not None else []),
                env=fetcher_env)
    start_child("lookout", interval
                + (["--bad-block", str(args.bad_block)] if args.bad_block is not None else []))
    monitor_env = dict(base_env)
    monitor_env[ENV_PIDS] = ",".join(["main=%d" % os.getpid()]
                                     + ["%s=%d" % (c.role, c.pid) for c in children])
    start_child("monitor", ["--start", str(start)], env=monitor_env,
                pass_fd=monitor_sock.fileno())
    producer_sock.close()
    monitor_sock.close()
    write_atomic(state_path(state_dir, "pids"),
                 "main %d\n" % os.getpid() + "".join("%s %d\n" % (c.role, c.pid) for c in children))
    log("started after block %d (%s): %s; monitor on http://127.0.0.1:%d/, state in %s"
        % (start, source, ", ".join("%s %d" % (c.role, c.pid) for c in children),
           monitor_port, state_dir))
    if rollback_sock is not None:
        serve_rollback(rollback_sock, state_dir,
                       next(c.pid for c in children if c.role == "fetcher"))

    def reap():
        """The first child that ended on its own since the last call, or None."""
        ended = None
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            for c in children:
                if c.pid == pid:
                    c.status = status
                    ended = ended or c
        return ended

    def status_text():
        n = read_number(state_path(state_dir, "progress"))
        text = "block %s" % ("?" if n is None else n)
        bad = read_number(state_path(state_dir, "bad"))
        if bad is not None:
            text += " \u2014 block %d is bad: roll back to a checkpoint before it" % bad
        elif args.blocks is not None and n is not None and n >= args.blocks:
            text += " \u2014 done (--blocks %d)" % args.blocks
        return text

    failed = None      # the child that ended, or a sentence
    stop = False
    ready = False
    deadline = time.monotonic() + READY_TIMEOUT
    pending = [("producer", (("127.0.0.1", producer_port), "/block/0")),
               ("monitor", (("127.0.0.1", monitor_port), "/"))]
    last_status = None
    next_status = 0.0

    def wait(timeout, signals=MAIN_SIGNALS):
        nonlocal stop
        if wait_signals(signals, timeout) & {signal.SIGTERM, signal.SIGINT}:
            stop = True
        return stop

    while not wait(0):
        ended = reap()
        if ended is not None:
            # A stop for the whole tree may be on its way (Tether's SIGTERM to
            # every member, Ctrl-C): give it a moment before calling it a crash.
            if wait(0.2, {signal.SIGTERM, signal.SIGINT}):
                break
            failed = ended
            break
        if not ready:
            while pending:
                role, (address, path) = pending[0]
                try:
                    status, _ = http_call(address, "GET", path, timeout=0.5)
                except OSError:
                    status = None
                if status != 200:
                    break
                pending.pop(0)
            if not pending:
                ready = True
                last_status = status_text()
                next_status = time.monotonic() + STATUS_INTERVAL
                notifier.send("READY=1", "STATUS=" + last_status)
                log("ready")
            elif time.monotonic() > deadline:
                failed = "the %s does not answer" % pending[0][0]
                break
            else:
                wait(0.01)
            continue
        now = time.monotonic()
        if now >= next_status:
            next_status = now + STATUS_INTERVAL
            text = status_text()
            if text != last_status:
                last_status = text
                notifier.send("STATUS=" + text)
        wait(next_status - time.monotonic())

    if failed is not None:
        text = failed if isinstance(failed, str) else "the %s (pid %d) %s" % (
            failed.role, failed.pid, describe_status(failed.status))
        log(text + "; stopping the others")
        notifier.send("STATUS=Failed: " + text)
    else:
        log("stopping")
    notifier.send("STOPPING=1")
    # The producer last: the fetcher would only complain that it is gone.
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT
    for group in ([c for c in children if c.role != "producer"],
                  [c for c in children if c.role == "producer"]):
        for c in group:
            if c.status is None:
                try:
                    os.kill(c.pid, signal.SIGTERM)
                except OSError:
                    pass
        while any(c.status is None for c in group) and time.monotonic() < deadline:
            reap()
            wait_signals({signal.SIGCHLD}, 0.05)
    reap()
    for c in children:
        if c.status is None:
            log("the %s (pid %d) did not stop, killing it" % (c.role, c.pid))
            try:
                os.kill(c.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(c.pid, 0)
            except ChildProcessError:
                pass
            c.status = 0
    log("stopped at block %s" % read_number(state_path(state_dir, "progress")))
    return 0 if failed is None else 1


class ChildOptions:
    """A child's options, from the command line the main process wrote (no
    argparse: it costs every child 20 ms of start-up)."""

    def __init__(self, argv):
        self.state_dir = None
        self.start = 0
        self.interval = 0.05
        self.blocks = None
        self.bad_block = None
        kinds = {"--state-dir": str, "--start": int, "--interval": float,
                 "--blocks": int, "--bad-block": int}
        if len(argv) % 2:
            raise SystemExit("%s: options come in pairs" % ROLE)
        for name, value in zip(argv[::2], argv[1::2]):
            if name not in kinds:
                raise SystemExit("%s: unknown option %s" % (ROLE, name))
            setattr(self, name[2:].replace("-", "_"), kinds[name](value))
        if self.state_dir is None:
            raise SystemExit("%s: --state-dir is missing" % ROLE)


def main():
    global ROLE
    if len(sys.argv) > 1 and sys.argv[1] in ROLES:
        ROLE = sys.argv[1]
        # Blocked already when the main process started us; not when run by hand.
        signal.pthread_sigmask(signal.SIG_BLOCK, CHILD_SIGNALS)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        args = ChildOptions(sys.argv[2:])
        return {"producer": run_producer, "fetcher": run_fetcher,
                "lookout": run_lookout, "monitor": run_monitor}[ROLE](args)

    # First of all: a SIGTERM during start-up waits for the main loop.
    signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_SIGNALS)
    import argparse
    parser = argparse.ArgumentParser(
        description="Tether's rollback demo: a block processor of five processes")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where the state lives (default: %s)" % default_state_dir())
    parser.add_argument("--interval", type=float, default=0.05, metavar="SECONDS",
                        help="seconds per block (default 0.05)")
    parser.add_argument("--blocks", type=int, metavar="N",
                        help="idle after block N (default: never)")
    parser.add_argument("--bad-block", type=int, metavar="N",
                        help="the lookout declares block N bad when it is reached")
    parser.add_argument("--monitor-port", type=int, default=0, metavar="PORT",
                        help="the monitor's HTTP port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--rollback-port", type=int, default=0, metavar="PORT",
                        help="serve POST /rollback in the main process too, on this "
                             "port of 127.0.0.1, for Tether's HTTP rollback (0: not)")
    return main_process(parser.parse_args(), parser)


if __name__ == "__main__":
    sys.exit(main())
