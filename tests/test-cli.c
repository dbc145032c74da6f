/* test-cli.c: tetherctl end to end, as support staff would use it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-control.h"
#include "tether-leftovers.h"
#include "tether-procfs.h"

#include "test-util.h"

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *pidfile;
  char *profile;
  GSubprocess *run;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->kind = *(const TetherOwnerKind *) data;
  f->marker = test_util_marker ();
  f->pidfile = test_util_pidfile (f->marker);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->run != NULL)
    {
      g_subprocess_force_exit (f->run);
      g_subprocess_wait (f->run, NULL, NULL);
      g_clear_object (&f->run);
    }
  test_util_release_tree (NULL, f->marker, f->pidfile);
  g_free (f->profile);
}

static void
write_tree_profile (Fixture    *f,
                    const char *extra,
                    const char *mode,
                    const char *arg)
{
  const char *argv[] = { test_util_tree_helper (), f->marker, mode, arg ? arg : "--pidfile",
                         arg ? "--pidfile" : f->pidfile, arg ? f->pidfile : NULL, NULL };
  f->profile = test_util_write_profile (extra, argv);
}

/* TETHER_CGROUP_PARENT for the tetherctl a test starts, or NULL. */
static char *ctl_cgroup_parent;

static GSubprocess *
spawn_ctlv (const char *first,
            va_list     args,
            GError    **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_ptr_array_add (argv, (char *) g_getenv ("TETHERCTL"));
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (char *) arg);
  g_ptr_array_add (argv, NULL);

  if (ctl_cgroup_parent != NULL)
    g_subprocess_launcher_setenv (launcher, "TETHER_CGROUP_PARENT", ctl_cgroup_parent, TRUE);
  return g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
}

static GSubprocess *
spawn_ctl (GError     **error,
           const char  *first,
           ...)
{
  GSubprocess *proc;
  va_list args;

  va_start (args, first);
  proc = spawn_ctlv (first, args, error);
  va_end (args);
  return proc;
}

/* Runs tetherctl to completion; returns its exit status. */
static int
run_ctl (char       **out,
         char       **err,
         const char  *first,
         ...)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  va_list args;

  va_start (args, first);
  proc = spawn_ctlv (first, args, &error);
  va_end (args);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (proc);
}

static const char *
owner_option (Fixture *f)
{
  return f->kind == TETHER_OWNER_CGROUP ? "--owner=cgroup" : "--owner=reaper";
}

static JsonObject *
parse_object (JsonParser *parser,
              const char *text)
{
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}


static JsonObject *
status_json (Fixture    *f,
             JsonParser *parser)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_ctl (&out, &err, "status", "--json", "--profile", f->profile, NULL), ==, 0);
  return parse_object (parser, out);
}


/* Waits (10 s at most) until status says the backend is in state. */
static void
wait_status_state (Fixture    *f,
                   const char *state)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_strcmp0 (json_object_get_string_member (status_json (f, parser), "state"), state) != 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (50000);
  g_assert_cmpstr (json_object_get_string_member (status_json (f, parser), "state"), ==, state);
}


static void
start_run (Fixture    *f,
           const char *mode,
           const char *arg)
{
  g_autoptr(GError) error = NULL;

  write_tree_profile (f, "\"stop\": {\"graceful_timeout\": 3, \"term_timeout\": 3}", mode, arg);
  f->run = spawn_ctl (&error, "run", "--json", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  g_assert_cmpint (test_util_wait_role (f->pidfile, "main", 10), >, 0);
  /* "main" is written before the helper's spawn reply may be in: with
   * "ready": "spawn" the backend is RUNNING once that has arrived. */
  wait_status_state (f, "running");
}

/* SIGKILL tetherctl mid-run: the shim sees its control socket close and the
 * whole tree is gone within 2 s. */
static void
test_sigkill_run (Fixture       *f,
                  gconstpointer  data)
{
  gint64 t0, deadline;
  double elapsed;

  start_run (f, "children", "5");
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 6);

  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (f->run, SIGKILL);
  g_assert_true (g_subprocess_wait (f->run, NULL, NULL));
  deadline = t0 + 2 * G_USEC_PER_SEC;
  while (test_util_count_marked (f->marker) > 0 && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  elapsed = (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("tree gone %.3f s after SIGKILL (%s)", elapsed,
                  tether_owner_kind_to_string (f->kind));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  g_clear_object (&f->run);
}

/* Ctrl-C runs the stop ladder and exits 0 once the tree is empty. */
static void
test_sigint_run (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  start_run (f, "children", "2");
  g_subprocess_send_signal (f->run, SIGINT);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (f->run));
  g_assert_cmpint (g_subprocess_get_exit_status (f->run), ==, 0);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  g_assert_nonnull (strstr (out, "\"event\":\"stopped\""));
  g_assert_nonnull (strstr (out, "\"state\":\"running\""));
  g_clear_object (&f->run);
}

static pid_t
main_pid_from_status (Fixture *f)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  return (pid_t) json_object_get_int_member (status_json (f, parser), "main_pid");
}

