/* test-rollback.c: the checkpoint journal and rollback by restart
 *
 * Real processes: examples/block_processor.py (five cooperating processes,
 * checkpoints every ten blocks) is rolled back in both ownership modes; a
 * real `tetherctl run` is SIGKILLed while checkpoints stream in, and its
 * journal must hold every checkpoint it acknowledged. The journal's own
 * cases (torn, garbage, read-only) are files written by hand.
 *
 * What only a real power cut can prove -- that fdatasync reached the
 * platter -- no test here can; the kill tests prove the ordering (a
 * checkpoint is acknowledged only after its line was written and synced).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-control.h"
#include "tether-error.h"
#include "tether-journal.h"
#include "tether-json.h"
#include "tether-supervisor.h"
#include "test-util.h"

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *state_dir;
  char *profile_path;
  TetherProfile *profile;
  TetherSupervisor *supervisor;
  GArray *states;       /* TetherState, as notified */
} Fixture;

static const char *
python3 (void)
{
  return g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ? "/usr/bin/python3" : "python3";
}

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->kind = data != NULL ? *(const TetherOwnerKind *) data : TETHER_OWNER_CGROUP;
  fx->marker = test_util_marker ();
  fx->state_dir = g_build_filename (test_util_tmpdir (), fx->marker, NULL);
  fx->states = g_array_new (FALSE, FALSE, sizeof (TetherState));
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  g_clear_object (&fx->supervisor);
  g_clear_pointer (&fx->profile, tether_profile_unref);
  g_free (fx->profile_path);
  test_util_kill_marked (fx->marker);
  g_free (fx->marker);
  g_free (fx->state_dir);
  g_array_unref (fx->states);
}

static void
on_state (TetherSupervisor *supervisor,
          GParamSpec       *pspec,
          Fixture          *fx)
{
  TetherState state = tether_supervisor_get_state (supervisor);
  g_array_append_val (fx->states, state);
}

static void
load_block_processor (Fixture    *fx,
                      const char *rollback_members)
{
  g_autofree char *script = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "examples",
                                              "block_processor.py", NULL);
  g_autofree char *members = g_strdup_printf ("\"ready\": \"notify\", \"rollback\": {%s}",
                                              rollback_members ? rollback_members : "");
  /* The marker as the monitor's port argument would not parse: it rides
   * in the state directory's name. */
  const char *argv[] = { python3 (), script, "--state-dir", fx->state_dir, "--interval", "0.01", NULL };
  g_autoptr(GError) error = NULL;

  fx->profile_path = test_util_write_profile (members, argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
}

static void
start_ok (Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  g_signal_connect (fx->supervisor, "notify::state", G_CALLBACK (on_state), fx);
  g_assert_true (test_util_start_supervisor (fx->supervisor, &error));
  g_assert_no_error (error);
}

static void
stop_ok (Fixture *fx)
{
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;

  tether_supervisor_stop (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_stop_finish (fx->supervisor, test_util_await (&a), NULL, &error));
  g_assert_no_error (error);
}

static gboolean
has_checkpoint (Fixture    *fx,
                const char *id)
{
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (fx->supervisor);

  for (guint i = 0; i < checkpoints->len; i++)
    if (g_str_equal (((TetherCheckpoint *) g_ptr_array_index (checkpoints, i))->id, id))
      return TRUE;
  return FALSE;
}

static void
wait_checkpoint (Fixture    *fx,
                 const char *id)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!has_checkpoint (fx, id))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static char *
