/* test-leftovers.c: finding and ending what an earlier run left behind
 * (processes started here, not by Tether: the command and port rules;
 * test-cli's kill-leftovers covers the environment tag end to end)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-leftovers.h"
#include "test-util.h"

static TetherLeftover *
find_pid (GPtrArray *leftovers,
          pid_t      pid)
{
  for (guint i = 0; i < leftovers->len; i++)
    if (((TetherLeftover *) g_ptr_array_index (leftovers, i))->pid == pid)
      return g_ptr_array_index (leftovers, i);
  return NULL;
}

static GPtrArray *
find (TetherProfile *profile)
{
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };
  GPtrArray *leftovers;

  tether_leftovers_find_async (profile, NULL, test_util_await_cb, &await);
  leftovers = tether_leftovers_find_finish (test_util_await (&await), &error);
  g_assert_no_error (error);
  return leftovers;
}

/* Starts argv detached ("setsid -f": not a descendant of this process,
 * as an earlier run's leftovers are not of the next Tether's) and waits
 * until n processes carry marker. */
static void
spawn_detached (const char * const *argv,
                const char         *marker,
                guint               n)
{
  g_autoptr(GPtrArray) full = g_ptr_array_new ();
  g_autoptr(GSubprocess) setsid = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_ptr_array_add (full, (char *) "setsid");
  g_ptr_array_add (full, (char *) "-f");
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, (char *) argv[i]);
  g_ptr_array_add (full, NULL);
  setsid = g_subprocess_newv ((const char * const *) full->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (setsid, NULL, &error));
  g_assert_no_error (error);
  while (test_util_count_marked (marker) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

static pid_t
only_marked (const char *marker)
{
  g_autoptr(GArray) pids = test_util_find_marked (marker);

  g_assert_cmpuint (pids->len, ==, 1);
  return g_array_index (pids, pid_t, 0);
}

/* The profile's exact command, with its child; the same program with other
 * arguments is not one; a process on the health port is, whatever it
 * runs. Ending: SIGTERM for the polite one, SIGKILL for the two that
 * ignore it. */
static void
test_find_and_end (void)
{
  g_autofree char *marker = test_util_marker ();
  g_autofree char *other = test_util_marker ();
  g_autofree char *on_port = test_util_marker ();
  guint port = test_util_free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *health = g_strdup_printf ("\"health\": {\"http\": \"http://localhost:%u/x\"}, "
                                             "\"stop\": {\"graceful_timeout\": 1}", port);
  const char *command[] = { test_util_tree_helper (), marker, "ignore-term", "1", NULL };
  const char *stranger_argv[] = { test_util_tree_helper (), other, "ignore-term", "1", NULL };
  const char *listener_argv[] = { "python3", "-c",
                                  "import socket, sys, time\n"
                                  "s = socket.socket ()\n"
                                  "s.bind (('127.0.0.1', int (sys.argv[1])))\n"
                                  "s.listen ()\n"
                                  "open (sys.argv[3], 'w').close ()\n"
                                  "time.sleep (1000)\n",
                                  port_text, on_port, NULL, NULL };
  g_autofree char *ready = g_build_filename (test_util_tmpdir (), on_port, NULL);
  g_autofree char *path = test_util_write_profile (health, command);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (path, &error);
  g_autoptr(GPtrArray) found = NULL;
  TestUtilAwait await = { 0 };
  TetherLeftover *item;
  pid_t main_pid = 0, listener;
  guint forced = 0, n_children = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_no_error (error);
  listener_argv[5] = ready;
  spawn_detached (command, marker, 2);
  spawn_detached (stranger_argv, other, 2);
  spawn_detached (listener_argv, on_port, 1);
  while (!g_file_test (ready, G_FILE_TEST_EXISTS))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  listener = only_marked (on_port);
  /* ignore-term: SIGTERM is ignored once both have reported. */
  g_usleep (200 * 1000);

  found = find (profile);
  for (guint i = 0; i < found->len; i++)
    {
      item = g_ptr_array_index (found, i);
      g_test_message ("%d %s", (int) item->pid, item->cmdline);
      if (item->reason == TETHER_LEFTOVER_COMMAND)
        {
          g_assert_cmpint (main_pid, ==, 0);
          main_pid = item->pid;
          g_assert_nonnull (strstr (item->cmdline, marker));
        }
    }
  g_assert_cmpint (main_pid, >, 0);
  for (guint i = 0; i < found->len; i++)
    {
      item = g_ptr_array_index (found, i);
      g_assert_null (strstr (item->cmdline, other));
      if (item->reason == TETHER_LEFTOVER_DESCENDANT)
        {
          g_assert_cmpint (item->ppid, ==, main_pid);
          n_children++;
        }
    }
  g_assert_cmpuint (n_children, ==, 1);
  item = find_pid (found, listener);
  g_assert_nonnull (item);
  g_assert_cmpint (item->reason, ==, TETHER_LEFTOVER_PORT);
  g_assert_cmpuint (item->port, ==, port);
  {
    g_autofree char *text = tether_leftover_describe (item);
    g_autofree char *expected = g_strdup_printf ("listening on port %u)", port);

    g_assert_true (g_str_has_suffix (text, expected));
  }
  g_assert_cmpuint (found->len, ==, 3);

  tether_leftovers_end_async (profile, found, NULL, test_util_await_cb, &await);
  g_assert_true (tether_leftovers_end_finish (test_util_await (&await), &forced, &error));
  g_assert_no_error (error);
  /* The python listener dies of SIGTERM; the two that ignore it do not. */
  g_assert_cmpuint (forced, ==, 2);
  g_assert_cmpuint (test_util_count_marked (marker), ==, 0);
  g_assert_cmpuint (test_util_count_marked (on_port), ==, 0);
  g_assert_cmpuint (test_util_count_marked (other), ==, 2);

  test_util_kill_marked (other);
  g_unlink (ready);
  g_unlink (path);
}

/* A pid reused between the listing and the ending is not signalled. */
static void
test_reused_pid_spared (void)
{
  g_autofree char *marker = test_util_marker ();
  const char *command[] = { test_util_tree_helper (), marker, "sleep", NULL };
  g_autofree char *path = test_util_write_profile (NULL, command);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (path, &error);
  g_autoptr(GPtrArray) found = NULL;
  TestUtilAwait await = { 0 };
  TetherLeftover *item;
  guint forced = 0;

  g_assert_no_error (error);
  spawn_detached (command, marker, 1);
  found = find (profile);
  g_assert_cmpuint (found->len, ==, 1);
  item = g_ptr_array_index (found, 0);
  g_assert_cmpint (item->pid, ==, only_marked (marker));
  /* As if the listed process had ended and its pid gone to this one. */
  item->start_usec -= 10 * G_USEC_PER_SEC;

  tether_leftovers_end_async (profile, found, NULL, test_util_await_cb, &await);
  g_assert_true (tether_leftovers_end_finish (test_util_await (&await), &forced, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (forced, ==, 0);
  g_assert_cmpuint (test_util_count_marked (marker), ==, 1);
  test_util_kill_marked (marker);
  g_unlink (path);
}

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/leftovers/find-and-end", test_find_and_end);
  g_test_add_func ("/leftovers/reused-pid-spared", test_reused_pid_spared);
  return g_test_run ();
}
