/* test-health.c: health.http probes, NOT_RESPONDING and on_unresponsive
 *
 * A real backend on a real loopback port that answers, or accepts and
 * never answers (what an API does under load), switched by a file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "tether-supervisor.h"
#include "test-util.h"

/* Accepts, and answers 200 unless DIR/mode says "hang": then holds the
 * connection and says nothing. */
static const char backend[] =
  "import os, socket, sys\n"
  "d, port = sys.argv[1], int(sys.argv[2])\n"
  "srv = socket.socket()\n"
  "srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
  "srv.bind(('127.0.0.1', port))\n"
  "srv.listen(64)\n"
  "n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
  "a = os.environ['NOTIFY_SOCKET']\n"
  "n.sendto(b'READY=1', '\\0' + a[1:] if a[0] == '@' else a)\n"
  "held = []\n"
  "while True:\n"
  "    c, _ = srv.accept()\n"
  "    try:\n"
  "        mode = open(os.path.join(d, 'mode')).read().strip()\n"
  "    except OSError:\n"
  "        mode = 'ok'\n"
  "    if mode == 'hang':\n"
  "        held.append(c)\n"
  "        continue\n"
  "    c.recv(4096)\n"
  "    c.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')\n"
  "    c.close()\n";

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *dir;
  TetherProfile *profile;
  TetherSupervisor *supervisor;
} Fixture;

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->kind = *(const TetherOwnerKind *) data;
  fx->marker = test_util_marker ();
  fx->dir = g_build_filename (test_util_tmpdir (), fx->marker, NULL);
  g_mkdir_with_parents (fx->dir, 0700);
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  g_clear_object (&fx->supervisor);
  g_clear_pointer (&fx->profile, tether_profile_unref);
  test_util_kill_marked (fx->marker);
  g_free (fx->marker);
  g_free (fx->dir);
}

static void
set_mode (Fixture    *fx,
          const char *mode)
{
  g_autofree char *path = g_build_filename (fx->dir, "mode", NULL);
  g_assert_true (g_file_set_contents (path, mode, -1, NULL));
}

static void
start (Fixture    *fx,
       const char *restart_members)
{
  guint port = test_util_free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *members =
    g_strdup_printf ("\"ready\": \"notify\", \"health\": {\"http\": \"http://127.0.0.1:%u/ping\", "
                     "\"interval\": 0.3, \"timeout\": 0.5, \"failures\": 2}%s%s",
                     port, restart_members ? ", " : "", restart_members ? restart_members : "");
  const char *python = g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ? "/usr/bin/python3" : "python3";
  const char *argv[] = { python, "-c", backend, fx->dir, port_text, fx->marker, NULL };
  g_autofree char *path = test_util_write_profile (members, argv);
  g_autoptr(GError) error = NULL;

  fx->profile = tether_profile_load (path, &error);
  g_assert_no_error (error);
  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  g_assert_true (test_util_start_supervisor (fx->supervisor, &error));
  g_assert_no_error (error);
}

/* Seconds until the state is reached; fails after limit. */
static double
wait_state (Fixture     *fx,
            TetherState  state,
            double       limit)
{
  gint64 t0 = g_get_monotonic_time ();

  while (tether_supervisor_get_state (fx->supervisor) != state)
    {
      if (g_get_monotonic_time () - t0 > (gint64) (limit * G_USEC_PER_SEC))
        g_error ("not %s after %g s (it is %s: %s)", tether_state_to_string (state), limit,
                 tether_state_to_string (tether_supervisor_get_state (fx->supervisor)),
                 tether_supervisor_get_message (fx->supervisor));
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* An endpoint that accepts and never answers: NOT_RESPONDING within
 * interval × failures + timeout (+ 1 s), with since when and why; back to
 * RUNNING once it answers again. */
static void
test_unresponsive_and_back (Fixture       *fx,
                            gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  const char *message;
  double took;

  start (fx, NULL);
  /* A few good probes first. */
  g_usleep (700 * 1000);
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_RUNNING);

  set_mode (fx, "hang");
  took = wait_state (fx, TETHER_STATE_NOT_RESPONDING, 0.3 * 2 + 0.5 + 1.0);
  g_test_message ("NOT_RESPONDING %.2f s after the endpoint hung", took);
  message = tether_supervisor_get_message (fx->supervisor);
  g_assert_true (g_str_has_prefix (message, "Not responding since "));
  g_assert_nonnull (strstr (message, "2 health probes in a row failed"));
  g_assert_nonnull (strstr (message, "did not answer within 0.5 s"));
  g_assert_cmpint (tether_supervisor_get_unresponsive_since (fx->supervisor), >, 0);

  set_mode (fx, "ok");
  took = wait_state (fx, TETHER_STATE_RUNNING, 0.3 + 0.5 + 1.0);
  g_test_message ("RUNNING %.2f s after it answered again", took);
  g_assert_null (tether_supervisor_get_message (fx->supervisor));
  g_assert_cmpint (tether_supervisor_get_unresponsive_since (fx->supervisor), ==, 0);

  tether_supervisor_stop (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_stop_finish (fx->supervisor, test_util_await (&a), NULL, NULL));
}

/* restart.on_unresponsive: stuck that long, it is restarted by the same
 * stop and start as a Restart, and runs again. */
static void
test_on_unresponsive (Fixture       *fx,
                      gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  pid_t before;

  start (fx, "\"restart\": {\"on_unresponsive\": 1}, \"stop\": {\"graceful_timeout\": 1}");
  before = tether_supervisor_get_main_pid (fx->supervisor);
  set_mode (fx, "hang");
  wait_state (fx, TETHER_STATE_NOT_RESPONDING, 3.0);
  wait_state (fx, TETHER_STATE_STOPPING, 3.0);
  /* The new run answers. */
  set_mode (fx, "ok");
  wait_state (fx, TETHER_STATE_RUNNING, 10.0);
  g_assert_cmpint (tether_supervisor_get_main_pid (fx->supervisor), !=, before);

  tether_supervisor_stop (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_stop_finish (fx->supervisor, test_util_await (&a), NULL, NULL));
}

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  test_util_add_for_kinds ("/health", "unresponsive-and-back", sizeof (Fixture), setup,
                           test_unresponsive_and_back, teardown);
  test_util_add_for_kinds ("/health", "on-unresponsive", sizeof (Fixture), setup, test_on_unresponsive, teardown);
  return g_test_run ();
}