read_state (Fixture    *fx,
            const char *name)
{
  g_autofree char *path = g_build_filename (fx->state_dir, name, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return g_strstrip (contents);
}

static gboolean
states_include (Fixture     *fx,
                TetherState  state)
{
  for (guint i = 0; i < fx->states->len; i++)
    if (g_array_index (fx->states, TetherState, i) == state)
      return TRUE;
  return FALSE;
}

/* Rollback to 20 after checkpoints up to 50: frozen, stopped, started
 * again at 20, as the example's own state says; the journal holds it. */
static void
test_restart (Fixture       *fx,
              gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  TetherRollbackReport report;
  g_autoptr(GError) error = NULL;
  g_autofree char *resumed = NULL;
  g_autofree char *runs = NULL;
  GPtrArray *entries;
  TetherJournalEntry *last = NULL;
  pid_t before;

  load_block_processor (fx, NULL);
  start_ok (fx);
  wait_checkpoint (fx, "50");
  before = tether_supervisor_get_main_pid (fx->supervisor);
  g_array_set_size (fx->states, 0);

  tether_supervisor_rollback (fx->supervisor, "20", "a bad block", NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_rollback_finish (fx->supervisor, test_util_await (&a), &report, &error));
  g_assert_no_error (error);
  g_test_message ("%s: frozen after %.3f s, stopped after %.3f s, running after %.3f s",
                  tether_owner_kind_to_string (fx->kind), report.to_frozen, report.to_stopped, report.to_running);
  g_assert_cmpfloat (report.to_frozen, >, 0);
  g_assert_cmpfloat (report.to_frozen, <=, report.to_stopped);
  g_assert_cmpfloat (report.to_stopped, <=, report.to_running);

  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_RUNNING);
  g_assert_cmpint (tether_supervisor_get_main_pid (fx->supervisor), !=, before);
  g_assert_true (states_include (fx, TETHER_STATE_FROZEN));
  g_assert_true (states_include (fx, TETHER_STATE_STOPPING));
  g_assert_true (states_include (fx, TETHER_STATE_STARTING));

  resumed = read_state (fx, "resumed_from");
  g_assert_cmpstr (resumed, ==, "20");
  runs = read_state (fx, "runs.log");
  g_assert_nonnull (strstr (runs, "resumed_from=20"));

  entries = tether_journal_get_entries (tether_supervisor_get_journal (fx->supervisor));
  for (guint i = entries->len; i > 0 && last == NULL; i--)
    if (((TetherJournalEntry *) g_ptr_array_index (entries, i - 1))->kind == TETHER_JOURNAL_ROLLBACK)
      last = g_ptr_array_index (entries, i - 1);
  /* Journaled once the start is done: the append may still be on its way. */
  while (last == NULL)
    {
      g_main_context_iteration (NULL, TRUE);
      for (guint i = entries->len; i > 0 && last == NULL; i--)
        if (((TetherJournalEntry *) g_ptr_array_index (entries, i - 1))->kind == TETHER_JOURNAL_ROLLBACK)
          last = g_ptr_array_index (entries, i - 1);
    }
  g_assert_cmpstr (last->id, ==, "20");
  g_assert_cmpstr (last->label, ==, "a bad block");
  g_assert_cmpstr (last->outcome, ==, "ok");

  stop_ok (fx);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* The freeze is real: the example's counter does not move while its tree
 * is frozen (what a rollback does first), and moves again once thawed. */
static void
test_freeze_is_real (Fixture       *fx,
                     gconstpointer  data)
{
  TetherOwner *owner;
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *c1 = NULL;
  g_autofree char *c2 = NULL;
  g_autofree char *c3 = NULL;

  load_block_processor (fx, NULL);
  start_ok (fx);
  wait_checkpoint (fx, "10");
  owner = tether_supervisor_get_owner (fx->supervisor);

  tether_owner_freeze_async (owner, NULL, test_util_await_cb, &a);
  g_assert_true (tether_owner_verb_finish (owner, test_util_await (&a), NULL, &error));
  g_assert_no_error (error);
  c1 = read_state (fx, "counter");
  g_usleep (400 * 1000);
  c2 = read_state (fx, "counter");
  g_assert_cmpstr (c1, ==, c2);

  tether_owner_thaw_async (owner, NULL, test_util_await_cb, &a);
  g_assert_true (tether_owner_verb_finish (owner, test_util_await (&a), NULL, &error));
  /* It moves again (soon; a loaded machine may take a while). */
  for (guint i = 0; i < 500; i++)
    {
      g_clear_pointer (&c3, g_free);
      c3 = read_state (fx, "counter");
      if (g_ascii_strtoll (c3, NULL, 10) > g_ascii_strtoll (c2, NULL, 10))
        break;
      g_usleep (20 * 1000);
    }
  g_assert_cmpint (g_ascii_strtoll (c3, NULL, 10), >, g_ascii_strtoll (c2, NULL, 10));
  stop_ok (fx);
}

/* rollback.stop "kill": nothing of the old tree runs again. */
static void
test_restart_kill (Fixture       *fx,
                   gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *resumed = NULL;

  load_block_processor (fx, "\"stop\": \"kill\"");
  start_ok (fx);
  wait_checkpoint (fx, "30");
  g_array_set_size (fx->states, 0);
  tether_supervisor_rollback (fx->supervisor, "10", NULL, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_rollback_finish (fx->supervisor, test_util_await (&a), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (states_include (fx, TETHER_STATE_KILLING));
  resumed = read_state (fx, "resumed_from");
  g_assert_cmpstr (resumed, ==, "10");
  stop_ok (fx);
}

/* An unknown checkpoint, or a backend that does not run: a clear error,
 * and the tree as it was. */
static void
test_refused (Fixture       *fx,
              gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;
  pid_t pid;

  load_block_processor (fx, NULL);
  start_ok (fx);
  wait_checkpoint (fx, "10");
  pid = tether_supervisor_get_main_pid (fx->supervisor);

  tether_supervisor_rollback (fx->supervisor, "15", NULL, NULL, test_util_await_cb, &a);
  g_assert_false (tether_supervisor_rollback_finish (fx->supervisor, test_util_await (&a), NULL, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "“15”"));
  g_clear_error (&error);
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_RUNNING);
  g_assert_cmpint (tether_supervisor_get_main_pid (fx->supervisor), ==, pid);
  g_assert_cmpint (test_util_proc_state (pid), !=, 'T');

  stop_ok (fx);
  tether_supervisor_rollback (fx->supervisor, "10", NULL, NULL, test_util_await_cb, &a);
  g_assert_false (tether_supervisor_rollback_finish (fx->supervisor, test_util_await (&a), NULL, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_BUSY);
}

/* rollback.resume "last-checkpoint": a backend that crashed starts again
 * at the newest checkpoint on disk, and so does a new supervisor (Tether
 * itself crashed) reading the same journal. */
static void
test_resume_last_checkpoint (Fixture       *fx,
                             gconstpointer  data)
{
  /* Reports 1..5, writes where it started, then crashes once. */
  static const char script[] =
    "import os, socket, sys, time\n"
    "d = sys.argv[1]\n"
    "open(os.path.join(d, 'started-at-%d' % len(os.listdir(d))), 'w').write(os.environ.get('TETHER_CHECKPOINT', 'none'))\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "a = os.environ['NOTIFY_SOCKET']\n"
    "a = '\\0' + a[1:] if a[0] == '@' else a\n"
    "s.sendto(b'READY=1', a)\n"
    "base = int(os.environ.get('TETHER_CHECKPOINT', '0'))\n"
    "for i in range(base + 1, base + 6):\n"
    "    s.sendto(b'X_TETHER_CHECKPOINT=%d' % i, a)\n"
    "    time.sleep(0.02)\n"
    "time.sleep(0.3)\n"
    "sys.exit(1 if len(os.listdir(d)) < 2 else 0)\n";
  const char *argv[] = { python3 (), "-c", script, fx->state_dir, fx->marker, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;

  g_mkdir_with_parents (fx->state_dir, 0700);
  fx->profile_path = test_util_write_profile ("\"ready\": \"notify\", \"restart\": {\"policy\": \"on-failure\", \"backoff\": [0.1]}, "
                                              "\"rollback\": {\"resume\": \"last-checkpoint\"}", argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  start_ok (fx);

  /* First run: 1..5, crash; second run at 5: 6..10, exit 0. */
  while (tether_supervisor_get_n_restarts (fx->supervisor) < 1 || tether_supervisor_is_active (fx->supervisor))
    g_main_context_iteration (NULL, TRUE);
  {
    g_autofree char *p0 = g_build_filename (fx->state_dir, "started-at-0", NULL);
    g_autofree char *p1 = g_build_filename (fx->state_dir, "started-at-1", NULL);
    g_assert_true (g_file_get_contents (p0, &first, NULL, NULL));
    g_assert_true (g_file_get_contents (p1, &second, NULL, NULL));
  }
  g_assert_cmpstr (first, ==, "none");
  g_assert_cmpstr (second, ==, "5");

  /* A supervisor made anew (Tether crashed and came back) reads the same
   * journal: it starts at 10. */
  g_clear_object (&fx->supervisor);
  start_ok (fx);
  while (tether_supervisor_is_active (fx->supervisor))
    g_main_context_iteration (NULL, TRUE);
  {
    g_autofree char *p2 = g_build_filename (fx->state_dir, "started-at-2", NULL);
    g_assert_true (g_file_get_contents (p2, &third, NULL, NULL));
  }
  g_assert_cmpstr (third, ==, "10");
}

/* ---- rollback.method "http" ------------------------------------------------- */

/* The main process serves POST /rollback and records, when it is asked,
 * the body and the /proc state of its child (a counter that must be frozen
 * meanwhile). mode: ok, fail (500) or slow (answers after 5 s). */
static const char http_backend[] =
  "import http.server, json, os, socket, sys, time\n"
  "d, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
  "child = os.fork()\n"
  "if child == 0:\n"
  "    n = 0\n"
  "    while True:\n"
  "        n += 1\n"
  "        open(os.path.join(d, 'counter.tmp'), 'w').write(str(n))\n"
  "        os.rename(os.path.join(d, 'counter.tmp'), os.path.join(d, 'counter'))\n"
  "        time.sleep(0.01)\n"
  "class H(http.server.BaseHTTPRequestHandler):\n"
  "    def do_POST(self):\n"
  "        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
  "        st = open('/proc/%d/stat' % child).read().rsplit(')', 1)[1].split()[0]\n"
  "        open(os.path.join(d, 'post'), 'w').write(json.dumps({'body': body, 'child': st}))\n"
  "        if mode == 'slow':\n"
  "            time.sleep(5)\n"
  "        self.send_response(500 if mode == 'fail' else 200)\n"
  "        self.end_headers()\n"
  "        self.wfile.write(b'{\"ok\": false}' if mode == 'fail' else b'{\"ok\": true}')\n"
  "    def log_message(self, *a):\n"
  "        pass\n"
  "srv = http.server.HTTPServer(('127.0.0.1', port), H)\n"
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
  "a = os.environ['NOTIFY_SOCKET']\n"
  "s.sendto(b'READY=1\\nX_TETHER_CHECKPOINT=7 seven', '\\0' + a[1:] if a[0] == '@' else a)\n"
  "srv.serve_forever()\n";

static gboolean
rollback_http (Fixture     *fx,
               const char  *mode,
               gboolean     refused,
               GError     **error)
{
  guint port = test_util_free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *members =
    g_strdup_printf ("\"ready\": \"notify\", \"rollback\": {\"method\": \"http\", "
                     "\"url\": \"http://127.0.0.1:%u/rollback\", \"timeout\": 1}",
                     refused ? test_util_free_port () : port);
  const char *argv[] = { python3 (), "-c", http_backend, fx->state_dir, port_text, mode, fx->marker, NULL };
  TestUtilAwait a = { 0 };
  g_autoptr(GError) local_error = NULL;

  g_mkdir_with_parents (fx->state_dir, 0700);
  fx->profile_path = test_util_write_profile (members, argv);
  fx->profile = tether_profile_load (fx->profile_path, &local_error);
  g_assert_no_error (local_error);
  start_ok (fx);
  wait_checkpoint (fx, "7");

  tether_supervisor_rollback (fx->supervisor, "7", "the test", NULL, test_util_await_cb, &a);
  return tether_supervisor_rollback_finish (fx->supervisor, test_util_await (&a), NULL, error);
}

/* The child's counter, 0 before its first write. */
static gint64
read_counter (Fixture *fx)
{
  g_autofree char *text = read_state (fx, "counter");
  return text != NULL ? g_ascii_strtoll (text, NULL, 10) : 0;
}

/* Nothing stays frozen: the counter moves again (on a loaded machine the
 * child may take a while to run at all: up to 10 s). */
static void
assert_thawed (Fixture *fx)
{
  gint64 c1, deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_RUNNING);
  c1 = read_counter (fx);
  while (read_counter (fx) <= c1)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the counter stayed at %" G_GINT64_FORMAT ": something is still frozen", c1);
      g_usleep (20 * 1000);
    }
}

/* The endpoint is asked while every other member is frozen (its /proc
 * state T), and everything runs on after a 2xx. */
static void
test_http_ok (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *post = NULL;
  pid_t main_pid;

  g_assert_true (rollback_http (fx, "ok", FALSE, &error));
  g_assert_no_error (error);
  post = read_state (fx, "post");
  g_assert_cmpstr (post, ==, "{\"body\": {\"rollbackIndex\": 7, \"message\": \"the test\"}, \"child\": \"T\"}");
  /* The same processes: nothing was restarted. */
  main_pid = tether_supervisor_get_main_pid (fx->supervisor);
  g_assert_cmpint (test_util_proc_state (main_pid), !=, 'T');
  assert_thawed (fx);
  stop_ok (fx);
}

static void
test_http_fails (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (rollback_http (fx, "fail", FALSE, &error));
  g_assert_nonnull (strstr (error->message, "answered 500"));
  assert_thawed (fx);
  stop_ok (fx);
}

static void
test_http_times_out (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (rollback_http (fx, "slow", FALSE, &error));
  g_assert_nonnull (strstr (error->message, "did not answer within 1 s"));
  assert_thawed (fx);
  stop_ok (fx);
}

static void
test_http_refused (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (rollback_http (fx, "ok", TRUE, &error));
  g_assert_nonnull (strstr (error->message, "Could not connect"));
  assert_thawed (fx);
  stop_ok (fx);
}

/* ---- the command line ------------------------------------------------------- */

static char *
run_tetherctl (const char  *profile_path,
               int         *exit_status,
               const char  *first,
               ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TETHERCTL"));
  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, (gpointer) "--profile");
  g_ptr_array_add (argv, (gpointer) profile_path);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, exit_status, NULL));
  return g_strconcat (out, err, NULL);
}

