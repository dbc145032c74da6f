/* bench-kill.c: how long a forced stop takes to empty a large tree
 *
 * Starts tether-test-tree with a 500-process tree (and a fork-forever tree),
 * once per ownership backend, and measures from the kill request to the
 * moment the supervisor reports the tree empty.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"
#include "tether-supervisor.h"

typedef struct
{
  gboolean done;
  TetherStopReport report;
} Wait;

static void
on_started (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error))
    g_error ("start failed: %s", error->message);
  w->done = TRUE;
}

static void
on_stopped (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &w->report, &error))
    g_error ("stop failed: %s", error->message);
  w->done = TRUE;
}

static double
measure (const char      *helper,
         TetherOwnerKind  kind,
         const char      *mode,
         const char      *arg,
         guint            expect_lines,
         guint           *n_killed)
{
  g_autofree char *dir = g_dir_make_tmp ("tether-bench-XXXXXX", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "pids", NULL);
  g_autofree char *profile_path = g_build_filename (dir, "p.json", NULL);
  g_autofree char *json = g_strdup_printf ("{\"command\": [\"%s\", \"bench-%d\", \"%s\", \"%s\", \"--pidfile\", \"%s\"]}",
                                           helper, (int) getpid (), mode, arg, pidfile);
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) sup = NULL;
  g_autoptr(GError) error = NULL;
  Wait w = { 0 };
  gint64 t0;

  g_file_set_contents (profile_path, json, -1, NULL);
  profile = tether_profile_load (profile_path, &error);
  g_assert_no_error (error);
  sup = tether_supervisor_new (profile, kind);
  tether_supervisor_start (sup, NULL, on_started, &w);
  while (!w.done)
    g_main_context_iteration (NULL, TRUE);

  /* Wait until the tree is complete (or, for fork-forever, busy). */
  while (bench_count_lines (pidfile) < expect_lines)
    g_usleep (10000);
  if (expect_lines == 1)
    g_usleep (500000);

  w.done = FALSE;
  t0 = g_get_monotonic_time ();
  tether_supervisor_kill (sup, NULL, on_stopped, &w);
  while (!w.done)
    g_main_context_iteration (NULL, TRUE);

  *n_killed = w.report.ended[TETHER_PHASE_KILL];
  g_unlink (pidfile);
  g_unlink (profile_path);
  g_rmdir (dir);
  return (g_get_monotonic_time () - t0) / 1000.0;
}

int
main (int argc, char **argv)
{
  const char *helper = g_getenv ("TETHER_TEST_TREE");
  const TetherOwnerKind kinds[] = { TETHER_OWNER_CGROUP, TETHER_OWNER_REAPER };
  const guint runs = 5;

  if (helper == NULL)
    {
      fprintf (stderr, "bench-kill: set TETHER_TEST_TREE (./setup.sh bench does)\n");
      return 2;
    }

  printf ("Forced kill to empty tree, median of %u runs (target: < 500 ms for 500 processes)\n", runs);
  printf ("%-8s %-22s %10s %10s\n", "owner", "tree", "killed", "ms");
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      struct { const char *label, *mode, *arg; guint lines; } trees[] = {
        { "500 sleeping", "tree", "500", 501 },
        { "fork-forever", "fork-forever", "2", 1 },
      };

      for (guint t = 0; t < G_N_ELEMENTS (trees); t++)
        {
          double ms[16];
          guint killed = 0;

          for (guint r = 0; r < runs; r++)
            ms[r] = measure (helper, kinds[k], trees[t].mode, trees[t].arg, trees[t].lines, &killed);
          printf ("%-8s %-22s %10u %10.1f\n", tether_owner_kind_to_string (kinds[k]),
                  trees[t].label, killed, bench_median (ms, runs));
        }
    }
  return 0;
}
