/* test-diagnose.c: the /proc snapshot support staff read, on real processes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tether-diagnose.h"
#include "tether-error.h"
#include "tether-procfs.h"
#include "test-util.h"

static void
kill_child (pid_t pid)
{
  int status;

  if (pid <= 0)
    return;
  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
}

static JsonObject *
diagnose (pid_t      pid,
          JsonNode **out_node)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = tether_diagnose_process (pid, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  text = json_to_string (node, TRUE);
  g_test_message ("%s", text);
  *out_node = node;
  return json_node_get_object (node);
}

/* The "listening" entry with proto and address, or NULL. */
static JsonObject *
find_listening (JsonObject *object,
                const char *proto,
                const char *address)
{
  JsonArray *listening = json_object_get_array_member (object, "listening");
  guint i;

  g_assert_nonnull (listening);
  for (i = 0; i < json_array_get_length (listening); i++)
    {
      JsonObject *entry = json_array_get_object_element (listening, i);

      if (g_strcmp0 (json_object_get_string_member (entry, "proto"), proto) == 0 &&
          !json_object_get_null_member (entry, "address") &&
          g_strcmp0 (json_object_get_string_member (entry, "address"), address) == 0)
        return entry;
    }
  return NULL;
}

static void
test_blocked_read (void)
{
  int fds[2];
  pid_t pid;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object = NULL;
  JsonObject *syscall = NULL;

  g_assert_no_errno (pipe (fds));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      char byte;

      close (fds[1]);
      /* Nobody writes: the parent keeps the write end open and silent. */
      while (read (fds[0], &byte, 1) < 0 && errno == EINTR)
        ;
      _exit (0);
    }
  close (fds[0]);

  /* Until the child is asleep in read(). */
  for (;;)
    {
      g_clear_pointer (&node, json_node_unref);
      object = diagnose (pid, &node);
      syscall = json_object_get_null_member (object, "syscall") ? NULL
                : json_object_get_object_member (object, "syscall");
      if (g_strcmp0 (json_object_get_string_member (object, "state"), "S") == 0 &&
          syscall != NULL && json_object_has_member (syscall, "number") &&
          json_object_get_int_member (syscall, "number") == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }

  g_assert_cmpint (json_object_get_int_member (object, "pid"), ==, pid);
  g_assert_cmpstr (json_object_get_string_member (object, "state_label"), ==, "sleeping");
  g_assert_false (json_object_get_boolean_member (object, "uninterruptible"));
#if defined(__x86_64__)
  g_assert_cmpstr (json_object_get_string_member (syscall, "name"), ==, "read");
#else
  g_test_message ("Not x86_64: the syscall name is not checked");
#endif
  g_assert_true (json_object_has_member (object, "wchan"));
  if (json_object_get_null_member (object, "wchan"))
    g_test_message ("The kernel hides wchan (it says 0)");
  else
    g_assert_cmpstr (json_object_get_string_member (object, "wchan"), !=, "");
  /* stdin/out/err and the pipe, at least. */
  g_assert_cmpint (json_object_get_int_member (object, "open_files"), >, 0);
  g_assert_true (json_object_has_member (object, "stack"));
  g_assert_true (json_object_has_member (object, "cpu_seconds"));
  g_assert_cmpint (json_object_get_int_member (object, "rss_bytes"), >, 0);
  g_assert_nonnull (json_object_get_string_member (object, "started"));
  g_assert_true (strstr (json_object_get_string_member (object, "cmdline"), "test-diagnose") != NULL);

  kill_child (pid);
  close (fds[1]);
}

static void
test_listening_tcp (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t length = sizeof addr;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *expected = NULL;
  JsonObject *object, *entry;
  pid_t pid;
  int fd;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (fd, 4));
  g_assert_no_errno (getsockname (fd, (struct sockaddr *) &addr, &length));
  expected = g_strdup_printf ("127.0.0.1:%u", ntohs (addr.sin_port));

  /* The child owns the listening socket; the parent lets go of it. */
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      for (;;)
        pause ();
    }
  close (fd);

  object = diagnose (pid, &node);
  entry = find_listening (object, "tcp", expected);
  g_assert_nonnull (entry);
  g_assert_cmpint (json_object_get_int_member (entry, "inode"), >, 0);

  kill_child (pid);
}

