/* tether-owner.c: whole-tree ownership through tether-shim
 *
 * Both kinds put tether-shim at the root of the tree: it is the subreaper
 * that reaps every descendant, reports the main process's exit and the
 * moment the tree is empty, and kills the tree if Tether goes away. The kinds
 * differ in what "member" means: in cgroup mode the leaf's cgroup.procs (the
 * backend entered it before exec, so double-forked and setsid'd escapees are
 * in it too), in reaper mode every live descendant of the shim.
 *
 * Verbs that act on processes go through the shim, so the same code that
 * serves Tether also kills the tree when Tether is gone. The member test the
 * notify server needs is answered here from /proc, without a round-trip.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-procfs.h"

#define COMMAND_TIMEOUT_MS 15000

struct _TetherOwner
{
  GObject parent_instance;

  TetherOwnerKind requested_kind;
  TetherOwnerKind kind;

  GSubprocess *shim;
  int control_fd;
  guint control_watch;
  GString *inbuf;
  GQueue pending_events;  /* of char*: events read while awaiting a reply */
  guint dispatch_idle;

  GTask *spawn_task;
  char *command_name;

  pid_t main_pid;
  pid_t shim_pid;
  char *cgroup_dir;
  char *cgroup_rel;

  guint running : 1;
  guint empty_emitted : 1;
  guint abandoned : 1;
};

enum {
  MAIN_EXITED,
  EMPTY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TetherOwner, tether_owner, G_TYPE_OBJECT)

static void dispatch_pending (TetherOwner *self);

const char *
tether_owner_kind_to_string (TetherOwnerKind kind)
{
  switch (kind)
    {
    case TETHER_OWNER_CGROUP:
      return "cgroup";
    case TETHER_OWNER_REAPER:
      return "reaper";
    case TETHER_OWNER_AUTO:
    default:
      return "auto";
    }
}

gboolean
tether_owner_kind_from_string (const char      *str,
                               TetherOwnerKind *kind)
{
  if (g_strcmp0 (str, "auto") == 0)
    *kind = TETHER_OWNER_AUTO;
  else if (g_strcmp0 (str, "cgroup") == 0)
    *kind = TETHER_OWNER_CGROUP;
  else if (g_strcmp0 (str, "reaper") == 0)
    *kind = TETHER_OWNER_REAPER;
  else
    return FALSE;
  return TRUE;
}

TetherOwnerKind
tether_owner_kind_from_env (void)
{
  TetherOwnerKind kind = TETHER_OWNER_AUTO;
  const char *env = g_getenv ("TETHER_OWNER");

  if (env != NULL && *env != '\0' && !tether_owner_kind_from_string (env, &kind))
    g_message ("Ignoring TETHER_OWNER=%s: expected auto, cgroup or reaper", env);
  return kind;
}

char *
tether_owner_find_shim (GError **error)
{
  const char *env = g_getenv ("TETHER_SHIM");
  const char *candidates[] = { TETHER_SHIM_INSTALLED, TETHER_SHIM_BUILD };

  if (env != NULL && *env != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (env);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("TETHER_SHIM names “%s”, which is not an executable"), env);
      return NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup (candidates[i]);

  g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
               _("The helper tether-shim is not installed (looked in %s); set TETHER_SHIM to its path"),
               TETHER_SHIM_INSTALLED);
  return NULL;
}

/* ---- cgroup leaf ------------------------------------------------------- */

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

/* Leaves are named tether-<pid of the Tether that made them>-<n>. One whose
 * Tether is gone was normally removed by its shim; if the shim was killed
 * too (OOM killer, a kill -9 of everything), its processes are orphans
 * nobody supervises any more: kill them and remove what is empty. */
/* TRUE when pid still names the Tether that created the leaf at path. A
 * process that merely reused the pid started after the leaf was made (the
 * leaf's ctime never changes: kernfs leaves it alone when tasks move). */
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

