/* test-notify.c: the NOTIFY_SOCKET server, with real sockets and processes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-notify.h"
#include "tether-text.h"

#define TIMEOUT_SECONDS 5
#define BURST_SIZE 200

/* Set in main(), before anything asks GLib for the runtime directory (which it
 * caches), so that no test depends on the real $XDG_RUNTIME_DIR. */
static char *runtime_dir;

/* g_test_expect_message() does not see structured logging, so the library's
 * log messages are counted by a writer that then prints them as usual. */
static guint n_logged_messages;
static char *last_logged_message;

static GLogWriterOutput
count_messages_writer (GLogLevelFlags   log_level,
                       const GLogField *fields,
                       gsize            n_fields,
                       gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    }

  if ((log_level & G_LOG_LEVEL_MESSAGE) && g_strcmp0 (domain, "Tether") == 0)
    {
      n_logged_messages++;
      g_free (last_logged_message);
      last_logged_message = g_strdup (message);
    }

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

static void
assert_absent_defaults (const TetherNotifyMessage *msg)
{
  g_assert_false (msg->stopping);
  g_assert_false (msg->reloading);
  g_assert_false (msg->watchdog);
  g_assert_false (msg->watchdog_trigger);
  g_assert_cmpint (msg->watchdog_usec, ==, -1);
  g_assert_cmpint (msg->extend_timeout_usec, ==, -1);
  g_assert_cmpint (msg->mainpid, ==, 0);
  g_assert_cmpint (msg->errno_value, ==, -1);
  g_assert_null (msg->checkpoint_id);
  g_assert_null (msg->checkpoint_label);
}

static void
test_parse_ready_status (void)
{
  const char data[] = "READY=1\nSTATUS=Loading: 3 = three items\n";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_true (msg.ready);
  g_assert_cmpstr (msg.status, ==, "Loading: 3 = three items");
  assert_absent_defaults (&msg);

  /* The strings live in the copy, not in the caller's buffer. */
  g_assert_nonnull (storage);
  g_assert_true (msg.status > storage && msg.status < storage + strlen (data));
}

/* STATUS= and labels are shown in terminals and windows: what could drive
 * a terminal (a title change, a screen clear, a carriage return forging a
 * line) or flip text direction becomes '?', and they are cut to size. */
static void
test_parse_sanitises (void)
{
  g_autofree char *long_status = g_strnfill (5000, 'x');
  g_autofree char *data = g_strdup_printf ("STATUS=\x1b]0;pwned\x07\x1b[2Jok\rfake \u202e"
                                           "\nX_TETHER_CHECKPOINT=7 lab\x1b[31mel\xc2\x85");
  g_autofree char *data_long = g_strdup_printf ("STATUS=%s\nX_TETHER_CHECKPOINT=8 %s",
                                                long_status, long_status);
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autofree char *storage_long = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.status, ==, "?]0;pwned??[2Jok?fake ?");
  g_assert_cmpstr (msg.checkpoint_id, ==, "7");
  g_assert_cmpstr (msg.checkpoint_label, ==, "lab?[31mel?");

  g_assert_true (tether_notify_parse (data_long, strlen (data_long), &msg, &storage_long, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (msg.status), ==, 1024);
  g_assert_true (g_str_has_suffix (msg.status, "xxx…"));
  g_assert_cmpuint (strlen (msg.checkpoint_label), ==, 256);
  g_assert_true (g_str_has_suffix (msg.checkpoint_label, "x…"));
}

static void
test_parse_not_nul_terminated (void)
{
  /* Datagrams are not NUL-terminated: only length bytes may be read. */
  const char data[] = "STATUS=abcdefXXXX";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen ("STATUS=abcdef"), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.status, ==, "abcdef");
  g_assert_false (msg.ready);
}

static void
test_parse_extend_timeout (void)
{
  const char data[] = "EXTEND_TIMEOUT_USEC=5000000";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msg.extend_timeout_usec, ==, 5000000);
  g_assert_cmpint (msg.watchdog_usec, ==, -1);
  g_assert_false (msg.ready);
  g_assert_null (msg.status);
}

static void
test_parse_watchdog (void)
{
  const char data[] = "WATCHDOG=1\nWATCHDOG_USEC=9223372036854775807\n";
  const char trigger[] = "WATCHDOG=trigger\nWATCHDOG_USEC=0";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autofree char *storage2 = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_true (msg.watchdog);
  g_assert_false (msg.watchdog_trigger);
  g_assert_cmpint (msg.watchdog_usec, ==, G_MAXINT64);

  g_assert_true (tether_notify_parse (trigger, strlen (trigger), &msg, &storage2, &error));
  g_assert_no_error (error);
  g_assert_false (msg.watchdog);
  g_assert_true (msg.watchdog_trigger);
  g_assert_cmpint (msg.watchdog_usec, ==, 0);
}