/* tetherctl checkpoints, rollback and history against a real `tetherctl
 * run`. */
static void
test_cli (Fixture       *fx,
          gconstpointer  data)
{
  g_autoptr(GSubprocess) run = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status = 0;

  load_block_processor (fx, NULL);
  run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                          g_getenv ("TETHERCTL"), "run", fx->profile_path, NULL);
  g_assert_no_error (error);

  for (guint i = 0; i < 300; i++)
    {
      g_clear_pointer (&out, g_free);
      out = run_tetherctl (fx->profile_path, &status, "checkpoints", NULL);
      if (strstr (out, "\n30 ") != NULL || g_str_has_prefix (out, "30 "))
        break;
      g_usleep (100 * 1000);
    }
  g_assert_nonnull (strstr (out, "block 20"));

  g_clear_pointer (&out, g_free);
  out = run_tetherctl (fx->profile_path, &status, "rollback", "20", "--reason", "from the CLI", NULL);
  g_assert_true (g_str_has_prefix (out, "Rolled back to 20: frozen after "));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  {
    g_autofree char *resumed = read_state (fx, "resumed_from");
    g_assert_cmpstr (resumed, ==, "20");
  }

  g_clear_pointer (&out, g_free);
  out = run_tetherctl (fx->profile_path, &status, "history", NULL);
  g_assert_nonnull (strstr (out, "rollback     20           from the CLI → ok"));

  g_clear_pointer (&out, g_free);
  out = run_tetherctl (fx->profile_path, &status, "rollback", "no such", NULL);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "is not a checkpoint ID"));

  g_clear_pointer (&out, g_free);
  out = run_tetherctl (fx->profile_path, &status, "rollback", "99999", NULL);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "Unknown checkpoint “99999”"));

  g_subprocess_send_signal (run, SIGTERM);
  g_assert_true (g_subprocess_wait (run, NULL, &error));
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* ---- the journal by hand --------------------------------------------------- */

