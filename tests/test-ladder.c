/* test-ladder.c: the stop ladder and restarts, driven through a fake owner
 *
 * Real process trees are in test-supervisor.c. Here the tree is imaginary
 * (test-fake-owner.c) so the test decides, to the millisecond, when the
 * helper dies, when a MAINPID= process exits, what is still alive after a
 * kill: the cases no real backend can be made to reach on demand.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-supervisor-private.h"
#include "test-fake-owner.h"
#include "test-util.h"

typedef struct
{
  TetherSupervisor *supervisor;
  GPtrArray *owners;          /* every fake owner the supervisor got */
  GArray *phases;
  guint n_escalations;
  gboolean started;
  GError *start_error;
  gboolean stopped;
  gboolean stop_ok;
  GError *stop_error;
  TetherStopReport report;
} Fixture;

static void
on_phase (TetherSupervisor *s,
          GParamSpec       *pspec,
          Fixture          *f)
{
  TetherPhase phase = tether_supervisor_get_phase (s);

  if (phase != TETHER_PHASE_NONE)
    g_array_append_val (f->phases, phase);
}

static void
on_escalated (TetherSupervisor *s,
              TetherPhase       next,
              Fixture          *f)
{
  f->n_escalations++;
}

static void
make (Fixture    *f,
      const char *extra_json)
{
  const char *argv[] = { "true", NULL };
  g_autofree char *path = test_util_write_profile (extra_json, argv);
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(GError) error = NULL;

  profile = tether_profile_load (path, &error);
  g_assert_no_error (error);
  f->supervisor = tether_supervisor_new (profile, TETHER_OWNER_AUTO);
  tether_supervisor_set_owner_factory (f->supervisor, test_fake_owner_factory, f->owners);
  g_signal_connect (f->supervisor, "notify::phase", G_CALLBACK (on_phase), f);
  g_signal_connect (f->supervisor, "stop-escalated", G_CALLBACK (on_escalated), f);
}

static TestFakeOwner *
owner (Fixture *f)
{
  g_assert_cmpuint (f->owners->len, >, 0);
  return g_ptr_array_index (f->owners, f->owners->len - 1);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->owners = g_ptr_array_new_with_free_func (g_object_unref);
  f->phases = g_array_new (FALSE, FALSE, sizeof (TetherPhase));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->supervisor != NULL)
    g_signal_handlers_disconnect_by_data (f->supervisor, f);
  g_clear_object (&f->supervisor);
  g_ptr_array_unref (f->owners);
  g_array_unref (f->phases);
  g_clear_error (&f->start_error);
  g_clear_error (&f->stop_error);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fixture *f = user_data;

  tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &f->start_error);
  f->started = TRUE;
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fixture *f = user_data;

  f->stop_ok = tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &f->report, &f->stop_error);
  f->stopped = TRUE;
}

static void
start (Fixture *f)
{
  tether_supervisor_start (f->supervisor, NULL, on_started, f);
  g_assert_true (test_util_wait_flag (&f->started, 5));
  g_assert_no_error (f->start_error);
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_RUNNING);
}

static void
stop (Fixture  *f,
      gboolean  forced)
{
  f->stopped = FALSE;
  if (forced)
    tether_supervisor_kill (f->supervisor, NULL, on_stopped, f);
  else
    tether_supervisor_stop (f->supervisor, NULL, on_stopped, f);
}

/* Runs the main loop for about seconds. */
static void
spin (double seconds)
{
  gboolean never = FALSE;

  test_util_wait_flag (&never, seconds);
}

static void
notify (Fixture    *f,
        const char *datagram)
{
  g_assert_true (test_util_send_notify (tether_supervisor_get_notify_socket (f->supervisor),
                                        datagram, strlen (datagram)));
}

/* The helper dies while the ladder waits in the TERM step: the stop ends
 * then (the tree is gone with it), the report says what happened, and no
 * step waits out its timeout. */