static void
test_parse_mainpid (void)
{
  const char data[] = "MAINPID=1234\nSTOPPING=1\nRELOADING=1\nERRNO=0";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msg.mainpid, ==, 1234);
  g_assert_true (msg.stopping);
  g_assert_true (msg.reloading);
  g_assert_cmpint (msg.errno_value, ==, 0);
}

static void
test_parse_checkpoint (void)
{
  const char data[] = "X_TETHER_CHECKPOINT=db:migrated-2.1_a Database migrated (42 tables)";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.checkpoint_id, ==, "db:migrated-2.1_a");
  g_assert_cmpstr (msg.checkpoint_label, ==, "Database migrated (42 tables)");
}

static void
test_parse_checkpoint_no_label (void)
{
  const char data[] = "X_TETHER_CHECKPOINT=warm\nX_TETHER_CHECKPOINT=cache.warm";
  const char trailing_space[] = "X_TETHER_CHECKPOINT=warm ";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autofree char *storage2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *longest = g_strdup_printf ("X_TETHER_CHECKPOINT=%0128d", 7);
  g_autofree char *storage3 = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.checkpoint_id, ==, "cache.warm");
  g_assert_null (msg.checkpoint_label);

  g_assert_true (tether_notify_parse (trailing_space, strlen (trailing_space),
                                      &msg, &storage2, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.checkpoint_id, ==, "warm");
  g_assert_null (msg.checkpoint_label);

  g_assert_true (tether_notify_parse (longest, strlen (longest), &msg, &storage3, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (msg.checkpoint_id), ==, 128);
}

static void
test_parse_unknown_keys (void)
{
  const char data[] = "FDSTORE=1\nFDNAME=listener\nBUSERROR=org.example.Failed\n\nREADY=1\nX_OTHER_2=\n";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_true (msg.ready);
  g_assert_null (msg.status);
  assert_absent_defaults (&msg);
}

static void
test_parse_last_wins (void)
{
  const char data[] = "STATUS=first\nWATCHDOG=trigger\nMAINPID=10\nSTATUS=second\n"
                      "WATCHDOG=1\nMAINPID=20\nX_TETHER_CHECKPOINT=a label\n"
                      "X_TETHER_CHECKPOINT=b\nSTATUS=";
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (msg.status, ==, "");
  g_assert_true (msg.watchdog);
  g_assert_false (msg.watchdog_trigger);
  g_assert_cmpint (msg.mainpid, ==, 20);
  g_assert_cmpstr (msg.checkpoint_id, ==, "b");
  g_assert_null (msg.checkpoint_label);
}

typedef struct
{
  const char *name;
  const char *data;
  gssize length;          /* -1: strlen (data) */
  const char *expected;   /* must appear in the error message */
} MalformedCase;

static const MalformedCase malformed_cases[] = {
  { "empty", "", 0, "empty" },
  { "only-newlines", "\n\n\n", -1, "empty" },
  { "nul-byte", "READY=1\nSTATUS=a\0b", 18, "line 2:" },
  { "invalid-utf8", "READY=1\n\nSTATUS=\xff\xfe", -1, "line 3:" },
  { "no-equals", "READY=1\nFOO", -1, "line 2: \"FOO\" has no \"=\"" },
  { "empty-key", "=1", -1, "line 1:" },
  { "lowercase-key", "STATUS=ok\nready=1", -1, "line 2:" },
  { "key-with-space", "READY =1", -1, "line 1:" },
  { "ready-2", "READY=2", -1, "line 1: READY" },
  { "ready-empty", "READY=", -1, "line 1:" },
  { "stopping-yes", "STATUS=x\nSTOPPING=yes", -1, "line 2: STOPPING" },
  { "reloading-0", "RELOADING=0", -1, "line 1: RELOADING" },
  { "watchdog-0", "WATCHDOG=0", -1, "line 1: WATCHDOG" },
  { "watchdog-usec-negative", "WATCHDOG_USEC=-1", -1, "line 1: WATCHDOG_USEC" },
  { "watchdog-usec-plus", "WATCHDOG_USEC=+5", -1, "line 1:" },
  { "watchdog-usec-space", "WATCHDOG_USEC= 5", -1, "line 1:" },
  { "watchdog-usec-text", "READY=1\nWATCHDOG_USEC=5s", -1, "line 2:" },
  { "watchdog-usec-empty", "WATCHDOG_USEC=", -1, "line 1:" },
  { "extend-overflow", "EXTEND_TIMEOUT_USEC=9223372036854775808", -1, "line 1: EXTEND_TIMEOUT_USEC" },
  { "extend-huge", "EXTEND_TIMEOUT_USEC=99999999999999999999999", -1, "line 1:" },
  { "mainpid-zero", "MAINPID=0", -1, "line 1: MAINPID" },
  { "mainpid-negative", "MAINPID=-5", -1, "line 1:" },
  { "mainpid-overflow", "MAINPID=2147483648", -1, "line 1:" },
  { "errno-negative", "ERRNO=-1", -1, "line 1: ERRNO" },
  { "errno-text", "ERRNO=ENOENT", -1, "line 1:" },
  { "checkpoint-empty", "X_TETHER_CHECKPOINT=", -1, "line 1:" },
  { "checkpoint-empty-id", "READY=1\n\nX_TETHER_CHECKPOINT= label", -1, "line 3:" },
  { "checkpoint-bad-id", "X_TETHER_CHECKPOINT=a/b label", -1, "line 1:" },
  { "checkpoint-long-id",
    "X_TETHER_CHECKPOINT="
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    -1, "line 1:" },
  { "error-after-valid-lines", "READY=1\nSTATUS=fine\nMAINPID=abc\n", -1, "line 3:" },
};

static void
test_parse_malformed (gconstpointer data)
{
  const MalformedCase *test_case = data;
  gsize length = test_case->length < 0 ? strlen (test_case->data) : (gsize) test_case->length;
  TetherNotifyMessage msg;
  char *storage = (char *) "not touched";
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_notify_parse (test_case->data, length, &msg, &storage, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_assert_null (storage);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, test_case->expected));
}