static TetherJournal *
load_journal (const char  *path,
              GError     **error)
{
  TetherJournal *journal = tether_journal_new (path);
  TestUtilAwait a = { 0 };

  tether_journal_load_async (journal, NULL, test_util_await_cb, &a);
  if (!tether_journal_load_finish (journal, test_util_await (&a), error))
    g_clear_object (&journal);
  return journal;
}

static gboolean
append (TetherJournal *journal,
        const char    *id,
        GError       **error)
{
  g_autoptr(TetherJournalEntry) entry = tether_journal_entry_new (TETHER_JOURNAL_CHECKPOINT, id, NULL, NULL, 1);
  TestUtilAwait a = { 0 };

  tether_journal_append_async (journal, entry, NULL, test_util_await_cb, &a);
  return tether_journal_append_finish (journal, test_util_await (&a), error);
}

static void
test_journal_torn (void)
{
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "torn", "journal.jsonl", NULL);
  g_autoptr(TetherJournal) journal = NULL;
  g_autoptr(TetherJournal) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;

  g_mkdir_with_parents (g_path_get_dirname (path), 0700);
  g_assert_true (g_file_set_contents (path,
                                      "{\"kind\":\"checkpoint\",\"id\":\"1\",\"time\":1000}\n"
                                      "{\"kind\":\"checkpoint\",\"id\":\"2\",\"time\":2000}\n"
                                      "{\"kind\":\"checkp", -1, NULL));
  journal = load_journal (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_journal_get_entries (journal)->len, ==, 2);
  g_assert_nonnull (strstr (tether_journal_get_load_message (journal), "torn last line"));
  g_assert_cmpstr (tether_journal_get_last_checkpoint (journal)->id, ==, "2");

  /* Cut back, so the next line starts clean. */
  g_assert_true (append (journal, "3", &error));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_true (g_str_has_suffix (contents, "\"id\":\"2\",\"time\":2000}\n{\"kind\":\"checkpoint\",\"id\":\"3\","
                                   "\"time\":") || strstr (contents, "\n{\"kind\":\"checkpoint\",\"id\":\"3\"") != NULL);
  again = load_journal (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_journal_get_entries (again)->len, ==, 3);
  g_assert_null (tether_journal_get_load_message (again));
}

