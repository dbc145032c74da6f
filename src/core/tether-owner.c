/* tether-owner.c: the ownership interface and what every backend shares
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner.h"
#include "tether-owner-private.h"

#include <glib/gi18n-lib.h>
#include <signal.h>

#include "tether-enums.h"
#include "tether-error.h"
#include "tether-win32-compat.h"

/* How long an exited member's pid is remembered as one. */
#define RECENT_EXIT_USEC (2 * G_USEC_PER_SEC)
#define MAX_RECENT_EXITS 256

typedef struct
{
  pid_t pid;
  gint64 time;
} RecentExit;

typedef struct
{
  TetherOwnerKind kind;
  pid_t main_pid;
  guint n_members;
  GArray *recent_exits;   /* RecentExit, oldest first */
  guint n_holds;
  guint running : 1;
  guint empty_emitted : 1;
  guint idle : 1;         /* emptied while held */
} TetherOwnerPrivate;

enum {
  MEMBER_EXITED,
  MAIN_EXITED,
  EMPTY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TetherOwner, tether_owner, G_TYPE_OBJECT)

const char *
tether_owner_kind_to_string (TetherOwnerKind kind)
{
  return tether_enum_to_nick (TETHER_TYPE_OWNER_KIND, kind);
}

gboolean
tether_owner_kind_from_string (const char      *str,
                               TetherOwnerKind *kind)
{
  int value;

  if (!tether_enum_from_nick (TETHER_TYPE_OWNER_KIND, str, &value))
    return FALSE;
  /* Each platform offers its own kinds. */
#ifdef G_OS_WIN32
  if (value != TETHER_OWNER_AUTO && value != TETHER_OWNER_JOB)
    return FALSE;
#else
  if (value == TETHER_OWNER_JOB)
    return FALSE;
#endif
  *kind = value;
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

/* TRUE inside a Flatpak sandbox, which flatpak marks with /.flatpak-info.
 * TETHER_FLATPAK_INFO names another file to look for, so a test on the host
 * can see what the sandbox sees. */
gboolean
tether_owner_in_flatpak (void)
{
  const char *marker = g_getenv ("TETHER_FLATPAK_INFO");

  return g_file_test (marker != NULL && *marker != '\0' ? marker : "/.flatpak-info", G_FILE_TEST_EXISTS);
}

TetherOwner *
tether_owner_new (TetherOwnerKind kind)
{
#ifdef G_OS_WIN32
  /* One kind on Windows: the job object. */
  return tether_owner_win32_new ();
#else
  /* Linux, in both membership kinds; a job is Windows's. */
  if (kind == TETHER_OWNER_JOB)
    kind = TETHER_OWNER_AUTO;
  return tether_owner_shim_new (kind);
#endif
}

/* ---- for backends --------------------------------------------------------- */

TetherOwnerReply *
tether_owner_reply_new (void)
{
  return g_new0 (TetherOwnerReply, 1);
}

void
tether_owner_reply_free (TetherOwnerReply *reply)
{
  g_clear_pointer (&reply->members, g_array_unref);
  g_free (reply);
}

void
tether_owner_set_kind (TetherOwner     *self,
                       TetherOwnerKind  kind)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  priv->kind = kind;
}

void
tether_owner_spawned (TetherOwner *self,
                      pid_t        pid,
                      gboolean     is_main)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  priv->running = !priv->empty_emitted;
  priv->idle = FALSE;
  if (is_main && priv->main_pid == 0)
    priv->main_pid = pid;
}

void
tether_owner_set_n_members (TetherOwner *self,
                            guint        n_members)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  priv->n_members = n_members;
}

void
tether_owner_emit_exited (TetherOwner *self,
                          pid_t        pid,
                          int          wait_status)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  RecentExit exit = { pid, g_get_monotonic_time () };

  if (priv->recent_exits->len == MAX_RECENT_EXITS)
    g_array_remove_index (priv->recent_exits, 0);
  g_array_append_val (priv->recent_exits, exit);

  g_object_ref (self);
  g_signal_emit (self, signals[MEMBER_EXITED], 0, (int) pid, wait_status);
  if (pid == priv->main_pid)
    g_signal_emit (self, signals[MAIN_EXITED], 0, (int) pid, wait_status);
  g_object_unref (self);
}

void
tether_owner_emit_empty (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  if (priv->empty_emitted)
    return;
  priv->empty_emitted = TRUE;
  priv->running = FALSE;
  priv->n_members = 0;
  g_signal_emit (self, signals[EMPTY], 0);
}

void
tether_owner_tree_emptied (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  if (priv->n_holds > 0)
    {
      priv->idle = TRUE;
      priv->n_members = 0;
      return;
    }
  tether_owner_emit_empty (self);
}

