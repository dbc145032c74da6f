/* tether-leftovers.c: what an earlier run of a profile left behind
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-leftovers.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-diagnose.h"
#include "tether-error.h"
#include "tether-procfs.h"

void
tether_leftover_free (TetherLeftover *leftover)
{
  if (leftover == NULL)
    return;
  g_free (leftover->name);
  g_free (leftover->cmdline);
  g_free (leftover);
}

static char *
format_age (double seconds)
{
  if (seconds < 120)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d s old", "%d s old", (gulong) seconds), (int) seconds);
  if (seconds < 2 * 3600)
    return g_strdup_printf (_("%d min old"), (int) (seconds / 60));
  if (seconds < 2 * 86400)
    return g_strdup_printf (_("%d h old"), (int) (seconds / 3600));
  return g_strdup_printf (_("%d days old"), (int) (seconds / 86400));
}

char *
tether_leftover_describe (const TetherLeftover *leftover)
{
  g_autofree char *age = format_age (leftover->age);
  const char *why;

  switch (leftover->reason)
    {
    case TETHER_LEFTOVER_TAGGED:
      why = _("started by Tether for this profile");
      break;
    case TETHER_LEFTOVER_COMMAND:
      why = _("runs this profile’s command");
      break;
    case TETHER_LEFTOVER_DESCENDANT:
      why = _("a descendant of another leftover");
      break;
    case TETHER_LEFTOVER_PORT:
    default:
      return g_strdup_printf (_("%d %s (%s, listening on port %u)"), (int) leftover->pid,
                              leftover->cmdline, age, leftover->port);
    }
  return g_strdup_printf (_("%d %s (%s, %s)"), (int) leftover->pid, leftover->cmdline, age, why);
}

/* ---- reading /proc ------------------------------------------------------------ */

/* The NUL-separated strings of a /proc file, as a vector. */
static char **
split_nuls (const char *data,
            gsize       length)
{
  GPtrArray *parts = g_ptr_array_new ();

  for (gsize i = 0; i < length; i += strlen (data + i) + 1)
    g_ptr_array_add (parts, g_strndup (data + i, length - i));
  g_ptr_array_add (parts, NULL);
  return (char **) g_ptr_array_free (parts, FALSE);
}

static const char *
env_get (char       **env,
         const char  *key)
{
  gsize n = strlen (key);

  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    if (strncmp (env[i], key, n) == 0 && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

static guint
port_of_listen (const char *listen)
{
  const char *colon;

  if (listen == NULL || *listen == '/')
    return 0;
  colon = strrchr (listen, ':');
  return colon != NULL ? (guint) g_ascii_strtoull (colon + 1, NULL, 10) : 0;
}

static guint
port_of_health (const char *url)
{
  g_autoptr(GUri) uri = url != NULL ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  const char *host;
  g_autoptr(GInetAddress) address = NULL;
  int port;

  if (uri == NULL || (host = g_uri_get_host (uri)) == NULL)
    return 0;
  address = g_inet_address_new_from_string (host);
  if (g_ascii_strcasecmp (host, "localhost") != 0 && (address == NULL || !g_inet_address_get_is_loopback (address)))
    return 0;
  port = g_uri_get_port (uri);
  if (port > 0)
    return (guint) port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

/* The inodes of TCP sockets listening on port. */
static GHashTable *
listening_inodes (guint port)
{
  static const char * const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
  GHashTable *inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      g_autofree char *contents = NULL;
      g_auto(GStrv) lines = NULL;

      if (!g_file_get_contents (tables[t], &contents, NULL, NULL))
        continue;
      lines = g_strsplit (contents, "\n", -1);
      for (guint i = 1; lines[i] != NULL; i++)
        {
          g_auto(GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
          g_autoptr(GPtrArray) w = g_ptr_array_new ();
          const char *colon;

          for (guint k = 0; words[k] != NULL; k++)
            if (*words[k] != '\0')
              g_ptr_array_add (w, words[k]);
          /* sl local_address rem_address st ... inode is the tenth */
          if (w->len < 10 || !g_str_equal (g_ptr_array_index (w, 3), "0A"))
            continue;
          colon = strrchr (g_ptr_array_index (w, 1), ':');
          if (colon == NULL || g_ascii_strtoull (colon + 1, NULL, 16) != port)
            continue;
          g_hash_table_add (inodes, g_strdup_printf ("socket:[%s]", (char *) g_ptr_array_index (w, 9)));
        }
    }
  return inodes;
}

static gboolean
holds_any (pid_t       pid,
           GHashTable *sockets)
{
  g_autofree char *fd_path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) fds = NULL;
  const char *fd_name;

  if (g_hash_table_size (sockets) == 0 || (fds = g_dir_open (fd_path, 0, NULL)) == NULL)
    return FALSE;
  while ((fd_name = g_dir_read_name (fds)) != NULL)
    {
      g_autofree char *link_path = g_build_filename (fd_path, fd_name, NULL);
      g_autofree char *target = g_file_read_link (link_path, NULL);

      if (target != NULL && g_hash_table_contains (sockets, target))
        return TRUE;
    }
  return FALSE;
}

static gboolean
owned_by_me (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d", (int) pid);
  struct stat st;

  return stat (path, &st) == 0 && st.st_uid == getuid ();
}

GArray *
tether_find_tcp_listeners (guint    port,
                           gboolean any_user)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GHashTable) sockets = listening_inodes (port);
  g_autoptr(GDir) proc = NULL;
  const char *name;

  if (g_hash_table_size (sockets) == 0)
    return pids;
  proc = g_dir_open ("/proc", 0, NULL);
  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      pid_t pid = (pid_t) strtol (name, NULL, 10);

      if (pid > 0 && (any_user || owned_by_me (pid)) && holds_any (pid, sockets))
        g_array_append_val (pids, pid);
    }
  return pids;
}

