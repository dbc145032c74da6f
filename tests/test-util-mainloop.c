/* test-util-mainloop.c (also built into bench/bench-mainloop)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util-mainloop.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static TestMainLoopWatch *current;
static GPollFunc default_poll;
static gint64 last_return;
static gint64 last_queued;
static int schedstat_fd = -1;

/* Nanoseconds this thread has waited on a run queue, as µs; 0 when the
 * kernel does not say (then the wall time is all there is). */
static gint64
queued_usec (void)
{
  char buf[128];
  ssize_t n;
  char *p;

  if (schedstat_fd < 0)
    return 0;
  n = pread (schedstat_fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* "time-on-cpu wait-on-runqueue timeslices" */
  p = strchr (buf, ' ');
  return p != NULL ? g_ascii_strtoll (p + 1, NULL, 10) / 1000 : 0;
}

static gint
timed_poll (GPollFD *fds,
            guint    n_fds,
            gint     timeout)
{
  gint64 now = g_get_monotonic_time ();
  gint64 queued = queued_usec ();
  gint r;

  if (current != NULL && last_return != 0)
    {
      gint64 wall = now - last_return;
      gint64 own = wall - (queued - last_queued);

      current->worst_usec = MAX (current->worst_usec, wall);
      current->worst_own_usec = MAX (current->worst_own_usec, own);
      current->n_iterations++;
      if (current->wall_usec != NULL)
        g_array_append_val (current->wall_usec, wall);
      if (current->own_usec != NULL)
        g_array_append_val (current->own_usec, own);
    }
  r = default_poll (fds, n_fds, timeout);
  last_return = g_get_monotonic_time ();
  last_queued = queued_usec ();
  return r;
}

void
test_main_loop_watch_start (TestMainLoopWatch *watch)
{
  GMainContext *context = g_main_context_default ();

  watch->worst_usec = 0;
  watch->worst_own_usec = 0;
  watch->n_iterations = 0;
  if (watch->wall_usec != NULL)
    g_array_set_size (watch->wall_usec, 0);
  if (watch->own_usec != NULL)
    g_array_set_size (watch->own_usec, 0);
  if (default_poll == NULL)
    default_poll = g_main_context_get_poll_func (context);
  if (schedstat_fd < 0)
    schedstat_fd = open ("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
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
