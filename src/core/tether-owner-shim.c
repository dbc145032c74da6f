/* tether-owner-shim.c: tree ownership through tether-shim (Linux)
 *
 * Both membership kinds put tether-shim at the root of the tree: it is the
 * subreaper that reaps every descendant, reports exits and the moment the
 * tree is empty, and kills the tree if Tether goes away. In cgroup mode the
 * tree also lives in a leaf (tether-cgroup-leaf.c), which makes listing,
 * freezing and killing cheap and atomic; membership is ancestry either way
 * (src/shim/PROTOCOL.md says why).
 *
 * The protocol itself is TetherOwnerClient's (tether-owner-client.c): this
 * file starts the shim on a socketpair, passes descriptors with a spawn,
 * and decides what the shim's death means for the tree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdmessage.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tether-cgroup-leaf.h"
#include "tether-error.h"
#include "tether-owner-client.h"
#include "tether-procfs.h"
#include "tether-reaper.h"
#include "tether-relocation.h"
#include "tether-shim-protocol.h"

/* How long a tree left behind by a killed shim may take to leave the leaf. */
#define ORPHAN_KILL_TIMEOUT_MS 10000

#define TETHER_TYPE_OWNER_SHIM (tether_owner_shim_get_type ())
G_DECLARE_FINAL_TYPE (TetherOwnerShim, tether_owner_shim, TETHER, OWNER_SHIM, TetherOwner)

struct _TetherOwnerShim
{
  TetherOwner parent_instance;

  TetherOwnerKind requested_kind;
  TetherCgroupLeaf *leaf;
  GSubprocess *process;
  char *shim_path;
  pid_t shim_pid;
  TetherOwnerClient *client;


  /* Reaper mode, for when the shim is killed and this process (a child
   * subreaper) inherits its orphans: which of its children were members. */
  gint64 shim_start_usec;  /* µs after boot */
  char *tree_tag;          /* TETHER_TREE in every spawn's environment */
  GArray *spawned;         /* pids the shim spawned since the last listing */
  GArray *known;           /* the last member listing */
  gint64 known_at_usec;    /* µs after boot */
};

G_DEFINE_FINAL_TYPE (TetherOwnerShim, tether_owner_shim, TETHER_TYPE_OWNER)

/* ---- finding the shim --------------------------------------------------- */

static char *
find_shim (GError **error)
{
  const char *env = g_getenv ("TETHER_SHIM");
  /* The shim of the installation this program runs from comes first. */
  g_autofree char *beside = tether_relocated_path (TETHER_LIBEXECDIR_RELATIVE, "tether-shim");
  const char *candidates[] = { beside, TETHER_SHIM_INSTALLED, TETHER_SHIM_BUILD };

  if (env != NULL && *env != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (env);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("TETHER_SHIM names “%s”, which is not an executable"), env);
      return NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (candidates[i] != NULL && g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup (candidates[i]);

  g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
               _("The helper tether-shim is not installed (looked in %s); set TETHER_SHIM to its path"),
               TETHER_SHIM_INSTALLED);
  return NULL;
}

/* ---- what the shim says ---------------------------------------------------- */

static void
on_spawned (TetherOwnerClient *client,
            int                pid,
            TetherOwnerShim   *self)
{
  if (self->leaf == NULL)
    g_array_append_val (self->spawned, (pid_t) { (pid_t) pid });
}

static void
on_listed (TetherOwnerClient *client,
           GArray            *members,
           gint64             asked_usec,
           TetherOwnerShim   *self)
{
  if (self->leaf != NULL)
    return;
  /* Taken before the listing: a pid that started after this was reused.
   * A spawn's pid is in the listing if it still lives. */
  g_clear_pointer (&self->known, g_array_unref);
  self->known = g_array_ref (members);
  self->known_at_usec = asked_usec;
  g_array_set_size (self->spawned, 0);
}

static void
on_exited (TetherOwnerClient *client,
           int                pid,
           gint64             wait_status,
           TetherOwnerShim   *self)
{
  tether_owner_emit_exited (TETHER_OWNER (self), (pid_t) pid, (int) wait_status);
}

/* ---- the shim's life ------------------------------------------------------ */

