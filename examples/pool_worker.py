#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""One worker of a prefork pool that Tether runs as the master.

Python 3 standard library only.

    python3 pool_worker.py [--ready-delay S] [--alloc-mb N]
                           [--hang-heartbeat-after S] [--exit-after S]

It never binds a socket of its own: the listening socket comes from the
master by the systemd socket-activation protocol (fd 3, LISTEN_FDS=1,
LISTEN_PID=<this pid>). TCP over IPv4 or IPv6 and AF_UNIX sockets all work.
Every worker of the pool accepts from the same socket, so the kernel shares
the connections out among them.

Endpoints (HTTP/1.0, one request per connection):
    GET /            200 {"pid": <pid>, "requests": <requests so far>}
    GET /slow?ms=N   the same, after N ms (at most 60000); other requests
                     are served meanwhile
    GET /alloc?mb=N  allocates N MiB more and keeps it (every page touched):
                     {"pid": ..., "requests": ..., "allocated_mb": <total>}
    GET /hang        stops the WATCHDOG=1 heartbeats for good, answers 200
    anything else    404

It speaks sd_notify when $NOTIFY_SOCKET is set: READY=1 once serving,
WATCHDOG=1 every $WATCHDOG_USEC/3 when that is set (and $WATCHDOG_PID is
unset or ours), X_TETHER_REQUESTS=<n> after each answered request, STATUS=
now and then, and STOPPING=1 on shutdown. SIGTERM (or SIGINT) is a graceful
stop: it accepts no new connection, closes the accepted ones that have sent
no request, lets the requests it has received finish, then exits 0.

The options make a misbehaving worker for Tether's pool limits to catch:
--hang-heartbeat-after stops the heartbeats after S seconds, --alloc-mb
allocates N MiB at start, --exit-after exits with status 3 after S seconds
(a crash), --ready-delay waits S seconds before READY=1.

