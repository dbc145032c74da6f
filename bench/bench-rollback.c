/* bench-rollback.c: how long a rollback by restart takes
 *
 * From the request to the frozen tree, and to RUNNING again at the
 * checkpoint, in each ownership backend, for examples/block_processor.py
 * (five processes) and for a 500-process tree. The issue names no target:
 * the figures are reported as measured, medians of a few runs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "bench-util.h"
#include "tether-supervisor.h"
#include "test-util.h"

#define ROUNDS 3

/* Until n_checkpoints more have come, and the tree has min_members. */
static void
wait_for (TetherSupervisor *supervisor,
          guint             n_checkpoints,
          guint             min_members)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint target = tether_supervisor_get_checkpoints (supervisor)->len + n_checkpoints;

  while (tether_supervisor_get_checkpoints (supervisor)->len < target ||
         tether_supervisor_get_n_members (supervisor) < min_members)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%u checkpoints / %u members never came", n_checkpoints, min_members);
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Runs ROUNDS rollbacks to checkpoint on a fresh supervisor. */
static void
measure (const char      *what,
         TetherOwnerKind  kind,
         const char      *profile_path,
         guint            n_checkpoints,
         const char      *checkpoint,
         guint            min_members)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (profile_path, &error);
  g_autoptr(TetherSupervisor) supervisor = NULL;
  double frozen[ROUNDS], running[ROUNDS];
  TestUtilAwait a = { 0 };
  guint members = 0;

  g_assert_no_error (error);
  supervisor = tether_supervisor_new (profile, kind);
  tether_sampler_set_interval (tether_supervisor_get_sampler (supervisor), 200);
  tether_supervisor_start (supervisor, NULL, test_util_await_cb, &a);
  if (!tether_supervisor_start_finish (supervisor, test_util_await (&a), &error))
    g_error ("%s", error->message);

  for (guint r = 0; r < ROUNDS; r++)
    {
      TetherRollbackReport report;

      wait_for (supervisor, n_checkpoints, min_members);
      members = tether_supervisor_get_n_members (supervisor);
      tether_supervisor_rollback (supervisor, checkpoint, "bench", NULL, test_util_await_cb, &a);
      if (!tether_supervisor_rollback_finish (supervisor, test_util_await (&a), &report, &error))
        g_error ("%s", error->message);
      frozen[r] = report.to_frozen * 1000;
      running[r] = report.to_running * 1000;
    }

  g_print ("  %-26s %-7s %4u processes: frozen %8.1f ms, RUNNING again %8.1f ms\n",
           what, tether_owner_kind_to_string (kind), members,
           bench_median (frozen, ROUNDS), bench_median (running, ROUNDS));

  tether_supervisor_kill (supervisor, NULL, test_util_await_cb, &a);
  tether_supervisor_stop_finish (supervisor, test_util_await (&a), NULL, NULL);
}

int
main (int    argc,
      char **argv)
{
  static const TetherOwnerKind kinds[] = { TETHER_OWNER_CGROUP, TETHER_OWNER_REAPER };
  g_autofree char *marker = NULL;
  g_autofree char *script = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *block_profile = NULL;
  g_autofree char *tree_profile = NULL;
  g_autofree char *tree_command = NULL;
  const char *tree = g_getenv ("TETHER_TEST_TREE");
  const char *srcdir = TETHER_SOURCE_DIR;

  test_util_init ();
  if (tree == NULL)
    g_error ("Run through ./setup.sh bench (it sets TETHER_TEST_TREE)");

  marker = test_util_marker ();
  script = g_build_filename (srcdir, "examples", "block_processor.py", NULL);
  state_dir = g_build_filename (test_util_tmpdir (), "blocks", NULL);
  {
    const char *block_argv[] = { "/usr/bin/python3", script, "--state-dir", state_dir, "--interval", "0.01", NULL };
    block_profile = test_util_write_profile ("\"ready\": \"notify\"", block_argv);
  }
  /* 499 sleepers in a tree, and a process that reports checkpoint 1. */
  tree_command = g_strdup_printf ("'%s' %s tree 499 & exec '%s' %s notify READY=1 X_TETHER_CHECKPOINT=1",
                                  tree, marker, tree, marker);
  {
    const char *tree_argv[] = { "/bin/sh", "-c", tree_command, NULL };
    tree_profile = test_util_write_profile ("\"ready\": \"notify\", \"stop\": {\"graceful_timeout\": 2}", tree_argv);
  }

  g_print ("Rollback by restart: request -> frozen -> RUNNING at the checkpoint (medians of %d; no target)\n",
           ROUNDS);
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      measure ("block_processor.py", kinds[k], block_profile, 3, "10", 5);
      measure ("500-process tree", kinds[k], tree_profile, 1, "1", 500);
    }
  test_util_kill_marked (marker);
  return 0;
}
