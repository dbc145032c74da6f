/* test-util.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"

#include "tether-procfs.h"
#include "tether-sampler.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <ftw.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const TetherOwnerKind test_util_kinds[2] = { TETHER_OWNER_CGROUP, TETHER_OWNER_REAPER };

static char *tmpdir;

static int
remove_entry (const char        *path,
              const struct stat *st,
              int                type,
              struct FTW        *ftw)
{
  return remove (path);
}

static void
remove_tmpdir (void)
{
  if (tmpdir != NULL)
    nftw (tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
test_util_init (void)
{
  g_autofree char *runtime = NULL;

  tmpdir = g_dir_make_tmp ("tether-test-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  runtime = g_build_filename (tmpdir, "runtime", NULL);
  g_mkdir_with_parents (runtime, 0700);
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  /* Journals go here, not into the user's own state directory. */
  {
    g_autofree char *state = g_build_filename (tmpdir, "state", NULL);
    g_setenv ("XDG_STATE_HOME", state, TRUE);
  }
  atexit (remove_tmpdir);
}

const char *
test_util_tmpdir (void)
{
  return tmpdir;
}

char *
test_util_marker (void)
{
  static guint counter;
  return g_strdup_printf ("tether-mark-%d-%u-%08x", (int) getpid (), ++counter, g_random_int ());
}

const char *
test_util_tree_helper (void)
{
  const char *path = g_getenv ("TETHER_TEST_TREE");
  g_assert_nonnull (path);
  return path;
}

#define PF_EXITING 0x00000004  /* include/linux/sched.h */

/* fields: the text of /proc/PID/stat after "comm) ", from the state on. */
static gboolean
is_exiting (const char *fields)
{
  g_auto(GStrv) f = g_strsplit (fields, " ", 8);

  /* state ppid pgrp session tty_nr tpgid flags */
  return g_strv_length (f) >= 7 && (g_ascii_strtoull (f[6], NULL, 10) & PF_EXITING) != 0;
}

GArray *
test_util_find_marked (const char *marker)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *cmdline = NULL;
      g_autofree char *stat = NULL;
      g_autofree char *comm = NULL;
      gsize len;
      char *end;
      pid_t pid = (pid_t) strtol (name, &end, 10);
      const char *rparen;

      if (*end != '\0' || pid == getpid ())
        continue;
      path = g_strdup_printf ("/proc/%s/cmdline", name);
      if (!g_file_get_contents (path, &cmdline, &len, NULL) || len == 0)
        continue;
      for (gsize i = 0; i + 1 < len; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (strstr (cmdline, marker) == NULL)
        continue;

      /* tether-shim carries the backend's argv too; it is Tether's own
       * process, not the backend's, and exits right after reporting. */
      g_free (path);
      path = g_strdup_printf ("/proc/%s/comm", name);
      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "tether-shim"))
        continue;

      /* Zombies have already died; they only wait for their reaper. So
       * have processes past the point of no return in exit (PF_EXITING,
       * stat field 9): a cgroup reports itself empty once its last task
       * has left it in do_exit, a moment before that task is a zombie. */
      g_free (path);
      path = g_strdup_printf ("/proc/%s/stat", name);
      if (g_file_get_contents (path, &stat, NULL, NULL) &&
          (rparen = strrchr (stat, ')')) != NULL &&
          (rparen[2] == 'Z' || is_exiting (rparen + 2)))
        continue;
      g_array_append_val (pids, pid);
    }

  return pids;
}

guint
test_util_count_marked (const char *marker)
{
  g_autoptr(GArray) pids = test_util_find_marked (marker);
  return pids->len;
}

GArray *
test_util_read_role (const char *pidfile,
                     const char *role)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gsize role_len = strlen (role);

  if (!g_file_get_contents (pidfile, &contents, NULL, NULL))
    return pids;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], role, role_len) == 0 && lines[i][role_len] == ' ')
      {
        pid_t pid = (pid_t) atoi (lines[i] + role_len + 1);
        g_array_append_val (pids, pid);
      }
  return pids;
}

