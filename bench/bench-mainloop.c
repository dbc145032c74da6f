/* bench-mainloop.c: how long a 1000-process tree holds the main loop
 *
 * For each ownership kind: start a tree of 1000 sleeping processes
 * (tether-test-tree tree 999), sample it ten times a second for a few
 * seconds, then force-stop it, all under a supervisor on this main loop.
 * A poll function notes when each poll() returns and when the next begins:
 * the time between is one main-loop iteration's work, what freezes a
 * window. Prints the worst iteration next to the target (20 ms), and how
 * the iterations spread; each both on the wall clock and less the time the
 * thread waited for a CPU on the run queue (/proc/thread-self/schedstat):
 * while 1000 processes fork on 2 cores the first measures the machine, the
 * second what Tether itself did or waited on.
 *
 * Only the public lifecycle API is used (and the tests' main-loop watch,
 * tests/test-util-mainloop.c), so the same file measures older versions of
 * the core too.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tether-supervisor.h"
#include "test-util-mainloop.h"

#define TARGET_MS 20.0
#define N_PROCESSES 1000

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
iterate_until (gboolean *flag,
               double    timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (!*flag)
    g_error ("timed out");
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

typedef struct
{
  guint n;
  double p99_ms, worst_ms;          /* wall clock */
  double own_p99_ms, own_worst_ms;  /* less the run-queue wait */
} Figures;

static void
spread (GArray *values,
        double *p99_ms,
        double *worst_ms)
{
  g_array_sort (values, compare_gint64);
  *worst_ms = values->len > 0 ? g_array_index (values, gint64, values->len - 1) / 1000.0 : 0;
  *p99_ms = values->len > 0 ? g_array_index (values, gint64, (values->len * 99) / 100) / 1000.0 : 0;
}

static void
run (const char      *helper,
     TetherOwnerKind  kind,
     Figures         *figures)
{
  g_autofree char *dir = g_dir_make_tmp ("tether-bench-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "tree.json", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "pids", NULL);
  g_autofree char *json = g_strdup_printf ("{\"command\": [\"%s\", \"bench-mainloop-%d\", \"tree\", \"%d\", "
                                           "\"--pidfile\", \"%s\"]}",
                                           helper, (int) getpid (), N_PROCESSES - 1, pidfile);
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) supervisor = NULL;
  g_autoptr(GError) error = NULL;
  gboolean started = FALSE, stopped = FALSE;
  TestMainLoopWatch watch = { 0 };
  TetherSampler *sampler;
  gint64 t0;

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  profile = tether_profile_load (path, &error);
  g_assert_no_error (error);
  supervisor = tether_supervisor_new (profile, kind);
  sampler = tether_supervisor_get_sampler (supervisor);
  tether_sampler_set_interval (sampler, 100);

  watch.wall_usec = g_array_new (FALSE, FALSE, sizeof (gint64));
  watch.own_usec = g_array_new (FALSE, FALSE, sizeof (gint64));
  test_main_loop_watch_start (&watch);
  tether_supervisor_start (supervisor, NULL, on_done, &started);
  iterate_until (&started, 30);

  /* The tree forks itself up; the sampler follows it. */
  t0 = g_get_monotonic_time ();
  while (tether_sampler_get_totals (sampler)->n_processes < N_PROCESSES)
    {
      if (g_get_monotonic_time () - t0 > 120 * G_USEC_PER_SEC)
        g_error ("the tree did not reach %d processes", N_PROCESSES);
      g_main_context_iteration (NULL, TRUE);
    }
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);

  tether_supervisor_kill (supervisor, NULL, on_done, &stopped);
  iterate_until (&stopped, 60);
  test_main_loop_watch_stop (&watch);

  figures->n = watch.wall_usec->len;
  spread (watch.wall_usec, &figures->p99_ms, &figures->worst_ms);
  spread (watch.own_usec, &figures->own_p99_ms, &figures->own_worst_ms);
  g_array_unref (watch.wall_usec);
  g_array_unref (watch.own_usec);

  g_object_run_dispose (G_OBJECT (supervisor));
  g_unlink (pidfile);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  const char *helper = g_getenv ("TETHER_TEST_TREE");
  const TetherOwnerKind kinds[] = { TETHER_OWNER_REAPER, TETHER_OWNER_CGROUP };
  const char *names[] = { "reaper", "cgroup" };

  if (helper == NULL)
    {
      fprintf (stderr, "bench-mainloop: set TETHER_TEST_TREE (./setup.sh bench does)\n");
      return 2;
    }
  printf ("Main-loop iterations with a %d-process tree: start, 3 s sampled every 100 ms, forced stop\n",
          N_PROCESSES);
  printf ("%-8s %10s %14s %14s %16s %16s\n", "owner", "iterations", "wall p99 ms", "wall worst ms",
          "own p99 ms", "own worst ms");
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      Figures f;

      run (helper, kinds[k], &f);
      printf ("%-8s %10u %14.2f %14.2f %16.2f %16.2f   (target: own worst < %.0f ms: %s)\n",
              names[k], f.n, f.p99_ms, f.worst_ms, f.own_p99_ms, f.own_worst_ms,
              TARGET_MS, f.own_worst_ms < TARGET_MS ? "met" : "MISSED");
    }
  return 0;
}