static void
test_journal_garbage (void)
{
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "garbage", "journal.jsonl", NULL);
  g_autoptr(TetherJournal) journal = NULL;
  g_autoptr(GError) error = NULL;
  GString *garbage = g_string_new ("{\"kind\":\"checkpoint\",\"id\":\"1\",\"time\":1000}\n");

  for (guint i = 0; i < 2000; i++)
    g_string_append_c (garbage, (char) g_random_int_range (1, 256));
  g_string_append (garbage, "\n[1,2]\n{\"kind\":\"nope\",\"time\":1}\n{\"kind\":\"checkpoint\",\"time\":5}\n"
                            "{\"kind\":\"checkpoint\",\"id\":\"2\",\"time\":2000}\n");
  g_mkdir_with_parents (g_path_get_dirname (path), 0700);
  g_assert_true (g_file_set_contents (path, garbage->str, (gssize) garbage->len, NULL));
  g_string_free (garbage, TRUE);

  journal = load_journal (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_journal_get_entries (journal)->len, ==, 2);
  g_assert_cmpuint (tether_journal_get_n_corrupt (journal), >=, 4);
  g_assert_nonnull (strstr (tether_journal_get_load_message (journal), "corrupt line"));
}

static void
test_journal_read_only (void)
{
  g_autofree char *dir = g_build_filename (test_util_tmpdir (), "ro", NULL);
  g_autofree char *path = g_build_filename (dir, "sub", "journal.jsonl", NULL);
  g_autoptr(TetherJournal) journal = NULL;
  g_autoptr(GError) error = NULL;

  if (geteuid () == 0)
    {
      /* Root writes anywhere: a file where the directory should be
       * fails the same way for everyone. */
      g_mkdir_with_parents (dir, 0700);
      g_assert_true (g_file_set_contents (g_build_filename (dir, "sub", NULL), "", 0, NULL));
    }
  else
    {
      g_mkdir_with_parents (dir, 0500);
      g_chmod (dir, 0500);
    }

  journal = load_journal (path, &error);
  g_assert_no_error (error);
  g_assert_false (append (journal, "1", &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, dir));
  g_assert_cmpuint (tether_journal_get_entries (journal)->len, ==, 0);
}