static void
test_helper_dies_mid_ladder (Fixture       *f,
                             gconstpointer  data)
{
  gint64 t0;

  make (f, "\"stop\": {\"graceful_timeout\": 30, \"term_timeout\": 30}");
  start (f);
  test_fake_owner_set_members (owner (f), 3);
  /* The main process exits on its stop signal; its two children stay. */
  stop (f, FALSE);
  test_fake_owner_exit (owner (f), tether_supervisor_get_main_pid (f->supervisor), 0);
  g_assert_cmpint (tether_supervisor_get_phase (f->supervisor), ==, TETHER_PHASE_TERM);

  t0 = g_get_monotonic_time ();
  test_fake_owner_die (owner (f));
  g_assert_true (test_util_wait_flag (&f->stopped, 2));
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
  g_assert_true (f->stop_ok);
  g_assert_false (f->report.forced);
  g_assert_false (f->report.escalated);
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_STOPPED);
  g_assert_cmpint (tether_supervisor_get_phase (f->supervisor), ==, TETHER_PHASE_NONE);
  g_assert_true (tether_supervisor_get_can_start (f->supervisor));
  g_assert_false (tether_supervisor_get_can_stop (f->supervisor));
  g_assert_cmpuint (f->n_escalations, ==, 0);
}

/* MAINPID=: the graceful step asks the declared process, and its exit --
 * not the launcher's -- moves the ladder on at once. */
static void
test_mainpid_exit (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *declare = NULL;
  pid_t launcher, declared = TEST_FAKE_PID_BASE + 5;
  const TestFakeOp *last;
  GArray *ops;

  make (f, "\"stop\": {\"graceful_timeout\": 6, \"term_timeout\": 2}");
  start (f);
  launcher = tether_supervisor_get_main_pid (f->supervisor);
  test_fake_owner_set_members (owner (f), 2);

  declare = g_strdup_printf ("MAINPID=%d\nSTATUS=daemon up", (int) declared);
  notify (f, declare);
  while (tether_supervisor_get_main_pid (f->supervisor) != declared)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (tether_owner_get_main_pid (TETHER_OWNER (owner (f))), ==, declared);
  g_assert_cmpuint (test_fake_owner_count_ops (owner (f), TETHER_OWNER_OP_WATCH), ==, 1);

  /* The launcher was meant to exit: that is no news. */
  test_fake_owner_exit (owner (f), launcher, 0);
  spin (0.1);
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_RUNNING);

  stop (f, FALSE);
  ops = test_fake_owner_get_ops (owner (f));
  last = &g_array_index (ops, TestFakeOp, ops->len - 1);
  g_assert_cmpint (last->op, ==, TETHER_OWNER_OP_STOP_MAIN);
  g_assert_cmpint (last->pid, ==, declared);
  g_assert_cmpint (last->sig, ==, SIGTERM);

  /* It exits on SIGTERM while a child ignores it: TERM at once, not in 6 s. */
  test_fake_owner_exit (owner (f), declared, 0);
  g_assert_cmpint (tether_supervisor_get_phase (f->supervisor), ==, TETHER_PHASE_TERM);
  test_fake_owner_empty (owner (f));
  g_assert_true (test_util_wait_flag (&f->stopped, 2));
  g_assert_true (f->stop_ok);
  g_assert_cmpuint (f->phases->len, ==, 2);
  g_assert_cmpfloat (f->report.elapsed, <, 1.0);
}

/* EXTEND_TIMEOUT_USEC= is honoured in the graceful step (the backend is
 * finishing its work) and ignored once Tether has turned to SIGTERM for
 * everyone: a backend cannot hold the ladder there. */
