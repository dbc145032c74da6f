/* tether-log.h: the backend's output, kept
 *
 * Every member's stdout and stderr are the write ends of two pipes the log
 * owns for the supervisor's whole life (they outlive restarts). A thread of
 * the log's own drains them as fast as they fill -- so a backend is never
 * held up by Tether's main loop -- cuts the bytes into lines, stamps and
 * numbers each line, keeps the newest in a ring, appends them to a file
 * with size-based rotation, and copies the raw bytes to a "tee" (tetherctl
 * run's terminal). A writer that outruns the thread (three quarters of a
 * pipe waiting for 100 ms) is never held up for long: its lines are counted instead
 * of kept until the pipe drains, then a marker line says how many were
 * dropped; a tee that cannot keep up loses lines the same way, never the
 * backend's time. The two streams are told apart; the processes are not:
 * every member writes into the same two pipes, so a line's writer is not
 * known (distinct pipes per process would need the shim to hand out pipes
 * per spawn and could not cover what a member forks).
 *
 * Signals (on the main context of whoever created the log):
 *   "lines-added" (): new lines are in the ring (coalesced)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TETHER_LOG_MAX_LINE 16384   /* bytes; a longer line is cut, and the rest follows as more lines */

typedef enum
{
  TETHER_LOG_STDOUT,
  TETHER_LOG_STDERR,
} TetherLogStream;

typedef struct
{
  guint64 seq;            /* 1, 2, ... in the order Tether read them */
  gint64 time;            /* g_get_real_time () when read */
  TetherLogStream stream;
  char *text;             /* valid UTF-8, no newline */
  guint64 dropped;        /* > 0: a marker, this many lines of stream were
                           * dropped before it (a writer outran the log) */
} TetherLogLine;

void          tether_log_line_free          (TetherLogLine *line);
const char   *tether_log_stream_to_string   (TetherLogStream stream);

#define TETHER_TYPE_LOG (tether_log_get_type ())

G_DECLARE_FINAL_TYPE (TetherLog, tether_log, TETHER, LOG, GObject)

/* path: the log file (NULL: none); capacity: lines kept in memory;
 * max_bytes: rotate the file beyond this; keep: rotated files kept
 * (path.1 ... path.keep). */
TetherLog    *tether_log_new                (const char     *path,
                                             guint           capacity,
                                             guint64         max_bytes,
                                             guint           keep);
/* Makes the pipes and starts the thread (once). */
gboolean      tether_log_start              (TetherLog      *self,
                                             GError        **error);
/* The pipes' write ends, for spawns (-1 before start). */
int           tether_log_get_stdout_fd      (TetherLog      *self);
int           tether_log_get_stderr_fd      (TetherLog      *self);
/* Where the raw output is also copied (descriptors are duplicated); -1
 * for none. */
void          tether_log_set_tee            (TetherLog      *self,
                                             int             stdout_fd,
                                             int             stderr_fd);
/* The newest lines with seq > after, at most max of them, oldest first
 * (a new array of copies). */
GPtrArray    *tether_log_get_lines          (TetherLog      *self,
                                             guint           max,
                                             guint64         after);
guint64       tether_log_get_last_seq       (TetherLog      *self);
const char   *tether_log_get_path           (TetherLog      *self);
/* Why the file could not be written, or NULL. */
char         *tether_log_dup_file_error     (TetherLog      *self);

G_END_DECLS
