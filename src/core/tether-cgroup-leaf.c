/* tether-cgroup-leaf.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-cgroup-leaf.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-procfs.h"

struct _TetherCgroupLeaf
{
  char *path;
  char *relative;
  int cpu_stat_fd;       /* open from creation to free; -1 if it would not */
  int memory_fd;         /* memory.current, likewise; -1 without the memory controller */
};

static char *
find_cgroup2_mount (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/mountinfo", &contents, NULL, NULL))
    return NULL;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *sep = strstr (lines[i], " - ");
      g_auto(GStrv) fields = NULL;

      if (sep == NULL || !g_str_has_prefix (sep, " - cgroup2 "))
        continue;
      fields = g_strsplit (lines[i], " ", 6);
      if (g_strv_length (fields) >= 5)
        return g_strcompress (fields[4]);
    }

  return NULL;
}

static char *
own_cgroup_path (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/cgroup", &contents, NULL, NULL))
    return NULL;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "0::"))
      return g_strdup (lines[i] + 3);

  return NULL;
}

/* Leaves are named tether-<pid of the Tether that made them>-<n>. TRUE when
 * pid still names the Tether that created the leaf at path. A process that
 * merely reused the pid started after the leaf was made (the leaf's ctime
 * never changes: kernfs leaves it alone when tasks move). */
static gboolean
leaf_creator_lives (pid_t       pid,
                    const char *path)
{
  TetherProcStat st;
  struct stat leaf;
  gint64 boot_offset, created;

  if (tether_procfs_read_stat (pid, &st) < 0)
    return FALSE;
  if (stat (path, &leaf) < 0)
    return TRUE; /* cannot tell: leave it alone */

  /* Start times count from boot; bring the leaf's wall-clock ctime there. */
  boot_offset = g_get_real_time () - tether_procfs_boottime_usec ();
  created = (gint64) leaf.st_ctim.tv_sec * G_USEC_PER_SEC + leaf.st_ctim.tv_nsec / 1000 - boot_offset;

  /* Start ticks round down, so the creator (which started well before its
   * mkdir) always compares earlier; 1 ms covers the clock reads. A process
   * reusing the pid within one 10 ms tick of the mkdir would pass for the
   * creator: then the leaf waits for the next Tether. */
  return tether_procfs_start_usec (&st) <= created + 1000;
}

/* A leaf whose Tether is gone was normally removed by its shim; if the shim
 * was killed too (OOM killer, a kill -9 of everything), its processes are
 * orphans nobody supervises any more: kill them and remove what is empty. */
static void
reap_stale_leaves (const char *parent_dir)
{
  g_autoptr(GDir) dir = g_dir_open (parent_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      int pid = 0;
      guint n = 0;

      if (sscanf (name, "tether-%d-%u", &pid, &n) != 2 || pid <= 0 || pid == getpid ())
        continue;
      path = g_build_filename (parent_dir, name, NULL);
      if (leaf_creator_lives (pid, path))
        continue;

      if (rmdir (path) == 0 || errno != EBUSY)
        continue;

      {
        g_autofree char *procs = g_build_filename (path, "cgroup.procs", NULL);
        g_autofree char *kill_path = g_build_filename (path, "cgroup.kill", NULL);
        pid_t *pids = NULL;
        size_t n_pids = 0;

        tether_procfs_read_pid_list (procs, &pids, &n_pids);
        free (pids);
        if (n_pids > 0 && tether_procfs_write_file (kill_path, "1") == 0)
          g_message ("Killed %zu processes left behind in %s by a Tether (pid %d) that is gone",
                     n_pids, path, pid);
      }
    }
}

TetherCgroupLeaf *
tether_cgroup_leaf_new (GError **error)
{
  static guint counter;
  g_autoptr(TetherCgroupLeaf) leaf = NULL;
  g_autofree char *mount = find_cgroup2_mount ();
  g_autofree char *parent_dir = NULL;
  g_autofree char *parent_rel = NULL;
  g_autofree char *leaf_name = NULL;
  g_autofree char *procs = NULL;
  g_autofree char *cpu_stat = NULL;
  const char *configured = g_getenv ("TETHER_CGROUP_PARENT");

  if (mount == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("No cgroup v2 hierarchy is mounted"));
      return NULL;
    }

  if (configured != NULL && *configured != '\0')
    {
      g_autofree char *canonical = g_canonicalize_filename (configured, NULL);

      if (!g_str_has_prefix (canonical, mount))
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                       _("TETHER_CGROUP_PARENT=%s is not inside the cgroup v2 mount %s"),
                       configured, mount);
          return NULL;
        }
      parent_rel = g_strdup (canonical + strlen (mount));
      if (*parent_rel == '\0')
        {
          g_free (parent_rel);
          parent_rel = g_strdup ("/");
        }
    }
  else
    {
      parent_rel = own_cgroup_path ();
      if (parent_rel == NULL)
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                       _("This process has no cgroup v2 path in /proc/self/cgroup"));
          return NULL;
        }
    }

  parent_dir = g_build_filename (mount, parent_rel, NULL);
  reap_stale_leaves (parent_dir);
  leaf_name = g_strdup_printf ("tether-%d-%u", (int) getpid (), ++counter);
  leaf = g_new0 (TetherCgroupLeaf, 1);
  leaf->cpu_stat_fd = -1;
  leaf->memory_fd = -1;
  leaf->path = g_build_filename (parent_dir, leaf_name, NULL);
  leaf->relative = g_build_filename (parent_rel, leaf_name, NULL);

  if (mkdir (leaf->path, 0755) < 0 && errno != EEXIST)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot create the cgroup %s: %s"), leaf->path, g_strerror (saved));
      return NULL;
    }

  procs = g_build_filename (leaf->path, "cgroup.procs", NULL);
  if (access (procs, W_OK) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot move processes into the cgroup %s: %s"), leaf->path, g_strerror (saved));
      rmdir (leaf->path);
      return NULL;
    }

  /* Read on every sampler tick, so opened once; a leaf whose cpu.stat
   * cannot be opened only has no tree CPU time to tell. */
  cpu_stat = g_build_filename (leaf->path, "cpu.stat", NULL);
  leaf->cpu_stat_fd = open (cpu_stat, O_RDONLY | O_CLOEXEC);
  /* Only where the parent enables the memory controller for its children. */
  {
    g_autofree char *memory = g_build_filename (leaf->path, "memory.current", NULL);
    leaf->memory_fd = open (memory, O_RDONLY | O_CLOEXEC);
  }

  return g_steal_pointer (&leaf);
}