static gboolean
create_cgroup_leaf (TetherOwner  *self,
                    GError      **error)
{
  static guint counter;
  g_autofree char *mount = find_cgroup2_mount ();
  g_autofree char *parent_dir = NULL;
  g_autofree char *parent_rel = NULL;
  g_autofree char *leaf_name = NULL;
  g_autofree char *procs = NULL;
  const char *configured = g_getenv ("TETHER_CGROUP_PARENT");

  if (mount == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("No cgroup v2 hierarchy is mounted"));
      return FALSE;
    }

  if (configured != NULL && *configured != '\0')
    {
      g_autofree char *canonical = g_canonicalize_filename (configured, NULL);

      if (!g_str_has_prefix (canonical, mount))
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                       _("TETHER_CGROUP_PARENT=%s is not inside the cgroup v2 mount %s"),
                       configured, mount);
          return FALSE;
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
          return FALSE;
        }
    }

  parent_dir = g_build_filename (mount, parent_rel, NULL);
  reap_stale_leaves (parent_dir);
  leaf_name = g_strdup_printf ("tether-%d-%u", (int) getpid (), ++counter);
  self->cgroup_dir = g_build_filename (parent_dir, leaf_name, NULL);
  self->cgroup_rel = g_build_filename (parent_rel, leaf_name, NULL);

  if (mkdir (self->cgroup_dir, 0755) < 0 && errno != EEXIST)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot create the cgroup %s: %s"),
                   self->cgroup_dir, g_strerror (saved));
      g_clear_pointer (&self->cgroup_dir, g_free);
      g_clear_pointer (&self->cgroup_rel, g_free);
      return FALSE;
    }

  procs = g_build_filename (self->cgroup_dir, "cgroup.procs", NULL);
  if (access (procs, W_OK) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot move processes into the cgroup %s: %s"),
                   self->cgroup_dir, g_strerror (saved));
      rmdir (self->cgroup_dir);
      g_clear_pointer (&self->cgroup_dir, g_free);
      g_clear_pointer (&self->cgroup_rel, g_free);
      return FALSE;
    }

  return TRUE;
}

/* ---- the control socket ------------------------------------------------ */

static gboolean
is_reply (const char *line)
{
  return g_str_has_prefix (line, "ok") || g_str_has_prefix (line, "error ");
}

/* Moves every complete line out of inbuf: replies to *reply (the first one),
 * events to the pending queue. */
static void
split_lines (TetherOwner  *self,
             char        **reply)
{
  char *nl;

  while ((nl = memchr (self->inbuf->str, '\n', self->inbuf->len)) != NULL)
    {
      gsize used = (gsize) (nl - self->inbuf->str) + 1;
      char *line = g_strndup (self->inbuf->str, used - 1);

      g_string_erase (self->inbuf, 0, (gssize) used);
      if (is_reply (line))
        {
          if (reply != NULL && *reply == NULL)
            *reply = line;
          else
            {
              g_message ("tether-shim sent an unexpected reply: %s", line);
              g_free (line);
            }
        }
      else
        g_queue_push_tail (&self->pending_events, line);

      if (reply != NULL && *reply != NULL)
        return;
    }
}