/* Compaction keeps the newest 1000 checkpoints and the events among them. */
static void
test_journal_compaction (void)
{
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "compact", "journal.jsonl", NULL);
  g_autoptr(TetherJournal) journal = NULL;
  g_autoptr(TetherJournal) again = NULL;
  g_autoptr(GError) error = NULL;
  GString *lines = g_string_new (NULL);
  GPtrArray *entries;

  for (guint i = 1; i <= 2000; i++)
    g_string_append_printf (lines, "{\"kind\":\"checkpoint\",\"id\":\"%u\",\"time\":%u}\n", i, i);
  g_mkdir_with_parents (g_path_get_dirname (path), 0700);
  g_assert_true (g_file_set_contents (path, lines->str, (gssize) lines->len, NULL));
  g_string_free (lines, TRUE);

  journal = load_journal (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_journal_get_entries (journal)->len, ==, TETHER_JOURNAL_KEEP);
  g_assert_true (append (journal, "2001", &error));

  again = load_journal (path, &error);
  g_assert_no_error (error);
  entries = tether_journal_get_entries (again);
  g_assert_cmpuint (entries->len, ==, TETHER_JOURNAL_KEEP);
  g_assert_cmpstr (((TetherJournalEntry *) g_ptr_array_index (entries, 0))->id, ==, "1002");
  g_assert_cmpstr (tether_journal_get_last_checkpoint (again)->id, ==, "2001");
  g_assert_false (g_file_test (g_strconcat (path, ".tmp", NULL), G_FILE_TEST_EXISTS));
}