pid_t
test_util_wait_role (const char *pidfile,
                     const char *role,
                     double      timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GArray) pids = test_util_read_role (pidfile, role);

      if (pids->len > 0)
        return g_array_index (pids, pid_t, 0);
      /* Keep the supervisor's main loop turning while we wait. */
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return 0;
}

char *
test_util_write_profile (const char         *extra_json_members,
                         const char * const *argv)
{
  static guint counter;
  g_autoptr(GString) json = g_string_new ("{\n  \"command\": [");
  g_autofree char *name = g_strdup_printf ("profile-%u.json", ++counter);
  char *path = g_build_filename (tmpdir, name, NULL);

  for (guint i = 0; argv[i] != NULL; i++)
    {
      /* JSON's escapes, not C's: g_strescape writes \033 for ESC. */
      g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), argv[i]);
      g_autofree char *quoted = json_to_string (node, FALSE);
      g_string_append_printf (json, "%s%s", i ? ", " : "", quoted);
    }
  g_string_append (json, "]");
  if (extra_json_members != NULL && *extra_json_members != '\0')
    g_string_append_printf (json, ",\n  %s", extra_json_members);
  g_string_append (json, "\n}\n");

  g_assert_true (g_file_set_contents (path, json->str, -1, NULL));
  return path;
}

static gboolean
on_wait_timeout (gpointer user_data)
{
  gboolean *expired = user_data;
  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
test_util_wait_flag (gboolean *flag,
                     double    timeout_s)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add ((guint) (timeout_s * 1000), on_wait_timeout, &expired);

  while (!*flag && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return *flag;
}

gboolean
test_util_pid_alive (pid_t pid)
{
  char state = test_util_proc_state (pid);

  return state != 0 && state != 'Z';
}

void
test_util_kill_marked (const char *marker)
{
  g_autoptr(GArray) pids = test_util_find_marked (marker);

  for (guint i = 0; i < pids->len; i++)
    kill (g_array_index (pids, pid_t, i), SIGKILL);
}

void
test_util_add_for_kinds (const char *prefix,
                         const char *name,
                         gsize       fixture_size,
                         gpointer    setup,
                         gpointer    func,
                         gpointer    teardown)
{
  for (guint i = 0; i < G_N_ELEMENTS (test_util_kinds); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/%s", prefix,
                                               tether_owner_kind_to_string (test_util_kinds[i]), name);
      g_test_add_vtable (path, fixture_size, &test_util_kinds[i],
                         (GTestFixtureFunc) setup, (GTestFixtureFunc) func, (GTestFixtureFunc) teardown);
    }
}

pid_t
test_util_spawn_with_pid (pid_t       pid,
                          const char *marker)
{
  struct clone_args args = { 0 };
  pid_t tid = pid;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  /* clone3 with set_tid asks for exactly this pid (root in our pid
   * namespace): unlike steering ns_last_pid, a busy machine forking at the
   * same time cannot take it in between; EEXIST means another process got
   * it since it was reaped, and that one may still go away. */
  args.exit_signal = SIGCHLD;
  args.set_tid = (guint64) (guintptr) &tid;
  args.set_tid_size = 1;
  for (;;)
    {
      long child = syscall (SYS_clone3, &args, sizeof args);

      if (child == 0)
        {
          execl (test_util_tree_helper (), test_util_tree_helper (), marker, "sleep", NULL);
          _exit (127);
        }
      if (child > 0)
        return (pid_t) child;
      if (errno != EEXIST || g_get_monotonic_time () > deadline)
        {
          g_test_message ("clone3 with pid %d: %s", (int) pid, g_strerror (errno));
          return 0;
        }
      g_usleep (10000);
    }
}

