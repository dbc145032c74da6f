/* test-control.c: the control socket against hostile clients of the same
 * user, a hostile other user, and a runtime directory someone else prepared
 *
 * The server runs in this process (a supervisor that is never started
 * answers status); clients are raw sockets, in this process or in forked
 * children when the test needs a file descriptor table of its own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>
#include <json-glib/json-glib.h>
#include <pwd.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-control.h"
#include "tether-error.h"
#include "tether-runtime-dir.h"
#include "test-util.h"

/* Structured logging bypasses g_test_expect_message: count what the
 * library says at message level, and let it through. */
static guint n_messages;
static char *last_message;

static GLogWriterOutput
count_messages (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  if (level & G_LOG_LEVEL_MESSAGE)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE"))
        {
          n_messages++;
          g_free (last_message);
          last_message = g_strdup (fields[i].value);
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct
{
  const char *name;
  const char *line;
  const char *error_contains;
} BadRequest;

static const BadRequest bad_requests[] = {
  { "method-number", "{\"method\":1}", "“method” must be a string" },
  { "method-array", "{\"method\":[]}", "“method” must be a string" },
  { "method-object", "{\"method\":{}}", "“method” must be a string" },
  { "method-null", "{\"method\":null}", "“method” must be a string" },
  { "method-missing", "{\"pid\":3}", "has no “method”" },
  { "method-unknown", "{\"method\":\"explode\"}", "Unknown method “explode”" },
  { "workers-too-many", "{\"method\":\"resize\",\"workers\":2000}", "“workers” must be from 0 to 1024" },
  { "workers-string", "{\"method\":\"resize\",\"workers\":\"3\"}", "“workers” must be an integer" },
  { "workers-missing", "{\"method\":\"resize\"}", "needs a “workers”" },
  { "checkpoint-missing", "{\"method\":\"rollback\"}", "needs a “checkpoint”" },
  { "checkpoint-spaces", "{\"method\":\"rollback\",\"checkpoint\":\"a b\"}", "must be a checkpoint ID" },
  { "checkpoint-number", "{\"method\":\"rollback\",\"checkpoint\":20}", "must be a checkpoint ID" },
  { "reason-number", "{\"method\":\"rollback\",\"checkpoint\":\"20\",\"reason\":5}", "“reason” must be a string" },
  { "reason-elsewhere", "{\"method\":\"stop\",\"reason\":\"x\"}", "Unknown field “reason”" },
  { "logs-zero", "{\"method\":\"logs\",\"lines\":0}", "“lines” must be an integer from 1 to 10000" },
  { "logs-string", "{\"method\":\"logs\",\"lines\":\"5\"}", "“lines” must be an integer" },
  { "logs-negative-after", "{\"method\":\"logs\",\"after\":-1}", "“after” must be an integer" },
  { "logs-pid", "{\"method\":\"logs\",\"pid\":1}", "Unknown field “pid”" },
  { "diagnose-pid-string", "{\"method\":\"diagnose\",\"pid\":\"1\"}", "“pid” must be an integer" },
  { "diagnose-pid-zero", "{\"method\":\"diagnose\",\"pid\":0}", "from 1 to" },
  { "empty", "", "must be a JSON object" },
  { "blank", "   ", "must be a JSON object" },
  { "array", "[]", "must be a JSON object" },
  { "string", "\"status\"", "must be a JSON object" },
  { "not-json", "{method: status}", "not JSON" },
  { "truncated", "{\"method\":\"st", "not JSON" },
  { "pid-string", "{\"method\":\"kill-subtree\",\"pid\":\"12\"}", "“pid” must be an integer" },
  { "pid-double", "{\"method\":\"kill-subtree\",\"pid\":12.5}", "“pid” must be an integer" },
  { "pid-bool", "{\"method\":\"stop-subtree\",\"pid\":true}", "“pid” must be an integer" },
  { "pid-null", "{\"method\":\"stop-subtree\",\"pid\":null}", "“pid” must be an integer" },
  { "pid-zero", "{\"method\":\"kill-subtree\",\"pid\":0}", "from 1 to" },
  { "pid-negative", "{\"method\":\"kill-subtree\",\"pid\":-1}", "from 1 to" },
  { "pid-huge", "{\"method\":\"kill-subtree\",\"pid\":4294967297}", "from 1 to" },
  { "pid-missing", "{\"method\":\"kill-subtree\"}", "needs a “pid”" },
  { "unknown-field", "{\"method\":\"status\",\"force\":true}", "Unknown field “force”" },
  { "pid-not-taken", "{\"method\":\"status\",\"pid\":3}", "Unknown field “pid”" },
  { "nul-escape", "{\"method\":\"status\\u0000kill\"}", "\\u0000" },
  { "signal-missing", "{\"method\":\"send-signal\",\"pid\":3}", "needs a “signal”" },
  { "signal-unoffered", "{\"method\":\"send-signal\",\"pid\":3,\"signal\":\"SEGV\"}", "“signal” must be one of" },
  { "signal-number", "{\"method\":\"send-signal\",\"pid\":3,\"signal\":9}", "“signal” must be one of" },
  { "signal-subtree-string", "{\"method\":\"send-signal\",\"pid\":3,\"signal\":\"KILL\",\"subtree\":\"yes\"}", "“subtree” must be true or false" },
  { "signal-pid-missing", "{\"method\":\"send-signal\",\"signal\":\"TERM\"}", "needs a “pid”" },
  { "subtree-elsewhere", "{\"method\":\"stop-subtree\",\"pid\":3,\"subtree\":true}", "Unknown field “subtree”" },
};

static void
test_parse_bad (gconstpointer data)
{
  const BadRequest *bad = data;
  TetherControlRequest request;
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_control_parse_request (bad->line, strlen (bad->line), &request, &error));
  g_assert_nonnull (error);
  if (strstr (error->message, bad->error_contains) == NULL)
    g_error ("“%s” gave “%s”, expected it to contain “%s”", bad->line, error->message, bad->error_contains);
}

static void
test_parse_good (void)
{
  TetherControlRequest request;
  g_autoptr(GError) error = NULL;
  const char *kill = "{\"pid\": 4242, \"method\": \"kill-subtree\"}";
  const char *alias = "{\"method\":\"kill\"}";

  g_assert_true (tether_control_parse_request (kill, strlen (kill), &request, &error));
  g_assert_no_error (error);
  g_assert_cmpint (request.verb->id, ==, TETHER_VERB_KILL_SUBTREE);
  g_assert_cmpint (request.pid, ==, 4242);

  /* "kill" is the older name of force-stop. */
  g_assert_true (tether_control_parse_request (alias, strlen (alias), &request, &error));
  g_assert_cmpint (request.verb->id, ==, TETHER_VERB_FORCE_STOP);

  {
    const char *sig = "{\"method\":\"signal\",\"pid\":77,\"signal\":\"SIGusr1\",\"subtree\":true}";

    g_assert_true (tether_control_parse_request (sig, strlen (sig), &request, &error));
    g_assert_no_error (error);
    g_assert_cmpint (request.verb->id, ==, TETHER_VERB_SEND_SIGNAL);
    g_assert_cmpint (request.pid, ==, 77);
    g_assert_cmpint (request.signal, ==, SIGUSR1);
    g_assert_true (request.subtree);
  }
}

/* ~75 000 '[' once overflowed the stack inside json-glib. */
static void
test_parse_deep (void)
{
  gsize n = 65000;  /* under the length limit: the depth check must catch it */
  g_autofree char *deep = g_strnfill (n, '[');
  g_autofree char *deep_in_object = g_strdup_printf ("{\"method\":\"status\",\"x\":%s", deep);
  TetherControlRequest request;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_false (tether_control_parse_request (deep, n, &request, &error));
  g_assert_nonnull (strstr (error->message, "nested more than 8 levels"));
  g_clear_error (&error);
  g_assert_false (tether_control_parse_request (deep_in_object, strlen (deep_in_object), &request, &error));
  g_assert_nonnull (strstr (error->message, "nested more than 8 levels"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

static void
test_parse_nul (void)
{
  const char line[] = "{\"method\":\"status\"}\0{\"method\":\"stop\"}";
  TetherControlRequest request;
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_control_parse_request (line, sizeof line - 1, &request, &error));
  g_assert_nonnull (strstr (error->message, "NUL"));
}

/* ---- a server in this process ------------------------------------------ */

typedef struct
{
  char *dir;
  char *socket_path;
  TetherSupervisor *supervisor;
  TetherControl *control;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const char *argv[] = { "sleep", "1000", NULL };
  g_autofree char *profile_path = test_util_write_profile (NULL, argv);
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(GError) error = NULL;

  profile = tether_profile_load (profile_path, &error);
  g_assert_no_error (error);
  f->supervisor = tether_supervisor_new (profile, TETHER_OWNER_AUTO);

  f->dir = g_build_filename (test_util_tmpdir (), "control-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (f->dir));
  f->socket_path = g_build_filename (f->dir, "test.sock", NULL);
  f->control = tether_control_new (f->supervisor, f->socket_path, &error);
  g_assert_no_error (error);
  g_unlink (profile_path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_object_run_dispose (G_OBJECT (f->control));
  g_assert_false (g_file_test (f->socket_path, G_FILE_TEST_EXISTS));
  g_clear_object (&f->control);
  g_clear_object (&f->supervisor);
  g_rmdir (f->dir);
  g_free (f->socket_path);
  g_free (f->dir);
}

static void
send_all (int         fd,
          const char *data,
          gsize       length)
{
  while (length > 0)
    {
      ssize_t n = send (fd, data, length, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return;  /* the server hung up on us: what some tests expect */
      data += n;
      length -= (gsize) n;
    }
}

/* Reads one reply line while the main loop serves it; NULL on EOF. */
static char *
read_line (int    fd,
           double timeout_s)
{
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  while (g_get_monotonic_time () < deadline)
    {
      char c;
      ssize_t n = recv (fd, &c, 1, 0);

      if (n == 1)
        {
          if (c == '\n')
            return g_string_free (line, FALSE);
          g_string_append_c (line, c);
          continue;
        }
      if (n == 0 || (n < 0 && errno != EAGAIN))
        break;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_string_free (line, TRUE);
  return NULL;
}

/* Parses a reply line: ok, and the error text when not ok. */
static gboolean
reply_ok (const char  *line,
          char       **error_text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_assert_nonnull (line);
  g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  if (error_text != NULL)
    *error_text = g_strdup (json_object_get_string_member_with_default (o, "error", NULL));
  return json_object_get_boolean_member (o, "ok");
}

static char *
ask (int         fd,
     const char *line)
{
  g_autofree char *with_nl = g_strconcat (line, "\n", NULL);

  send_all (fd, with_nl, strlen (with_nl));
  return read_line (fd, 5);
}

static void
test_socket_mode (Fixture       *f,
                  gconstpointer  data)
{
  struct stat st;

  g_assert_cmpint (lstat (f->socket_path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
}

/* Each bad line gets an error naming the problem, and the same connection
 * still serves the next request: nothing a client sends ends the server. */
static void
test_hostile_lines (Fixture       *f,
                    gconstpointer  data)
{
  int fd = test_util_connect_unix (f->socket_path);

  for (gsize i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    {
      g_autofree char *reply = ask (fd, bad_requests[i].line);
      g_autofree char *error_text = NULL;

      g_assert_false (reply_ok (reply, &error_text));
      g_assert_nonnull (strstr (error_text, bad_requests[i].error_contains));
    }

  {
    g_autofree char *reply = ask (fd, "{\"method\":\"status\"}");
    g_assert_true (reply_ok (reply, NULL));
  }
  {
    /* A CRLF line is the same request. */
    g_autofree char *reply = ask (fd, "{\"method\":\"status\"}\r");
    g_assert_true (reply_ok (reply, NULL));
  }
  close (fd);
}

/* A line longer than 64 KiB: an error, then the server hangs up; it never
 * holds more than the limit and a bit for one client. */
static void
test_long_line (Fixture       *f,
                gconstpointer  data)
{
  gsize n = 1024 * 1024;
  g_autofree char *big = g_strnfill (n, ' ');
  g_autofree char *reply = NULL;
  g_autofree char *error_text = NULL;
  int fd = test_util_connect_unix (f->socket_path);
  pid_t writer;

  /* A child writes the megabyte: the server stops reading it, and a
   * blocking send in this process would never return. */
  writer = fork ();
  g_assert_cmpint (writer, >=, 0);
  if (writer == 0)
    {
      send_all (fd, big, n);
      _exit (0);
    }

  reply = read_line (fd, 5);
  g_assert_false (reply_ok (reply, &error_text));
  g_assert_nonnull (strstr (error_text, "longer than 65536 bytes"));
  g_assert_null (read_line (fd, 5));  /* hung up */
  close (fd);
  kill (writer, SIGKILL);
  waitpid (writer, NULL, 0);

  while (tether_control_get_n_clients (f->control) > 0)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_too_many_clients (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree char *reply = NULL;
  g_autofree char *error_text = NULL;
  int extra;

  for (guint i = 0; i < TETHER_CONTROL_MAX_CLIENTS; i++)
    {
      int fd = test_util_connect_unix (f->socket_path);
      g_array_append_val (fds, fd);
    }
  while (tether_control_get_n_clients (f->control) < TETHER_CONTROL_MAX_CLIENTS)
    g_main_context_iteration (NULL, TRUE);

  extra = test_util_connect_unix (f->socket_path);
  reply = read_line (extra, 5);
  g_assert_false (reply_ok (reply, &error_text));
  g_assert_nonnull (strstr (error_text, "Too many control connections (64)"));
  g_assert_null (read_line (extra, 1));
  close (extra);

  /* The ones inside are still served. */
  {
    g_autofree char *status = ask (g_array_index (fds, int, 0), "{\"method\":\"status\"}");
    g_assert_true (reply_ok (status, NULL));
  }
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
}

/* A queue of connections is taken 64 a wakeup, so that a flood of them
 * leaves the main loop free for the rest in between; all are served. */
static void
test_accept_per_wakeup (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  guint n = 100;  /* under the listen backlog of 128 */

  tether_control_set_limits (f->control, 2 * n, TETHER_CONTROL_IDLE_TIMEOUT * 1000);
  for (guint i = 0; i < n; i++)
    {
      int fd = test_util_connect_unix (f->socket_path);

      g_assert_cmpint (fd, >=, 0);
      g_array_append_val (fds, fd);
    }

  while (tether_control_get_n_clients (f->control) == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (tether_control_get_n_clients (f->control), ==, 64);
  while (tether_control_get_n_clients (f->control) < n)
    g_main_context_iteration (NULL, TRUE);

  {
    g_autofree char *status = ask (g_array_index (fds, int, n - 1), "{\"method\":\"status\"}");
    g_assert_true (reply_ok (status, NULL));
  }
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
}

static void
test_idle_timeout (Fixture       *f,
                   gconstpointer  data)
{
  int silent, chatty;
  gint64 start;

  tether_control_set_limits (f->control, TETHER_CONTROL_MAX_CLIENTS, 300);
  silent = test_util_connect_unix (f->socket_path);
  chatty = test_util_connect_unix (f->socket_path);
  start = g_get_monotonic_time ();

  /* A client that keeps asking stays; one that says nothing goes. */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *reply = ask (chatty, "{\"method\":\"status\"}");
      g_assert_true (reply_ok (reply, NULL));
      test_util_wait_flag (&(gboolean) { FALSE }, 0.15);
    }
  g_assert_null (read_line (silent, 2));  /* EOF: closed by the server */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  {
    g_autofree char *reply = ask (chatty, "{\"method\":\"status\"}");
    g_assert_true (reply_ok (reply, NULL));
  }
  close (silent);
  close (chatty);
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* Past the descriptor limit, accept() fails for a connection that stays
 * pending: the server must pause, not spin (it once burnt 96 % of a core
 * and logged 188 000 warnings), and serve again once descriptors free up. */
static void
test_out_of_fds (Fixture       *f,
                 gconstpointer  data)
{
  struct rlimit saved, tight;
  int probe, sync_pipe[2];
  double cpu_before, cpu_used;
  pid_t clients;
  char go;

  /* The connections come from a child: its descriptors are its own. */
  g_assert_cmpint (pipe (sync_pipe), ==, 0);
  clients = fork ();
  g_assert_cmpint (clients, >=, 0);
  if (clients == 0)
    {
      close (sync_pipe[1]);
      for (guint i = 0; i < 10; i++)
        if (test_util_connect_unix (f->socket_path) < 0)
          _exit (1);
      if (read (sync_pipe[0], &go, 1) < 0)
        _exit (1);
      _exit (0);
    }
  close (sync_pipe[0]);

  /* Leave this process no descriptor to accept with. */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  probe = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (probe, >=, 0);
  close (probe);
  tight = saved;
  tight.rlim_cur = probe;  /* the lowest free descriptor: none is left */
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &tight), ==, 0);

  n_messages = 0;
  cpu_before = cpu_seconds ();
  test_util_wait_flag (&(gboolean) { FALSE }, 1.5);
  cpu_used = cpu_seconds () - cpu_before;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);

  g_test_message ("CPU while out of descriptors: %.3f s in 1.5 s, %u messages", cpu_used, n_messages);
  g_assert_cmpfloat (cpu_used, <, 0.3);
  g_assert_cmpuint (n_messages, ==, 1);
  g_assert_nonnull (strstr (last_message, "Cannot accept control connections"));
  g_assert_cmpuint (tether_control_get_n_clients (f->control), ==, 0);

  /* Descriptors are back: the waiting clients get in. */
  while (tether_control_get_n_clients (f->control) < 10)
    g_main_context_iteration (NULL, TRUE);
  {
    int fd = test_util_connect_unix (f->socket_path);
    g_autofree char *reply = ask (fd, "{\"method\":\"status\"}");

    g_assert_true (reply_ok (reply, NULL));
    close (fd);
  }
  g_assert_cmpint (write (sync_pipe[1], "g", 1), ==, 1);
  close (sync_pipe[1]);
  waitpid (clients, NULL, 0);
}

/* ---- the runtime directory and the other user ------------------------ */

static char *
prepare_runtime (const char *name,
                 mode_t      mode,
                 uid_t       owner,
                 gboolean    as_symlink)
{
  g_autofree char *runtime = g_build_filename (test_util_tmpdir (), name, NULL);
  g_autofree char *tether = g_build_filename (runtime, "tether", NULL);

  g_assert_cmpint (g_mkdir_with_parents (runtime, 0700), ==, 0);
  if (as_symlink)
    {
      g_autofree char *target = g_build_filename (runtime, "elsewhere", NULL);
      g_assert_cmpint (g_mkdir (target, 0700), ==, 0);
      g_assert_cmpint (symlink (target, tether), ==, 0);
    }
  else
    {
      g_assert_cmpint (g_mkdir (tether, 0700), ==, 0);
      g_assert_cmpint (chmod (tether, mode), ==, 0);
      g_assert_cmpint (chown (tether, owner, (gid_t) -1), ==, 0);
    }
  return g_steal_pointer (&runtime);
}

static void
test_runtime_dir_refused (void)
{
  struct passwd *nobody = getpwnam ("nobody");
  struct { const char *name; mode_t mode; uid_t owner; gboolean link; const char *reason; } cases[] = {
    { "open-to-all", 0777, 0, FALSE, "can be used by other users (mode 0777)" },
    { "group", 0750, 0, FALSE, "can be used by other users (mode 0750)" },
    { "other-owner", 0700, 0, FALSE, "belongs to user" },
    { "symlink", 0700, 0, TRUE, "is a symbolic link" },
  };

  g_assert_nonnull (nobody);
  cases[2].owner = nobody->pw_uid;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *runtime = prepare_runtime (cases[i].name, cases[i].mode, cases[i].owner,
                                                  cases[i].link);
      g_autofree char *dir = g_build_filename (runtime, "tether", NULL);
      g_autoptr(GError) error = NULL;

      g_assert_false (tether_runtime_dir_verify (dir, &error));
      if (strstr (error->message, cases[i].reason) == NULL || strstr (error->message, dir) == NULL)
        g_error ("%s: “%s” should name %s and say “%s”", cases[i].name, error->message, dir,
                 cases[i].reason);
    }
}

/* The server and tetherctl run with a prepared runtime directory: the
 * server refuses to start there, naming it. */
static void
test_runtime_dir_run (void)
{
  g_autofree char *runtime = prepare_runtime ("open-run", 0777, 0, FALSE);
  g_autofree char *dir = g_build_filename (runtime, "tether", NULL);
  const char *argv[] = { "sleep", "1000", NULL };
  g_autofree char *profile = test_util_write_profile (NULL, argv);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) run = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  run = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("TETHERCTL"), "run", profile, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (run, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (run), ==, 1);
  g_assert_nonnull (strstr (err, dir));
  g_assert_nonnull (strstr (err, "can be used by other users"));
  g_unlink (profile);
}

/* A socket another user serves (here: nobody, in a directory we let it
 * write to) is never believed, whatever it answers. */
static void
test_client_checks_server (void)
{
  struct passwd *nobody = getpwnam ("nobody");
  g_autofree char *dir = g_dir_make_tmp ("tether-spoof-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "spoof.sock", NULL);
  g_autoptr(JsonNode) request = json_from_string ("{\"method\":\"stop\"}", NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  int ready_pipe[2];
  pid_t spoofer;
  char c;

  g_assert_nonnull (nobody);
  g_assert_nonnull (dir);
  g_assert_cmpint (chmod (dir, 0777), ==, 0);
  g_assert_cmpint (pipe (ready_pipe), ==, 0);

  spoofer = fork ();
  g_assert_cmpint (spoofer, >=, 0);
  if (spoofer == 0)
    {
      struct sockaddr_un address = { .sun_family = AF_UNIX };
      const char answer[] = "{\"ok\":true,\"result\":{\"ended\":{},\"forced\":false,\"elapsed\":0.1}}\n";
      int fd, client;

      if (setgid (nobody->pw_gid) < 0 || setuid (nobody->pw_uid) < 0)
        _exit (2);
      fd = socket (AF_UNIX, SOCK_STREAM, 0);
      g_strlcpy (address.sun_path, path, sizeof address.sun_path);
      if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0 || listen (fd, 4) < 0)
        _exit (3);
      if (write (ready_pipe[1], "r", 1) != 1)
        _exit (4);
      client = accept (fd, NULL, NULL);
      if (write (client, answer, sizeof answer - 1) < 0)
        _exit (5);
      pause ();
      _exit (0);
    }
  close (ready_pipe[1]);
  g_assert_cmpint (read (ready_pipe[0], &c, 1), ==, 1);
  close (ready_pipe[0]);

  reply = tether_control_call (path, request, 5, &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "served by user"));
  g_assert_nonnull (strstr (error->message, "not by you"));

  kill (spoofer, SIGKILL);
  waitpid (spoofer, NULL, 0);
  g_unlink (path);
  g_rmdir (dir);
}

/* ---- the client against a server of ours that answers badly ----------- */

typedef struct
{
  const char *name;
  const char *reply;      /* NULL: padded to the limit, see test_client_reply */
  gsize length;
  gboolean hold;          /* keep the connection open after the reply */
  const char *error_contains;  /* NULL: the call succeeds */
} BadReply;

#define REPLY(text) text, sizeof text - 1

static const BadReply bad_replies[] = {
  { "ok", REPLY ("{\"ok\":true,\"result\":7}\n"), FALSE, NULL },
  { "ok-at-eof", REPLY ("{\"ok\":true,\"result\":7}"), FALSE, NULL },
  { "error", REPLY ("{\"ok\":false,\"error\":\"nope\"}\n"), FALSE, "nope" },
  { "closed", REPLY (""), FALSE, "closed the connection without replying" },
  { "empty", REPLY ("\n"), FALSE, "Malformed reply" },
  { "array", REPLY ("[]\n"), FALSE, "Malformed reply" },
  { "invalid-utf8", REPLY ("{\"ok\":true,\"result\":\"\xff\"}\n"), FALSE, "Malformed reply" },
  { "nul", REPLY ("{\"ok\":true,\"result\":\"a\0b\"}\n"), FALSE, "Malformed reply" },
  { "deep", REPLY ("{\"ok\":true,\"result\":[[[[[[[[[[]]]]]]]]]]}\n"), FALSE, "Malformed reply" },
  { "not-json", REPLY ("{\"ok\":tru}\n"), FALSE, "1:7:" },
  /* As long as a reply may be, newline after: still read. */
  { "at-limit", NULL, TETHER_CONTROL_MAX_REPLY, FALSE, NULL },
  /* One byte more and no newline yet, the server still there: refused at
   * once, not when the newline (or the timeout) comes. */
  { "over-limit", NULL, TETHER_CONTROL_MAX_REPLY + 1, TRUE, "Malformed reply" },
};

static void
test_client_reply (gconstpointer data)
{
  const BadReply *bad = data;
  g_autofree char *dir = g_build_filename (test_util_tmpdir (), "reply-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autofree char *padded = NULL;
  g_autoptr(JsonNode) request = json_from_string ("{\"method\":\"status\"}", NULL);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *answer = bad->reply;
  gsize length = bad->length;
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  gint64 start;
  pid_t server;
  int fd;

  g_assert_nonnull (g_mkdtemp (dir));
  path = g_build_filename (dir, "bad.sock", NULL);

  if (answer == NULL)
    {
      /* A whole reply padded with spaces to length bytes, then a newline
       * unless that would make it longer than the limit. */
      const char head[] = "{\"ok\":true,\"result\":7}";

      padded = g_malloc (length + 1);
      memset (padded, ' ', length + 1);
      memcpy (padded, head, sizeof head - 1);
      if (length <= TETHER_CONTROL_MAX_REPLY)
        padded[length++] = '\n';
      answer = padded;
    }

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);

  server = fork ();
  g_assert_cmpint (server, >=, 0);
  if (server == 0)
    {
      int client = accept (fd, NULL, NULL);
      char c = 0;

      if (client < 0)
        _exit (2);
      while (c != '\n')  /* the request, first */
        if (read (client, &c, 1) != 1)
          _exit (3);
      send_all (client, answer, length);
      /* Until the client hangs up (or dies). */
      while (bad->hold && read (client, &c, 1) > 0)
        ;
      _exit (0);
    }
  close (fd);

  start = g_get_monotonic_time ();
  reply = tether_control_call (path, request, 30, &error);
  if (bad->error_contains == NULL)
    {
      g_assert_no_error (error);
      g_assert_nonnull (reply);
      g_assert_cmpint (json_node_get_int (reply), ==, 7);
    }
  else
    {
      g_assert_null (reply);
      g_assert_nonnull (error);
      if (strstr (error->message, bad->error_contains) == NULL)
        g_error ("The reply “%s” gave “%s”, expected it to contain “%s”",
                 bad->name, error->message, bad->error_contains);
    }
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);

  kill (server, SIGKILL);
  waitpid (server, NULL, 0);
  g_unlink (path);
  g_rmdir (dir);
}

/* A supervisor killed outright leaves its socket; the next one to start in
 * the same directory removes it (and leaves live ones alone). */
static void
test_stale_sweep (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *dead = g_build_filename (f->dir, "dead.sock", NULL);
  g_autofree char *fresh = g_build_filename (f->dir, "fresh.sock", NULL);
  g_autofree char *other = g_build_filename (f->dir, "other.sock", NULL);
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autoptr(TetherControl) second = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  /* Bound, then closed without unlinking: what SIGKILL leaves. */
  g_strlcpy (address.sun_path, dead, sizeof address.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  close (fd);

  /* A socket bound an instant ago may be a supervisor between bind() and
   * listen(): only older ones are judged. */
  test_util_wait_flag (&(gboolean) { FALSE }, 2.2);
  g_strlcpy (address.sun_path, fresh, sizeof address.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  close (fd);

  second = tether_control_new (f->supervisor, other, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (dead, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (f->socket_path, G_FILE_TEST_EXISTS));  /* alive */
  g_unlink (fresh);
  g_object_run_dispose (G_OBJECT (second));
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
}

#define add(name, func) \
  g_test_add ("/control/server/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_log_set_writer_func (count_messages, NULL, NULL);
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    {
      g_autofree char *path = g_strdup_printf ("/control/parse/bad/%s", bad_requests[i].name);
      g_test_add_data_func (path, &bad_requests[i], test_parse_bad);
    }
  g_test_add_func ("/control/parse/good", test_parse_good);
  g_test_add_func ("/control/parse/deep", test_parse_deep);
  g_test_add_func ("/control/parse/nul", test_parse_nul);

  add ("socket-mode", test_socket_mode);
  add ("hostile-lines", test_hostile_lines);
  add ("long-line", test_long_line);
  add ("too-many-clients", test_too_many_clients);
  add ("accept-per-wakeup", test_accept_per_wakeup);
  add ("idle-timeout", test_idle_timeout);
  add ("out-of-fds", test_out_of_fds);
  add ("stale-sweep", test_stale_sweep);
  g_test_add_func ("/control/runtime-dir/refused", test_runtime_dir_refused);
  g_test_add_func ("/control/runtime-dir/run", test_runtime_dir_run);
  g_test_add_func ("/control/client/checks-server", test_client_checks_server);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_replies); i++)
    {
      g_autofree char *path = g_strdup_printf ("/control/client/reply/%s", bad_replies[i].name);
      g_test_add_data_func (path, &bad_replies[i], test_client_reply);
    }

  return g_test_run ();
}
