#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tether's demo backend: a small HTTP server with two helper processes.

Python 3 standard library only.

    python3 demo_server.py [--port 8765] [--host 127.0.0.1]

Endpoints:
    GET /            an HTML page: pid, uptime, helpers, request count
    GET /ping        200 "pong" (the health probe)
    GET /slow?s=N    the whole server hangs for N seconds (every other request,
                     /ping included, waits behind it; watchdog pings pause)
    GET /checkpoint  records a checkpoint (optional ?label=TEXT)

It speaks sd_notify when $NOTIFY_SOCKET is set: READY=1 once listening,
STATUS= (at most once a second), X_TETHER_CHECKPOINT=<n> <label> on
/checkpoint and every 30 s, WATCHDOG=1 when $WATCHDOG_USEC is set, and
STOPPING=1 on shutdown. SIGTERM (or SIGINT) stops it cleanly: helpers get
SIGTERM and are waited for, then it exits 0. With $TETHER_CHECKPOINT set it
says which checkpoint it resumes from and numbers new ones after it.
"""

import argparse
import html
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTO_CHECKPOINT_INTERVAL = 30.0
STATUS_INTERVAL = 1.0
MAX_SLOW_SECONDS = 3600.0
HELPER_STOP_TIMEOUT = 5.0


def log(*parts):
    print("[demo %d]" % os.getpid(), *parts, flush=True)


# --- sd_notify --------------------------------------------------------------

class Notifier:
    """sd_notify over $NOTIFY_SOCKET (datagrams; '@' = abstract namespace)."""

    def __init__(self):
        self.addr = None
        self.sock = None
        self.lock = threading.Lock()
        self.warned = False
        path = os.environ.get("NOTIFY_SOCKET")
        if not path:
            return
        self.addr = "\0" + path[1:] if path.startswith("@") else path
        try:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.set_inheritable(False)
        except OSError as e:
            log("notify: cannot create socket:", e)
            self.sock = None

    @property
    def enabled(self):
        return self.sock is not None

    def send(self, *lines):
        if self.sock is None:
            return
        data = "\n".join(lines).encode("utf-8")
        with self.lock:
            try:
                self.sock.sendto(data, self.addr)
            except OSError as e:
                if not self.warned:
                    log("notify: send failed:", e)
                    self.warned = True


# --- helper processes -------------------------------------------------------

def run_helper(role):
    """Entry point of a helper process (re-exec'd with --helper ROLE)."""
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    parent = os.getppid()
    tag = "[%s %d]" % (role, os.getpid())
    print(tag, "started", flush=True)

    if role == "cache-warmer":
        warmed = 0
        while not stop.wait(1.0):
            if os.getppid() != parent:
                print(tag, "server went away, exiting", flush=True)
                return 0
            warmed += 1
            if warmed % 60 == 0:
                print(tag, "warmed the cache %d times" % warmed, flush=True)
    elif role == "log-shipper":
        # Reads request log lines from the server on stdin; EOF = server gone.
        shipped = 0
        reported = 0
        last_report = time.monotonic()

        def reader():
            # Raw os.read: a daemon thread blocked inside a buffered reader
            # would hold its lock at interpreter shutdown.
            nonlocal shipped
            while True:
                try:
                    chunk = os.read(0, 65536)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                shipped += chunk.count(b"\n")
            stop.set()

        threading.Thread(target=reader, daemon=True).start()
        while not stop.wait(1.0):
            now = time.monotonic()
            if shipped != reported and now - last_report >= 10.0:
                print(tag, "shipped %d log lines" % shipped, flush=True)
                reported = shipped
                last_report = now
        print(tag, "shipped %d log lines in total" % shipped, flush=True)
    else:
        print(tag, "unknown helper role", file=sys.stderr, flush=True)
        return 2
    print(tag, "stopping", flush=True)
    return 0


def start_helper(role, **kwargs):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)  # only the server talks to Tether
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    # The script as it was given (the helpers share the server's cwd), so
    # their command lines read as short as the server's own.
    return subprocess.Popen(
        [sys.executable, sys.argv[0], "--helper", role],
        env=env, close_fds=True, **kwargs)


# --- the server -------------------------------------------------------------