void
test_util_wait_reaped (pid_t pid)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (kill (pid, 0) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

typedef struct
{
  gboolean done;
  pid_t pid;
} SpawnWait;

static void
on_tree_spawned (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SpawnWait *wait = user_data;
  g_autoptr(GError) error = NULL;

  wait->pid = tether_owner_spawn_finish (TETHER_OWNER (source), result, &error);
  g_assert_no_error (error);
  wait->done = TRUE;
}

TetherOwner *
test_util_spawn_tree (TetherOwnerKind  kind,
                      const char      *marker,
                      const char      *pidfile,
                      const char      *mode,
                      ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  TetherOwner *owner;
  SpawnWait wait = { FALSE, 0 };
  va_list ap;
  const char *arg;

  g_ptr_array_add (argv, (char *) test_util_tree_helper ());
  g_ptr_array_add (argv, (char *) marker);
  g_ptr_array_add (argv, (char *) mode);
  va_start (ap, mode);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, (char *) "--pidfile");
  g_ptr_array_add (argv, (char *) pidfile);
  g_ptr_array_add (argv, NULL);

  owner = tether_owner_new (kind);
  {
    TetherSpawnRequest request = { .argv = (const char * const *) argv->pdata, .is_main = TRUE };
    tether_owner_spawn_async (owner, &request, NULL, on_tree_spawned, &wait);
  }
  g_assert_true (test_util_wait_flag (&wait.done, 10));
  g_assert_cmpint (tether_owner_get_kind (owner), ==, kind);
  /* A tree of a thousand on a loaded 2-core machine takes a while. */
  g_assert_cmpint (test_util_wait_role (pidfile, "main", 60), >, 0);
  return owner;
}

gboolean
test_util_start_supervisor (TetherSupervisor  *supervisor,
                            GError           **error)
{
  TestUtilAwait await = { 0 };

  tether_supervisor_start (supervisor, NULL, test_util_await_cb, &await);
  return tether_supervisor_start_finish (supervisor, test_util_await (&await), error);
}

void
test_util_end_supervisor (TetherSupervisor **supervisor)
{
  TestUtilAwait await = { 0 };

  if (*supervisor == NULL)
    return;
  tether_supervisor_kill (*supervisor, NULL, test_util_await_cb, &await);
  tether_supervisor_stop_finish (*supervisor, test_util_await (&await), NULL, NULL);
  g_clear_object (supervisor);
}

char *
test_util_pidfile (const char *marker)
{
  return g_strdup_printf ("%s/%s.pids", test_util_tmpdir (), marker);
}

void
test_util_release_tree (TetherOwner **owner,
                        char         *marker,
                        char         *pidfile)
{
  if (owner != NULL && *owner != NULL)
    {
      tether_owner_abandon (*owner);
      g_clear_object (owner);
    }
  /* A failed test must not leak processes into the next one. */
  test_util_kill_marked (marker);
  g_unlink (pidfile);
  g_free (pidfile);
  g_free (marker);
}

gboolean
test_util_send_notify (const char *address,
                       const char *data,
                       gsize       length)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  socklen_t addr_length;
  gboolean sent;
  int fd;

  g_assert_cmpuint (strlen (address), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, address);
  addr_length = sizeof addr;
  if (address[0] == '@')
    {
      addr.sun_path[0] = '\0';
      addr_length = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + strlen (address));
    }

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  sent = sendto (fd, data, length, MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_length) == (ssize_t) length;
  close (fd);
  return sent;
}

guint
test_util_free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port;

  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
    g_error ("cannot find a free port: %s", g_strerror (errno));
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

int
test_util_connect_unix (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

void
test_util_await_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  TestUtilAwait *await = user_data;

  g_assert_null (await->result);
  await->result = g_object_ref (result);
}

GAsyncResult *
test_util_await (TestUtilAwait *await)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  static GAsyncResult *previous;

  while (await->result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  /* Kept until the next await, so the caller can finish it. */
  g_clear_object (&previous);
  previous = g_steal_pointer (&await->result);
  return previous;
}

GArray *
test_util_list_members (TetherOwner  *owner,
                        GError      **error)
{
  TestUtilAwait await = { 0 };

  tether_owner_list_members_async (owner, NULL, test_util_await_cb, &await);
  return tether_owner_list_members_finish (owner, test_util_await (&await), error);
}

void
test_util_sampler_refresh (gpointer sampler)
{
  TestUtilAwait await = { 0 };

  tether_sampler_refresh_async (sampler, NULL, test_util_await_cb, &await);
  g_assert_true (tether_sampler_refresh_finish (sampler, test_util_await (&await), NULL));
}

char
test_util_proc_state (pid_t pid)
{
  TetherProcStat st;

  return tether_procfs_read_stat (pid, &st) == 0 ? st.state : 0;
}