static void
on_orphans_gone (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(TetherOwnerShim) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_cgroup_leaf_wait_empty_finish (result, &error))
    g_message ("After tether-shim died, %s still holds processes: %s",
               tether_cgroup_leaf_get_path (self->leaf), error->message);
  else if (!tether_cgroup_leaf_remove (self->leaf))
    g_debug ("Could not remove %s: %s", tether_cgroup_leaf_get_path (self->leaf), g_strerror (errno));
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
on_orphans_ended (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TetherOwnerShim) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = tether_reaper_end_orphans_finish (result, &error);

  if (n < 0)
    g_message ("After tether-shim died: %s", error->message);
  else
    g_message (g_dngettext (GETTEXT_PACKAGE, "Ended %d process tether-shim left behind",
                            "Ended %d processes tether-shim left behind", (gulong) n), (int) n);
  tether_owner_emit_empty (TETHER_OWNER (self));
}

/* The shim has exited and all it said was heard; the client failed every
 * request in flight. */
static void
on_gone (TetherOwnerClient *client,
         gboolean           let_go,
         TetherOwnerShim   *self)
{
  if (tether_owner_empty_was_emitted (TETHER_OWNER (self)))
    return;

  /* Killed from outside. In cgroup mode the tree is still fenced in and
   * can be killed here; once the last task has left the leaf, it goes too.
   * In reaper mode its orphans went to init, out of reach. */
  if (self->leaf != NULL)
    {
      tether_cgroup_leaf_kill (self->leaf);
      if (!let_go)
        g_message ("tether-shim died unexpectedly; killing what was left in %s",
                   tether_cgroup_leaf_get_path (self->leaf));
      tether_cgroup_leaf_wait_empty_async (self->leaf, ORPHAN_KILL_TIMEOUT_MS, NULL,
                                           on_orphans_gone, g_object_ref (self));
      return;
    }
  if (!let_go && tether_reaper_is_installed ())
    {
      /* This process is a subreaper: the orphans came here. */
      g_message ("tether-shim died unexpectedly; ending the processes it left behind");
      tether_reaper_end_orphans_async (self->spawned, self->known, self->known_at_usec, self->shim_start_usec,
                                       self->tree_tag, ORPHAN_KILL_TIMEOUT_MS, NULL, on_orphans_ended, g_object_ref (self));
      return;
    }
  if (!let_go)
    g_message ("tether-shim died unexpectedly; the backend’s processes may have been left behind");
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
restore_nofile_limit (gpointer user_data)
{
  tether_procfs_restore_nofile_limit ();
}

static gboolean
start_shim (TetherOwnerShim  *self,
            GError          **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) local_error = NULL;
  TetherOwnerKind kind = self->requested_kind;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  int pair[2];

  self->shim_path = find_shim (error);
  if (self->shim_path == NULL)
    return FALSE;

  /* A Flatpak sandbox has no cgroup hierarchy to write (and no clone3):
   * the subreaper shim alone owns the tree there, without trying. */
  if (kind == TETHER_OWNER_AUTO && tether_owner_in_flatpak ())
    {
      g_debug ("In a Flatpak sandbox (/.flatpak-info): using the subreaper shim");
      kind = TETHER_OWNER_REAPER;
    }

  if (kind != TETHER_OWNER_REAPER)
    {
      self->leaf = tether_cgroup_leaf_new (&local_error);
      if (self->leaf != NULL)
        kind = TETHER_OWNER_CGROUP;
      else if (kind == TETHER_OWNER_CGROUP)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          goto fail;
        }
      else
        {
          g_debug ("No cgroup ownership (%s); using the subreaper shim", local_error->message);
          kind = TETHER_OWNER_REAPER;
        }
    }
  tether_owner_set_kind (TETHER_OWNER (self), kind);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot create the control socket: %s"), g_strerror (saved));
      goto fail;
    }
  /* A GSocket sends with MSG_NOSIGNAL: a dead shim is an error, not SIGPIPE. */
  socket = g_socket_new_from_fd (pair[0], error);
  if (socket == NULL)
    {
      close (pair[0]);
      close (pair[1]);
      goto fail;
    }
  connection = g_socket_connection_factory_create_connection (socket);

  g_ptr_array_add (argv, self->shim_path);
  g_ptr_array_add (argv, (char *) "--control-fd");
  g_ptr_array_add (argv, (char *) "3");
  if (self->leaf != NULL)
    {
      g_ptr_array_add (argv, (char *) "--cgroup");
      g_ptr_array_add (argv, (char *) tether_cgroup_leaf_get_path (self->leaf));
      g_ptr_array_add (argv, (char *) "--cgroup-rel");
      g_ptr_array_add (argv, (char *) tether_cgroup_leaf_get_relative_path (self->leaf));
    }
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (launcher, pair[1], 3);
  /* The shim, and so the backend, start with the fd limit Tether started
   * with, not the one the sampler raised for itself. */
  g_subprocess_launcher_set_child_setup (launcher, restore_nofile_limit, NULL, NULL);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (self->process == NULL)
    goto fail;

  self->shim_pid = (pid_t) atoi (g_subprocess_get_identifier (self->process));
  {
    TetherProcStat st;

    /* Its orphans started after it; now, or the moment it was spawned. */
    self->shim_start_usec = tether_procfs_read_stat (self->shim_pid, &st) == 0
      ? tether_procfs_start_usec (&st) : tether_procfs_boottime_usec ();
  }
  g_free (self->tree_tag);
  self->tree_tag = g_strdup_printf ("%d.%d", (int) getpid (), (int) self->shim_pid);
  tether_owner_client_start (self->client, G_IO_STREAM (connection), self->process, self->shim_path);
  return TRUE;

