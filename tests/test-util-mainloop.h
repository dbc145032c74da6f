/* test-util-mainloop.h: how long the main loop is kept from polling
 *
 * A poll function on the default context notes when each poll() returns
 * and when the next one begins: the time between is one iteration's work
 * (dispatching sources), which is what freezes a window. Waiting in poll()
 * for something to happen is not counted.
 *
 * Two figures per iteration: the wall time, and the wall time less what
 * the thread spent waiting for a CPU on the scheduler's run queue
 * (/proc/thread-self/schedstat). On a machine other processes keep busy
 * (a 2-core CI runner while 1000 processes fork) the first measures the
 * machine; the second measures Tether -- its work plus any time it blocked
 * (a poll() in a callback, a slow read), which is what must stay short.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 worst_usec;          /* the longest iteration, wall clock */
  gint64 worst_own_usec;      /* ... less its wait on the run queue */
  guint64 n_iterations;
  /* When set (GArray of gint64), every iteration is appended: for
   * percentiles (bench/bench-mainloop.c). */
  GArray *wall_usec;
  GArray *own_usec;
} TestMainLoopWatch;

/* Starts watching the default main context (resets the figures). */
void test_main_loop_watch_start (TestMainLoopWatch *watch);
/* Stops; the figures stay in watch. */
void test_main_loop_watch_stop  (TestMainLoopWatch *watch);

G_END_DECLS
