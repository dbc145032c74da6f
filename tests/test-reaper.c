/* test-reaper.c: Tether as a child subreaper (a program of its own: the
 * subreaper flag is for the whole process)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-procfs.h"
#include "tether-reaper.h"
#include "test-util.h"

/* Iterates the main context for ms. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Forks a child that forks a grandchild (sleep(1) for exit_ms, or
 * 1000 s; with TETHER_TREE=tag as its only environment when tag is not
 * NULL), tells its pid and exits: the grandchild is orphaned and
 * comes to this subreaper. */
static pid_t
orphan (int         exit_ms,
        const char *tag)
{
  int fds[2];
  pid_t child, grandchild = 0;
  int status;

  g_assert_cmpint (pipe (fds), ==, 0);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      pid_t g = fork ();

      if (g == 0)
        {
          char seconds[32];

          close (fds[1]);
          setsid ();
          /* exec'd: /proc/PID/environ is the environment of the last exec */
          g_snprintf (seconds, sizeof seconds, "%.3f", exit_ms >= 0 ? exit_ms / 1000.0 : 1000.0);
          if (tag != NULL)
            {
              g_autofree char *entry = g_strconcat ("TETHER_TREE=", tag, NULL);
              char *env[] = { entry, NULL };

              execle ("/bin/sleep", "sleep", seconds, NULL, env);
            }
          execl ("/bin/sleep", "sleep", seconds, NULL);
          _exit (127);
        }
      if (write (fds[1], &g, sizeof g) != sizeof g)
        _exit (1);
      _exit (0);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], &grandchild, sizeof grandchild), ==, sizeof grandchild);
  close (fds[0]);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  /* Until it has exec'd, its new arguments and environment in place: the
   * name changes first, the environment a moment later. */
  for (;;)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) grandchild);
      g_autofree char *cmdline = NULL;

      if (g_file_get_contents (path, &cmdline, NULL, NULL) && g_str_has_prefix (cmdline, "sleep"))
        break;
      g_usleep (1000);
    }
  return grandchild;
}

static gboolean
is_child (pid_t pid)
{
  g_autoptr(GArray) children = tether_reaper_list_children ();

  for (guint i = 0; i < children->len; i++)
    if (g_array_index (children, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

/* An adopted orphan that exits is reaped, not left a zombie. */
static void
test_adopted_zombie_reaped (void)
{
  pid_t pid = orphan (100, NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_true (is_child (pid));
  while (kill (pid, 0) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (50);
    }
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  int *status = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error));
  *status = g_subprocess_get_exit_status (G_SUBPROCESS (source));
}

/* A child GLib watches keeps its exit status for GLib, even when the main
 * loop did not run for a while after it exited (it was a zombie through
 * several of the reaper's ticks). */
static void
test_glib_children_not_stolen (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) child = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "/bin/sh", "-c", "exit 3", NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  int status = -1;

  g_assert_no_error (error);
  g_subprocess_wait_async (child, NULL, on_waited, &status);
  g_usleep (3 * G_USEC_PER_SEC);  /* a zombie, the loop stalled */
  while (status < 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (50);
    }
  g_assert_cmpint (status, ==, 3);
  /* And a few more ticks with nothing to reap. */
  run_for (4500);
}

/* A killed shim's orphans (here: what the listing knew, a spawned one and
 * a tagged latecomer) end with their descendants, and are reaped; a child
 * that is none of them is left alone. */
static void
test_end_orphans (void)
{
  g_autoptr(GArray) spawned = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GArray) known = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };
  gint64 since, known_at;
  pid_t listed, latecomer, stranger, from_spawn;
  gssize n;

  since = tether_procfs_boottime_usec ();
  listed = orphan (-1, NULL);
  from_spawn = orphan (-1, NULL);
  stranger = orphan (-1, "1234.9999");
  g_usleep (20 * 1000);
  known_at = tether_procfs_boottime_usec ();
  latecomer = orphan (-1, "1234.5678");
  g_array_append_val (known, listed);
  g_array_append_val (spawned, from_spawn);

  tether_reaper_end_orphans_async (spawned, known, known_at, since, "1234.5678", 10000, NULL,
                                   test_util_await_cb, &await);
  n = tether_reaper_end_orphans_finish (test_util_await (&await), &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 3);
  g_assert_cmpint (kill (listed, 0), ==, -1);
  g_assert_cmpint (kill (from_spawn, 0), ==, -1);
  g_assert_cmpint (kill (latecomer, 0), ==, -1);
  g_assert_true (test_util_pid_alive (stranger));
  kill (stranger, SIGKILL);
  g_assert_cmpint (waitpid (stranger, NULL, 0), ==, stranger);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;

  test_util_init ();
  g_test_init (&argc, &argv, NULL);
  g_assert_true (tether_reaper_install (&error));
  g_assert_no_error (error);

  g_test_add_func ("/reaper/adopted-zombie-reaped", test_adopted_zombie_reaped);
  g_test_add_func ("/reaper/glib-children-not-stolen", test_glib_children_not_stolen);
  g_test_add_func ("/reaper/end-orphans", test_end_orphans);
  return g_test_run ();
}
