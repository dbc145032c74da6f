/* bench-sampler.c: the cost of one sampling tick, per process
 *
 * Starts trees of 100, 500 and 1000 sleeping processes (tether-test-tree)
 * and measures, for the same pids:
 *   - Tether's sampler: one steady tick, read and applied here in one go
 *     (in the app the reading runs in a worker thread and the main loop
 *     only applies it): a pread of each kept /proc/PID/stat fd, tree
 *     links, diff, histories; median of many;
 *     also the first, cold tick (opens fds, reads cmdlines);
 *   - the member list from the shim, per ownership kind: its round trip,
 *     which the main loop does not wait for (the shim judges membership in
 *     its own process: cgroup.procs plus a pread per member, or a walk of
 *     /proc in reaper mode);
 *   - the total a tick costs the machine: member list plus reading;
 *   - ps -o pid,ppid,stat,rss,time,nlwp,args -p PIDS (fork, exec, output
 *     to a pipe that is drained);
 *   - libgtop: glibtop_get_proc_time + _mem + _state + _args per pid
 *     (only when built with libgtop2-dev, which ./setup.sh bench installs).
 * and, as the floor, a bare pread + parse of each /proc/PID/stat fd.
 * Prints µs per process, the ratios, and the targets next to them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBGTOP
#include <glibtop.h>
#include <glibtop/procargs.h>
#include <glibtop/procmem.h>
#include <glibtop/procstate.h>
#include <glibtop/proctime.h>
#endif

#include <fcntl.h>

#include "bench-util.h"
#include "tether-owner.h"
#include "tether-procfs.h"
#include "tether-sampler.h"
#include "tether-sampler-private.h"
#include "test-util.h"

#define TETHER_TARGET_US   5.0
#define LIBGTOP_FACTOR     4.0
#define PS_FACTOR          20.0

static const guint sizes[] = { 100, 500, 1000 };

typedef struct
{
  TetherOwner *owner;
  gboolean spawned;
  gboolean empty;
  char *dir;
  char *pidfile;
  GArray *pids;
} Tree;

static void
on_spawned (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Tree *tree = user_data;
  g_autoptr(GError) error = NULL;

  if (tether_owner_spawn_finish (TETHER_OWNER (source), result, &error) <= 0)
    g_error ("spawn failed: %s", error->message);
  tree->spawned = TRUE;
}

static void
on_empty (TetherOwner *owner,
          Tree        *tree)
{
  tree->empty = TRUE;
}

static GArray *
list_members (TetherOwner *owner)
{
  g_autoptr(GError) error = NULL;
  GArray *members = test_util_list_members (owner, &error);

  g_assert_no_error (error);
  return members;
}

/* main plus n - 1 descendants, all sleeping */
static void
tree_start (Tree            *tree,
            const char      *helper,
            TetherOwnerKind  kind,
            guint            n)
{
  g_autofree char *marker = g_strdup_printf ("bench-sampler-%d", (int) getpid ());
  g_autofree char *count = g_strdup_printf ("%u", n - 1);
  const char *argv[] = { helper, marker, "tree", count, "--pidfile", NULL, NULL };
  TetherSpawnRequest request = { .argv = argv, .is_main = TRUE };

  memset (tree, 0, sizeof *tree);
  tree->dir = g_dir_make_tmp ("tether-bench-XXXXXX", NULL);
  tree->pidfile = g_build_filename (tree->dir, "pids", NULL);
  argv[5] = tree->pidfile;

  tree->owner = tether_owner_new (kind);
  g_signal_connect (tree->owner, "empty", G_CALLBACK (on_empty), tree);
  tether_owner_spawn_async (tree->owner, &request, NULL, on_spawned, tree);
  while (!tree->spawned)
    g_main_context_iteration (NULL, TRUE);
  while (bench_count_lines (tree->pidfile) < n)
    g_usleep (10000);

  tree->pids = list_members (tree->owner);
  if (tree->pids->len != n)
    g_error ("expected %u members, found %u", n, tree->pids->len);
}

