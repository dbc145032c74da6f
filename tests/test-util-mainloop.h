/* test-util-mainloop.h: how long the main loop is kept from polling
 *
 * A poll function on the default context notes when each poll() returns
 * and when the next one begins: the time between is one iteration's work
 * (dispatching sources), which is what freezes a window. Waiting in poll()
 * for something to happen is not counted; being preempted while working
 * is (on a loaded machine that inflates the figure, never hides a block).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 worst_usec;      /* the longest iteration */
  guint64 n_iterations;
} TestMainLoopWatch;

/* Starts watching the default main context (resets the figures). */
void test_main_loop_watch_start (TestMainLoopWatch *watch);
/* Stops; the figures stay in watch. */
void test_main_loop_watch_stop  (TestMainLoopWatch *watch);

G_END_DECLS