/* status, tree and stop against a running supervisor, found by --profile. */
static void
test_control (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) marked = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *run_out = NULL;
  g_autofree char *run_pid = NULL;
  JsonObject *o;
  JsonArray *procs;
  pid_t main_pid;

  start_run (f, "children", "3");
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  run_pid = g_strdup (g_subprocess_get_identifier (f->run));

  o = status_json (f, parser);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "running");
  g_assert_cmpstr (json_object_get_string_member (o, "owner"), ==, tether_owner_kind_to_string (f->kind));
  g_assert_cmpint (json_object_get_int_member (o, "main_pid"), ==, main_pid);
  g_assert_cmpint (json_object_get_int_member (o, "members"), ==, 4);

  /* The tree lists exactly the backend's processes. */
  g_assert_cmpint (run_ctl (&out, &err, "tree", "--json", "--profile", f->profile, NULL), ==, 0);
  o = parse_object (parser, out);
  procs = json_object_get_array_member (o, "processes");
  marked = test_util_find_marked (f->marker);
  g_assert_cmpuint (json_array_get_length (procs), ==, marked->len);
  for (guint i = 0; i < json_array_get_length (procs); i++)
    {
      JsonObject *p = json_array_get_object_element (procs, i);
      pid_t pid = (pid_t) json_object_get_int_member (p, "pid");
      gboolean found = FALSE;

      for (guint j = 0; j < marked->len; j++)
        found |= g_array_index (marked, pid_t, j) == pid;
      g_assert_true (found);
      g_assert_nonnull (strstr (json_object_get_string_member (p, "cmdline"), f->marker));
      g_assert_cmpint (json_object_get_int_member (p, "rss_bytes"), >, 0);
      g_assert_cmpint (json_object_get_int_member (p, "parent"), ==, pid == main_pid ? 0 : main_pid);
    }
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "totals"), "processes"), ==,
                   marked->len);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Without --json: a header, then the children indented under main. */
  g_assert_cmpint (run_ctl (&out, &err, "tree", "--profile", f->profile, NULL), ==, 0);
  {
    g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
    g_autofree char *main_col = g_strdup_printf (" %d ", (int) main_pid);

    g_assert_cmpuint (g_strv_length (lines), ==, 2 + 4 + 1);
    g_assert_nonnull (strstr (lines[0], "running, 4 processes"));
    g_assert_nonnull (strstr (lines[1], "PID"));
    g_assert_nonnull (strstr (lines[2], main_col));
    g_assert_nonnull (strstr (lines[2], " S  tether-test-tre  "));
    for (guint i = 3; i < 6; i++)
      g_assert_nonnull (strstr (lines[i], " S    exe  "));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A pid outside the tree is refused with a clear message. */
  {
    g_autofree char *self_pid = g_strdup_printf ("%d", (int) getpid ());
    g_assert_cmpint (run_ctl (&out, &err, "kill-subtree", self_pid, "--profile", f->profile, NULL), ==, 1);
    g_assert_nonnull (strstr (err, "is not part of the backend"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }

  g_assert_cmpint (run_ctl (&out, &err, "stop", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Stopped in"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);

  /* A stop from outside stops the backend, not the run: it waits for a
   * start, and Ctrl-C ends it. */
  g_assert_cmpstr (json_object_get_string_member (status_json (f, parser), "state"), ==, "stopped");
  g_subprocess_send_signal (f->run, SIGINT);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &run_out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (f->run), ==, 0);
  g_assert_nonnull (strstr (run_out, "\"event\":\"waiting\""));
  g_clear_object (&f->run);

  /* ...and takes its control socket with it (the notify socket is
   * abstract: never a file). */
  {
    g_autofree char *dir = g_build_filename (g_get_user_runtime_dir (), "tether", NULL);
    g_autofree char *notify_prefix = g_strdup_printf ("notify-%s-", run_pid);
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    const char *socket_line = strstr (run_out, "\"socket\":\"");
    g_autofree char *control_socket = NULL;

    g_assert_nonnull (socket_line);
    control_socket = g_strndup (socket_line + 10, strcspn (socket_line + 10, "\""));
    g_assert_true (g_str_has_suffix (control_socket, ".sock"));
    g_assert_false (g_file_test (control_socket, G_FILE_TEST_EXISTS));
    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      g_assert_false (g_str_has_prefix (name, notify_prefix));
  }
}

/* A second supervisor for the same profile is refused, and the first one
 * keeps running undisturbed. */
static void
test_second_run_refused (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  start_run (f, "children", "1");
  g_assert_cmpint (run_ctl (&out, &err, "run", owner_option (f), f->profile, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Another Tether already supervises this profile"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* kill: the forced verb over the socket. */
  g_assert_cmpint (run_ctl (&out, &err, "kill", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "2 by force"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
}

/* A backend that cannot start makes run fail with the reason. */
static void
test_run_missing_executable (Fixture       *f,
                             gconstpointer  data)
{
  const char *argv[] = { "tether-no-such-program", NULL };
  g_autofree char *path = test_util_write_profile (NULL, argv);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_ctl (&out, &err, "run", owner_option (f), path, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "tether-no-such-program"));
  g_assert_nonnull (strstr (err, ":2:15"));
}

/* top refreshes until told to stop: here after two rounds, as text and as
 * JSON lines. Bad intervals are refused before anything runs. */
static void
test_top (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *main_col = NULL;
  g_auto(GStrv) lines = NULL;
  const char *p;
  guint n_headers = 0, n_main = 0;
  pid_t main_pid;

  start_run (f, "children", "2");
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  main_col = g_strdup_printf ("\n%8d ", (int) main_pid);

  g_assert_cmpint (run_ctl (&out, &err, "top", "-n", "2", "--interval", "0.2", "--profile", f->profile, NULL), ==, 0);
  for (p = out; (p = strstr (p, "NAME / COMMAND")) != NULL; p++)
    n_headers++;
  for (p = out; (p = strstr (p, main_col)) != NULL; p++)
    n_main++;
  g_assert_cmpuint (n_headers, ==, 2);
  g_assert_cmpuint (n_main, ==, 2);
  g_assert_nonnull (strstr (out, "running, 3 processes"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_ctl (&out, &err, "top", "-n", "2", "-i", "0.2", "--json", "--profile", f->profile, NULL), ==, 0);
  lines = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *o = parse_object (parser, lines[i]);
      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "processes")), ==, 3);
    }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_ctl (&out, &err, "top", "--interval", "20", "--profile", f->profile, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--interval must be between 0.1 and 10 seconds"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "run", "--interval", "0.01", f->profile, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--interval must be between 0.1 and 10 seconds"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_ctl (&out, &err, "stop", "--profile", f->profile, NULL), ==, 0);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
}

/* Lines that once crashed the supervisor (a number as method: SIGSEGV; an
 * empty line, an array as method: criticals, fatal under this suite's
 * G_DEBUG; 65 000 '[': a stack overflow) reach a real `tetherctl run`. It
 * answers each with an error and keeps supervising. */
static void
test_hostile_requests (Fixture       *f,
                       gconstpointer  data)
{
  const char *lines[] = {
    "{\"method\":1}", "", "[", "{\"method\":[]}", "{\"method\":{}}", "null",
    "{\"method\":\"kill-subtree\",\"pid\":\"1\"}", "{\"method\":\"kill-subtree\",\"pid\":1.0}",
  };
  g_autoptr(TetherProfile) profile = NULL;
  g_autofree char *socket_path = NULL;
  g_autofree char *deep = g_strnfill (65000, '[');
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  GString *replies = g_string_new (NULL);
  int fd;

  start_run (f, "children", "1");
  profile = tether_profile_load (f->profile, &error);
  g_assert_no_error (error);
  socket_path = tether_control_default_socket_path (profile);

  fd = test_util_connect_unix (socket_path);
  g_assert_cmpint (fd, >=, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autofree char *line = g_strconcat (lines[i], "\n", NULL);
      g_assert_cmpint (write (fd, line, strlen (line)), ==, (gssize) strlen (line));
    }
  g_assert_cmpint (write (fd, deep, strlen (deep)), ==, (gssize) strlen (deep));
  g_assert_cmpint (write (fd, "\n", 1), ==, 1);

  /* One error reply per line, in order. */
  while (g_strstr_len (replies->str, -1, "nested") == NULL)
    {
      char buf[4096];
      ssize_t n = read (fd, buf, sizeof buf);

      g_assert_cmpint (n, >, 0);
      g_string_append_len (replies, buf, n);
    }
  close (fd);
  {
    g_auto(GStrv) got = g_strsplit (g_strchomp (replies->str), "\n", -1);

    g_assert_cmpuint (g_strv_length (got), ==, G_N_ELEMENTS (lines) + 1);
    for (guint i = 0; got[i] != NULL; i++)
      g_assert_true (g_str_has_prefix (got[i], "{\"ok\":false,\"error\":"));
    g_assert_nonnull (strstr (got[0], "must be a string"));
    g_assert_nonnull (strstr (got[6], "must be an integer"));
  }
  g_string_free (replies, TRUE);

  /* Still there, still supervising the same tree. */
  g_assert_nonnull (g_subprocess_get_identifier (f->run));  /* not exited */
  g_assert_cmpint (run_ctl (&out, &err, "status", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Running"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 2);
}

/* Whatever a backend puts in its command line or STATUS=, a terminal only
 * ever sees it escaped: no ESC, no carriage return. */
static void
test_terminal_escapes (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *hostile_marker = g_strconcat (f->marker, "\033[2J\r", NULL);
  const char *argv[] = { test_util_tree_helper (), hostile_marker, "notify",
                         "READY=1\\nSTATUS=\\e]0;pwned\\r faked line", "--pidfile", f->pidfile, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *commands[] = { "status", "tree", "top" };

  f->profile = test_util_write_profile ("\"ready\": \"notify\"", argv);
  f->run = spawn_ctl (&error, "run", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  g_assert_cmpint (test_util_wait_role (f->pidfile, "main", 10), >, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_assert_cmpint (run_ctl (&out, &err, commands[i], "--profile", f->profile,
                                i == 2 ? "-n" : NULL, "1", NULL), ==, 0);
      g_assert_null (strchr (out, '\033'));
      g_assert_null (strchr (out, '\r'));
      /* STATUS= was made safe when it arrived; command lines are escaped
       * when printed. */
      g_assert_nonnull (strstr (out, i == 0 ? "status: ?]0;pwned? faked line" : "\\e[2J\\x0d"));
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
    }

  g_subprocess_send_signal (f->run, SIGINT);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (out, "text=?]0;pwned? faked line"));
  g_assert_null (strchr (out, '\033'));
  g_assert_null (strchr (out, '\r'));
  g_clear_object (&f->run);
}

/* Every line of `run --json` is one JSON object, numbers are numbers. */
static GPtrArray *
parse_events (const char *out)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;

      if (lines[i][0] == '\0')
        continue;
      if (!json_parser_load_from_data (parser, lines[i], -1, &error))
        g_error ("run --json printed a line that is not JSON: %s (%s)", lines[i], error->message);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      g_ptr_array_add (events, json_node_copy (json_parser_get_root (parser)));
    }
  return events;
}

static guint
count_events (GPtrArray  *events,
              const char *name)
{
  guint n = 0;

  for (guint i = 0; i < events->len; i++)
    n += g_str_equal (json_object_get_string_member (json_node_get_object (g_ptr_array_index (events, i)),
                                                     "event"), name);
  return n;
}

/* restart, stop and start through the control socket against `run`: the
 * run goes on supervising (restart once ended it), reports every stop
 * whoever asked, and leaves on Ctrl-C. */
static void
test_restart_under_run (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *run_out = NULL;
  pid_t first, second, third;

  start_run (f, "children", "1");
  first = main_pid_from_status (f);

  g_assert_cmpint (run_ctl (&out, &err, "restart", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Running"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  second = main_pid_from_status (f);
  g_assert_cmpint (second, !=, first);
  g_assert_false (test_util_pid_alive (first));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 2);

  g_assert_cmpint (run_ctl (&out, &err, "stop", "--profile", f->profile, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  g_assert_cmpint (run_ctl (&out, &err, "start", "--profile", f->profile, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  third = main_pid_from_status (f);
  g_assert_cmpint (third, !=, second);
  g_assert_true (test_util_pid_alive (third));

  g_subprocess_send_signal (f->run, SIGINT);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &run_out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (f->run), ==, 0);
  g_clear_object (&f->run);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);

  events = parse_events (run_out);
  /* restart's stop, the stop, Ctrl-C's: each reported. */
  g_assert_cmpuint (count_events (events, "stopped"), ==, 3);
  g_assert_cmpuint (count_events (events, "waiting"), ==, 1);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *e = json_node_get_object (g_ptr_array_index (events, i));
      const char *name = json_object_get_string_member (e, "event");

      g_assert_cmpint (json_node_get_value_type (json_object_get_member (e, "time")), ==, G_TYPE_DOUBLE);
      if (g_str_equal (name, "state") && json_object_has_member (e, "pid"))
        g_assert_cmpint (json_node_get_value_type (json_object_get_member (e, "pid")), ==, G_TYPE_INT64);
      if (g_str_equal (name, "stopped"))
        {
          g_assert_cmpint (json_node_get_value_type (json_object_get_member (e, "graceful")), ==, G_TYPE_INT64);
          g_assert_cmpint (json_node_get_value_type (json_object_get_member (e, "elapsed")), ==, G_TYPE_DOUBLE);
        }
      if (g_str_equal (name, "phase"))
        g_assert_cmpint (json_node_get_value_type (json_object_get_member (e, "timeout")), ==, G_TYPE_DOUBLE);
    }
  /* Times to the millisecond, written as such (not 0.00039899999999999999). */
  g_assert_null (g_regex_match_simple ("\"time\":[0-9]+\\.[0-9]{4,}", run_out, 0, 0) ? "long" : NULL);
}

/* Waits (10 s at most) until status names main_pid as the main process. */
static void
wait_status_main_pid (Fixture *f,
                      pid_t    main_pid)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (main_pid_from_status (f) != main_pid && g_get_monotonic_time () < deadline)
    g_usleep (50000);
  g_assert_cmpint (main_pid_from_status (f), ==, main_pid);
}

/* nginx under `run`, stood in for: its launcher exits, the daemon writes a
 * pidfile. status names the daemon as the main process and says where it
 * came from; `tetherctl stop` reaches it with the graceful signal. */
static void
test_daemon_pidfile (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *daemon_pidfile = g_strconcat (f->pidfile, ".daemon", NULL);
  g_autofree char *extra = g_strdup_printf ("\"pidfile\": \"%s\", "
                                            "\"stop\": {\"signal\": \"SIGQUIT\", \"graceful_timeout\": 5}",
                                            daemon_pidfile);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *line = NULL;
  g_autofree char *run_out = NULL;
  g_autoptr(GPtrArray) events = NULL;
  JsonObject *status;
  guint n_main = 0;
  pid_t daemon;

  write_tree_profile (f, extra, "forking", daemon_pidfile);
  f->run = spawn_ctl (&error, "run", "--json", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  daemon = test_util_wait_role (f->pidfile, "daemon", 10);
  g_assert_cmpint (daemon, >, 0);
  wait_status_main_pid (f, daemon);

  status = status_json (f, parser);
  g_assert_cmpstr (json_object_get_string_member (status, "state"), ==, "running");
  g_assert_nonnull (strstr (json_object_get_string_member (status, "message"), daemon_pidfile));
  g_assert_cmpint (json_object_get_int_member (status, "members"), ==, 2);

  g_assert_cmpint (run_ctl (&out, &err, "status", "--profile", f->profile, NULL), ==, 0);
  line = g_strdup_printf ("main pid: %d  processes: 2", (int) daemon);
  g_assert_nonnull (strstr (out, line));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_ctl (&out, &err, "stop", "--profile", f->profile, NULL), ==, 0);
  g_assert_cmpint (test_util_wait_role (f->pidfile, "quit-received", 1), ==, daemon);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  g_unlink (daemon_pidfile);

  /* run told of the new main process, and where it came from. */
  g_subprocess_send_signal (f->run, SIGINT);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &run_out, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&f->run);
  events = parse_events (run_out);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *e = json_node_get_object (g_ptr_array_index (events, i));

      if (g_str_equal (json_object_get_string_member (e, "event"), "main") &&
          json_object_get_int_member_with_default (e, "pid", 0) == daemon)
        {
          g_assert_nonnull (strstr (json_object_get_string_member (e, "message"), daemon_pidfile));
          n_main++;
        }
    }
  g_assert_cmpuint (n_main, ==, 1);
}

/* A launcher that leaves several processes: status says there is no main
 * process, and counts the processes as they are now. */
static void
test_no_main_status (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GArray) orphans = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  pid_t launcher;

  write_tree_profile (f, NULL, "orphans", "2");
  f->run = spawn_ctl (&error, "run", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  launcher = test_util_wait_role (f->pidfile, "main", 10);
  g_assert_cmpint (launcher, >, 0);
  wait_status_main_pid (f, 0);
  orphans = test_util_read_role (f->pidfile, "orphan");
  g_assert_cmpuint (orphans->len, ==, 2);

  g_assert_cmpint (run_ctl (&out, &err, "status", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "main pid: none  processes: 2"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  kill (g_array_index (orphans, pid_t, 0), SIGKILL);
  test_util_wait_reaped (g_array_index (orphans, pid_t, 0));
  g_assert_cmpint (run_ctl (&out, &err, "status", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "main pid: none  processes: 1"));
  g_assert_cmpstr (json_object_get_string_member (status_json (f, parser), "state"), ==, "running");
}

/* The response to GET / on 127.0.0.1:port, or NULL if nothing answers. */
static char *
http_get (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  const char request[] = "GET / HTTP/1.0\r\n\r\n";
  char buffer[1024] = { 0 };
  gsize n = 0;

  g_socket_client_set_timeout (client, 5);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  if (connection == NULL ||
      !g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  request, sizeof request - 1, NULL, NULL, NULL) ||
      !g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                buffer, sizeof buffer - 1, &n, NULL, NULL))
    return NULL;
  return g_strndup (buffer, n);
}

static pid_t
read_pid_file (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (pid_t) g_ascii_strtoll (text, NULL, 10);
}

/* Waits (10 s at most) for path to name a pid other than not. */
static pid_t
wait_pid_file (const char *path,
               pid_t       not)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  pid_t pid;

  while (((pid = read_pid_file (path)) <= 0 || pid == not) && g_get_monotonic_time () < deadline)
    g_usleep (20000);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (pid, !=, not);
  return pid;
}

/* Real nginx from Debian, as configured out of the box: it daemonizes, so
 * its launcher exits at once; its master writes a pidfile and stops
 * gracefully on SIGQUIT. Under `tetherctl run` with "pidfile" the master
 * is the main process; after a binary upgrade (USR2 starts a new master,
 * QUIT ends the old one) the new master is; and `tetherctl stop` sends it
 * SIGQUIT (before, the ladder skipped to SIGTERM for all: a fast shutdown).
 * Nothing of nginx's is left. */
static void
test_nginx (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *dir = g_build_filename (test_util_tmpdir (), f->marker, NULL);
  g_autofree char *conf = g_build_filename (dir, "nginx.conf", NULL);
  g_autofree char *pid_path = g_build_filename (dir, "nginx.pid", NULL);
  g_autofree char *log_path = g_build_filename (dir, "error.log", NULL);
  g_autofree char *config = NULL;
  g_autofree char *extra = NULL;
  g_autofree char *response = NULL;
  g_autofree char *log = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *quit_line = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = test_util_free_port ();
  const char *nginx = g_getenv ("TETHER_TEST_NGINX");
  /* A full path: the upgrade re-executes argv[0]. */
  const char *argv[] = { nginx, "-c", conf, "-p", dir, "-e", log_path, NULL };
  pid_t master, upgraded;

  /* Debian's nginx, unpacked by setup.sh into the build directory (not
   * installed: no system service comes with it). */
  if (nginx == NULL || !g_file_test (nginx, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("No nginx at $TETHER_TEST_NGINX (%s): ./setup.sh test unpacks Debian's", nginx);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  /* Every path in the directory: the unpacked binary's built-in ones
   * (/var/lib/nginx, /var/log/nginx) do not exist. */
  config = g_strdup_printf ("worker_processes 2;\n"
                            "pid %s;\n"
                            "error_log %s notice;\n"
                            "events { worker_connections 64; }\n"
                            "http {\n"
                            "  access_log off;\n"
                            "  client_body_temp_path %s/body;\n"
                            "  proxy_temp_path %s/proxy;\n"
                            "  fastcgi_temp_path %s/fastcgi;\n"
                            "  uwsgi_temp_path %s/uwsgi;\n"
                            "  scgi_temp_path %s/scgi;\n"
                            "  server { listen 127.0.0.1:%u; location / { return 200 \"ok\\n\"; } }\n"
                            "}\n",
                            pid_path, log_path, dir, dir, dir, dir, dir, port);
  g_assert_true (g_file_set_contents (conf, config, -1, NULL));
  extra = g_strdup_printf ("\"cwd\": \"%s\", \"pidfile\": \"nginx.pid\", "
                           "\"stop\": {\"signal\": \"SIGQUIT\", \"graceful_timeout\": 10}", dir);
  f->profile = test_util_write_profile (extra, argv);

  f->run = spawn_ctl (&error, "run", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  master = wait_pid_file (pid_path, 0);
  wait_status_main_pid (f, master);
  response = http_get (port);
  g_assert_nonnull (response);
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200"));

  /* The binary upgrade: the new master is the old one's child, and is left
   * to Tether when the old one quits. */
  g_assert_cmpint (kill (master, SIGUSR2), ==, 0);
  upgraded = wait_pid_file (pid_path, master);
  g_assert_cmpint (kill (master, SIGQUIT), ==, 0);
  wait_status_main_pid (f, upgraded);
  g_clear_pointer (&response, g_free);
  response = http_get (port);
  g_assert_nonnull (response);
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200"));

  g_assert_cmpint (run_ctl (&out, &err, "stop", "--profile", f->profile, NULL), ==, 0);
  g_test_message ("%s", out);
  g_assert_false (test_util_pid_alive (upgraded));
  g_assert_null (http_get (port));

  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_test_message ("%s", log);
  /* The upgraded master got the graceful signal, from Tether's helper. */
  quit_line = g_strdup_printf (" %d#%d: signal 3 (SIGQUIT) received from ", (int) upgraded, (int) upgraded);
  g_assert_nonnull (strstr (log, quit_line));
  g_assert_nonnull (strstr (log, "gracefully shutting down"));
  g_assert_null (strstr (log, "signal 15 (SIGTERM) received"));
  g_assert_cmpstr (json_object_get_string_member (status_json (f, parser), "state"), ==, "stopped");
  g_assert_cmpint (json_object_get_int_member (status_json (f, parser), "members"), ==, 0);
}

/* The backend's output never mixes into run's events: with --json it is
 * "output" events, in text mode it goes to stderr. */
static void
test_run_output (Fixture       *f,
                 gconstpointer  data)
{
  const char *argv[] = { "sh", "-c", "echo hello-out; echo hello-err >&2; printf 'no newline'; exec \"$0\" \"$@\"",
                         test_util_tree_helper (), f->marker, "sleep", "--pidfile", f->pidfile, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gboolean seen_out = FALSE, seen_err = FALSE;

  f->profile = test_util_write_profile (NULL, argv);
  for (guint json = 0; json < 2; json++)
    {
      f->run = json ? spawn_ctl (&error, "run", "--json", owner_option (f), f->profile, NULL)
                    : spawn_ctl (&error, "run", owner_option (f), f->profile, NULL);
      g_assert_no_error (error);
      /* The output is written before the exec that reports "main". */
      g_assert_cmpint (test_util_wait_role (f->pidfile, "main", 10), >, 0);
      /* A Ctrl-C while it is still starting ends the run with 1 ("stopped
       * before it was ready"): the spawn's reply can lag the exec. */
      wait_status_state (f, "running");
      g_subprocess_send_signal (f->run, SIGINT);
      g_subprocess_communicate_utf8 (f->run, NULL, NULL, &out, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (f->run), ==, 0);
      g_clear_object (&f->run);

      if (json)
        {
          events = parse_events (out);
          for (guint i = 0; i < events->len; i++)
            {
              JsonObject *e = json_node_get_object (g_ptr_array_index (events, i));

              if (!g_str_equal (json_object_get_string_member (e, "event"), "output"))
                continue;
              seen_out |= g_str_equal (json_object_get_string_member (e, "stream"), "stdout") &&
                          g_str_equal (json_object_get_string_member (e, "text"), "hello-out");
              seen_err |= g_str_equal (json_object_get_string_member (e, "stream"), "stderr") &&
                          g_str_equal (json_object_get_string_member (e, "text"), "hello-err");
            }
          g_assert_true (seen_out);
          g_assert_true (seen_err);
          /* A last line without a newline still arrives. */
          g_assert_nonnull (strstr (out, "\"text\":\"no newline\""));
        }
      else
        {
          g_assert_null (strstr (out, "hello-"));
          g_assert_nonnull (strstr (err, "hello-out"));
          g_assert_nonnull (strstr (err, "hello-err"));
          g_assert_nonnull (strstr (out, "] stopped graceful=1"));
        }
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_unlink (f->pidfile);
    }
}

/* Help on stdout with exit 0; sentences, not bare numbers. */
static void
test_help_and_sentences (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GArray) children = NULL;
  g_autofree char *child = NULL;
  g_autofree char *expected = NULL;

  g_assert_cmpint (run_ctl (&out, &err, "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Usage:"));
  g_assert_nonnull (strstr (out, "force-stop"));
  g_assert_cmpstr (err, ==, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "run", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "tetherctl run [OPTION…] PROFILE"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "Usage:"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  start_run (f, "children", "2");
  children = test_util_read_role (f->pidfile, "child");
  child = g_strdup_printf ("%d", (int) g_array_index (children, pid_t, 0));
  g_assert_cmpint (run_ctl (&out, &err, "stop-subtree", child, "--profile", f->profile, NULL), ==, 0);
  expected = g_strdup_printf ("Sent SIGTERM to 1 process: %s and its descendants\n", child);
  g_assert_cmpstr (out, ==, expected);
}

static void
test_validate (void)
{
  g_autofree char *dir = g_build_filename (test_util_tmpdir (), "validate", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.json", NULL);
  g_autofree char *good = g_build_filename (dir, "good.json", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_mkdir_with_parents (dir, 0700);
  g_assert_true (g_file_set_contents (bad, "{\n  \"command\": [\"true\"],\n  \"stop\": {\"grace\": 1}\n}\n", -1, NULL));
  g_assert_true (g_file_set_contents (good, "{\"command\": [\"true\"]}", -1, NULL));

  g_assert_cmpint (run_ctl (&out, &err, "validate", bad, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "bad.json:3:12"));
  g_assert_nonnull (strstr (err, "grace"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_ctl (&out, &err, "validate", good, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* No supervisor for this profile: a message, not a hang. */
  g_assert_cmpint (run_ctl (&out, &err, "status", "--profile", good, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Cannot reach a Tether supervisor"));
}

/* SIGKILL one supervisor, start another: the dead one's socket does not
 * count, so status without --profile answers about the live one, and
 * list shows exactly one. */
static void
test_stale_socket (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *first_profile = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_auto(GStrv) lines = NULL;

  start_run (f, "children", "1");
  first_profile = g_strdup (f->profile);
  g_subprocess_send_signal (f->run, SIGKILL);
  g_assert_true (g_subprocess_wait (f->run, NULL, NULL));
  g_clear_object (&f->run);

  g_free (f->profile);
  f->profile = NULL;
  /* The first run's "main" must not pass for the second's. */
  g_unlink (f->pidfile);
  start_run (f, "children", "1");
  g_assert_cmpstr (f->profile, !=, first_profile);

  g_assert_cmpint (run_ctl (&out, &err, "status", NULL), ==, 0);
  g_assert_nonnull (strstr (out, ": Running"));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "list", NULL), ==, 0);
  lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);   /* the header and one */
  g_assert_nonnull (strstr (lines[1], "Running"));
  g_assert_nonnull (strstr (lines[1], f->profile));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "list", "--json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (json_parser_get_root (parser))), ==, 1);
}

/* tetherctl diagnose: a member listening on a port shows the port and
 * what it waits in; a stranger's pid is refused. */
static void
test_diagnose (Fixture       *f,
               gconstpointer  data)
{
  const char *argv[] = { "/usr/bin/python3", "-c",
                         "import socket, sys, time\n"
                         "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                         "open(sys.argv[1], 'w').write('%d\\n' % s.getsockname()[1])\n"
                         "time.sleep(1000)\n",
                         f->pidfile, f->marker, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *port = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  f->profile = test_util_write_profile (NULL, argv);
  f->run = spawn_ctl (&error, "run", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  for (guint i = 0; i < 200 && !g_file_get_contents (f->pidfile, &port, NULL, NULL); i++)
    g_usleep (50 * 1000);
  g_assert_nonnull (port);
  wait_status_state (f, "running");
  expected = g_strdup_printf ("listening: tcp 127.0.0.1:%s", g_strstrip (port));

  /* The sampler must have seen the member: retry for a moment. */
  for (guint i = 0; i < 50; i++)
    {
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (run_ctl (&out, &err, "diagnose", "--profile", f->profile, NULL), ==, 0);
      if (strstr (out, expected) != NULL && strstr (out, " s: CPU ") != NULL)
        break;
      g_usleep (100 * 1000);
    }
  g_assert_nonnull (strstr (out, expected));
  g_assert_nonnull (strstr (out, "system call: "));
  /* The sampler's last minute of the member. */
  g_assert_nonnull (strstr (out, "% mean, "));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "diagnose", "1", "--profile", f->profile, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "Process 1 is not part of the backend"));
}

/* tetherctl bundle: one JSON document with every section, readable
 * without Tether, 0600. */
static void
test_bundle (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "bundle.json", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  static const char * const sections[] = { "format", "created", "versions", "status", "profile",
                                           "diagnosis", "tree", "log", "history" };
  JsonObject *bundle;
  struct stat st;

  start_run (f, "children", "2");
  g_assert_cmpint (run_ctl (&out, &err, "bundle", "-o", path, "--profile", f->profile, NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "Wrote the support bundle to "));

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  bundle = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    if (!json_object_has_member (bundle, sections[i]))
      g_error ("the bundle has no “%s”", sections[i]);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (bundle, "status"), "state"), ==,
                   "running");
  /* The main process and its two children. */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_object_get_object_member (bundle, "diagnosis"),
                                                                         "processes")), ==, 3);
  g_assert_nonnull (strstr (json_object_get_string_member (bundle, "profile"), f->marker));
  g_assert_true (json_object_has_member (json_object_get_object_member (bundle, "log"), "lines"));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_unlink (path);
}

/* The child of parent named comm (15 bytes at most), or 0. */
static pid_t
find_child_named (pid_t       parent,
                  const char *comm)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      TetherProcStat st;
      long pid = strtol (name, NULL, 10);

      if (pid > 0 && tether_procfs_read_stat ((pid_t) pid, &st) == 0 && st.ppid == parent &&
          strcmp (st.comm, comm) == 0)
        return st.pid;
    }
  return 0;
}

/* SIGKILL only tether-shim, under a backend whose setsid'd grandchild is
 * the shim's child: in cgroup mode the leaf still fences the tree in; in
 * reaper mode tetherctl is a child subreaper, so the orphans come back to
 * it, and it ends them (and says so) instead of leaving them to init. */
static void
test_sigkill_shim (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GArray) grandchildren = NULL;
  pid_t shim, grandchild;
  gint64 t0, deadline;

  start_run (f, "double-fork", "stay");
  grandchildren = test_util_read_role (f->pidfile, "grandchild");
  g_assert_cmpuint (grandchildren->len, ==, 1);
  grandchild = g_array_index (grandchildren, pid_t, 0);
  shim = find_child_named ((pid_t) atoi (g_subprocess_get_identifier (f->run)), "tether-shim");
  g_assert_cmpint (shim, >, 0);
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 2);

  t0 = g_get_monotonic_time ();
  g_assert_cmpint (kill (shim, SIGKILL), ==, 0);
  deadline = t0 + 10 * G_USEC_PER_SEC;
  while (test_util_count_marked (f->marker) > 0 && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  g_test_message ("orphans gone %.3f s after the shim was killed (%s)",
                  (g_get_monotonic_time () - t0) / 1e6, tether_owner_kind_to_string (f->kind));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  /* Reaped, not a zombie of tetherctl's. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (kill (grandchild, 0) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  g_assert_cmpint (kill (grandchild, 0), ==, -1);
}

/* Quiet: a backend that logs dies of EPIPE once its Tether is gone. */
#define HTTP_SERVER \
  "import http.server, os, sys\n" \
  "sys.stderr = open (os.devnull, 'w')\n" \
  "http.server.HTTPServer (('127.0.0.1', int (sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever ()\n"

/* Waits (10 s at most) until something answers on port. */
static void
wait_http (guint16 port)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_autofree char *reply = NULL;

  while ((reply = http_get (port)) == NULL && g_get_monotonic_time () < deadline)
    g_usleep (50000);
  g_assert_nonnull (reply);
}

/* The pid listening on port, or 0. */
static pid_t
listener (guint16 port)
{
  g_autoptr(GArray) pids = tether_find_tcp_listeners (port, TRUE);

  return pids->len == 1 ? g_array_index (pids, pid_t, 0) : 0;
}

static gboolean
all_threads_stopped (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) tasks = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  while (tasks != NULL && (name = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *stat_path = g_strdup_printf ("/proc/%d/task/%s/stat", (int) pid, name);
      g_autofree char *text = NULL;
      const char *paren;

      if (!g_file_get_contents (stat_path, &text, NULL, NULL) || (paren = strrchr (text, ')')) == NULL ||
          paren[1] != ' ' || paren[2] != 'T')
        return FALSE;
      n++;
    }
  return n > 0;
}

/* A new cgroup below this process's own, for the leaves of one test. */
static char *
private_cgroup_parent (const char *marker)
{
  g_autofree char *self = NULL;
  g_autofree char *mountinfo = NULL;
  g_auto(GStrv) lines = NULL;
  const char *mount = NULL;
  char *path;

  g_assert_true (g_file_get_contents ("/proc/self/cgroup", &self, NULL, NULL));
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, NULL));
  lines = g_strsplit (mountinfo, "\n", -1);
  for (guint i = 0; lines[i] != NULL && mount == NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", -1);
      guint n = g_strv_length (fields);

      /* ... MOUNTPOINT ... - cgroup2 ... */
      for (guint k = 0; k + 1 < n; k++)
        if (g_str_equal (fields[k], "-") && g_str_equal (fields[k + 1], "cgroup2"))
          {
            mount = g_intern_string (fields[4]);
            break;
          }
    }
  g_assert_nonnull (mount);
  {
    const char *own = strstr (self, "0::");
    g_autofree char *rel = NULL;

    g_assert_nonnull (own);
    rel = g_strndup (own + 3, strcspn (own + 3, "\n"));
    path = g_strdup_printf ("%s%s%stether-test-%s", mount, rel, g_str_has_suffix (rel, "/") ? "" : "/", marker);
  }
  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  return path;
}