static gboolean
emit_empty_if_idle (gpointer user_data)
{
  TetherOwner *self = user_data;
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  /* A spawn may have come in between, or a new hold. */
  if (priv->idle && priv->n_holds == 0)
    {
      priv->idle = FALSE;
      tether_owner_emit_empty (self);
    }
  return G_SOURCE_REMOVE;
}

void
tether_owner_hold (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  g_return_if_fail (TETHER_IS_OWNER (self));
  priv->n_holds++;
}

void
tether_owner_release (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  g_return_if_fail (TETHER_IS_OWNER (self));
  g_return_if_fail (priv->n_holds > 0);

  /* Not from inside the caller: "empty" ends a stop, and whoever released
   * may be about to begin one. */
  if (--priv->n_holds == 0 && priv->idle)
    g_idle_add_full (G_PRIORITY_DEFAULT, emit_empty_if_idle, g_object_ref (self), g_object_unref);
}

gboolean
tether_owner_empty_was_emitted (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  return priv->empty_emitted;
}

/* ---- the interface -------------------------------------------------------- */

void
tether_owner_spawn_async (TetherOwner              *self,
                          const TetherSpawnRequest *request,
                          GCancellable             *cancellable,
                          GAsyncReadyCallback       callback,
                          gpointer                  user_data)
{
  g_return_if_fail (TETHER_IS_OWNER (self));
  g_return_if_fail (request != NULL && request->argv != NULL && request->argv[0] != NULL);

  TETHER_OWNER_GET_CLASS (self)->spawn_async (self, request, cancellable, callback, user_data);
}

pid_t
tether_owner_spawn_finish (TetherOwner   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  gssize pid;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  pid = g_task_propagate_int (G_TASK (result), error);
  return pid > 0 ? (pid_t) pid : -1;
}

TetherOwnerKind
tether_owner_get_kind (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  g_return_val_if_fail (TETHER_IS_OWNER (self), TETHER_OWNER_AUTO);
  return priv->kind;
}

pid_t
tether_owner_get_main_pid (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  g_return_val_if_fail (TETHER_IS_OWNER (self), 0);
  return priv->main_pid;
}

static void
on_watched (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  TetherOwner *self = TETHER_OWNER (source);
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  pid_t pid = GPOINTER_TO_INT (user_data);
  g_autoptr(GError) error = NULL;

  if (tether_owner_verb_finish (self, result, NULL, &error))
    return;
  g_debug ("Cannot watch the main process %d: %s", (int) pid, error->message);

  /* Gone before the helper could watch it: its exit will never be
   * reported, so report it now, with a status that was not ours to read. */
  if (g_error_matches (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER) &&
      pid == priv->main_pid && !priv->empty_emitted)
    tether_owner_emit_exited (self, pid, -1);
}

void
tether_owner_set_main_pid (TetherOwner *self,
                           pid_t        pid)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  g_return_if_fail (TETHER_IS_OWNER (self));

  if (pid == priv->main_pid)
    return;
  priv->main_pid = pid;
  if (pid > 0)
    TETHER_OWNER_GET_CLASS (self)->run_async (self, TETHER_OWNER_OP_WATCH, pid, 0, NULL,
                                              on_watched, GINT_TO_POINTER (pid));
}

gboolean
tether_owner_is_running (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return priv->running;
}

guint
tether_owner_get_n_members (TetherOwner *self)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  g_return_val_if_fail (TETHER_IS_OWNER (self), 0);
  return priv->running ? priv->n_members : 0;
}

const char *
tether_owner_get_location (TetherOwner *self)
{
  TetherOwnerClass *klass;

  g_return_val_if_fail (TETHER_IS_OWNER (self), NULL);
  klass = TETHER_OWNER_GET_CLASS (self);
  return klass->get_location != NULL ? klass->get_location (self) : NULL;
}

gboolean
tether_owner_is_member (TetherOwner *self,
                        pid_t        pid)
{
  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  return pid > 0 && TETHER_OWNER_GET_CLASS (self)->is_member (self, pid);
}

gboolean
tether_owner_was_member (TetherOwner *self,
                         pid_t        pid)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);
  gint64 since = g_get_monotonic_time () - RECENT_EXIT_USEC;

  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);

  for (guint i = priv->recent_exits->len; i-- > 0; )
    {
      RecentExit *exit = &g_array_index (priv->recent_exits, RecentExit, i);

      if (exit->time < since)
        break;
      if (exit->pid == pid)
        return TRUE;
    }
  return FALSE;
}

gboolean
tether_owner_get_tree_cpu_usage (TetherOwner *self,
                                 guint64     *usec)
{
  TetherOwnerClass *klass;

  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  klass = TETHER_OWNER_GET_CLASS (self);
  return klass->get_tree_cpu_usage != NULL && klass->get_tree_cpu_usage (self, usec);
}

