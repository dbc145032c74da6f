/* tether-pidfile.h: reading the pid a daemonizing backend wrote down
 *
 * A server that forks into the background (nginx, gunicorn -D, redis
 * --daemonize yes, pg_ctl start) leaves its launcher's exit as the only
 * thing Tether's helper sees; the daemon says who it is in a pidfile, as it
 * does for systemd's PIDFile=.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* At most this much is read: a pid, perhaps a newline (PostgreSQL's
 * postmaster.pid has more lines after the first; only the first counts). */
#define TETHER_PIDFILE_MAX_BYTES 4096

/* The first line of contents as a process id: decimal digits, surrounding
 * blanks allowed, 2 to INT_MAX (never init). Errors are
 * TETHER_ERROR_PROTOCOL, naming path and quoting what was there. */
gboolean tether_pidfile_parse       (const char    *path,
                                     const char    *contents,
                                     gsize          length,
                                     pid_t         *pid,
                                     GError       **error);

/* Reads path in a worker thread (a pidfile on a slow filesystem never
 * stalls the main loop), at most TETHER_PIDFILE_MAX_BYTES of it. */
void     tether_pidfile_read_async  (const char          *path,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);

/* The pid, or 0 with error set: TETHER_ERROR_NOT_FOUND when the file is
 * not there (yet), TETHER_ERROR_PROTOCOL when it says something else. */
pid_t    tether_pidfile_read_finish (GAsyncResult   *result,
                                     GError        **error);

G_END_DECLS