static gint
compare_pids (gconstpointer a,
              gconstpointer b)
{
  const TetherLeftover *x = *(const TetherLeftover * const *) a;
  const TetherLeftover *y = *(const TetherLeftover * const *) b;

  return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* ---- finding ----------------------------------------------------------------------- */

typedef struct
{
  pid_t pid;
  TetherProcStat stat;
  char **argv;
  gboolean tagged;        /* TETHER_PROFILE names the profile */
  gboolean in_live_tree;  /* TETHER_TREE names a live shim above it */
} Proc;

static void
proc_free (Proc *p)
{
  g_strfreev (p->argv);
  g_free (p);
}

/* argv runs command: the same arguments ("{checkpoint}" stands for any),
 * and the same executable when command[0] can be resolved. */
static gboolean
runs_command (const Proc          *p,
              char               **command,
              const char          *cwd,
              GHashTable          *exe_cache)
{
  const char *want_exe;
  g_autofree char *exe = NULL;

  if (command == NULL || p->argv == NULL || g_strv_length (p->argv) != g_strv_length (command))
    return FALSE;
  for (guint i = 0; command[i] != NULL; i++)
    if (strstr (command[i], "{checkpoint}") == NULL && g_strcmp0 (command[i], p->argv[i]) != 0)
      return FALSE;

  if (!g_hash_table_contains (exe_cache, command[0]))
    {
      g_autofree char *found = NULL;
      char *real = NULL;

      if (strchr (command[0], '/') != NULL)
        found = g_path_is_absolute (command[0]) ? g_strdup (command[0]) : g_build_filename (cwd, command[0], NULL);
      else
        found = g_find_program_in_path (command[0]);
      if (found != NULL)
        real = realpath (found, NULL);
      g_hash_table_insert (exe_cache, g_strdup (command[0]), real != NULL ? g_strdup (real) : NULL);
      free (real);
    }
  want_exe = g_hash_table_lookup (exe_cache, command[0]);
  if (want_exe == NULL)
    return TRUE;
  {
    g_autofree char *link = g_strdup_printf ("/proc/%d/exe", (int) p->pid);
    exe = g_file_read_link (link, NULL);
  }
  /* Unreadable (another user's, or a kernel thread): the arguments decide. */
  return exe == NULL || g_str_equal (exe, want_exe);
}

/* Inside a live Tether's tree: TETHER_TREE=TETHERPID.SHIMPID with that
 * shim alive and an ancestor. */
static gboolean
in_live_tree (pid_t   pid,
              char  **env)
{
  const char *tag = env_get (env, "TETHER_TREE");
  const char *dot;
  pid_t shim;

  if (tag == NULL || (dot = strchr (tag, '.')) == NULL)
    return FALSE;
  shim = (pid_t) strtol (dot + 1, NULL, 10);
  return shim > 1 && tether_procfs_is_descendant (pid, shim) == 1;
}

GPtrArray *
tether_leftovers_find (TetherProfile *profile)
{
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_leftover_free);
  g_autoptr(GHashTable) procs = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) proc_free);
  g_autoptr(GHashTable) chosen = g_hash_table_new (NULL, NULL);  /* pid -> TetherLeftover */
  g_autoptr(GHashTable) exe_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTable *sockets[2] = { NULL, NULL };
  guint ports[2] = { port_of_listen (profile->pool.listen), port_of_health (profile->health.http) };
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  gint64 now = tether_procfs_boottime_usec ();
  pid_t me = getpid ();
  const char *name;
  gboolean grew;

  if (ports[1] == ports[0])
    ports[1] = 0;
  for (guint i = 0; i < 2; i++)
    sockets[i] = ports[i] > 0 ? listening_inodes (ports[i]) : g_hash_table_new (g_str_hash, g_str_equal);

  /* This user's processes, but this process and its own trees. */
  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      pid_t pid = (pid_t) strtol (name, NULL, 10);
      g_autofree char *cmdline = NULL;
      g_autofree char *env_text = NULL;
      gsize cmd_len = 0, env_len = 0;
      Proc *p;

      if (pid <= 1 || pid == me || !owned_by_me (pid))
        continue;
      p = g_new0 (Proc, 1);
      p->pid = pid;
      if (tether_procfs_read_stat (pid, &p->stat) < 0 || p->stat.state == 'Z' || p->stat.state == 'X' ||
          tether_procfs_is_descendant (pid, me) == 1)
        {
          proc_free (p);
          continue;
        }
      if ((cmdline = tether_diagnose_read_proc_file (pid, "cmdline", &cmd_len)) != NULL && cmd_len > 0)
        p->argv = split_nuls (cmdline, cmd_len);
      /* Only what the rules ask of the environment is kept: all of it for
       * every process of the user would add up. */
      if ((env_text = tether_diagnose_read_proc_file (pid, "environ", &env_len)) != NULL)
        {
          g_auto(GStrv) env = split_nuls (env_text, env_len);

          p->tagged = g_strcmp0 (env_get (env, "TETHER_PROFILE"), profile->id) == 0;
          p->in_live_tree = in_live_tree (pid, env);
        }
      g_hash_table_insert (procs, GINT_TO_POINTER (pid), p);
    }

  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, procs);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        Proc *p = value;
        TetherLeftover *leftover;
        TetherLeftoverReason reason;
        guint port = 0;

        if (p->in_live_tree)
          continue;
        if (p->tagged)
          reason = TETHER_LEFTOVER_TAGGED;
        else if (runs_command (p, profile->command, profile->cwd, exe_cache) ||
                 runs_command (p, profile->pool.worker_command, profile->cwd, exe_cache))
          reason = TETHER_LEFTOVER_COMMAND;
        else if (holds_any (p->pid, sockets[0]) || holds_any (p->pid, sockets[1]))
          {
            reason = TETHER_LEFTOVER_PORT;
            port = holds_any (p->pid, sockets[0]) ? ports[0] : ports[1];
          }
        else
          continue;
        leftover = g_new0 (TetherLeftover, 1);
        leftover->pid = p->pid;
        leftover->reason = reason;
        leftover->port = port;
        g_hash_table_insert (chosen, GINT_TO_POINTER (p->pid), leftover);
      }
  }

  /* Their descendants too (of this user's: no one else's can be ended). */
  do
    {
      GHashTableIter iter;
      gpointer key, value;

      grew = FALSE;
      g_hash_table_iter_init (&iter, procs);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          Proc *p = value;

          if (!g_hash_table_contains (chosen, key) &&
              g_hash_table_contains (chosen, GINT_TO_POINTER (p->stat.ppid)))
            {
              TetherLeftover *leftover = g_new0 (TetherLeftover, 1);

              leftover->pid = p->pid;
              leftover->reason = TETHER_LEFTOVER_DESCENDANT;
              g_hash_table_insert (chosen, key, leftover);
              grew = TRUE;
            }
        }
    }
  while (grew);

  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, chosen);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        TetherLeftover *leftover = value;
        Proc *p = g_hash_table_lookup (procs, key);

        leftover->ppid = p->stat.ppid;
        leftover->name = g_utf8_make_valid (p->stat.comm, -1);
        leftover->cmdline = p->argv != NULL ? g_strjoinv (" ", p->argv) : g_strdup_printf ("[%s]", p->stat.comm);
        {
          char *valid = g_utf8_make_valid (leftover->cmdline, -1);
          g_free (leftover->cmdline);
          leftover->cmdline = valid;
        }
        leftover->start_usec = tether_procfs_start_usec (&p->stat);
        leftover->age = MAX (0, now - leftover->start_usec) / (double) G_USEC_PER_SEC;
        g_ptr_array_add (found, leftover);
      }
    g_hash_table_steal_all (chosen);
  }
  g_ptr_array_sort (found, compare_pids);
  for (guint i = 0; i < 2; i++)
    g_hash_table_unref (sockets[i]);
  return found;
}