gboolean
tether_owner_get_tree_memory (TetherOwner *self,
                              guint64     *bytes)
{
  TetherOwnerClass *klass;

  g_return_val_if_fail (TETHER_IS_OWNER (self), FALSE);
  klass = TETHER_OWNER_GET_CLASS (self);
  return klass->get_tree_memory != NULL && klass->get_tree_memory (self, bytes);
}

static void
run (TetherOwner         *self,
     TetherOwnerOp        op,
     pid_t                pid,
     int                  sig,
     GCancellable        *cancellable,
     GAsyncReadyCallback  callback,
     gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_OWNER (self));
  TETHER_OWNER_GET_CLASS (self)->run_async (self, op, pid, sig, cancellable, callback, user_data);
}

static TetherOwnerReply *
propagate_reply (TetherOwner   *self,
                 GAsyncResult  *result,
                 GError       **error)
{
  TetherOwnerReply *reply;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply != NULL)
    tether_owner_set_n_members (self, reply->count.n_members);
  return reply;
}

void
tether_owner_list_members_async (TetherOwner         *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_MEMBERS, 0, 0, cancellable, callback, user_data);
}

GArray *
tether_owner_list_members_finish (TetherOwner   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  TetherOwnerReply *reply = propagate_reply (self, result, error);
  GArray *members;

  if (reply == NULL)
    return NULL;
  members = g_steal_pointer (&reply->members);
  tether_owner_reply_free (reply);
  return members != NULL ? members : g_array_new (FALSE, FALSE, sizeof (pid_t));
}

void
tether_owner_list_top_level_async (TetherOwner         *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_TOP_LEVEL, 0, 0, cancellable, callback, user_data);
}

void
tether_owner_stop_main_async (TetherOwner         *self,
                              pid_t                pid,
                              int                  sig,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_STOP_MAIN, pid, sig, cancellable, callback, user_data);
}

void
tether_owner_signal_async (TetherOwner         *self,
                           pid_t                pid,
                           int                  sig,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_SIGNAL, pid, sig, cancellable, callback, user_data);
}

void
tether_owner_terminate_all_async (TetherOwner         *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_TERMINATE_ALL, 0, SIGTERM, cancellable, callback, user_data);
}

void
tether_owner_signal_all_async (TetherOwner         *self,
                               int                  sig,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_TERMINATE_ALL, 0, sig, cancellable, callback, user_data);
}

void
tether_owner_signal_subtree_async (TetherOwner         *self,
                                   pid_t                pid,
                                   int                  sig,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_SIGNAL_SUBTREE, pid, sig, cancellable, callback, user_data);
}

void
tether_owner_kill_subtree_async (TetherOwner         *self,
                                 pid_t                pid,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_KILL_SUBTREE, pid, 0, cancellable, callback, user_data);
}

void
tether_owner_freeze_async (TetherOwner         *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_FREEZE, 0, 0, cancellable, callback, user_data);
}

void
tether_owner_freeze_except_async (TetherOwner         *self,
                                  pid_t                pid,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_FREEZE_EXCEPT, pid, 0, cancellable, callback, user_data);
}

void
tether_owner_thaw_async (TetherOwner         *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_THAW, 0, 0, cancellable, callback, user_data);
}

void
tether_owner_kill_all_async (TetherOwner         *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  run (self, TETHER_OWNER_OP_KILL_ALL, 0, 0, cancellable, callback, user_data);
}

gboolean
tether_owner_verb_finish (TetherOwner       *self,
                          GAsyncResult      *result,
                          TetherOwnerCount  *count,
                          GError           **error)
{
  TetherOwnerReply *reply = propagate_reply (self, result, error);

  if (reply == NULL)
    return FALSE;
  if (count != NULL)
    *count = reply->count;
  tether_owner_reply_free (reply);
  return TRUE;
}

void
tether_owner_abandon (TetherOwner *self)
{
  g_return_if_fail (TETHER_IS_OWNER (self));
  TETHER_OWNER_GET_CLASS (self)->abandon (self);
}

static void
tether_owner_finalize (GObject *object)
{
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (TETHER_OWNER (object));

  g_array_unref (priv->recent_exits);
  G_OBJECT_CLASS (tether_owner_parent_class)->finalize (object);
}

static void
tether_owner_class_init (TetherOwnerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_owner_finalize;

  signals[MEMBER_EXITED] =
    g_signal_new ("member-exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
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
  TetherOwnerPrivate *priv = tether_owner_get_instance_private (self);

  priv->recent_exits = g_array_new (FALSE, FALSE, sizeof (RecentExit));
}