class Demo:
    def __init__(self, notifier, resumed_from):
        self.notifier = notifier
        self.started = time.monotonic()
        self.requests = 0
        self.lock = threading.Lock()
        self.hang = threading.RLock()  # held by /slow: the whole server hangs
        self.checkpoint = resumed_from
        self.resumed_from = resumed_from
        self.helpers = {}
        self.shipper_lock = threading.Lock()
        self.url = ""

    def uptime(self):
        return time.monotonic() - self.started

    def count_request(self):
        with self.lock:
            self.requests += 1
            return self.requests

    def status_text(self):
        with self.lock:
            n = self.requests
        return "Serving on %s \u2014 %d request%s" % (self.url, n, "" if n == 1 else "s")

    def record_checkpoint(self, label):
        label = " ".join(str(label).split()) or "checkpoint"
        with self.lock:
            self.checkpoint += 1
            n = self.checkpoint
        self.notifier.send("X_TETHER_CHECKPOINT=%d %s" % (n, label))
        log("checkpoint %d (%s)" % (n, label))
        return n

    def ship(self, line):
        shipper = self.helpers.get("log-shipper")
        if shipper is None or shipper.stdin is None:
            return
        with self.shipper_lock:
            try:
                shipper.stdin.write((line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
                shipper.stdin.flush()
            except (OSError, ValueError):
                pass


class Handler(BaseHTTPRequestHandler):
    server_version = "TetherDemo/1.0"
    protocol_version = "HTTP/1.0"

    @property
    def demo(self):
        return self.server.demo

    def log_message(self, fmt, *args):
        line = "%s %s" % (self.address_string(), fmt % args)
        log(line)
        self.demo.ship(line)

    def reply(self, code, body, ctype="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.demo.count_request()

        if url.path == "/slow":
            try:
                seconds = float(query.get("s", ["10"])[0])
            except ValueError:
                self.reply(400, "s must be a number of seconds\n")
                return
            seconds = max(0.0, min(seconds, MAX_SLOW_SECONDS))
            log("hanging for %g s" % seconds)
            with self.demo.hang:
                time.sleep(seconds)
            self.reply(200, "slept %g s\n" % seconds)
            return

        # Everything else waits while /slow holds the server.
        with self.demo.hang:
            pass

        if url.path == "/ping":
            self.reply(200, "pong")
        elif url.path == "/checkpoint":
            label = query.get("label", ["manual"])[0]
            n = self.demo.record_checkpoint(label)
            self.reply(200, "checkpoint %d\n" % n)
        elif url.path == "/":
            self.reply(200, self.page(), "text/html; charset=utf-8")
        else:
            self.reply(404, "not found\n")

    def page(self):
        d = self.demo
        helpers = "".join(
            "<li>%s: pid %d</li>" % (html.escape(role), p.pid)
            for role, p in sorted(d.helpers.items()))
        resumed = ("<p>Resumed from checkpoint %d.</p>" % d.resumed_from
                   if d.resumed_from else "")
        return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Tether demo</title></head>
<body style="font-family: sans-serif">
<h1>Tether demo server</h1>
<p>PID %d, up %.0f s, %d requests, last checkpoint %d.</p>%s
<ul>%s</ul>
<p><a href="/ping">/ping</a> &middot; <a href="/slow?s=20">/slow?s=20</a> (hang for 20 s)
&middot; <a href="/checkpoint">/checkpoint</a></p>
</body></html>
""" % (os.getpid(), d.uptime(), d.requests, d.checkpoint, resumed, helpers)


def periodic(stop, interval, fn):
    def loop():
        while not stop.wait(interval):
            fn()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def main():
    parser = argparse.ArgumentParser(description="Tether demo HTTP backend")
    parser.add_argument("--port", type=int, default=8765,
                        help="TCP port (0 picks a free one and prints it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--helper", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.helper:
        return run_helper(args.helper)

    resumed_from = 0
    env_checkpoint = os.environ.get("TETHER_CHECKPOINT")
    if env_checkpoint:
        log("resuming from checkpoint %s" % env_checkpoint)
        try:
            resumed_from = int(env_checkpoint.split()[0])
        except (ValueError, IndexError):
            resumed_from = 0

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # Handlers first: a SIGTERM during startup still shuts down cleanly.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    notifier = Notifier()
    demo = Demo(notifier, resumed_from)

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    try:
        server = ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as e:
        log("cannot listen on %s:%d: %s" % (args.host, args.port, e))
        notifier.send("STATUS=Cannot listen on %s:%d: %s" % (args.host, args.port, e),
                      "ERRNO=%d" % (e.errno or 0))
        return 1
    server.demo = demo
    port = server.server_address[1]
    demo.url = "http://%s:%d" % (args.host, port)

    demo.helpers["cache-warmer"] = start_helper("cache-warmer", stdin=subprocess.DEVNULL)
    demo.helpers["log-shipper"] = start_helper("log-shipper", stdin=subprocess.PIPE)

    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                             daemon=True)
    serve.start()
    log("listening on %s (helpers: %s)" % (demo.url, ", ".join(
        "%s %d" % (role, p.pid) for role, p in sorted(demo.helpers.items()))))
    if args.port == 0:
        print(port, flush=True)
    notifier.send("READY=1", "STATUS=" + demo.status_text())

    last_status = [demo.status_text()]

    def update_status():
        text = demo.status_text()
        if text != last_status[0]:
            last_status[0] = text
            notifier.send("STATUS=" + text)

    if notifier.enabled:
        periodic(stop, STATUS_INTERVAL, update_status)
    periodic(stop, AUTO_CHECKPOINT_INTERVAL, lambda: demo.record_checkpoint("auto"))

    watchdog_usec = os.environ.get("WATCHDOG_USEC")
    watchdog_pid = os.environ.get("WATCHDOG_PID")
    if notifier.enabled and watchdog_usec and (not watchdog_pid or watchdog_pid == str(os.getpid())):
        try:
            interval = max(int(watchdog_usec) / 2e6, 0.05)
        except ValueError:
            interval = 0
        if interval:
            def ping_watchdog():
                with demo.hang:  # a hung server stops answering the watchdog too
                    notifier.send("WATCHDOG=1")
            periodic(stop, interval, ping_watchdog)

    # Event.wait() is interrupted by signals; the timeout is only a safety net.
    while not stop.wait(60.0):
        pass

    log("stopping")
    notifier.send("STOPPING=1", "STATUS=Shutting down")
    server.shutdown()
    server.server_close()

    for role, p in demo.helpers.items():
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
    shipper = demo.helpers.get("log-shipper")
    if shipper is not None and shipper.stdin is not None:
        with demo.shipper_lock:
            try:
                shipper.stdin.close()
            except OSError:
                pass
    deadline = time.monotonic() + HELPER_STOP_TIMEOUT
    for role, p in demo.helpers.items():
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log("%s %d did not stop, killing it" % (role, p.pid))
            p.kill()
            p.wait()
    log("stopped after %d requests" % demo.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
