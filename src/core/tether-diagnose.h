/* tether-diagnose.h: why is this process stuck? A /proc snapshot for support
 *
 * Everything support staff ask for first, read from /proc in one go and
 * handed back as a JSON object:
 *
 *   "pid", "name" (comm), "cmdline" (arguments joined by spaces, valid
 *   UTF-8), "state" (the letter of /proc/PID/stat), "state_label" (words,
 *   translated), "uninterruptible" (state D: it may not die even when
 *   killed),
 *   "wchan" (the kernel function it sleeps in, null when the kernel says
 *   "0" or hides it),
 *   "syscall" ({"number", "name"} from /proc/PID/syscall: name only for the
 *   common blocking calls on x86_64; {"running": true} when on a CPU; null
 *   when unreadable), "stack" (kernel stack lines; root only, else null),
 *   "threads" ([{tid, name, state}], at most TETHER_DIAGNOSE_MAX_THREADS),
 *   "open_files" (entries in /proc/PID/fd, null when unreadable),
 *   "listening" ([{proto: tcp|tcp6|udp|udp6|unix, address, inode}]: the
 *   process's sockets that listen (TCP LISTEN, unconnected UDP, unix with
 *   the accepting flag), matched in the process's own network namespace;
 *   address is "127.0.0.1:8080", "[::1]:8080" or the unix path ("@name"
 *   for the abstract namespace, null for unnamed)),
 *   "cpu_seconds" (user + system), "rss_bytes",
 *   "started" (wall-clock ISO 8601 UTC, derived from the start time after
 *   boot) and "started_since_boot" (seconds after boot, exact as the kernel
 *   keeps it).
 *
 * A piece that cannot be read is null, never an error: only a process that
 * does not exist is (TETHER_ERROR_NOT_MEMBER).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define TETHER_DIAGNOSE_MAX_THREADS 1000

/* Reads everything above for pid in a worker thread (/proc reads can
 * block: never on the main loop); completes with a JsonNode object. */
void      tether_diagnose_process_async  (pid_t                pid,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
/* The object (free with json_node_unref), or NULL with error set. */
JsonNode *tether_diagnose_process_finish (GAsyncResult        *result,
                                          GError             **error);

/* /proc/PID/NAME, at most 256 KiB of it (NUL-terminated; length may be
 * NULL), or NULL. Blocks on /proc: for threads. */
char     *tether_diagnose_read_proc_file (pid_t                pid,
                                          const char          *name,
                                          gsize               *length);

/* The same, synchronously: what the thread runs. Blocks on /proc. */
JsonNode *tether_diagnose_process        (pid_t                pid,
                                          GError             **error);

G_END_DECLS