static void
tree_stop (Tree *tree)
{
  TestUtilAwait await = { 0 };

  tether_owner_kill_all_async (tree->owner, NULL, test_util_await_cb, &await);
  tether_owner_verb_finish (tree->owner, test_util_await (&await), NULL, NULL);
  while (!tree->empty)
    g_main_context_iteration (NULL, TRUE);
  tether_owner_abandon (tree->owner);
  g_clear_object (&tree->owner);
  g_array_unref (tree->pids);
  g_unlink (tree->pidfile);
  g_rmdir (tree->dir);
  g_free (tree->pidfile);
  g_free (tree->dir);
}

/* µs per process: {steady, cold} tick on the main loop, given the members */
static void
bench_tether (Tree   *tree,
              double *steady,
              double *cold)
{
  g_autoptr(TetherSampler) sampler = tether_sampler_new ();
  pid_t main_pid = tether_owner_get_main_pid (tree->owner);
  double t[50];
  gint64 t0;

  t0 = g_get_monotonic_time ();
  tether_sampler_tick_with_members (sampler, tree->pids, main_pid);
  *cold = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
  if (tether_sampler_get_totals (sampler)->n_processes != tree->pids->len)
    g_error ("sampler saw %u of %u", tether_sampler_get_totals (sampler)->n_processes, tree->pids->len);

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      t0 = g_get_monotonic_time ();
      tether_sampler_tick_with_members (sampler, tree->pids, main_pid);
      t[i] = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
    }
  *steady = bench_median (t, G_N_ELEMENTS (t));
}

/* µs per process for the member list: the shim's work and the round trip */
static double
bench_list (Tree *tree)
{
  double t[30];

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GArray) members = list_members (tree->owner);

      t[i] = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
      if (members->len != tree->pids->len)
        g_error ("the shim listed %u of %u", members->len, tree->pids->len);
    }
  return bench_median (t, G_N_ELEMENTS (t));
}

/* What the kernel charges for the stat text alone: the sampler's floor. */
static double
bench_floor (Tree *tree)
{
  g_autofree int *fds = g_new (int, tree->pids->len);
  double t[50];

  for (guint i = 0; i < tree->pids->len; i++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) g_array_index (tree->pids, pid_t, i));
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
    }
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      for (guint j = 0; j < tree->pids->len; j++)
        {
          TetherProcStat st;
          if (tether_procfs_pread_stat (fds[j], &st) < 0)
            g_error ("pread of a sleeping member failed");
        }
      t[i] = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
    }
  for (guint i = 0; i < tree->pids->len; i++)
    close (fds[i]);
  return bench_median (t, G_N_ELEMENTS (t));
}

static double
bench_ps (Tree *tree)
{
  g_autoptr(GString) list = g_string_new (NULL);
  double t[7];

  for (guint i = 0; i < tree->pids->len; i++)
    g_string_append_printf (list, "%s%d", i ? "," : "", (int) g_array_index (tree->pids, pid_t, i));

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      const char *argv[] = { "ps", "-o", "pid,ppid,stat,rss,time,nlwp,args", "-p", list->str, NULL };
      g_autofree char *out = NULL;
      g_autoptr(GError) error = NULL;
      int status;
      gint64 t0 = g_get_monotonic_time ();

      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                         NULL, NULL, &out, NULL, &status, &error))
        {
          fprintf (stderr, "bench-sampler: ps: %s\n", error->message);
          return -1;
        }
      t[i] = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
      if (!g_spawn_check_wait_status (status, NULL) || strlen (out) == 0)
        return -1;
    }
  return bench_median (t, G_N_ELEMENTS (t));
}

static double
bench_libgtop (Tree *tree)
{
#ifdef HAVE_LIBGTOP
  double t[15];

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      for (guint j = 0; j < tree->pids->len; j++)
        {
          pid_t pid = g_array_index (tree->pids, pid_t, j);
          glibtop_proc_time ptime;
          glibtop_proc_mem pmem;
          glibtop_proc_state pstate;
          glibtop_proc_args pargs;
          char *args;

          glibtop_get_proc_time (&ptime, pid);
          glibtop_get_proc_mem (&pmem, pid);
          glibtop_get_proc_state (&pstate, pid);
          args = glibtop_get_proc_args (&pargs, pid, 0);
          g_free (args);
        }
      t[i] = (double) (g_get_monotonic_time () - t0) / tree->pids->len;
    }
  return bench_median (t, G_N_ELEMENTS (t));
#else
  return -1;
#endif
}