fail:
  /* Nothing of a failed start stays: the next spawn starts afresh. */
  if (self->leaf != NULL)
    tether_cgroup_leaf_remove (self->leaf);
  g_clear_pointer (&self->leaf, tether_cgroup_leaf_free);
  g_clear_pointer (&self->shim_path, g_free);
  return FALSE;
}

/* ---- TetherOwner ---------------------------------------------------------- */

/* Copies: the caller keeps its own descriptors. One that cannot be copied
 * fails this spawn only, not the connection. */
static GSocketControlMessage *
copy_fds (const TetherSpawnRequest  *spawn,
          GArray                    *fds,
          GError                   **error)
{
  g_autofree int *copies = g_new (int, fds->len);
  g_autoptr(GUnixFDList) list = NULL;

  for (guint i = 0; i < fds->len; i++)
    {
      copies[i] = fcntl (g_array_index (fds, int, i), F_DUPFD_CLOEXEC, 3);
      if (copies[i] < 0)
        {
          int saved = errno;
          g_autofree char *what = tether_owner_client_describe_spawn (spawn);

          g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                       _("Could not %s: cannot pass descriptor %d: %s"),
                       what, g_array_index (fds, int, i), g_strerror (saved));
          while (i-- > 0)
            close (copies[i]);
          return NULL;
        }
    }
  list = g_unix_fd_list_new_from_array (copies, (int) fds->len);
  return g_unix_fd_message_new_with_fd_list (list);
}

static void
tether_owner_shim_spawn_async (TetherOwner               *owner,
                               const TetherSpawnRequest  *spawn,
                               GCancellable              *cancellable,
                               GAsyncReadyCallback        callback,
                               gpointer                   user_data)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GString) head = g_string_new (NULL);
  g_autoptr(GPtrArray) flags = g_ptr_array_new ();
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GSocketControlMessage) message = NULL;
  g_auto(GStrv) envp = NULL;
  GError *error = NULL;

  g_task_set_source_tag (task, tether_owner_shim_spawn_async);
  if (self->process == NULL && !start_shim (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (spawn->n_fds + (spawn->redirect_stdio ? 2 : 0) > TETHER_SHIM_MAX_SPAWN_FDS)
    {
      g_autofree char *what = tether_owner_client_describe_spawn (spawn);

      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                               _("Could not %s: at most %d descriptors can be passed (stdout and stderr count)"),
                               what, TETHER_SHIM_MAX_SPAWN_FDS);
      return;
    }

  if (spawn->listen_pid)
    g_ptr_array_add (flags, (char *) "listen-pid");
  if (spawn->redirect_stdio)
    {
      g_ptr_array_add (flags, (char *) "stdio");
      /* stdout and stderr travel first, then the descriptors for 3... */
      g_array_append_val (fds, spawn->stdout_fd);
      g_array_append_val (fds, spawn->stderr_fd);
    }
  g_ptr_array_add (flags, NULL);
  if (flags->len > 1)
    {
      g_autofree char *joined = g_strjoinv (",", (char **) flags->pdata);
      g_string_append (head, joined);
    }
  else
    g_string_append (head, "-");
  g_array_append_vals (fds, spawn->fds, spawn->n_fds);
  g_string_append_printf (head, " %u", fds->len);
  if (fds->len > 0 && (message = copy_fds (spawn, fds, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  /* Tagged: what the tree forks inherits it (unless it clears its
   * environment), so its orphans can be told from strangers. */
  envp = spawn->envp != NULL ? g_strdupv ((char **) spawn->envp) : g_get_environ ();
  envp = g_environ_setenv (envp, "TETHER_TREE", self->tree_tag, TRUE);
  tether_owner_client_spawn (self->client, g_steal_pointer (&task), spawn, head->str,
                             (const char * const *) envp, message);
}

static void
tether_owner_shim_run_async (TetherOwner         *owner,
                             TetherOwnerOp        op,
                             pid_t                pid,
                             int                  sig,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_owner_shim_run_async);
  tether_owner_client_run (self->client, task, op, pid, sig);
}

static gboolean
tether_owner_shim_is_member (TetherOwner *owner,
                             pid_t        pid)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  /* Not "running": a fast backend may speak before its spawn is answered.
   * Ancestry in both kinds: the shim is a subreaper, so whatever the tree
   * forked is its descendant, and a stranger a root backend wrote into the
   * leaf is not. */
  if (self->shim_pid <= 0 || tether_owner_empty_was_emitted (owner) ||
      pid <= 1 || pid == self->shim_pid)
    return FALSE;
  return tether_procfs_is_descendant (pid, self->shim_pid) == 1;
}

static gboolean
tether_owner_shim_get_tree_cpu_usage (TetherOwner *owner,
                                      guint64     *usec)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL && tether_cgroup_leaf_read_cpu_usage (self->leaf, usec);
}

