/* tether-reaper.c: Tether as a child subreaper
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-reaper.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-procfs.h"

#define REAP_INTERVAL_S 2

static gboolean installed;
static gboolean scanning;        /* a scan is in its thread */
static GHashTable *zombies_seen; /* pid -> start time (µs after boot); the scans' own */

/* ---- children --------------------------------------------------------------- */

static void
add_pid_list (GArray     *pids,
              const char *text)
{
  const char *p = text;

  while (*p != '\0')
    {
      char *end;
      long pid = strtol (p, &end, 10);

      if (end == p)
        break;
      if (pid > 0)
        g_array_append_val (pids, (pid_t) { (pid_t) pid });
      p = end;
    }
}

GArray *
tether_reaper_list_children (void)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  gboolean have_children_files = FALSE;

  while (tasks != NULL && (tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/children", tid);
      g_autofree char *text = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      have_children_files = TRUE;
      add_pid_list (pids, text);
    }
  if (!have_children_files)
    {
      /* A kernel without CONFIG_PROC_CHILDREN: every process's parent. */
      g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
      const char *name;
      pid_t self = getpid ();

      while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
        {
          TetherProcStat st;
          long pid = strtol (name, NULL, 10);

          if (pid > 0 && tether_procfs_read_stat ((pid_t) pid, &st) == 0 && st.ppid == self)
            g_array_append_val (pids, st.pid);
        }
    }
  return pids;
}

/* ---- reaping adopted zombies ---------------------------------------------- */

static void
scan_in_thread (GTask        *task,
                gpointer      source,
                gpointer      task_data,
                GCancellable *cancellable)
{
  g_autoptr(GArray) children = tether_reaper_list_children ();
  g_autoptr(GHashTable) now = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < children->len; i++)
    {
      pid_t pid = g_array_index (children, pid_t, i);
      TetherProcStat st;
      gint64 start;

      if (tether_procfs_read_stat (pid, &st) < 0 || st.state != 'Z')
        continue;
      start = tether_procfs_start_usec (&st);
      /* The same zombie twice (a reused pid has another start time). */
      if (g_hash_table_lookup (zombies_seen, GINT_TO_POINTER (pid)) == GINT_TO_POINTER ((int) (start / 10000 + 1)))
        {
          int status;

          if (waitpid (pid, &status, WNOHANG) == pid)
            {
              g_debug ("Reaped process %d, an orphan this subreaper adopted", (int) pid);
              continue;
            }
        }
      g_hash_table_insert (now, GINT_TO_POINTER (pid), GINT_TO_POINTER ((int) (start / 10000 + 1)));
    }
  g_hash_table_remove_all (zombies_seen);
  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, now);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_hash_table_insert (zombies_seen, key, value);
  }
  g_task_return_boolean (task, TRUE);
}

static void
on_scanned (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  scanning = FALSE;
}

static gboolean
on_reap_tick (gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  if (scanning)
    return G_SOURCE_CONTINUE;
  scanning = TRUE;
  task = g_task_new (NULL, NULL, on_scanned, NULL);
  g_task_set_source_tag (task, on_reap_tick);
  g_task_set_name (task, "[tether] reap adopted orphans");
  g_task_run_in_thread (task, scan_in_thread);
  return G_SOURCE_CONTINUE;
}

gboolean
tether_reaper_install (GError **error)
{
  GSource *source;

  if (installed)
    return TRUE;
  if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Could not become a child subreaper: %s"), g_strerror (saved));
      return FALSE;
    }
  installed = TRUE;
  zombies_seen = g_hash_table_new (NULL, NULL);
  source = g_timeout_source_new_seconds (REAP_INTERVAL_S);
  g_source_set_callback (source, on_reap_tick, NULL, NULL);
  g_source_set_static_name (source, "[tether] reap adopted orphans");
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
  return TRUE;
}

gboolean
tether_reaper_is_installed (void)
{
  return installed;
}

/* ---- ending a dead shim's orphans ---------------------------------------- */

typedef struct
{
  GArray *spawned;
  GArray *known;
  gint64 known_at_usec;
  gint64 since_usec;
  char *tag;
  guint timeout_ms;
} EndData;

static void
end_data_free (EndData *data)
{
  g_clear_pointer (&data->spawned, g_array_unref);
  g_clear_pointer (&data->known, g_array_unref);
  g_free (data->tag);
  g_free (data);
}