static void
test_parse_error_quotes_safely (void)
{
  /* A hostile line must not reach the log verbatim: control characters are
   * escaped and the excerpt is bounded. */
  g_autofree char *data = g_strdup_printf ("\x1b[31mEVIL%0200d", 0);
  TetherNotifyMessage msg;
  char *storage = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_notify_parse (data, strlen (data), &msg, &storage, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_assert_null (strchr (error->message, '\x1b'));
  g_assert_cmpuint (strlen (error->message), <, 100);
}

static void
test_parse_error_quotes_bidi (void)
{
  /* A right-to-left override in a quoted key or value would reorder the
   * rest of the log line (found by fuzz-notify). */
  const char *data[] = {
    "STOP\u202ePING=1",
    "READY=1\u2066",
    "MAINPID=\u200f12",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (data); i++)
    {
      TetherNotifyMessage msg;
      char *storage = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_false (tether_notify_parse (data[i], strlen (data[i]), &msg, &storage, &error));
      g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
      for (const char *p = error->message; *p != '\0'; p = g_utf8_next_char (p))
        g_assert_false (tether_text_is_unsafe_char (g_utf8_get_char (p)));
      g_assert_nonnull (strstr (error->message, "\\u20"));
    }
}

/* ------------------------------------------------------------------------ */
/* Server                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct
{
  pid_t sender;
  gboolean ready;
  char *status;
  char *checkpoint_id;
} Received;

static void
received_free (gpointer data)
{
  Received *received = data;

  g_free (received->status);
  g_free (received->checkpoint_id);
  g_free (received);
}

typedef struct
{
  TetherNotify *notify;
  GMainLoop *loop;
  GPtrArray *received;
  guint n_filter_calls;
  pid_t accepted_pid;
  gboolean timed_out;
} Fixture;

static void
on_message (TetherNotify              *notify,
            const TetherNotifyMessage *msg,
            gpointer                   user_data)
{
  Fixture *fixture = user_data;
  Received *received = g_new0 (Received, 1);

  received->sender = msg->sender;
  received->ready = msg->ready;
  received->status = g_strdup (msg->status);
  received->checkpoint_id = g_strdup (msg->checkpoint_id);
  g_ptr_array_add (fixture->received, received);

  g_main_loop_quit (fixture->loop);
}

static TetherNotifyVerdict
accept_only (pid_t    pid,
             gpointer user_data)
{
  Fixture *fixture = user_data;

  fixture->n_filter_calls++;
  g_main_loop_quit (fixture->loop);

  return pid == fixture->accepted_pid ? TETHER_NOTIFY_HEAR : TETHER_NOTIFY_DROP;
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->notify = tether_notify_new (&error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->notify);

  fixture->loop = g_main_loop_new (NULL, FALSE);
  fixture->received = g_ptr_array_new_with_free_func (received_free);
  g_signal_connect (fixture->notify, "message", G_CALLBACK (on_message), fixture);
}

static gboolean send_datagram (const char *socket_path,
                               const char *data,
                               size_t      length);

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *socket_path = g_strdup (tether_notify_get_socket_path (fixture->notify));

  g_assert_finalize_object (fixture->notify);
  /* Once the server is gone, nobody listens at its address. */
  g_assert_false (send_datagram (socket_path, "READY=1", 7));

  g_clear_pointer (&fixture->loop, g_main_loop_unref);
  g_clear_pointer (&fixture->received, g_ptr_array_unref);
}

