/* test-util-mainloop.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util-mainloop.h"

static TestMainLoopWatch *current;
static GPollFunc default_poll;
static gint64 last_return;

static gint
timed_poll (GPollFD *fds,
            guint    n_fds,
            gint     timeout)
{
  gint64 now = g_get_monotonic_time ();
  gint r;

  if (current != NULL && last_return != 0)
    {
      current->worst_usec = MAX (current->worst_usec, now - last_return);
      current->n_iterations++;
    }
  r = default_poll (fds, n_fds, timeout);
  last_return = g_get_monotonic_time ();
  return r;
}

void
test_main_loop_watch_start (TestMainLoopWatch *watch)
{
  GMainContext *context = g_main_context_default ();

  watch->worst_usec = 0;
  watch->n_iterations = 0;
  if (default_poll == NULL)
    default_poll = g_main_context_get_poll_func (context);
  current = watch;
  last_return = 0;
  g_main_context_set_poll_func (context, timed_poll);
}

void
test_main_loop_watch_stop (TestMainLoopWatch *watch)
{
  g_main_context_set_poll_func (g_main_context_default (), default_poll);
  current = NULL;
}