/* tetherctl run and its shim are both SIGKILLed, tetherctl stopped first
 * so that neither can end the tree (a stopped shim would not do: when
 * tetherctl dies, its process group is orphaned and the kernel sends it
 * SIGHUP and SIGCONT), and the backend lives on, holding its port. The next
 * tetherctl run lists it and refuses to start beside it; with
 * --kill-leftovers it ends it and starts on the same port. A process
 * running the same program with other arguments is left alone. */
static void
test_kill_leftovers (Fixture       *f,
                     gconstpointer  data)
{
  guint16 port = test_util_free_port ();
  guint16 other_port = test_util_free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *other_text = g_strdup_printf ("%u", other_port);
  g_autofree char *health = g_strdup_printf ("\"health\": {\"http\": \"http://127.0.0.1:%u/\"}, "
                                             "\"stop\": {\"graceful_timeout\": 2}", port);
  g_autofree char *other_marker = test_util_marker ();
  const char *argv[] = { "python3", "-c", HTTP_SERVER, port_text, f->marker, NULL };
  g_autoptr(GSubprocess) unrelated = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  pid_t shim, old_backend, new_backend;

  unrelated = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "python3", "-c", HTTP_SERVER,
                                other_text, other_marker, NULL);
  g_assert_no_error (error);
  /* A parent of its own for the leaves: any other Tether making a leaf
   * beside the dead tetherctl's (the other tests running in parallel)
   * empties it as stale, which would end the leftover before this test
   * looks for it. */
  if (f->kind == TETHER_OWNER_CGROUP)
    ctl_cgroup_parent = private_cgroup_parent (f->marker);
  f->profile = test_util_write_profile (health, argv);
  f->run = spawn_ctl (&error, "run", "--json", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  wait_http (port);
  wait_http (other_port);
  old_backend = listener (port);
  g_assert_cmpint (old_backend, >, 0);
  shim = find_child_named ((pid_t) atoi (g_subprocess_get_identifier (f->run)), "tether-shim");
  g_assert_cmpint (shim, >, 0);

  g_subprocess_send_signal (f->run, SIGSTOP);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    /* Every thread stopped, not just the main one: a thread still running
     * would hear the shim's death and end the orphans. */
    while (!all_threads_stopped (atoi (g_subprocess_get_identifier (f->run))))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  }
  g_assert_cmpint (kill (shim, SIGKILL), ==, 0);
  g_usleep (100 * 1000);
  g_subprocess_send_signal (f->run, SIGKILL);
  g_assert_true (g_subprocess_wait (f->run, NULL, NULL));
  g_clear_object (&f->run);
  g_usleep (200 * 1000);
  g_assert_true (test_util_pid_alive (old_backend));
  g_assert_nonnull (http_get (port));

  /* Without --kill-leftovers: listed, nothing started, nothing ended. */
  g_assert_cmpint (run_ctl (&out, &err, "run", owner_option (f), f->profile, NULL), ==, 1);
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, "left 1 process behind"));
  {
    g_autofree char *pid_text = g_strdup_printf ("  %d ", (int) old_backend);
    g_assert_nonnull (strstr (err, pid_text));
    g_assert_nonnull (strstr (err, "http.server"));
    g_assert_nonnull (strstr (err, "started by Tether for this profile"));
  }
  g_assert_nonnull (strstr (err, "--kill-leftovers to end them (SIGTERM, then SIGKILL after 2 s)"));
  g_assert_true (test_util_pid_alive (old_backend));

  /* With it: ended politely (the server dies of SIGTERM), then a clean
   * start on the same port. */
  f->run = spawn_ctl (&error, "run", "--json", "--kill-leftovers", owner_option (f), f->profile, NULL);
  g_assert_no_error (error);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    /* Until the new run's socket replaces the dead one's. */
    for (;;)
      {
        g_autofree char *o = NULL;
        g_autofree char *e = NULL;

        if (run_ctl (&o, &e, "status", "--profile", f->profile, NULL) == 0)
          break;
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (50000);
      }
  }
  wait_status_state (f, "running");
  wait_http (port);
  new_backend = listener (port);
  g_assert_cmpint (new_backend, >, 0);
  g_assert_cmpint (new_backend, !=, old_backend);
  g_assert_false (test_util_pid_alive (old_backend));
  g_assert_true (test_util_pid_alive (atoi (g_subprocess_get_identifier (unrelated))));
  g_assert_nonnull (http_get (other_port));

  g_subprocess_send_signal (f->run, SIGTERM);
  g_clear_pointer (&out, g_free);
  g_subprocess_communicate_utf8 (f->run, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&f->run);
  g_assert_nonnull (strstr (out, "\"event\":\"leftovers\""));
  g_assert_nonnull (strstr (out, "\"reason\":\"tagged\""));
  g_assert_nonnull (strstr (out, "\"event\":\"leftovers-ended\""));
  g_assert_nonnull (strstr (out, "\"forced\":0"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 0);
  g_subprocess_force_exit (unrelated);
  g_subprocess_wait (unrelated, NULL, NULL);
  if (ctl_cgroup_parent != NULL)
    {
      /* The leaves go with their Tethers; then the parent. */
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      while (g_rmdir (ctl_cgroup_parent) < 0 && g_get_monotonic_time () < deadline)
        g_usleep (20 * 1000);
      g_clear_pointer (&ctl_cgroup_parent, g_free);
    }
}