static gboolean
on_timeout (gpointer user_data)
{
  Fixture *fixture = user_data;

  fixture->timed_out = TRUE;
  g_main_loop_quit (fixture->loop);

  return G_SOURCE_REMOVE;
}

/* Every event the tests wait for quits the loop; the condition is checked
 * again each time, and the timeout turns a hang into a failure. */
static void
run_until (Fixture  *fixture,
           guint    *counter,
           guint     target)
{
  guint timeout_id = g_timeout_add_seconds (TIMEOUT_SECONDS, on_timeout, fixture);

  while (*counter < target && !fixture->timed_out)
    g_main_loop_run (fixture->loop);

  if (fixture->timed_out)
    g_error ("Timed out after %d s: waited for %u events, saw %u",
             TIMEOUT_SECONDS, target, *counter);

  g_source_remove (timeout_id);
}

static void
wait_for_messages (Fixture *fixture,
                   guint    n_messages)
{
  run_until (fixture, &fixture->received->len, n_messages);
}

/* Async-signal-safe, so that a forked child may call it. */
static gboolean
send_datagram_with_fd (const char *socket_path,
                       const char *data,
                       size_t      length,
                       int         passed_fd)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  union
  {
    struct cmsghdr align;
    char buffer[CMSG_SPACE (sizeof (int))];
  } control;
  struct iovec iov = { .iov_base = (void *) data, .iov_len = length };
  struct msghdr header = {
    .msg_name = &address,
    .msg_namelen = sizeof address,
    .msg_iov = &iov,
    .msg_iovlen = 1,
  };
  gboolean sent;
  int fd;

  if (strlen (socket_path) >= sizeof address.sun_path)
    return FALSE;
  strcpy (address.sun_path, socket_path);
  if (socket_path[0] == '@')
    {
      /* The abstract namespace, as sd_notify() spells it. */
      address.sun_path[0] = '\0';
      header.msg_namelen = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + strlen (socket_path));
    }

  if (passed_fd >= 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      header.msg_control = &control;
      header.msg_controllen = sizeof control.buffer;
      cmsg = CMSG_FIRSTHDR (&header);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cmsg), &passed_fd, sizeof (int));
    }

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;

  sent = sendmsg (fd, &header, MSG_NOSIGNAL) == (ssize_t) length;
  close (fd);

  return sent;
}

static gboolean
send_datagram (const char *socket_path,
               const char *data,
               size_t      length)
{
  return send_datagram_with_fd (socket_path, data, length, -1);
}

static void
send_string (Fixture    *fixture,
             const char *data)
{
  g_assert_true (send_datagram (tether_notify_get_socket_path (fixture->notify),
                                data, strlen (data)));
}

/* Forks a child that sends each datagram (blocking, so a full queue just
 * makes it wait for the server) and exits 0 when all were sent. */
static pid_t
fork_sender (const char         *socket_path,
             const char * const *datagrams)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);

  if (pid == 0)
    {
      for (gsize i = 0; datagrams[i] != NULL; i++)
        {
          if (!send_datagram (socket_path, datagrams[i], strlen (datagrams[i])))
            _exit (1);
        }

      _exit (0);
    }

  return pid;
}

static void
assert_child_succeeded (pid_t pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
test_server_abstract (Fixture       *fixture,
                      gconstpointer  data)
{
  const char *path = tether_notify_get_socket_path (fixture->notify);
  g_autofree char *property_path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherNotify) second = NULL;
  g_autoptr(GDir) dir = NULL;

  g_assert_nonnull (path);
  g_object_get (fixture->notify, "socket-path", &property_path, NULL);
  g_assert_cmpstr (property_path, ==, path);

  /* An abstract address, as systemd's NOTIFY_SOCKET may be: no file, so
   * nothing is left behind and no directory decides who may send. */
  g_assert_true (path[0] == '@');
  g_assert_cmpuint (strlen (path), <, sizeof ((struct sockaddr_un *) NULL)->sun_path);

  /* A second server gets an address of its own. */
  second = tether_notify_new (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_notify_get_socket_path (second), !=, path);

  /* Nothing was written in the runtime directory. */
  dir = g_dir_open (runtime_dir, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
}

/* A backend that switched user (PostgreSQL runs as postgres) must still be
 * heard: reaching the socket takes no permission, being heard takes the
 * sender filter's yes. */
static void
test_server_other_user (Fixture       *fixture,
                        gconstpointer  data)
{
  const char *path = tether_notify_get_socket_path (fixture->notify);
  struct passwd *nobody = getpwnam ("nobody");
  Received *received;
  pid_t child;
  int sync_pipe[2];
  char go;

  g_assert_nonnull (nobody);
  g_assert_cmpint (getuid (), ==, 0);  /* the suite runs as root (cgroups) */
  g_assert_cmpint (pipe (sync_pipe), ==, 0);

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      close (sync_pipe[1]);
      if (setgid (nobody->pw_gid) < 0 || setuid (nobody->pw_uid) < 0 || getuid () == 0)
        _exit (2);
      if (read (sync_pipe[0], &go, 1) != 1)
        _exit (3);
      _exit (send_datagram (path, "READY=1\nSTATUS=as nobody", 24) ? 0 : 1);
    }
  close (sync_pipe[0]);
  fixture->accepted_pid = child;
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);
  g_assert_cmpint (write (sync_pipe[1], "g", 1), ==, 1);
  close (sync_pipe[1]);

  wait_for_messages (fixture, 1);
  assert_child_succeeded (child);

  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpint (received->sender, ==, child);
  g_assert_cmpstr (received->status, ==, "as nobody");
}