/* ---- crash safety ----------------------------------------------------------- */

/* Adds what the supervisor lists as on disk; FALSE when it did not answer. */
static gboolean
poll_acked (const char *socket_path,
            GHashTable *acked)
{
  g_autoptr(JsonNode) request = json_from_string ("{\"method\": \"checkpoints\"}", NULL);
  g_autoptr(JsonNode) reply = tether_control_call (socket_path, request, 2, NULL);
  JsonArray *list;

  if (reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    return FALSE;
  list = json_object_get_array_member (json_node_get_object (reply), "checkpoints");
  for (guint i = 0; list != NULL && i < json_array_get_length (list); i++)
    g_hash_table_add (acked, g_strdup (json_object_get_string_member (json_array_get_object_element (list, i), "id")));
  return TRUE;
}

/* SIGKILL `tetherctl run` at random moments while checkpoints stream in:
 * the journal always loads, has no corrupt line, and holds every
 * checkpoint the supervisor acknowledged (listed by `checkpoints`) before
 * it was killed. */
static void
test_kill_while_journaling (void)
{
  static const char streamer[] =
    "import os, socket, time\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)\n"
    "a = os.environ['NOTIFY_SOCKET']\n"
    "a = '\\0' + a[1:] if a[0] == '@' else a\n"
    "s.sendto(b'READY=1', a)\n"
    "i = int(os.environ.get('BASE', '0'))\n"
    "while True:\n"
    "    i += 1\n"
    "    try:\n"
    "        s.sendto(b'X_TETHER_CHECKPOINT=c%d label %d' % (i, i), a)\n"
    "    except BlockingIOError:\n"
    "        i -= 1\n"
    "    time.sleep(0.001)\n";
  g_autofree char *marker = test_util_marker ();
  const char *argv[] = { python3 (), "-c", streamer, marker, NULL };
  g_autofree char *profile_path = test_util_write_profile ("\"ready\": \"notify\"", argv);
  g_autoptr(TetherProfile) profile = tether_profile_load (profile_path, NULL);
  g_autofree char *journal_path = tether_journal_default_path (profile->id);
  g_autofree char *socket_path = NULL;
  g_autoptr(GHashTable) acked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint rounds = 50, torn = 0, rounds_with_acks = 0, total_acked = 0;

  socket_path = tether_control_default_socket_path (profile);

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GSubprocess) run = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherJournal) journal = NULL;
      gint64 kill_at;
      GPtrArray *entries;
      g_autoptr(GHashTable) on_disk = g_hash_table_new (g_str_hash, g_str_equal);

      run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              g_getenv ("TETHERCTL"), "run", profile_path, NULL);
      g_assert_no_error (error);
      /* The kill comes at a random moment once checkpoints flow (the
       * first acknowledged one starts the clock: a loaded machine may take
       * a while to get there). */
      kill_at = G_MAXINT64;
      {
        gint64 give_up = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

        while (g_get_monotonic_time () < kill_at)
          {
            g_assert_cmpint (g_get_monotonic_time (), <, give_up);
            if (kill_at == G_MAXINT64 && g_hash_table_size (acked) > 0)
              kill_at = g_get_monotonic_time () + g_random_int_range (0, 400) * 1000;
            if (!poll_acked (socket_path, acked))
              g_usleep (10 * 1000);
          }
      }
      g_subprocess_force_exit (run);
      g_assert_true (g_subprocess_wait (run, NULL, NULL));
      /* The shim takes the backend with it. */
      test_util_kill_marked (marker);

      journal = load_journal (journal_path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (tether_journal_get_n_corrupt (journal), ==, 0);
      if (tether_journal_get_load_message (journal) != NULL)
        torn++;
      entries = tether_journal_get_entries (journal);
      for (guint i = 0; i < entries->len; i++)
        g_hash_table_add (on_disk, ((TetherJournalEntry *) g_ptr_array_index (entries, i))->id);

      {
        GHashTableIter iter;
        gpointer id;
        g_hash_table_iter_init (&iter, acked);
        /* Compaction may have dropped the oldest: only those the journal
         * keeps must be there. */
        while (g_hash_table_iter_next (&iter, &id, NULL))
          if (g_hash_table_size (acked) <= TETHER_JOURNAL_KEEP && !g_hash_table_contains (on_disk, id))
            g_error ("round %u: checkpoint %s was acknowledged but is not in the journal", round, (char *) id);
      }
      total_acked += g_hash_table_size (acked);
      rounds_with_acks += g_hash_table_size (acked) > 0;
      /* Start afresh, so that the acknowledged set stays under KEEP. */
      g_unlink (journal_path);
      g_hash_table_remove_all (acked);
    }
  g_test_message ("%u rounds, %u with acknowledged checkpoints (%u in all, each found in the journal), "
                  "%u journals with a torn last line (dropped)", rounds, rounds_with_acks, total_acked, torn);
  g_assert_cmpuint (rounds_with_acks, ==, rounds);
}

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  test_util_add_for_kinds ("/rollback", "restart", sizeof (Fixture), setup, test_restart, teardown);
  test_util_add_for_kinds ("/rollback", "restart-kill", sizeof (Fixture), setup, test_restart_kill, teardown);
  test_util_add_for_kinds ("/rollback", "freeze-is-real", sizeof (Fixture), setup, test_freeze_is_real, teardown);
  test_util_add_for_kinds ("/rollback", "refused", sizeof (Fixture), setup, test_refused, teardown);
  test_util_add_for_kinds ("/rollback", "resume-last-checkpoint", sizeof (Fixture), setup,
                           test_resume_last_checkpoint, teardown);
  test_util_add_for_kinds ("/rollback", "http/ok", sizeof (Fixture), setup, test_http_ok, teardown);
  test_util_add_for_kinds ("/rollback", "http/fails", sizeof (Fixture), setup, test_http_fails, teardown);
  test_util_add_for_kinds ("/rollback", "http/times-out", sizeof (Fixture), setup, test_http_times_out, teardown);
  test_util_add_for_kinds ("/rollback", "http/refused", sizeof (Fixture), setup, test_http_refused, teardown);
  g_test_add ("/rollback/cli", Fixture, NULL, setup, test_cli, teardown);
  g_test_add_func ("/rollback/journal/torn", test_journal_torn);
  g_test_add_func ("/rollback/journal/garbage", test_journal_garbage);
  g_test_add_func ("/rollback/journal/read-only", test_journal_read_only);
  g_test_add_func ("/rollback/journal/compaction", test_journal_compaction);
  g_test_add_func ("/rollback/journal/kill-while-journaling", test_kill_while_journaling);

  return g_test_run ();
}