static void
find_in_thread (GTask        *task,
                gpointer      source,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GPtrArray *found = tether_leftovers_find (task_data);

  g_task_return_pointer (task, found, (GDestroyNotify) g_ptr_array_unref);
}

void
tether_leftovers_find_async (TetherProfile       *profile,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_leftovers_find_async);
  g_task_set_name (task, "[tether] find leftovers");
  g_task_set_task_data (task, tether_profile_ref (profile), (GDestroyNotify) tether_profile_unref);
  g_task_run_in_thread (task, find_in_thread);
}

GPtrArray *
tether_leftovers_find_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- ending ------------------------------------------------------------------------ */

typedef struct
{
  TetherProfile *profile;
  GPtrArray *leftovers;
  guint n_forced;
} EndData;

static void
end_data_free (EndData *data)
{
  tether_profile_unref (data->profile);
  g_ptr_array_unref (data->leftovers);
  g_free (data);
}

/* Waits until every pidfd in fds (-1: done) is readable (its process
 * ended) or the time is up; returns how many are left. */
static guint
wait_ended (int    *fds,
            guint   n,
            double  seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  for (;;)
    {
      guint left = 0;

      for (guint i = 0; i < n; i++)
        {
          struct pollfd pfd = { .fd = fds[i], .events = POLLIN };

          if (fds[i] < 0)
            continue;
          if (poll (&pfd, 1, 0) > 0)
            {
              close (fds[i]);
              fds[i] = -1;
            }
          else
            left++;
        }
      if (left == 0 || g_get_monotonic_time () >= deadline)
        return left;
      g_usleep (10 * 1000);
    }
}