/* A member that never stops talking is heard up to its budget; the rest of
 * each second is dropped and counted, and the main loop stays free. */
static void
test_server_rate_limit (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) datagrams = g_ptr_array_new_with_free_func (g_free);
  guint n_sent = 3000;
  gint64 start;
  pid_t child;

  for (guint i = 0; i < n_sent; i++)
    g_ptr_array_add (datagrams, g_strdup_printf ("STATUS=%u", i));
  g_ptr_array_add (datagrams, NULL);

  n_logged_messages = 0;
  start = g_get_monotonic_time ();
  child = fork_sender (tether_notify_get_socket_path (fixture->notify),
                       (const char * const *) datagrams->pdata);
  fixture->accepted_pid = child;
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  /* Drain until the sender is done and the queue is empty. */
  while (g_main_context_iteration (NULL, FALSE) || waitpid (child, NULL, WNOHANG) == 0)
    ;
  while (g_main_context_iteration (NULL, FALSE))
    ;

  if (g_get_monotonic_time () - start < G_USEC_PER_SEC)
    {
      /* All of it within one second: exactly the budget was heard. */
      g_assert_cmpuint (fixture->received->len, ==, 1000);
      g_assert_cmpuint (tether_notify_get_n_rate_limited (fixture->notify), ==, n_sent - 1000);
    }
  else
    {
      /* A slow machine spread it over seconds: never more than the budget
       * per second, and everything accounted for. */
      g_assert_cmpuint (fixture->received->len, >=, 1000);
      g_assert_cmpuint (fixture->received->len + tether_notify_get_n_rate_limited (fixture->notify),
                        ==, n_sent);
    }
  g_assert_cmpuint (tether_notify_get_n_rate_limited (fixture->notify), >, 0);
  /* Said once per second of flooding, not once per datagram. */
  g_assert_cmpuint (n_logged_messages, >=, 1);
  g_assert_cmpuint (n_logged_messages, <=, 1 + (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
}

static void
test_server_self (Fixture       *fixture,
                  gconstpointer  data)
{
  Received *received;

  fixture->accepted_pid = getpid ();
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  send_string (fixture, "READY=1\nSTATUS=Listening on port 8080\n");
  wait_for_messages (fixture, 1);

  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpint (received->sender, ==, getpid ());
  g_assert_true (received->ready);
  g_assert_cmpstr (received->status, ==, "Listening on port 8080");
  g_assert_cmpuint (fixture->n_filter_calls, ==, 1);
  g_assert_cmpuint (tether_notify_get_n_dropped (fixture->notify), ==, 0);
  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 0);
}

static void
test_server_no_filter (Fixture       *fixture,
                       gconstpointer  data)
{
  Received *received;

  send_string (fixture, "X_TETHER_CHECKPOINT=warm Cache warmed");
  wait_for_messages (fixture, 1);

  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpint (received->sender, ==, getpid ());
  g_assert_false (received->ready);
  g_assert_cmpstr (received->checkpoint_id, ==, "warm");
}

static void
test_server_filter_rejects (Fixture       *fixture,
                            gconstpointer  data)
{
  fixture->accepted_pid = 1;
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  /* Malformed on purpose: a rejected sender is not even parsed. */
  send_string (fixture, "READY=1\nGARBAGE");
  run_until (fixture, &fixture->n_filter_calls, 1);

  g_assert_cmpuint (fixture->received->len, ==, 0);
  g_assert_cmpuint (tether_notify_get_n_dropped (fixture->notify), ==, 1);
  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 0);
}

static void
count_destroy (gpointer data)
{
  guint *n_destroyed = data;

  (*n_destroyed)++;
}

static TetherNotifyVerdict
accept_all (pid_t    pid,
            gpointer user_data)
{
  return TETHER_NOTIFY_HEAR;
}