static gboolean
array_has (GArray *array,
           pid_t   pid)
{
  for (guint i = 0; array != NULL && i < array->len; i++)
    if (g_array_index (array, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

/* TETHER_TREE=tag in the environment pid started with. */
static gboolean
has_tag (pid_t       pid,
         const char *tag)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *want = g_strconcat ("TETHER_TREE=", tag, NULL);
  g_autofree char *env = NULL;
  gsize len;

  if (tag == NULL || !g_file_get_contents (path, &env, &len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i += strlen (env + i) + 1)
    if (strcmp (env + i, want) == 0)
      return TRUE;
  return FALSE;
}

/* pid -> parent pid of every live process. */
static GHashTable *
read_parents (void)
{
  GHashTable *parents = g_hash_table_new (NULL, NULL);
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      TetherProcStat st;
      long pid = strtol (name, NULL, 10);

      if (pid > 0 && tether_procfs_read_stat ((pid_t) pid, &st) == 0 && st.state != 'Z' && st.state != 'X')
        g_hash_table_insert (parents, GINT_TO_POINTER (st.pid), GINT_TO_POINTER (st.ppid));
    }
  return parents;
}

/* Adds every live descendant of the processes in set; returns how many
 * were new. */
static guint
add_descendants (GHashTable *set)
{
  g_autoptr(GHashTable) parents = read_parents ();
  guint added = 0;
  gboolean grew = TRUE;

  while (grew)
    {
      GHashTableIter iter;
      gpointer key, value;

      grew = FALSE;
      g_hash_table_iter_init (&iter, parents);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_hash_table_contains (set, key) && g_hash_table_contains (set, value))
          {
            g_hash_table_add (set, key);
            added++;
            grew = TRUE;
          }
    }
  return added;
}

static void
signal_all (GHashTable *set,
            int         sig)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    kill ((pid_t) GPOINTER_TO_INT (key), sig);
}

static void
end_in_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  EndData *data = task_data;
  g_autoptr(GArray) children = tether_reaper_list_children ();
  g_autoptr(GHashTable) set = g_hash_table_new (NULL, NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) data->timeout_ms * 1000;
  guint n;

  for (guint i = 0; i < children->len; i++)
    {
      pid_t pid = g_array_index (children, pid_t, i);
      TetherProcStat st;
      gint64 start;

      if (tether_procfs_read_stat (pid, &st) < 0)
        continue;
      start = tether_procfs_start_usec (&st);
      /* 10 ms ticks: a start in the tick of the shim's own counts. */
      if (start + 10000 < data->since_usec)
        continue;
      if (array_has (data->spawned, pid) ||
          (array_has (data->known, pid) && start <= data->known_at_usec) ||
          has_tag (pid, data->tag))
        g_hash_table_add (set, GINT_TO_POINTER (pid));
    }

  /* Stopped, nothing forks: sweep until a sweep finds nobody new. */
  add_descendants (set);
  do
    signal_all (set, SIGSTOP);
  while (add_descendants (set) > 0 && g_get_monotonic_time () < deadline);
  signal_all (set, SIGKILL);
  n = g_hash_table_size (set);
  /* The whole timeout again for them to go: the sweeps may have used it
   * on a loaded machine. */
  deadline = g_get_monotonic_time () + (gint64) data->timeout_ms * 1000;

  /* Reap those that are this process's children now (the roots, and any
   * whose parent died first); the others' parents reap them. */
  for (;;)
    {
      GHashTableIter iter;
      gpointer key;
      guint left = 0;

      g_hash_table_iter_init (&iter, set);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          pid_t pid = (pid_t) GPOINTER_TO_INT (key);
          int status;

          if (waitpid (pid, &status, WNOHANG) == pid || (kill (pid, 0) < 0 && errno == ESRCH))
            g_hash_table_iter_remove (&iter);
          else
            left++;
        }
      if (left == 0)
        break;
      if (g_get_monotonic_time () > deadline)
        {
          g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_TIMED_OUT,
                                   g_dngettext (GETTEXT_PACKAGE,
                                                "%u process left behind by tether-shim did not end",
                                                "%u processes left behind by tether-shim did not end", left),
                                   left);
          return;
        }
      g_usleep (2000);
    }
  g_task_return_int (task, (gssize) n);
}

void
tether_reaper_end_orphans_async (GArray              *spawned,
                                 GArray              *known,
                                 gint64               known_at_usec,
                                 gint64               since_usec,
                                 const char          *tag,
                                 guint                timeout_ms,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  EndData *data = g_new0 (EndData, 1);

  data->spawned = spawned != NULL ? g_array_ref (spawned) : NULL;
  data->known = known != NULL ? g_array_ref (known) : NULL;
  data->known_at_usec = known_at_usec;
  data->since_usec = since_usec;
  data->tag = g_strdup (tag);
  data->timeout_ms = timeout_ms;
  g_task_set_source_tag (task, tether_reaper_end_orphans_async);
  g_task_set_name (task, "[tether] end a dead shim's orphans");
  g_task_set_task_data (task, data, (GDestroyNotify) end_data_free);
  g_task_run_in_thread (task, end_in_thread);
}

gssize
tether_reaper_end_orphans_finish (GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), -1);
  return g_task_propagate_int (G_TASK (result), error);
}