static void
test_extend_during_term (Fixture       *f,
                         gconstpointer  data)
{
  gint64 deadline;

  make (f, "\"stop\": {\"graceful_timeout\": 0.5, \"term_timeout\": 0.5, \"kill_timeout\": 5}");
  start (f);
  test_fake_owner_set_members (owner (f), 2);
  stop (f, FALSE);

  /* Graceful: ten more seconds granted. */
  deadline = tether_supervisor_get_phase_deadline (f->supervisor);
  notify (f, "EXTEND_TIMEOUT_USEC=10000000");
  while (tether_supervisor_get_phase_deadline (f->supervisor) == deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (tether_supervisor_get_phase_deadline (f->supervisor) - g_get_monotonic_time (),
                   >, 9 * G_USEC_PER_SEC);

  /* The main process goes; TERM begins and holds its own deadline. */
  test_fake_owner_exit (owner (f), tether_supervisor_get_main_pid (f->supervisor), 0);
  g_assert_cmpint (tether_supervisor_get_phase (f->supervisor), ==, TETHER_PHASE_TERM);
  deadline = tether_supervisor_get_phase_deadline (f->supervisor);
  notify (f, "EXTEND_TIMEOUT_USEC=10000000\nSTATUS=please wait");
  while (g_strcmp0 (tether_supervisor_get_status_text (f->supervisor), "please wait") != 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (tether_supervisor_get_phase_deadline (f->supervisor), ==, deadline);

  /* ...and escalates on time. */
  while (tether_supervisor_get_phase (f->supervisor) == TETHER_PHASE_TERM)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (tether_supervisor_get_phase (f->supervisor), ==, TETHER_PHASE_KILL);
  g_assert_cmpint (g_get_monotonic_time (), <, deadline + G_USEC_PER_SEC / 2);
  g_assert_cmpuint (f->n_escalations, ==, 1);
  test_fake_owner_empty (owner (f));
  g_assert_true (test_util_wait_flag (&f->stopped, 2));
  g_assert_true (f->report.escalated);
  g_assert_true (f->report.forced);
}

/* A member that survives the kill (stuck in the kernel): the kill step is
 * tried three times, then whoever waits is told how many survived; the
 * ladder keeps waiting for the tree to empty, and ends when it does. */
static void
test_kill_retried (Fixture       *f,
                   gconstpointer  data)
{
  make (f, "\"stop\": {\"kill_timeout\": 0.2}");
  start (f);
  test_fake_owner_set_members (owner (f), 1);
  stop (f, TRUE);

  g_assert_true (test_util_wait_flag (&f->stopped, 3));
  g_assert_false (f->stop_ok);
  g_assert_error (f->stop_error, TETHER_ERROR, TETHER_ERROR_FAILED);
  g_assert_nonnull (strstr (f->stop_error->message, "1 process survived the forced kill"));
  g_assert_cmpuint (test_fake_owner_count_ops (owner (f), TETHER_OWNER_OP_KILL_ALL), ==, 3);
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_KILLING);
  g_assert_false (tether_supervisor_get_can_kill (f->supervisor));
  /* A forced stop that was asked for is not an escalation. */
  g_assert_cmpuint (f->n_escalations, ==, 0);

  test_fake_owner_empty (owner (f));
  while (tether_supervisor_get_state (f->supervisor) == TETHER_STATE_KILLING)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_STOPPED);
  g_assert_cmpuint (test_fake_owner_count_ops (owner (f), TETHER_OWNER_OP_KILL_ALL), ==, 3);
}

/* A crash loop: each restart waits the next backoff step, the last one
 * repeating, and the supervisor gives up after max_restarts. */