/* Waits (10 s at most) for pid's state letter. */
static void
wait_proc_state (pid_t pid,
                 char  state)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (test_util_proc_state (pid) != state)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (5000);
    }
}

/* tetherctl send-signal: STOP pauses one member, CONT with --subtree
 * reaches it and its children, a stranger and an unoffered signal are
 * refused. */
static void
test_send_signal (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GArray) children = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *main_text = NULL;
  g_autofree char *child_text = NULL;
  pid_t main_pid, child;

  start_run (f, "children", "2");
  main_pid = test_util_wait_role (f->pidfile, "main", 10);
  children = test_util_read_role (f->pidfile, "child");
  child = g_array_index (children, pid_t, 0);
  main_text = g_strdup_printf ("%d", (int) main_pid);
  child_text = g_strdup_printf ("%d", (int) child);

  g_assert_cmpint (run_ctl (&out, &err, "send-signal", child_text, "STOP", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Sent SIGSTOP to process"));
  wait_proc_state (child, 'T');
  g_assert_cmpint (test_util_proc_state (main_pid), !=, 'T');

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "send-signal", main_text, "cont", "--subtree", "--profile", f->profile, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Sent SIGCONT to 3 processes"));
  wait_proc_state (child, 'S');

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "send-signal", "1", "TERM", "--profile", f->profile, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "not"));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (&out, &err, "send-signal", child_text, "SEGV", "--profile", f->profile, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "is not a signal tetherctl sends"));
  g_assert_cmpuint (test_util_count_marked (f->marker), ==, 3);
}

#define add(name, func) \
  test_util_add_for_kinds ("/cli", name, sizeof (Fixture), fixture_setup, func, fixture_teardown)

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  add ("sigkill-run", test_sigkill_run);
  add ("sigint-run", test_sigint_run);
  add ("sigkill-shim", test_sigkill_shim);
  add ("kill-leftovers", test_kill_leftovers);
  add ("send-signal", test_send_signal);
  add ("control", test_control);
  add ("top", test_top);
  add ("run-missing-executable", test_run_missing_executable);
  add ("second-run-refused", test_second_run_refused);
  add ("hostile-requests", test_hostile_requests);
  add ("terminal-escapes", test_terminal_escapes);
  add ("restart-under-run", test_restart_under_run);
  add ("run-output", test_run_output);
  add ("help-and-sentences", test_help_and_sentences);
  add ("daemon-pidfile", test_daemon_pidfile);
  add ("no-main-status", test_no_main_status);
  add ("nginx", test_nginx);
  add ("stale-socket", test_stale_socket);
  add ("diagnose", test_diagnose);
  add ("bundle", test_bundle);
  g_test_add_func ("/cli/validate", test_validate);

  return g_test_run ();
}