static void
end_in_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  EndData *data = task_data;
  guint n = data->leftovers->len;
  g_autofree int *fds = g_new (int, MAX (n, 1));
  g_autoptr(GString) survivors = g_string_new (NULL);
  guint left;

  /* A pidfd on the process the listing saw, or none: a pid reused since
   * has another start time. */
  for (guint i = 0; i < n; i++)
    {
      TetherLeftover *leftover = g_ptr_array_index (data->leftovers, i);
      TetherProcStat st;

      fds[i] = tether_pidfd_open (leftover->pid);
      if (fds[i] >= 0 && (tether_procfs_read_stat (leftover->pid, &st) < 0 ||
                          tether_procfs_start_usec (&st) != leftover->start_usec))
        {
          close (fds[i]);
          fds[i] = -1;
        }
    }

  for (guint i = 0; i < n; i++)
    if (fds[i] >= 0)
      tether_pidfd_send_signal (fds[i], data->profile->stop.signal);
  left = wait_ended (fds, n, data->profile->stop.graceful_timeout);
  if (left > 0)
    {
      data->n_forced = left;
      for (guint i = 0; i < n; i++)
        if (fds[i] >= 0)
          tether_pidfd_send_signal (fds[i], SIGKILL);
      left = wait_ended (fds, n, data->profile->stop.kill_timeout);
    }
  for (guint i = 0; i < n; i++)
    if (fds[i] >= 0)
      {
        TetherLeftover *leftover = g_ptr_array_index (data->leftovers, i);

        g_string_append_printf (survivors, "%s%d", survivors->len > 0 ? ", " : "", (int) leftover->pid);
        close (fds[i]);
      }
  if (left > 0)
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_TIMED_OUT,
                             g_dngettext (GETTEXT_PACKAGE,
                                          "Process %s did not end, even when killed (it may be in uninterruptible sleep)",
                                          "Processes %s did not end, even when killed (they may be in uninterruptible sleep)",
                                          left),
                             survivors->str);
  else
    g_task_return_boolean (task, TRUE);
}

void
tether_leftovers_end_async (TetherProfile       *profile,
                            GPtrArray           *leftovers,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  EndData *data = g_new0 (EndData, 1);

  data->profile = tether_profile_ref (profile);
  data->leftovers = g_ptr_array_ref (leftovers);
  g_task_set_source_tag (task, tether_leftovers_end_async);
  g_task_set_name (task, "[tether] end leftovers");
  g_task_set_task_data (task, data, (GDestroyNotify) end_data_free);
  g_task_run_in_thread (task, end_in_thread);
}

gboolean
tether_leftovers_end_finish (GAsyncResult  *result,
                             guint         *n_forced,
                             GError       **error)
{
  EndData *data;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  data = g_task_get_task_data (G_TASK (result));
  if (n_forced != NULL)
    *n_forced = data->n_forced;
  return g_task_propagate_boolean (G_TASK (result), error);
}