static void
test_listening_unix (void)
{
  struct sockaddr_un addr = { 0 };
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "diagnose.sock", NULL);
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  pid_t pid;
  int fd;

  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  g_unlink (path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  addr.sun_family = AF_UNIX;
  strcpy (addr.sun_path, path);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (fd, 4));

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      for (;;)
        pause ();
    }
  close (fd);

  object = diagnose (pid, &node);
  g_assert_nonnull (find_listening (object, "unix", path));

  kill_child (pid);
  g_unlink (path);
}

static void *
sleeping_thread (void *data)
{
  for (;;)
    pause ();
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  JsonArray *threads;
  int ready[2];
  char byte;
  pid_t pid;
  guint i;
  gboolean saw_main = FALSE;

  g_assert_no_errno (pipe (ready));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      pthread_t thread;

      close (ready[0]);
      for (i = 0; i < 2; i++)
        if (pthread_create (&thread, NULL, sleeping_thread, NULL) != 0)
          _exit (1);
      if (write (ready[1], "x", 1) != 1)
        _exit (1);
      for (;;)
        pause ();
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &byte, 1), ==, 1);
  close (ready[0]);

  object = diagnose (pid, &node);
  threads = json_object_get_array_member (object, "threads");
  g_assert_cmpuint (json_array_get_length (threads), ==, 3);
  for (i = 0; i < 3; i++)
    {
      JsonObject *thread = json_array_get_object_element (threads, i);

      g_assert_cmpint (json_object_get_int_member (thread, "tid"), >, 0);
      g_assert_nonnull (json_object_get_string_member (thread, "name"));
      g_assert_cmpuint (strlen (json_object_get_string_member (thread, "state")), ==, 1);
      if (json_object_get_int_member (thread, "tid") == pid)
        saw_main = TRUE;
    }
  g_assert_true (saw_main);

  kill_child (pid);
}

static void
test_zombie (void)
{
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  pid_t pid;

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  while (test_util_proc_state (pid) != 'Z')
    g_usleep (10 * 1000);

  /* Not reaped yet: still there to be diagnosed. */
  object = diagnose (pid, &node);
  g_assert_cmpstr (json_object_get_string_member (object, "state"), ==, "Z");
  g_assert_cmpstr (json_object_get_string_member (object, "state_label"), ==, "zombie");

  kill_child (pid);
}

static pid_t
gone_pid (void)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return pid;
}

static void
test_no_such_process (void)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = tether_diagnose_process (gone_pid (), &error);
  g_assert_null (node);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER);
  g_clear_error (&error);

  node = tether_diagnose_process (0, &error);
  g_assert_null (node);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER);
}

/* Last: the worker thread it starts stays, and the tests above fork. */
static void
test_async (void)
{
  TestUtilAwait await = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *object;
  TetherProcStat st;

  tether_diagnose_process_async (getpid (), NULL, test_util_await_cb, &await);
  node = tether_diagnose_process_finish (test_util_await (&await), &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  object = json_node_get_object (node);
  g_assert_cmpint (json_object_get_int_member (object, "pid"), ==, getpid ());
  g_assert_no_errno (tether_procfs_read_stat (getpid (), &st));
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, st.comm);
  g_assert_cmpint (json_object_get_int_member (object, "open_files"), >, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "threads")), >=, 1);
  g_assert_cmpfloat (json_object_get_double_member (object, "cpu_seconds"), >=, 0.0);

  tether_diagnose_process_async (gone_pid (), NULL, test_util_await_cb, &await);
  g_assert_null (tether_diagnose_process_finish (test_util_await (&await), &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER);
}

int
main (int   argc,
      char *argv[])
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/diagnose/blocked-read", test_blocked_read);
  g_test_add_func ("/diagnose/listening-tcp", test_listening_tcp);
  g_test_add_func ("/diagnose/listening-unix", test_listening_unix);
  g_test_add_func ("/diagnose/threads", test_threads);
  g_test_add_func ("/diagnose/zombie", test_zombie);
  g_test_add_func ("/diagnose/no-such-process", test_no_such_process);
  g_test_add_func ("/diagnose/async", test_async);

  return g_test_run ();
}