static void
test_backoff_steps (Fixture       *f,
                    gconstpointer  data)
{
  const double backoff[] = { 0.1, 0.3, 0.6, 0.6 };
  g_autoptr(GArray) crashed_at = g_array_new (FALSE, FALSE, sizeof (gint64));

  make (f, "\"restart\": {\"policy\": \"on-failure\", \"max_restarts\": 4, \"backoff\": [0.1, 0.3, 0.6]}");
  start (f);

  for (guint i = 0; i <= G_N_ELEMENTS (backoff); i++)
    {
      TestFakeOwner *current;
      gint64 now;

      while (f->owners->len < i + 1)
        g_main_context_iteration (NULL, TRUE);
      current = owner (f);
      while (test_fake_owner_get_n_spawns (current) == 0)
        g_main_context_iteration (NULL, TRUE);
      if (i > 0)
        {
          double waited = (test_fake_owner_get_spawn_time (current, 0) -
                           g_array_index (crashed_at, gint64, i - 1)) / 1e6;
          g_test_message ("restart %u after %.3f s (backoff %.1f s)", i, waited, backoff[i - 1]);
          g_assert_cmpfloat (waited, >=, backoff[i - 1] - 0.01);
          g_assert_cmpfloat (waited, <, backoff[i - 1] + 0.25);
          g_assert_cmpuint (tether_supervisor_get_n_restarts (f->supervisor), ==, i);
        }

      /* Crash: status 3, and the tree empties. */
      now = g_get_monotonic_time ();
      g_array_append_val (crashed_at, now);
      test_fake_owner_exit (current, tether_supervisor_get_main_pid (f->supervisor), 3 << 8);
      test_fake_owner_empty (current);
    }

  /* Four restarts done: the fifth crash is the last. */
  g_assert_cmpint (tether_supervisor_get_state (f->supervisor), ==, TETHER_STATE_FAILED);
  g_assert_false (tether_supervisor_is_active (f->supervisor));
  g_assert_nonnull (strstr (tether_supervisor_get_message (f->supervisor), "gave up after 4 restarts"));
  spin (0.8);
  g_assert_cmpuint (f->owners->len, ==, 5);
  g_assert_true (tether_supervisor_get_can_start (f->supervisor));
}

/* "Can I?" follows the states and the tree. */
static void
test_can (Fixture       *f,
          gconstpointer  data)
{
  make (f, NULL);
  g_assert_true (tether_supervisor_get_can_start (f->supervisor));
  g_assert_false (tether_supervisor_get_can_stop (f->supervisor));
  g_assert_false (tether_supervisor_get_can_kill (f->supervisor));
  g_assert_false (tether_supervisor_get_can_restart (f->supervisor));
  g_assert_false (tether_supervisor_get_can_signal (f->supervisor));

  start (f);
  g_assert_false (tether_supervisor_get_can_start (f->supervisor));
  g_assert_true (tether_supervisor_get_can_stop (f->supervisor));
  g_assert_true (tether_supervisor_get_can_kill (f->supervisor));
  g_assert_true (tether_supervisor_get_can_restart (f->supervisor));
  g_assert_true (tether_supervisor_get_can_signal (f->supervisor));
  g_assert_true (tether_supervisor_can_signal_pid (f->supervisor, TEST_FAKE_PID_BASE));
  g_assert_false (tether_supervisor_can_signal_pid (f->supervisor, 1));

  stop (f, FALSE);
  g_assert_false (tether_supervisor_get_can_stop (f->supervisor));   /* already stopping */
  g_assert_true (tether_supervisor_get_can_kill (f->supervisor));    /* may skip ahead */
  g_assert_false (tether_supervisor_get_can_restart (f->supervisor));
  g_assert_false (tether_supervisor_get_can_start (f->supervisor));
  test_fake_owner_empty (owner (f));
  g_assert_true (test_util_wait_flag (&f->stopped, 2));
  g_assert_true (tether_supervisor_get_can_start (f->supervisor));
  g_assert_false (tether_supervisor_get_can_kill (f->supervisor));
}

#define add(name, func) \
  g_test_add ("/ladder/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  add ("helper-dies-mid-ladder", test_helper_dies_mid_ladder);
  add ("mainpid-exit", test_mainpid_exit);
  add ("extend-during-term", test_extend_during_term);
  add ("kill-retried", test_kill_retried);
  add ("backoff-steps", test_backoff_steps);
  add ("can", test_can);

  return g_test_run ();
}