static void
test_server_filter_destroy (Fixture       *fixture,
                            gconstpointer  data)
{
  guint n_destroyed = 0;

  tether_notify_set_sender_filter (fixture->notify, accept_all, &n_destroyed, count_destroy);
  g_assert_cmpuint (n_destroyed, ==, 0);
  tether_notify_set_sender_filter (fixture->notify, accept_all, &n_destroyed, count_destroy);
  g_assert_cmpuint (n_destroyed, ==, 1);
  tether_notify_set_sender_filter (fixture->notify, NULL, NULL, NULL);
  g_assert_cmpuint (n_destroyed, ==, 2);
}

static void
test_server_malformed (Fixture       *fixture,
                       gconstpointer  data)
{
  static const char garbage[] = "\xff\xfe\x00garbage";
  g_autofree char *pid_text = g_strdup_printf ("process %d", (int) getpid ());
  guint n_logged_before = n_logged_messages;
  Received *received;

  fixture->accepted_pid = getpid ();
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  g_assert_true (send_datagram (tether_notify_get_socket_path (fixture->notify),
                                garbage, sizeof garbage - 1));
  g_assert_true (send_datagram (tether_notify_get_socket_path (fixture->notify), "", 0));
  send_string (fixture, "NOEQUALS");
  send_string (fixture, "READY=1\nSTATUS=still alive");
  wait_for_messages (fixture, 1);

  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 3);
  g_assert_cmpuint (tether_notify_get_n_dropped (fixture->notify), ==, 0);
  g_assert_cmpuint (fixture->received->len, ==, 1);
  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpstr (received->status, ==, "still alive");

  /* One log line per malformed datagram, naming the sender and the line. */
  g_assert_cmpuint (n_logged_messages - n_logged_before, ==, 3);
  g_assert_nonnull (strstr (last_logged_message, pid_text));
  g_assert_nonnull (strstr (last_logged_message, "line 1: \"NOEQUALS\" has no \"=\""));
}

static void
test_server_truncated (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *huge = g_strnfill (5000, 'x');
  g_autofree char *datagram = g_strconcat ("STATUS=", huge, NULL);

  send_string (fixture, datagram);
  send_string (fixture, "STATUS=short");
  wait_for_messages (fixture, 1);

  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 1);
  g_assert_cmpstr (((Received *) g_ptr_array_index (fixture->received, 0))->status, ==, "short");
}

static void
test_server_passed_fd_closed (Fixture       *fixture,
                              gconstpointer  data)
{
  static const char datagram[] = "FDSTORE=1\nFDNAME=test";
  int pipe_fds[2];
  char byte;

  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC | O_NONBLOCK), ==, 0);

  g_assert_true (send_datagram_with_fd (tether_notify_get_socket_path (fixture->notify),
                                        datagram, strlen (datagram), pipe_fds[1]));
  g_close (pipe_fds[1], NULL);
  wait_for_messages (fixture, 1);

  /* EOF only once the server has closed the write end it was handed. */
  g_assert_cmpint (read (pipe_fds[0], &byte, 1), ==, 0);
  g_close (pipe_fds[0], NULL);
}

static void
test_server_child (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const intruder_datagrams[] = { "READY=1\nSTATUS=intruder", NULL };
  const char * const child_datagrams[] = { "READY=1\nSTATUS=child", NULL };
  const char *path = tether_notify_get_socket_path (fixture->notify);
  Received *received;
  pid_t intruder;
  pid_t child;

  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  /* Reaped before the child is forked, so the intruder's datagram is queued
   * ahead of the child's and has been judged once the child's arrives. */
  intruder = fork_sender (path, intruder_datagrams);
  assert_child_succeeded (intruder);

  child = fork_sender (path, child_datagrams);
  fixture->accepted_pid = child;

  wait_for_messages (fixture, 1);
  assert_child_succeeded (child);

  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpint (received->sender, ==, child);
  g_assert_cmpint (received->sender, !=, getpid ());
  g_assert_true (received->ready);
  g_assert_cmpstr (received->status, ==, "child");
  g_assert_cmpuint (fixture->received->len, ==, 1);
  g_assert_cmpuint (tether_notify_get_n_dropped (fixture->notify), ==, 1);
  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 0);
}