/* Returns FALSE on EOF or error. */
static gboolean
read_available (TetherOwner *self)
{
  char buf[8192];

  for (;;)
    {
      ssize_t n = read (self->control_fd, buf, sizeof buf);

      if (n > 0)
        {
          g_string_append_len (self->inbuf, buf, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      return FALSE;
    }
}

static void
close_control (TetherOwner *self)
{
  g_clear_handle_id (&self->control_watch, g_source_remove);
  if (self->control_fd >= 0)
    {
      close (self->control_fd);
      self->control_fd = -1;
    }
}

static gboolean
on_control_readable (int           fd,
                     GIOCondition  condition,
                     gpointer      user_data)
{
  TetherOwner *self = user_data;
  gboolean open = read_available (self);

  g_object_ref (self);
  split_lines (self, NULL);
  dispatch_pending (self);
  if (!open)
    {
      /* Only stop watching here: the shim's exit decides what it means. */
      self->control_watch = 0;
      g_object_unref (self);
      return G_SOURCE_REMOVE;
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
write_all (int         fd,
           const char *data,
           gsize       len)
{
  while (len > 0)
    {
      /* MSG_NOSIGNAL: a dead shim must be an error here, not SIGPIPE. */
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };
          if (poll (&pfd, 1, COMMAND_TIMEOUT_MS) <= 0)
            return FALSE;
          continue;
        }
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
on_dispatch_idle (gpointer user_data)
{
  TetherOwner *self = user_data;

  self->dispatch_idle = 0;
  dispatch_pending (self);
  return G_SOURCE_REMOVE;
}

/* The read that brought a reply may have brought events after it too; the
 * fd watch will not fire for data already read, so queue them for an idle
 * dispatch now (never re-entrantly from inside a command). */
static void
queue_leftover_events (TetherOwner *self)
{
  split_lines (self, NULL);
  if (!g_queue_is_empty (&self->pending_events) && self->dispatch_idle == 0)
    self->dispatch_idle = g_idle_add_full (G_PRIORITY_HIGH, on_dispatch_idle, self, NULL);
}

/* One request, one reply. The shim answers at once (a freeze sweep of a
 * forking tree is the slowest, a few ms), so waiting in place is simpler and
 * safer for the callers than an async dance; events that arrive meanwhile
 * are queued and dispatched from an idle, never re-entrantly. */
static char *
shim_command (TetherOwner  *self,
              const char   *command,
              GError      **error)
{
  g_autofree char *line = g_strconcat (command, "\n", NULL);
  char *reply = NULL;
  gint64 deadline = g_get_monotonic_time () + COMMAND_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  if (self->control_fd < 0 || !self->running)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                   _("The backend is not running"));
      return NULL;
    }

  if (!write_all (self->control_fd, line, strlen (line)))
    goto lost;

  for (;;)
    {
      struct pollfd pfd = { self->control_fd, POLLIN, 0 };
      int left;

      split_lines (self, &reply);
      if (reply != NULL)
        break;

      left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      if (left <= 0 || poll (&pfd, 1, left) <= 0 || !read_available (self))
        {
          split_lines (self, &reply);
          if (reply != NULL)
            break;
          goto lost;
        }
    }

  queue_leftover_events (self);

  if (g_str_has_prefix (reply, "error "))
    {
      int err = 0;
      const char *text = reply + 6;
      char *end;

      err = (int) strtol (text, &end, 10);
      text = *end == ' ' ? end + 1 : end;
      g_set_error (error, TETHER_ERROR,
                   err == ESRCH ? TETHER_ERROR_NOT_MEMBER : TETHER_ERROR_OWNER,
                   "%s", text);
      g_free (reply);
      return NULL;
    }

  return reply;

lost:
  queue_leftover_events (self);
  g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
               _("tether-shim did not answer “%s”"), command);
  return NULL;
}

/* Parses "ok N [PID...]" */
static gboolean
shim_command_count (TetherOwner  *self,
                    const char   *command,
                    guint        *count,
                    GError      **error)
{
  g_autofree char *reply = shim_command (self, command, error);

  if (reply == NULL)
    return FALSE;
  if (count != NULL)
    *count = (guint) strtoul (reply + 2, NULL, 10);
  return TRUE;
}

/* ---- events ------------------------------------------------------------ */

static void
emit_empty (TetherOwner *self)
{
  if (self->empty_emitted)
    return;
  self->empty_emitted = TRUE;
  self->running = FALSE;
  if (self->cgroup_dir != NULL)
    rmdir (self->cgroup_dir); /* the shim normally did it */
  g_signal_emit (self, signals[EMPTY], 0);
}

static void
handle_event (TetherOwner *self,
              const char  *line)
{
  int a = 0, b = 0;

  if (sscanf (line, "ready %d", &a) == 1)
    {
      self->main_pid = a;
      self->running = TRUE;
      if (self->spawn_task != NULL)
        {
          GTask *task = g_steal_pointer (&self->spawn_task);
          g_task_return_int (task, a);
          g_object_unref (task);
        }
    }
  else if (sscanf (line, "spawn-failed %d", &a) == 1)
    {
      if (self->spawn_task != NULL)
        {
          GTask *task = g_steal_pointer (&self->spawn_task);
          g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                                   _("Could not start “%s”: %s"),
                                   self->command_name, g_strerror (a));
          g_object_unref (task);
        }
    }
  else if (sscanf (line, "exit %d %d", &a, &b) == 2)
    g_signal_emit (self, signals[MAIN_EXITED], 0, a, b);
  else if (g_str_equal (line, "empty"))
    emit_empty (self);
  else
    g_message ("tether-shim sent an unknown event: %s", line);
}

