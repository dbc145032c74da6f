/* tether-log-private.h: between the log and its pipes
 *
 * tether-log.c keeps what is the same everywhere: cutting lines, stamping
 * and numbering them, the ring, the dropped-line markers, the file and
 * its rotation, the tee's bookkeeping and "lines-added". A file per
 * platform owns the pipes the backend writes into and the thread's waits
 * on them: tether-log-unix.c, pipes enlarged to 1 MiB and poll();
 * tether-log-win32.c, anonymous pipes of 1 MiB and PeekNamedPipe. Both
 * tell the thread how many bytes still wait in a pipe after a read: that
 * is how a writer outrunning the thread is seen.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-log.h"

G_BEGIN_DECLS

typedef struct _TetherLogPipes TetherLogPipes;
typedef struct _TetherLogTee TetherLogTee;

/* The two pipes (stdout, stderr) and what wakes the thread to stop.
 * write_fds: the write ends, for spawns (C runtime descriptors on both
 * platforms); high_water: the bytes waiting in a pipe at which dropping
 * starts, three quarters of it. */
TetherLogPipes *tether_log_pipes_new          (int              write_fds[2],
                                               gsize            high_water[2],
                                               GError         **error);
/* The thread's wait: which streams have bytes to read (bit 1 << stream),
 * or 0 once tether_log_pipes_stop was called. */
guint           tether_log_pipes_wait         (TetherLogPipes  *pipes);
/* Reads what waits in stream without blocking: bytes read, 0 for none;
 * *pending: what is still waiting after it. */
gssize          tether_log_pipes_read         (TetherLogPipes  *pipes,
                                               TetherLogStream  stream,
                                               char            *buffer,
                                               gsize            size,
                                               gsize           *pending);
/* Any thread: ends the thread's wait for good. */
void            tether_log_pipes_stop         (TetherLogPipes  *pipes);
/* After the thread ended. */
void            tether_log_pipes_free         (TetherLogPipes  *pipes);

/* The thread's "new lines" to the main context of whoever created the
 * log: a source that calls func (once per burst of pokes). */
GSource        *tether_log_pipes_notify_source_new (TetherLogPipes *pipes,
                                                    GSourceFunc     func,
                                                    gpointer        user_data);
void            tether_log_pipes_notify       (TetherLogPipes  *pipes);

/* A copy of the output for a person (a terminal, a pipe or a file given
 * as a descriptor): written without ever keeping the thread waiting. */
TetherLogTee   *tether_log_tee_open           (int              fd);
/* Bytes taken (maybe fewer than length, maybe 0), or -1: the tee is
 * broken. */
gssize          tether_log_tee_write          (TetherLogTee    *tee,
                                               const char      *data,
                                               gsize            length);
void            tether_log_tee_close          (TetherLogTee    *tee);

/* All of data to the log file's descriptor: 0, or a negative errno. */
int             tether_log_file_write         (int              fd,
                                               const char      *data,
                                               gsize            length);

G_END_DECLS