static void
test_server_burst (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) datagrams = g_ptr_array_new_with_free_func (g_free);
  pid_t child;

  /* Built before fork(): the child only makes async-signal-safe calls. */
  for (guint i = 0; i < BURST_SIZE; i++)
    g_ptr_array_add (datagrams, g_strdup_printf ("STATUS=step %u\nWATCHDOG=1", i));
  g_ptr_array_add (datagrams, NULL);

  child = fork_sender (tether_notify_get_socket_path (fixture->notify),
                       (const char * const *) datagrams->pdata);
  fixture->accepted_pid = child;
  tether_notify_set_sender_filter (fixture->notify, accept_only, fixture, NULL);

  wait_for_messages (fixture, BURST_SIZE);
  assert_child_succeeded (child);

  g_assert_cmpuint (fixture->received->len, ==, BURST_SIZE);
  for (guint i = 0; i < BURST_SIZE; i++)
    {
      Received *received = g_ptr_array_index (fixture->received, i);
      g_autofree char *expected = g_strdup_printf ("step %u", i);

      g_assert_cmpint (received->sender, ==, child);
      g_assert_cmpstr (received->status, ==, expected);
    }

  g_assert_cmpuint (tether_notify_get_n_dropped (fixture->notify), ==, 0);
  g_assert_cmpuint (tether_notify_get_n_malformed (fixture->notify), ==, 0);
}

static void
on_message_unref (TetherNotify              *notify,
                  const TetherNotifyMessage *msg,
                  gpointer                   user_data)
{
  Fixture *fixture = user_data;

  g_signal_handlers_disconnect_by_func (notify, on_message_unref, user_data);
  g_clear_object (&fixture->notify);
  g_main_loop_quit (fixture->loop);
}

/* A sender that exited before it could be judged: the filter says "ask
 * again", the datagram waits, and is heard once the filter knows. */
static TetherNotifyVerdict
ask_twice (pid_t    pid,
           gpointer user_data)
{
  Fixture *fixture = user_data;

  return ++fixture->n_filter_calls < 3 ? TETHER_NOTIFY_ASK_AGAIN : TETHER_NOTIFY_HEAR;
}

static TetherNotifyVerdict
ask_forever (pid_t    pid,
             gpointer user_data)
{
  ((Fixture *) user_data)->n_filter_calls++;
  return TETHER_NOTIFY_ASK_AGAIN;
}