static const char *
verdict (gboolean ok)
{
  return ok ? "met" : "MISSED";
}

int
main (int    argc,
      char **argv)
{
  const char *helper = g_getenv ("TETHER_TEST_TREE");
  double tick[G_N_ELEMENTS (sizes)], cold[G_N_ELEMENTS (sizes)];
  double list_cgroup[G_N_ELEMENTS (sizes)], list_reaper[G_N_ELEMENTS (sizes)];
  double tether[G_N_ELEMENTS (sizes)], tether_reaper[G_N_ELEMENTS (sizes)];
  double ps[G_N_ELEMENTS (sizes)], gtop[G_N_ELEMENTS (sizes)], floor_us[G_N_ELEMENTS (sizes)];
  gboolean all_ok = TRUE;

  if (helper == NULL)
    {
      fprintf (stderr, "bench-sampler: set TETHER_TEST_TREE (./setup.sh bench does)\n");
      return 2;
    }
#ifdef HAVE_LIBGTOP
  glibtop_init ();
#endif

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      Tree tree;

      tree_start (&tree, helper, TETHER_OWNER_CGROUP, sizes[s]);
      bench_tether (&tree, &tick[s], &cold[s]);
      list_cgroup[s] = bench_list (&tree);
      floor_us[s] = bench_floor (&tree);
      ps[s] = bench_ps (&tree);
      gtop[s] = bench_libgtop (&tree);
      tree_stop (&tree);

      tree_start (&tree, helper, TETHER_OWNER_REAPER, sizes[s]);
      list_reaper[s] = bench_list (&tree);
      tree_stop (&tree);

      tether[s] = tick[s] + list_cgroup[s];
      tether_reaper[s] = tick[s] + list_reaper[s];
    }

  printf ("One sampling tick, µs per process (median; sleeping trees, this machine)\n");
  printf ("%-40s", "processes");
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    printf (" %9u", sizes[s]);
  printf ("\n");

#define ROW(label, values) \
  do { \
    printf ("%-40s", label); \
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) \
      { \
        if ((values)[s] < 0) \
          printf (" %9s", "n/a"); \
        else \
          printf (" %9.2f", (values)[s]); \
      } \
    printf ("\n"); \
  } while (0)

  ROW ("Tether total, cgroup owner", tether);
  ROW ("  reading and applying", tick);
  ROW ("    floor: bare pread + parse", floor_us);
  ROW ("  member list from the shim", list_cgroup);
  ROW ("Tether total, reaper owner", tether_reaper);
  ROW ("  member list from the shim (walks /proc)", list_reaper);
  ROW ("Tether, first tick (opens fds)", cold);
  ROW ("ps -o ... -p PIDS", ps);
  ROW ("libgtop (time+mem+state+args)", gtop);

  printf ("\nTargets\n");
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      gboolean ok = tether[s] <= TETHER_TARGET_US;
      all_ok &= ok;
      printf ("  %4u: Tether %.2f µs/process in all (target <= %.0f): %s\n", sizes[s], tether[s], TETHER_TARGET_US, verdict (ok));
      if (gtop[s] > 0)
        {
          ok = gtop[s] / tether[s] >= LIBGTOP_FACTOR;
          all_ok &= ok;
          printf ("        %.1fx faster than libgtop (target >= %.0fx): %s\n", gtop[s] / tether[s], LIBGTOP_FACTOR, verdict (ok));
        }
      else
        printf ("        libgtop not measured (build with libgtop2-dev: ./setup.sh bench)\n");
      if (ps[s] > 0)
        {
          ok = ps[s] / tether[s] >= PS_FACTOR;
          all_ok &= ok;
          printf ("        %.1fx faster than ps (target >= %.0fx): %s\n", ps[s] / tether[s], PS_FACTOR, verdict (ok));
        }
    }
  {
    double growth = tether[G_N_ELEMENTS (sizes) - 1] / tether[0];
    gboolean ok = growth <= 1.5;

    all_ok &= ok;
    printf ("  linear: cost per process at %u / at %u = %.2f (target <= 1.5, i.e. total cost grows linearly): %s\n",
            sizes[G_N_ELEMENTS (sizes) - 1], sizes[0], growth, verdict (ok));
  }
  printf ("%s\n", all_ok ? "All targets met." : "Some targets MISSED.");
  return 0;
}