Start-up time matters (the master starts workers on demand), so it imports
little: socketserver and a small HTTP/1.0 handler instead of http.server,
which pulls in http.client, ssl and email.
"""

import argparse
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

LISTEN_FDS_START = 3
MAX_SLOW_MS = 60000
MAX_ALLOC_MB = 1 << 20
PAGE = 4096
STATUS_INTERVAL = 1.0
REQUEST_TIMEOUT = 10.0     # for reading the request
MAX_REQUEST_LINE = 8192
MAX_HEADERS = 100
SERVE_POLL_INTERVAL = 0.05  # how soon the serve loop notices a stop
# On a stop, how long a connection accepted before it may take to send its
# request: its client connected in time and is owed an answer.
IDLE_GRACE = 1.0
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 500: "Internal Server Error"}


def log(*parts):
    # One write per line: threads' lines do not interleave.
    line = " ".join(["pool_worker %d:" % os.getpid()] + [str(p) for p in parts])
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


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
            # notification, never a stalled request.
            self.sock = socket.socket(socket.AF_UNIX,
                                      socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        except OSError as e:
            log("notify: cannot create socket:", e)

    @property
    def enabled(self):
        return self.sock is not None

    def send(self, *lines):
        if self.sock is None:
            return
        # One sendto per datagram: no lock needed between threads.
        try:
            self.sock.sendto("\n".join(lines).encode("utf-8"), self.addr)
        except OSError as e:
            if not self.warned:
                self.warned = True
                log("notify: send failed:", e)


# --- socket activation ------------------------------------------------------

def fail(message):
    sys.stderr.write("pool_worker: %s\n" % message)
    sys.exit(2)


def take_listen_socket():
    """The socket passed as fd 3, or exit 2 saying why there is none."""
    fds = os.environ.get("LISTEN_FDS")
    pid = os.environ.get("LISTEN_PID")
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if fds is None or pid is None:
        fail("no socket passed (LISTEN_FDS and LISTEN_PID are not set); "
             "run it as a worker of a Tether pool")
    if pid != str(os.getpid()):
        fail("LISTEN_PID is %s, not this process (%d): "
             "the socket was meant for another process" % (pid, os.getpid()))
    if fds != "1":
        fail("LISTEN_FDS is %r; exactly one socket (fd 3) is expected" % fds)
    try:
        # Without family and type, Python asks the kernel: AF_INET, AF_INET6
        # and AF_UNIX all come out right.
        sock = socket.socket(fileno=LISTEN_FDS_START)
    except OSError as e:
        fail("fd %d is not a socket: %s" % (LISTEN_FDS_START, e))
    if sock.type != socket.SOCK_STREAM:
        fail("fd %d is not a stream socket" % LISTEN_FDS_START)
    sock.set_inheritable(False)
    # The other workers accept from the same socket: when the serve loop
    # wakes for a connection that another worker then takes, a blocking
    # accept() would hang there (and a stop would wait for it). Non-blocking,
    # the worker just goes back to waiting.
    sock.setblocking(False)
    return sock


def describe(sock):
    addr = sock.getsockname()
    if sock.family == socket.AF_INET:
        return "%s:%d" % addr[:2]
    if sock.family == socket.AF_INET6:
        return "[%s]:%d" % addr[:2]
    if isinstance(addr, bytes):  # abstract AF_UNIX address
        return "@" + addr[1:].decode("utf-8", "replace")
    return addr or "(unnamed socket)"


# --- the worker -------------------------------------------------------------

class Worker:
    def __init__(self, notifier):
        self.notifier = notifier
        self.lock = threading.Lock()
        self.received = 0       # requests read, the one being answered included
        self.answered = 0       # requests answered
        self.last_status = 0.0
        self.memory = []        # what /alloc and --alloc-mb keep alive
        self.allocated_mb = 0
        self.hung = threading.Event()  # set: no more heartbeats

    def receive(self):
        with self.lock:
            self.received += 1
            return self.received

    def answered_one(self):
        now = time.monotonic()
        with self.lock:
            self.answered += 1
            n = self.answered
            status = now - self.last_status >= STATUS_INTERVAL
            if status:
                self.last_status = now
        lines = ["X_TETHER_REQUESTS=%d" % n]
        if status:
            lines.append(self.status_line())
        self.notifier.send(*lines)

    def status_line(self):
        n = self.answered
        return "STATUS=serving, %d request%s" % (n, "" if n == 1 else "s")

    def allocate(self, mb):
        block = bytearray(mb << 20)
        # bytearray() gets zeroed pages that are not really there yet: write
        # to each one so that the memory counts in the RSS.
        block[::PAGE] = b"\1" * len(range(0, len(block), PAGE))
        with self.lock:
            self.memory.append(block)
            self.allocated_mb += mb
            return self.allocated_mb

    def heartbeat(self, interval, hang_after):
        """WATCHDOG=1 every interval seconds until hung (or hang_after)."""
        give_up = None if hang_after is None else time.monotonic() + hang_after
        self.notifier.send("WATCHDOG=1")
        while not self.hung.wait(interval):
            if give_up is not None and time.monotonic() >= give_up:
                log("heartbeats stop now (--hang-heartbeat-after)")
                self.hung.set()
                break
            self.notifier.send("WATCHDOG=1")


class HTTPError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def query_number(query, name, default=None):
    values = urllib.parse.parse_qs(query).get(name)
    if not values:
        if default is None:
            raise HTTPError(400, "%s is required" % name)
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise HTTPError(400, "%s must be a whole number" % name) from None
    if value < 0:
        raise HTTPError(400, "%s must not be negative" % name)
    return value


class Handler(socketserver.StreamRequestHandler):
    """HTTP/1.0: one request, one answer with Connection: close."""

    timeout = REQUEST_TIMEOUT

    def handle(self):
        try:
            request = self.read_request()
        except (OSError, ValueError):
            return  # timed out, reset, or not HTTP: nothing to answer
        if request is None:
            return
        method, target = request
        worker = self.server.worker
        n = worker.receive()
        try:
            code, body = self.route(worker, method, target, n)
        except HTTPError as e:
            code, body = e.code, '{"error": "%s"}\n' % e
        except MemoryError:
            code, body = 500, '{"error": "out of memory"}\n'
        try:
            self.reply(code, body, method != "HEAD")
        except OSError:
            return  # the client went away
        worker.answered_one()

    def read_request(self):
        self.server.waiting_for_request(self.connection, True)
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
        finally:
            self.server.waiting_for_request(self.connection, False)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(line) > MAX_REQUEST_LINE or len(parts) not in (2, 3):
            self.reply(400, '{"error": "bad request line"}\n', True)
            return None
        # The headers say nothing this server needs, but they are read so
        # that closing the connection does not reset it under the client.
        if len(parts) == 3:
            for _ in range(MAX_HEADERS):
                header = self.rfile.readline(MAX_REQUEST_LINE + 1)
                if header in (b"\r\n", b"\n", b""):
                    break
        return parts[0], parts[1]

    def route(self, worker, method, target, n):
        if method not in ("GET", "HEAD"):
            raise HTTPError(405, "only GET and HEAD")
        url = urllib.parse.urlsplit(target)
        pid = os.getpid()
        if url.path == "/":
            return 200, '{"pid": %d, "requests": %d}\n' % (pid, n)
        if url.path == "/slow":
            ms = min(query_number(url.query, "ms", 1000), MAX_SLOW_MS)
            time.sleep(ms / 1000)
            return 200, '{"pid": %d, "requests": %d}\n' % (pid, n)
        if url.path == "/alloc":
            total = worker.allocate(min(query_number(url.query, "mb"), MAX_ALLOC_MB))
            return 200, '{"pid": %d, "requests": %d, "allocated_mb": %d}\n' % (pid, n, total)
        if url.path == "/hang":
            if not worker.hung.is_set():
                log("heartbeats stop now (/hang)")
                worker.hung.set()
            return 200, '{"pid": %d, "requests": %d, "heartbeat": false}\n' % (pid, n)
        raise HTTPError(404, "not found")

    def reply(self, code, body, with_body):
        data = body.encode("utf-8")
        head = ("HTTP/1.0 %d %s\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: %d\r\n"
                "Cache-Control: no-store\r\n"
                "Connection: close\r\n"
                "\r\n" % (code, REASONS.get(code, ""), len(data)))
        self.wfile.write(head.encode("latin-1") + (data if with_body else b""))


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded server on a socket that is already listening."""

    daemon_threads = False   # a graceful stop waits for the requests...
    block_on_close = True    # ...in server_close()

    def __init__(self, sock, worker):
        # BaseServer, not TCPServer: that one would make a socket of its own.
        socketserver.BaseServer.__init__(self, sock.getsockname(), Handler)
        self.socket = sock
        self.worker = worker
        self.idle_lock = threading.Lock()
        self.idle = set()        # connections still waiting for a request line
        self.stopping = False

    def waiting_for_request(self, connection, waiting):
        with self.idle_lock:
            if not waiting:
                self.idle.discard(connection)
            elif self.stopping and not self.has_input(connection):
                self.end_input(connection)
            else:
                self.idle.add(connection)

    def close_idle(self):
        """Ends the connections that have not sent a request (a browser's
        spare ones) so that a graceful stop does not wait REQUEST_TIMEOUT
        for them -- after IDLE_GRACE, for a client that connected just
        before the stop and is still sending. A request already received
        is still read: shutting down the reading side only stops more data
        from arriving."""
        deadline = time.monotonic() + IDLE_GRACE
        while time.monotonic() < deadline:
            with self.idle_lock:
                if not self.idle:
                    break
            time.sleep(0.02)
        with self.idle_lock:
            self.stopping = True
            for connection in self.idle:
                # A request already waiting in the socket is a client's, not
                # a spare connection's: its handler (late on a busy
                # machine) will still answer it.
                if not self.has_input(connection):
                    self.end_input(connection)

    @staticmethod
    def has_input(connection):
        try:
            return len(connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)) > 0
        except OSError:
            return False

    @staticmethod
    def end_input(connection):
        try:
            connection.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def handle_error(self, request, client_address):
        log("error while answering a request:")
        super().handle_error(request, client_address)