static void
test_server_ask_again (Fixture       *fixture,
                       gconstpointer  data)
{
  Received *received;
  gint64 start;

  tether_notify_set_sender_filter (fixture->notify, ask_twice, fixture, NULL);
  send_string (fixture, "MAINPID=42\nSTATUS=judged later");
  wait_for_messages (fixture, 1);
  received = g_ptr_array_index (fixture->received, 0);
  g_assert_cmpstr (received->status, ==, "judged later");
  g_assert_cmpuint (fixture->n_filter_calls, ==, 3);

  /* Never decided: dropped after a bounded while, counted. */
  fixture->n_filter_calls = 0;
  tether_notify_set_sender_filter (fixture->notify, ask_forever, fixture, NULL);
  send_string (fixture, "STATUS=never");
  start = g_get_monotonic_time ();
  while (tether_notify_get_n_dropped (fixture->notify) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (fixture->received->len, ==, 1);
  g_assert_cmpuint (fixture->n_filter_calls, ==, 1 + 25);  /* on arrival, then 25 more tries */
}

static void
test_server_unref_in_handler (void)
{
  Fixture fixture = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  guint destroyed = 0;
  guint timeout_id;

  fixture.loop = g_main_loop_new (NULL, FALSE);
  fixture.notify = tether_notify_new (&error);
  g_assert_no_error (error);
  path = g_strdup (tether_notify_get_socket_path (fixture.notify));
  g_signal_connect (fixture.notify, "message", G_CALLBACK (on_message_unref), &fixture);
  tether_notify_set_sender_filter (fixture.notify, accept_all, &destroyed, count_destroy);

  /* Two queued datagrams: the second must not be read from a closed fd
   * once the handler has dropped the server. */
  g_assert_true (send_datagram (path, "READY=1", 7));
  g_assert_true (send_datagram (path, "READY=1", 7));

  timeout_id = g_timeout_add_seconds (TIMEOUT_SECONDS, on_timeout, &fixture);
  g_main_loop_run (fixture.loop);
  g_assert_false (fixture.timed_out);
  g_source_remove (timeout_id);

  g_assert_null (fixture.notify);
  g_assert_false (send_datagram (path, "READY=1", 7));
  g_assert_cmpuint (destroyed, ==, 1);

  g_main_loop_unref (fixture.loop);
}

/* Two datagrams wait for a verdict; on the retry the first is still
 * undecided and the second is heard, and its handler disposes of the
 * server: the first is neither delivered nor kept. */
static TetherNotifyVerdict
ask_again_then_hear (pid_t    pid,
                     gpointer user_data)
{
  Fixture *fixture = user_data;

  /* Arrival of each, then the first again: undecided. */
  return ++fixture->n_filter_calls <= 3 ? TETHER_NOTIFY_ASK_AGAIN : TETHER_NOTIFY_HEAR;
}

static void
on_message_dispose (TetherNotify              *notify,
                    const TetherNotifyMessage *msg,
                    gpointer                   user_data)
{
  Fixture *fixture = user_data;
  Received *received = g_new0 (Received, 1);

  received->status = g_strdup (msg->status);
  g_ptr_array_add (fixture->received, received);
  g_object_run_dispose (G_OBJECT (notify));
  g_main_loop_quit (fixture->loop);
}

static void
test_server_dispose_in_retry (void)
{
  Fixture fixture = { 0 };
  g_autoptr(GError) error = NULL;
  const char *path;
  guint timeout_id;

  fixture.loop = g_main_loop_new (NULL, FALSE);
  fixture.received = g_ptr_array_new_with_free_func (received_free);
  fixture.notify = tether_notify_new (&error);
  g_assert_no_error (error);
  path = tether_notify_get_socket_path (fixture.notify);
  g_signal_connect (fixture.notify, "message", G_CALLBACK (on_message_dispose), &fixture);
  tether_notify_set_sender_filter (fixture.notify, ask_again_then_hear, &fixture, NULL);

  g_assert_true (send_datagram (path, "STATUS=first", 12));
  g_assert_true (send_datagram (path, "STATUS=second", 13));

  timeout_id = g_timeout_add_seconds (TIMEOUT_SECONDS, on_timeout, &fixture);
  g_main_loop_run (fixture.loop);
  g_assert_false (fixture.timed_out);
  g_source_remove (timeout_id);

  g_assert_cmpuint (fixture.n_filter_calls, ==, 4);
  g_assert_cmpuint (fixture.received->len, ==, 1);
  g_assert_cmpstr (((Received *) g_ptr_array_index (fixture.received, 0))->status, ==, "second");

  /* Nothing is left to fire on the disposed server. */
  for (guint i = 0; i < 10; i++)
    {
      g_usleep (20 * 1000);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (fixture.received->len, ==, 1);
  g_assert_cmpuint (fixture.n_filter_calls, ==, 4);

  g_assert_finalize_object (fixture.notify);
  g_ptr_array_unref (fixture.received);
  g_main_loop_unref (fixture.loop);
}

#define add_server_test(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int result;

  g_log_set_writer_func (count_messages_writer, NULL, NULL);

  runtime_dir = g_dir_make_tmp ("tether-runtime-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_RUNTIME_DIR", runtime_dir, TRUE);

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/notify/parse/ready-status", test_parse_ready_status);
  g_test_add_func ("/notify/parse/not-nul-terminated", test_parse_not_nul_terminated);
  g_test_add_func ("/notify/parse/sanitises", test_parse_sanitises);
  g_test_add_func ("/notify/parse/extend-timeout", test_parse_extend_timeout);
  g_test_add_func ("/notify/parse/watchdog", test_parse_watchdog);
  g_test_add_func ("/notify/parse/mainpid", test_parse_mainpid);
  g_test_add_func ("/notify/parse/checkpoint", test_parse_checkpoint);
  g_test_add_func ("/notify/parse/checkpoint-no-label", test_parse_checkpoint_no_label);
  g_test_add_func ("/notify/parse/unknown-keys", test_parse_unknown_keys);
  g_test_add_func ("/notify/parse/last-wins", test_parse_last_wins);
  g_test_add_func ("/notify/parse/error-quotes-safely", test_parse_error_quotes_safely);
  g_test_add_func ("/notify/parse/error-quotes-bidi", test_parse_error_quotes_bidi);

  for (gsize i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/notify/parse/malformed/%s",
                                               malformed_cases[i].name);

      g_test_add_data_func (path, &malformed_cases[i], test_parse_malformed);
    }

  add_server_test ("/notify/server/abstract", test_server_abstract);
  add_server_test ("/notify/server/other-user", test_server_other_user);
  add_server_test ("/notify/server/rate-limit", test_server_rate_limit);
  add_server_test ("/notify/server/ask-again", test_server_ask_again);
  add_server_test ("/notify/server/self", test_server_self);
  add_server_test ("/notify/server/no-filter", test_server_no_filter);
  add_server_test ("/notify/server/filter-rejects", test_server_filter_rejects);
  add_server_test ("/notify/server/filter-destroy", test_server_filter_destroy);
  add_server_test ("/notify/server/malformed", test_server_malformed);
  add_server_test ("/notify/server/truncated", test_server_truncated);
  add_server_test ("/notify/server/passed-fd-closed", test_server_passed_fd_closed);
  add_server_test ("/notify/server/child", test_server_child);
  add_server_test ("/notify/server/burst", test_server_burst);
  g_test_add_func ("/notify/server/unref-in-handler", test_server_unref_in_handler);
  g_test_add_func ("/notify/server/dispose-in-retry", test_server_dispose_in_retry);

  result = g_test_run ();

  g_assert_cmpint (g_rmdir (runtime_dir), ==, 0);
  g_clear_pointer (&runtime_dir, g_free);
  g_clear_pointer (&last_logged_message, g_free);

  return result;
}