static gboolean
tether_owner_shim_get_tree_memory (TetherOwner *owner,
                                   guint64     *bytes)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL && tether_cgroup_leaf_read_memory (self->leaf, bytes);
}

static const char *
tether_owner_shim_get_location (TetherOwner *owner)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL ? tether_cgroup_leaf_get_path (self->leaf) : NULL;
}

static void
tether_owner_shim_abandon (TetherOwner *owner)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  /* Closing the socket is enough: the shim kills and reaps the tree. */
  tether_owner_client_let_go (self->client);
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_owner_shim_dispose (GObject *object)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (object);

  /* Only g_object_run_dispose gets here with the shim still connected.
   * Until the shim is gone, the client holds a reference to the owner:
   * dropping every other reference does not end the tree,
   * tether_owner_abandon does. */
  if (tether_owner_client_is_connected (self->client))
    tether_owner_client_let_go (self->client);

  G_OBJECT_CLASS (tether_owner_shim_parent_class)->dispose (object);
}

static void
tether_owner_shim_finalize (GObject *object)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (object);

  g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->process);
  g_clear_pointer (&self->leaf, tether_cgroup_leaf_free);
  g_clear_pointer (&self->spawned, g_array_unref);
  g_clear_pointer (&self->known, g_array_unref);
  g_free (self->tree_tag);
  g_free (self->shim_path);

  G_OBJECT_CLASS (tether_owner_shim_parent_class)->finalize (object);
}

static void
tether_owner_shim_class_init (TetherOwnerShimClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TetherOwnerClass *owner_class = TETHER_OWNER_CLASS (klass);

  object_class->dispose = tether_owner_shim_dispose;
  object_class->finalize = tether_owner_shim_finalize;

  owner_class->spawn_async = tether_owner_shim_spawn_async;
  owner_class->run_async = tether_owner_shim_run_async;
  owner_class->is_member = tether_owner_shim_is_member;
  owner_class->get_tree_cpu_usage = tether_owner_shim_get_tree_cpu_usage;
  owner_class->get_tree_memory = tether_owner_shim_get_tree_memory;
  owner_class->get_location = tether_owner_shim_get_location;
  owner_class->abandon = tether_owner_shim_abandon;
}

static void
tether_owner_shim_init (TetherOwnerShim *self)
{
  self->spawned = g_array_new (FALSE, FALSE, sizeof (pid_t));
  self->client = tether_owner_client_new (TETHER_OWNER (self), "tether-shim", TETHER_SHIM_PROTOCOL_VERSION);
  g_signal_connect (self->client, "spawned", G_CALLBACK (on_spawned), self);
  g_signal_connect (self->client, "listed", G_CALLBACK (on_listed), self);
  g_signal_connect (self->client, "exited", G_CALLBACK (on_exited), self);
  g_signal_connect (self->client, "gone", G_CALLBACK (on_gone), self);
}

TetherOwner *
tether_owner_shim_new (TetherOwnerKind kind)
{
  TetherOwnerShim *self = g_object_new (TETHER_TYPE_OWNER_SHIM, NULL);

  self->requested_kind = kind;
  tether_owner_set_kind (TETHER_OWNER (self), kind);
  return TETHER_OWNER (self);
}