static void
dispatch_pending (TetherOwner *self)
{
  char *line;

  g_object_ref (self);
  while ((line = g_queue_pop_head (&self->pending_events)) != NULL)
    {
      handle_event (self, line);
      g_free (line);
    }
  g_object_unref (self);
}

static void
on_shim_exited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  TetherOwner *self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);

  /* Whatever the shim said last is still in the socket: hear it first. */
  if (self->control_fd >= 0)
    {
      read_available (self);
      split_lines (self, NULL);
      dispatch_pending (self);
    }
  close_control (self);

  if (self->spawn_task != NULL)
    {
      GTask *task = g_steal_pointer (&self->spawn_task);
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                               _("tether-shim exited before starting “%s”"),
                               self->command_name);
      g_object_unref (task);
    }

  if (!self->empty_emitted)
    {
      /* The shim was killed from outside. In cgroup mode the tree is still
       * fenced in and can be killed here; in reaper mode its orphans went
       * to init, out of reach. */
      if (self->cgroup_dir != NULL)
        {
          g_autofree char *kill_path = g_build_filename (self->cgroup_dir, "cgroup.kill", NULL);
          tether_procfs_write_file (kill_path, "1");
          if (!self->abandoned)
            g_message ("tether-shim died unexpectedly; killed what was left in %s", self->cgroup_dir);
        }
      else if (!self->abandoned)
        g_message ("tether-shim died unexpectedly; the backend's processes may have been left behind");
      emit_empty (self);
    }

  g_object_unref (self);
}

/* ---- spawn ------------------------------------------------------------- */

static void
restore_nofile_limit (gpointer user_data)
{
  tether_procfs_restore_nofile_limit ();
}

void
tether_owner_spawn_async (TetherOwner         *self,
                          const char * const  *argv,
                          const char * const  *envp,
                          const char          *cwd,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) shim_argv = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *shim_path = NULL;
  int pair[2];

  g_return_if_fail (TETHER_IS_OWNER (self));
  g_return_if_fail (argv != NULL && argv[0] != NULL);
  g_return_if_fail (self->shim == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_owner_spawn_async);
  self->command_name = g_strdup (argv[0]);

  shim_path = tether_owner_find_shim (&error);
  if (shim_path == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->kind = self->requested_kind;
  if (self->kind != TETHER_OWNER_REAPER)
    {
      if (create_cgroup_leaf (self, &error))
        self->kind = TETHER_OWNER_CGROUP;
      else if (self->kind == TETHER_OWNER_CGROUP)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      else
        {
          g_debug ("No cgroup ownership (%s); using the subreaper shim", error->message);
          g_clear_error (&error);
          self->kind = TETHER_OWNER_REAPER;
        }
    }

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int saved = errno;
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_OWNER,
                               _("Cannot create the control socket: %s"), g_strerror (saved));
      return;
    }
  g_unix_set_fd_nonblocking (pair[0], TRUE, NULL);
  self->control_fd = pair[0];

  shim_argv = g_ptr_array_new ();
  g_ptr_array_add (shim_argv, shim_path);
  g_ptr_array_add (shim_argv, (char *) "--control-fd");
  g_ptr_array_add (shim_argv, (char *) "3");
  if (self->kind == TETHER_OWNER_CGROUP)
    {
      g_ptr_array_add (shim_argv, (char *) "--cgroup");
      g_ptr_array_add (shim_argv, self->cgroup_dir);
      g_ptr_array_add (shim_argv, (char *) "--cgroup-rel");
      g_ptr_array_add (shim_argv, self->cgroup_rel);
    }
  g_ptr_array_add (shim_argv, (char *) "--");
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (shim_argv, (char *) argv[i]);
  g_ptr_array_add (shim_argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  if (envp != NULL)
    g_subprocess_launcher_set_environ (launcher, (char **) envp);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  g_subprocess_launcher_take_fd (launcher, pair[1], 3);
  /* The backend gets the fd limit Tether started with, not the one the
   * sampler raised for itself. */
  g_subprocess_launcher_set_child_setup (launcher, restore_nofile_limit, NULL, NULL);

  self->shim = g_subprocess_launcher_spawnv (launcher,
                                             (const char * const *) shim_argv->pdata,
                                             &error);
  if (self->shim == NULL)
    {
      close_control (self);
      if (self->cgroup_dir != NULL)
        rmdir (self->cgroup_dir);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->shim_pid = (pid_t) atoi (g_subprocess_get_identifier (self->shim));
  self->spawn_task = g_steal_pointer (&task);
  self->control_watch = g_unix_fd_add (self->control_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                       on_control_readable, self);
  g_subprocess_wait_async (self->shim, NULL, on_shim_exited, g_object_ref (self));
}

pid_t
tether_owner_spawn_finish (TetherOwner   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  gssize pid;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  pid = g_task_propagate_int (G_TASK (result), error);
  return (pid_t) pid;
}

/* ---- queries and verbs ------------------------------------------------- */

TetherOwnerKind
tether_owner_get_kind (TetherOwner *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), TETHER_OWNER_AUTO);
  return self->kind;
}

