#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A backend for test-app.py's health.http steps. Standard library only.

    python3 health_server.py PORT MODE_FILE

Serves HTTP on 127.0.0.1:PORT and sends READY=1 on $NOTIFY_SOCKET once it
listens. Each GET reads MODE_FILE: "ok" (or no file) answers 200; "hang"
accepts the connection and never answers, and from then on neither does any
later request (a deadlocked server stays so until it is restarted, whatever
the file says). SIGTERM ends it at once.
"""

import http.server
import os
import socket
import sys
import threading

port, mode_file = int(sys.argv[1]), sys.argv[2]
hung = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with open(mode_file) as f:
                if f.read().strip() == 'hang':
                    hung.set()
        except OSError:
            pass
        if hung.is_set():
            threading.Event().wait()  # the connection stays open, unanswered
        body = b'ok\n'
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
path = os.environ.get('NOTIFY_SOCKET')
if path:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b'READY=1', '\0' + path[1:] if path.startswith('@') else path)
server.serve_forever()
