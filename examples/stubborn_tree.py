#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A backend that makes tree ownership earn its keep (stubborn.json).

Python 3 standard library only.

    python3 stubborn_tree.py [MARKER]

It starts a daemon the way old servers do -- fork, setsid, fork again, the
first child exits -- so the daemon is no child of the backend and leaves
its session; the daemon starts a worker of its own. Every one of them
(main process, daemon, worker) ignores SIGTERM, so only a forced stop ends
the tree. A supervisor that tracks only its child, or signals only its
process group, leaves the daemon and the worker running.

MARKER (default "stubborn-tree") stays in every process's command line, so
a test can look for survivors in /proc by it.
"""

import os
import signal
import sys
import time


def log(*parts):
    print("[stubborn %d]" % os.getpid(), *parts, flush=True)


def idle_forever(role):
    signal.signal(signal.SIGTERM, lambda *_: log(role, "ignores SIGTERM"))
    while True:
        time.sleep(3600)


def start_daemon():
    if os.fork() != 0:
        return
    # The first child: a new session, then the daemon, then exit so the
    # daemon is orphaned (re-parented to the nearest subreaper).
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    if os.fork() == 0:
        log("worker of the daemon, session", os.getsid(0))
        idle_forever("worker")
    log("daemon, session", os.getsid(0))
    idle_forever("daemon")


def main():
    signal.signal(signal.SIGTERM, lambda *_: log("main process ignores SIGTERM"))
    start_daemon()
    # Reap the first child, which exits at once.
    try:
        os.wait()
    except ChildProcessError:
        pass
    log("main process: daemon started; Ctrl-C or a forced stop ends me")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