pid_t
tether_owner_get_main_pid (TetherOwner *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), 0);
  return self->main_pid;
}

pid_t
tether_owner_get_shim_pid (TetherOwner *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), 0);
  return self->shim_pid;
}

const char *
tether_owner_get_cgroup_path (TetherOwner *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), NULL);
  return self->kind == TETHER_OWNER_CGROUP ? self->cgroup_dir : NULL;
}

gboolean
tether_owner_is_running (TetherOwner *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return self->running;
}

gboolean
tether_owner_is_member (TetherOwner *self,
                        pid_t        pid)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);

  /* Not "running": a fast backend may speak before the shim's "ready". */
  if (self->shim == NULL || self->empty_emitted || pid <= 1 || pid == self->shim_pid)
    return FALSE;
  if (self->kind == TETHER_OWNER_CGROUP)
    return tether_procfs_in_cgroup (pid, self->cgroup_rel) == 1;
  return tether_procfs_is_descendant (pid, self->shim_pid) == 1;
}

static int
compare_pids (gconstpointer a,
              gconstpointer b)
{
  pid_t pa = *(const pid_t *) a, pb = *(const pid_t *) b;
  return (pa > pb) - (pa < pb);
}

GArray *
tether_owner_list_members (TetherOwner  *self,
                           GError      **error)
{
  GArray *members = g_array_new (FALSE, FALSE, sizeof (pid_t));

  g_return_val_if_fail (TETHER_IS_OWNER (self), NULL);

  if (!self->running)
    return members;

  if (self->kind == TETHER_OWNER_CGROUP)
    {
      /* The kernel keeps this list; no round-trip needed. */
      g_autofree char *path = g_build_filename (self->cgroup_dir, "cgroup.procs", NULL);
      pid_t *pids = NULL;
      size_t n = 0;
      int r = tether_procfs_read_pid_list (path, &pids, &n);

      if (r < 0)
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                       _("Cannot read %s: %s"), path, g_strerror (-r));
          g_array_unref (members);
          free (pids);
          return NULL;
        }
      g_array_append_vals (members, pids, (guint) n);
      free (pids);
    }
  else
    {
      g_autofree char *reply = shim_command (self, "members", error);
      g_auto(GStrv) words = NULL;

      if (reply == NULL)
        {
          g_array_unref (members);
          return NULL;
        }
      words = g_strsplit (reply, " ", -1);
      for (guint i = 2; words[0] != NULL && words[1] != NULL && words[i] != NULL; i++)
        {
          pid_t pid = (pid_t) atoi (words[i]);
          g_array_append_val (members, pid);
        }
    }

  g_array_sort (members, compare_pids);
  return members;
}

