#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tether's checkpointing demo: a batch job that can be rolled back.

Python 3 standard library only.

    python3 checkpoint_demo.py [--state-dir DIR] [--every 5] [--item-seconds 0.5]
                               [--corrupt-at N]

It "processes" items one after another, keeping a running total. Every
--every items it saves a snapshot (DIR/checkpoint-<n>.json, written to a
temporary file, fsync'd and renamed) and tells Tether about it with
X_TETHER_CHECKPOINT=<n> item <i> over $NOTIFY_SOCKET. With --corrupt-at N
the total goes wrong at item N and STATUS= says so: roll back to an earlier
checkpoint to recover.

Started with TETHER_CHECKPOINT=<n> in the environment (what Tether's rollback
does), it loads snapshot <n> and carries on from there. Checkpoint numbers keep
increasing across rollbacks (the next number is one more than the highest
snapshot on disk), so a number never names two different states.

The state directory defaults to $XDG_STATE_HOME/tether-checkpoint-demo
(~/.local/state/tether-checkpoint-demo). SIGTERM/SIGINT: STOPPING=1, exit 0.
"""

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading


def log(*parts):
    print("[checkpoint-demo %d]" % os.getpid(), *parts, flush=True)


class Notifier:
    def __init__(self):
        path = os.environ.get("NOTIFY_SOCKET")
        self.sock = None
        if path:
            self.addr = "\0" + path[1:] if path.startswith("@") else path
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(self, *lines):
        if self.sock is None:
            return
        try:
            self.sock.sendto("\n".join(lines).encode("utf-8"), self.addr)
        except OSError as e:
            log("notify failed:", e)


def snapshot_path(state_dir, n):
    return os.path.join(state_dir, "checkpoint-%d.json" % n)


def highest_snapshot(state_dir):
    best = 0
    for name in os.listdir(state_dir):
        m = re.fullmatch(r"checkpoint-(\d+)\.json", name)
        if m:
            best = max(best, int(m.group(1)))
    return best


def save_snapshot(state_dir, n, state):
    path = snapshot_path(state_dir, n)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    dfd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def main():
    default_state = os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"),
        "tether-checkpoint-demo")
    parser = argparse.ArgumentParser(description="Tether checkpoint/rollback demo")
    parser.add_argument("--state-dir", default=default_state)
    parser.add_argument("--every", type=int, default=5, help="items between checkpoints")
    parser.add_argument("--item-seconds", type=float, default=0.5)
    parser.add_argument("--corrupt-at", type=int, default=0,
                        help="item at which the state goes bad (0: never)")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    os.makedirs(args.state_dir, exist_ok=True)
    notifier = Notifier()
    state = {"item": 0, "total": 0, "corrupt": False}

    resume = os.environ.get("TETHER_CHECKPOINT")
    if resume:
        try:
            n = int(resume.split()[0])
            with open(snapshot_path(args.state_dir, n), encoding="utf-8") as f:
                state = json.load(f)
            log("resuming from checkpoint %d (item %d)" % (n, state["item"]))
        except (ValueError, IndexError, OSError, json.JSONDecodeError) as e:
            log("cannot resume from checkpoint %r: %s" % (resume, e))
            notifier.send("STATUS=Cannot resume from checkpoint %s" % resume, "ERRNO=2")
            return 1
    next_checkpoint = highest_snapshot(args.state_dir) + 1

    notifier.send("READY=1", "STATUS=Processing from item %d" % (state["item"] + 1))
    log("started at item %d, state in %s" % (state["item"] + 1, args.state_dir))

    while not stop.wait(args.item_seconds):
        state["item"] += 1
        i = state["item"]
        if args.corrupt_at and i == args.corrupt_at and not resume:
            state["corrupt"] = True
            log("item %d: the state is now corrupt" % i)
        state["total"] += -1000 if state["corrupt"] else i
        if state["corrupt"]:
            notifier.send("STATUS=CORRUPT since item %d \u2014 roll back to an earlier checkpoint"
                          % args.corrupt_at)
        else:
            notifier.send("STATUS=Processed %d items, total %d" % (i, state["total"]))
        if i % args.every == 0:
            n = next_checkpoint
            next_checkpoint += 1
            save_snapshot(args.state_dir, n, state)
            notifier.send("X_TETHER_CHECKPOINT=%d item %d" % (n, i))
            log("checkpoint %d at item %d (total %d)" % (n, i, state["total"]))

    notifier.send("STOPPING=1")
    log("stopping at item %d" % state["item"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