def start_thread(thread):
    """Starts thread with SIGTERM and SIGINT blocked in it (and in the
    threads it starts): the kernel gives a process's signal to any thread
    that does not block it, and Python only runs handlers, and only wakes
    Event.wait(), in the main thread."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def main():
    parser = argparse.ArgumentParser(
        description="A worker of a Tether prefork pool: HTTP on the socket passed as fd 3")
    parser.add_argument("--hang-heartbeat-after", type=float, metavar="SECONDS",
                        help="stop the WATCHDOG=1 heartbeats after SECONDS")
    parser.add_argument("--alloc-mb", type=int, default=0, metavar="N",
                        help="allocate (and keep) N MiB at start")
    parser.add_argument("--exit-after", type=float, metavar="SECONDS",
                        help="exit with status 3 after SECONDS, as if crashing")
    parser.add_argument("--ready-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait SECONDS before READY=1")
    parser.add_argument("--tag", metavar="TEXT",
                        help="ignored: a mark in the command line (tests find their processes by it)")
    args = parser.parse_args()
    if args.alloc_mb < 0:
        parser.error("--alloc-mb must not be negative")

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    # Handlers first: a SIGTERM during start-up still stops cleanly.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sock = take_listen_socket()
    notifier = Notifier()
    worker = Worker(notifier)

    if args.exit_after is not None:
        def crash():
            log("exiting with status 3 (--exit-after)")
            os._exit(3)
        timer = threading.Timer(args.exit_after, crash)
        timer.daemon = True
        start_thread(timer)

    # Heartbeats say the process is alive, so they start before READY=1.
    watchdog_usec = os.environ.get("WATCHDOG_USEC")
    watchdog_pid = os.environ.get("WATCHDOG_PID")
    if notifier.enabled and watchdog_usec and watchdog_pid in (None, "", str(os.getpid())):
        try:
            interval = max(int(watchdog_usec) / 3e6, 0.01)
        except ValueError:
            interval = 0
        if interval:
            start_thread(threading.Thread(target=worker.heartbeat,
                                          args=(interval, args.hang_heartbeat_after),
                                          name="heartbeat", daemon=True))

    if args.alloc_mb:
        worker.allocate(args.alloc_mb)

    server = Server(sock, worker)
    address = describe(sock)
    if not stop.wait(args.ready_delay):
        serve = threading.Thread(target=server.serve_forever, name="serve",
                                 kwargs={"poll_interval": SERVE_POLL_INTERVAL})
        start_thread(serve)
        log("serving on %s" % address)
        notifier.send("READY=1", worker.status_line())
        # Event.wait() returns on a signal; the timeout is only a safety net.
        while not stop.wait(60.0):
            pass
        notifier.send("STOPPING=1", "STATUS=stopping")
        server.shutdown()        # no new connections from here on
        serve.join()
        server.close_idle()
    else:
        notifier.send("STOPPING=1", "STATUS=stopping")
    server.server_close()        # waits for the requests being answered
    log("stopped after %d requests" % worker.answered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