void
tether_cgroup_leaf_free (TetherCgroupLeaf *leaf)
{
  if (leaf == NULL)
    return;
  if (leaf->cpu_stat_fd >= 0)
    close (leaf->cpu_stat_fd);
  if (leaf->memory_fd >= 0)
    close (leaf->memory_fd);
  g_free (leaf->path);
  g_free (leaf->relative);
  g_free (leaf);
}

const char *
tether_cgroup_leaf_get_path (TetherCgroupLeaf *leaf)
{
  return leaf->path;
}

const char *
tether_cgroup_leaf_get_relative_path (TetherCgroupLeaf *leaf)
{
  return leaf->relative;
}

gboolean
tether_cgroup_leaf_read_cpu_usage (TetherCgroupLeaf *leaf,
                                   guint64          *usec)
{
  char buf[512];
  const char *p;
  ssize_t n;

  /* pread at 0 makes the kernel write the file anew. Only reads: safe on
   * a worker thread while the leaf is not freed. */
  if (leaf->cpu_stat_fd < 0)
    return FALSE;
  n = pread (leaf->cpu_stat_fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';
  p = strstr (buf, "usage_usec ");
  if (p != NULL && (p == buf || p[-1] == '\n'))
    {
      *usec = g_ascii_strtoull (p + strlen ("usage_usec "), NULL, 10);
      return TRUE;
    }
  return FALSE;
}

gboolean
tether_cgroup_leaf_read_memory (TetherCgroupLeaf *leaf,
                                guint64          *bytes)
{
  char buf[64];
  ssize_t n;

  if (leaf->memory_fd < 0)
    return FALSE;
  n = pread (leaf->memory_fd, buf, sizeof buf - 1, 0);
  if (n <= 0 || !g_ascii_isdigit (buf[0]))
    return FALSE;
  buf[n] = '\0';
  *bytes = g_ascii_strtoull (buf, NULL, 10);
  return TRUE;
}

gboolean
tether_cgroup_leaf_kill (TetherCgroupLeaf *leaf)
{
  g_autofree char *path = g_build_filename (leaf->path, "cgroup.kill", NULL);
  return tether_procfs_write_file (path, "1") == 0;
}

gboolean
tether_cgroup_leaf_remove (TetherCgroupLeaf *leaf)
{
  return rmdir (leaf->path) == 0 || errno == ENOENT;
}

/* ---- waiting for "populated 0" ------------------------------------------ */

typedef struct
{
  int fd;
  GSource *watch;
  GSource *timeout;
} WaitEmpty;

static void
wait_empty_free (gpointer data)
{
  WaitEmpty *wait = data;

  if (wait->fd >= 0)
    close (wait->fd);
  g_free (wait);
}

static gboolean
is_unpopulated (int fd)
{
  char buf[256];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

  if (n < 0)
    return errno == ENODEV || errno == ENOENT;  /* the leaf itself is gone */
  buf[n] = '\0';
  return strstr (buf, "populated 0") != NULL;
}

/* Whichever comes first, "populated 0" or the timeout, ends the wait and
 * takes the other source down with it. */
static void
drop_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
finish_wait (GTask  *task,
             GError *error)
{
  WaitEmpty *wait = g_task_get_task_data (task);

  drop_source (&wait->watch);
  drop_source (&wait->timeout);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);  /* the wait's own reference */
}

static gboolean
on_events_changed (int           fd,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  /* The same fd is polled and re-read: reopening would stay "ready". */
  if (!is_unpopulated (fd))
    return G_SOURCE_CONTINUE;
  finish_wait (user_data, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_wait_timeout (gpointer user_data)
{
  finish_wait (user_data, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                       _("The cgroup still holds processes")));
  return G_SOURCE_REMOVE;
}

void
tether_cgroup_leaf_wait_empty_async (TetherCgroupLeaf    *leaf,
                                     guint                timeout_ms,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *path = g_build_filename (leaf->path, "cgroup.events", NULL);
  WaitEmpty *wait = g_new0 (WaitEmpty, 1);

  g_task_set_source_tag (task, tether_cgroup_leaf_wait_empty_async);
  g_task_set_task_data (task, wait, wait_empty_free);
  wait->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (wait->fd < 0 || is_unpopulated (wait->fd))
    {
      finish_wait (task, NULL);
      return;
    }

  wait->watch = g_unix_fd_source_new (wait->fd, G_IO_PRI | G_IO_ERR);
  g_source_set_callback (wait->watch, G_SOURCE_FUNC (on_events_changed), task, NULL);
  g_source_attach (wait->watch, g_main_context_get_thread_default ());
  wait->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (wait->timeout, on_wait_timeout, task, NULL);
  g_source_attach (wait->timeout, g_main_context_get_thread_default ());
}

gboolean
tether_cgroup_leaf_wait_empty_finish (GAsyncResult  *result,
                                      GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