gboolean
tether_owner_signal (TetherOwner  *self,
                     pid_t         pid,
                     int           sig,
                     GError      **error)
{
  g_autofree char *cmd = g_strdup_printf ("signal %d %d", (int) pid, sig);
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);

  if (!shim_command_count (self, cmd, NULL, &local_error))
    {
      if (g_error_matches (local_error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER))
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                     _("Process %d is not part of the backend’s tree"), (int) pid);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

gboolean
tether_owner_signal_all (TetherOwner  *self,
                         int           sig,
                         guint        *n_signalled,
                         GError      **error)
{
  g_autofree char *cmd = g_strdup_printf ("signal-all %d", sig);
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return shim_command_count (self, cmd, n_signalled, error);
}

static gboolean
subtree_command (TetherOwner  *self,
                 const char   *cmd,
                 pid_t         pid,
                 guint        *n,
                 GError      **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!shim_command_count (self, cmd, n, &local_error))
    {
      if (g_error_matches (local_error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER))
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                     _("Process %d is not part of the backend’s tree"), (int) pid);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

gboolean
tether_owner_signal_subtree (TetherOwner  *self,
                             pid_t         pid,
                             int           sig,
                             guint        *n_signalled,
                             GError      **error)
{
  g_autofree char *cmd = g_strdup_printf ("signal-subtree %d %d", (int) pid, sig);
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return subtree_command (self, cmd, pid, n_signalled, error);
}

gboolean
tether_owner_kill_subtree (TetherOwner  *self,
                           pid_t         pid,
                           guint        *n_killed,
                           GError      **error)
{
  g_autofree char *cmd = g_strdup_printf ("kill-subtree %d", (int) pid);
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return subtree_command (self, cmd, pid, n_killed, error);
}

gboolean
tether_owner_freeze (TetherOwner  *self,
                     guint        *n_frozen,
                     GError      **error)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return shim_command_count (self, "freeze", n_frozen, error);
}

gboolean
tether_owner_thaw (TetherOwner  *self,
                   guint        *n_thawed,
                   GError      **error)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return shim_command_count (self, "thaw", n_thawed, error);
}

gboolean
tether_owner_kill_all (TetherOwner  *self,
                       guint        *n_killed,
                       GError      **error)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return shim_command_count (self, "kill", n_killed, error);
}

void
tether_owner_abandon (TetherOwner *self)
{
  g_return_if_fail (TETHER_IS_OWNER (self));
  self->abandoned = TRUE;
  close_control (self);
}

/* ---- GObject ----------------------------------------------------------- */

static void
tether_owner_dispose (GObject *object)
{
  TetherOwner *self = TETHER_OWNER (object);

  /* Closing the socket is enough: the shim kills and reaps the tree. */
  close_control (self);
  g_clear_handle_id (&self->dispatch_idle, g_source_remove);
  g_queue_clear_full (&self->pending_events, g_free);

  G_OBJECT_CLASS (tether_owner_parent_class)->dispose (object);
}

static void
tether_owner_finalize (GObject *object)
{
  TetherOwner *self = TETHER_OWNER (object);

  g_clear_object (&self->shim);
  g_string_free (self->inbuf, TRUE);
  g_free (self->command_name);
  g_free (self->cgroup_dir);
  g_free (self->cgroup_rel);

  G_OBJECT_CLASS (tether_owner_parent_class)->finalize (object);
}

static void
tether_owner_class_init (TetherOwnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_owner_dispose;
  object_class->finalize = tether_owner_finalize;

  signals[MAIN_EXITED] =
    g_signal_new ("main-exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[EMPTY] =
    g_signal_new ("empty", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_owner_init (TetherOwner *self)
{
  self->control_fd = -1;
  self->inbuf = g_string_new (NULL);
  g_queue_init (&self->pending_events);
}

TetherOwner *
tether_owner_new (TetherOwnerKind kind)
{
  TetherOwner *self = g_object_new (TETHER_TYPE_OWNER, NULL);

  self->requested_kind = kind;
  self->kind = kind;
  return self;
}
