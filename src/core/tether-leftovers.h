/* tether-leftovers.h: what an earlier run of a profile left behind
 *
 * Before a start, support staff need to know whether an earlier run of the
 * same profile is still around (its Tether was killed with its shim, or it
 * ran before Tether managed it) and holds the port or the data. A leftover
 * is a live process of this user, outside any live Tether tree, that
 *
 *   - carries TETHER_PROFILE=<profile id> in its environment (every member
 *     Tether starts gets it; a process that cleared its environment does
 *     not, which is why the other two rules exist),
 *   - or runs exactly the profile's command (or pool.worker_command): the
 *     same arguments, and the same executable when command[0] resolves,
 *   - or listens on the profile's TCP port (pool.listen, or health.http
 *     on a loopback host),
 *
 * and every live descendant of one. Another user's processes are never
 * listed (nor could they be signalled). In cgroup mode a non-empty leaf of
 * a dead Tether is already emptied at start (tether-cgroup-leaf.c).
 *
 * Ending them is the ladder's two steps on processes that are not members:
 * the profile's stop signal, stop.graceful_timeout to exit, then SIGKILL,
 * every signal through a pidfd checked against the start time the listing
 * saw, so a pid reused meanwhile is never signalled.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "tether-profile.h"

G_BEGIN_DECLS

typedef enum
{
  TETHER_LEFTOVER_TAGGED,      /* TETHER_PROFILE in its environment */
  TETHER_LEFTOVER_COMMAND,     /* runs the profile's command */
  TETHER_LEFTOVER_PORT,        /* listens on the profile's port */
  TETHER_LEFTOVER_DESCENDANT,  /* a descendant of one of the above */
} TetherLeftoverReason;

typedef struct
{
  pid_t pid;
  pid_t ppid;
  char *name;                  /* comm */
  char *cmdline;               /* arguments joined by spaces, valid UTF-8 */
  gint64 start_usec;           /* µs after boot */
  double age;                  /* seconds, when listed */
  guint port;                  /* the port it listens on, for PORT; else 0 */
  TetherLeftoverReason reason;
} TetherLeftover;

void        tether_leftover_free             (TetherLeftover *leftover);
/* "4242 python3 server.py (12 min old, listening on port 8080)" */
char       *tether_leftover_describe         (const TetherLeftover *leftover);

/* Lists the leftovers of profile in a thread: a GPtrArray of
 * TetherLeftover, sorted by pid, maybe empty. */
void        tether_leftovers_find_async      (TetherProfile        *profile,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
GPtrArray  *tether_leftovers_find_finish     (GAsyncResult         *result,
                                              GError              **error);
/* The same, synchronously (what the thread runs). */
GPtrArray  *tether_leftovers_find            (TetherProfile        *profile);

/* Ends leftovers (as listed) in a thread: the profile's stop signal, then
 * SIGKILL for what is still there after stop.graceful_timeout. Fails with
 * TETHER_ERROR_TIMED_OUT naming what survived SIGKILL for
 * stop.kill_timeout (a process in uninterruptible sleep). n_forced: how
 * many needed SIGKILL. */
void        tether_leftovers_end_async       (TetherProfile        *profile,
                                              GPtrArray            *leftovers,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean    tether_leftovers_end_finish      (GAsyncResult         *result,
                                              guint                *n_forced,
                                              GError              **error);

/* Every process holding a TCP socket that listens on port (IPv4 or IPv6),
 * this user's only unless any_user; synchronous, a scan of /proc. */
GArray     *tether_find_tcp_listeners        (guint                 port,
                                              gboolean              any_user);

G_END_DECLS
