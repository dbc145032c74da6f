/* tether-actions.c: the lifecycle actions, and when they are enabled
 *
 * Application actions, so the same verbs are reachable from the buttons,
 * the menus, keyboard shortcuts and D-Bus (org.gtk.Actions). Each calls one
 * supervisor verb and nothing else; confirmation dialogs live in the window
 * (D-Bus callers and tetherctl users confirm nothing). resize (the number
 * of workers) and recycle-workers exist for every profile and are enabled
 * while a profile's worker pool can change. rollback (to a checkpoint
 * ID) is enabled while the backend runs.
 *
 * start (the button, --start, D-Bus) first looks for what an earlier run
 * of the profile left behind, in a thread, as `tetherctl run` does; when
 * there is some, the window lists it and asks before anything is ended,
 * and nothing starts beside it. Without a window on screen there is no
 * one to ask: a notification says why it did not start.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "tether-application-private.h"
#include "tether-error.h"
#include "tether-leftovers.h"
#include "tether-leftovers-dialog.h"
#include "tether-signals.h"

static const char *
backend_name (TetherApplication *self)
{
  return tether_supervisor_get_profile (self->supervisor)->name;
}

static void
report_error (TetherApplication *self,
              const char        *what,
              const GError      *error)
{
  g_autofree char *title = g_strdup_printf (what, backend_name (self));

  tether_application_tell (self, title, error->message);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error))
    {
      /* translators: %s is the backend's name */
      report_error (self, _("Could not start %s"), error);
    }
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  TetherStopReport report;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    /* translators: %s is the backend's name */
    report_error (self, _("Could not stop %s"), error);
}

static void
on_restarted (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_restart_finish (TETHER_SUPERVISOR (source), result, &error))
    /* translators: %s is the backend's name */
    report_error (self, _("Could not restart %s"), error);
}

/* ---- start, after the leftovers of an earlier run ------------------------ */

/* A look at /proc is usually over before it is worth saying. */
#define START_ACTIVITY_DELAY_MS 300

typedef struct
{
  TetherApplication *self;
  TetherSupervisor *supervisor;  /* the one asked to start */
  GCancellable *cancellable;     /* self->start_check */
  GPtrArray *leftovers;
} StartCheck;

static void
start_check_free (StartCheck *check)
{
  TetherApplication *self = check->self;

  if (self->start_check == check->cancellable)
    {
      g_clear_object (&self->start_check);
      g_clear_handle_id (&self->start_activity_delay, g_source_remove);
      tether_application_set_start_activity (self, NULL);
      tether_application_update_actions (self);
    }
  g_clear_pointer (&check->leftovers, g_ptr_array_unref);
  g_object_unref (check->cancellable);
  g_object_unref (check->supervisor);
  g_object_unref (check->self);
  g_free (check);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StartCheck, start_check_free)

/* Another profile opened, or the application is going: not this start. */
static gboolean
start_check_is_stale (StartCheck *check)
{
  return g_cancellable_is_cancelled (check->cancellable) || check->self->supervisor != check->supervisor;
}

static void
start_checked (StartCheck *check)
{
  TetherApplication *self = check->self;

  if (start_check_is_stale (check) || self->quitting || !tether_supervisor_get_can_start (check->supervisor))
    return;
  tether_supervisor_start (check->supervisor, NULL, on_started, g_object_ref (self));
}

static void
on_leftovers_ended (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(StartCheck) check = user_data;
  g_autoptr(GError) error = NULL;
  guint n_forced = 0;
  guint n = check->leftovers->len;

  if (!tether_leftovers_end_finish (result, &n_forced, &error))
    {
      /* Something still holds on (the message names it): starting now
       * would likely fail the way the earlier run is stuck. */
      report_error (check->self, _("Could not start %s"), error);
      return;
    }
  {
    g_autofree char *title = NULL;

    if (n_forced > 0)
      /* translators: %u how many processes were ended, %u how many of them needed SIGKILL */
      title = g_strdup_printf (ngettext ("Ended %u process of an earlier run (%u killed)",
                                         "Ended %u processes of an earlier run (%u killed)", n),
                               n, n_forced);
    else
      /* translators: %u how many processes were ended */
      title = g_strdup_printf (ngettext ("Ended %u process of an earlier run",
                                         "Ended %u processes of an earlier run", n), n);
    tether_application_tell (check->self, title, NULL);
  }
  start_checked (check);
}

/* The dialog holds the check: one closed any way (its window destroyed)
 * does not leave the start waiting. */
#define START_CHECK_KEY "tether-start-check"

static void
on_leftovers_answered (AdwMessageDialog *dialog,
                       const char       *response,
                       gpointer          user_data)
{
  g_autoptr(StartCheck) check = g_object_steal_data (G_OBJECT (dialog), START_CHECK_KEY);
  TetherProfile *profile = tether_supervisor_get_profile (check->supervisor);
  g_autofree char *activity = NULL;
  guint n = check->leftovers->len;
  GPtrArray *leftovers;

  if (!g_str_equal (response, "end") || start_check_is_stale (check))
    return;
  /* translators: %u how many processes, SIG%s the profile's stop signal (SIGTERM), %g seconds */
  activity = g_strdup_printf (ngettext ("Ending %u process of an earlier run: SIG%s, then SIGKILL after %g s…",
                                        "Ending %u processes of an earlier run: SIG%s, then SIGKILL after %g s…",
                                        n),
                              n, sigabbrev_np (profile->stop.signal), profile->stop.graceful_timeout);
  tether_application_set_start_activity (check->self, activity);
  leftovers = check->leftovers;
  tether_leftovers_end_async (profile, leftovers, NULL, on_leftovers_ended, g_steal_pointer (&check));
}

static void
on_leftovers_found (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(StartCheck) check = user_data;
  TetherApplication *self = check->self;
  g_autoptr(GError) error = NULL;
  GtkWindow *window;
  GtkWidget *dialog;

  check->leftovers = tether_leftovers_find_finish (result, &error);
  if (start_check_is_stale (check))
    return;
  g_clear_handle_id (&self->start_activity_delay, g_source_remove);
  tether_application_set_start_activity (self, NULL);
  if (check->leftovers == NULL)
    {
      /* As tetherctl run: a look that failed does not keep the backend
       * from starting. */
      g_message ("Looking for leftovers of an earlier run: %s", error->message);
      start_checked (check);
      return;
    }
  if (check->leftovers->len == 0)
    {
      start_checked (check);
      return;
    }

  window = tether_application_get_shown_window (self);
  if (window == NULL)
    {
      /* translators: %s is the backend's name */
      g_autofree char *title = g_strdup_printf (_("%s was not started"), backend_name (self));
      g_autofree char *body = g_strdup_printf (ngettext ("An earlier run left %u process behind. "
                                                         "Open Tether to see it.",
                                                         "An earlier run left %u processes behind. "
                                                         "Open Tether to see them.",
                                                         check->leftovers->len),
                                               check->leftovers->len);
      tether_application_tell (self, title, body);
      return;
    }
  dialog = tether_leftovers_dialog_new (window, tether_supervisor_get_profile (check->supervisor),
                                        check->leftovers);
  g_object_set_data_full (G_OBJECT (dialog), START_CHECK_KEY, g_steal_pointer (&check),
                          (GDestroyNotify) start_check_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_leftovers_answered), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
on_start_activity_delay (gpointer user_data)
{
  TetherApplication *self = user_data;

  self->start_activity_delay = 0;
  tether_application_set_start_activity (self, _("Looking for processes an earlier run left behind…"));
  return G_SOURCE_REMOVE;
}

static void
start_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  TetherApplication *self = user_data;
  StartCheck *check;

  /* The action is off while one waits (update_actions). */
  if (self->start_check != NULL)
    return;
  check = g_new0 (StartCheck, 1);
  check->self = g_object_ref (self);
  check->supervisor = g_object_ref (self->supervisor);
  check->cancellable = g_cancellable_new ();
  self->start_check = g_object_ref (check->cancellable);
  self->start_activity_delay = g_timeout_add (START_ACTIVITY_DELAY_MS, on_start_activity_delay, self);
  tether_application_update_actions (self);
  tether_leftovers_find_async (tether_supervisor_get_profile (self->supervisor), check->cancellable,
                               on_leftovers_found, check);
}

static void
stop_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  TetherApplication *self = user_data;

  tether_supervisor_stop (self->supervisor, NULL, on_stopped, g_object_ref (self));
}

static void
force_stop_activated (GSimpleAction *action,
                      GVariant      *parameter,
                      gpointer       user_data)
{
  TetherApplication *self = user_data;

  tether_supervisor_kill (self->supervisor, NULL, on_stopped, g_object_ref (self));
}

static void
restart_activated (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  TetherApplication *self = user_data;

  tether_supervisor_restart (self->supervisor, NULL, on_restarted, g_object_ref (self));
}

typedef struct
{
  TetherApplication *self;
  int pid;
  gboolean kill;
} SubtreeCall;

static void
on_subtree_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autofree SubtreeCall *call = user_data;
  g_autoptr(TetherApplication) self = call->self;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_subtree_finish (TETHER_SUPERVISOR (source), result, NULL, &error))
    {
      g_autofree char *title = call->kill ? g_strdup_printf (_("Could not kill process %d"), call->pid)
                                          : g_strdup_printf (_("Could not stop process %d"), call->pid);
      tether_application_tell (self, title, error->message);
    }
}

static void
subtree_activated (TetherApplication *self,
                   GVariant          *parameter,
                   gboolean           kill)
{
  SubtreeCall *call = g_new0 (SubtreeCall, 1);

  call->self = g_object_ref (self);
  call->pid = g_variant_get_int32 (parameter);
  call->kill = kill;
  if (kill)
    tether_supervisor_kill_subtree (self->supervisor, call->pid, NULL, on_subtree_done, call);
  else
    tether_supervisor_stop_subtree (self->supervisor, call->pid, NULL, on_subtree_done, call);
}

static void
stop_subtree_activated (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       user_data)
{
  subtree_activated (user_data, parameter, FALSE);
}

static void
kill_subtree_activated (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       user_data)
{
  subtree_activated (user_data, parameter, TRUE);
}

typedef struct
{
  TetherApplication *self;
  int pid;
  const TetherSignalInfo *info;
  gboolean subtree;
} SignalCall;

static void
on_signal_sent (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autofree SignalCall *call = user_data;
  g_autoptr(TetherApplication) self = call->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  TetherOwnerCount count = { 0 };

  if (!tether_owner_verb_finish (TETHER_OWNER (source), result, &count, &error))
    {
      /* translators: SIG%s is a signal's name (SIGUSR1), %d a process ID */
      title = g_strdup_printf (_("Could not send SIG%s to process %d"), call->info->name, call->pid);
      tether_application_tell (self, title, error->message);
      return;
    }
  if (call->subtree)
    /* translators: SIG%s is a signal's name (SIGUSR1), %d a process ID, %u how many processes got it */
    title = g_strdup_printf (ngettext ("Sent SIG%s to process %d and its descendants: %u process",
                                       "Sent SIG%s to process %d and its descendants: %u processes",
                                       count.n_reached),
                             call->info->name, call->pid, count.n_reached);
  else
    /* translators: SIG%s is a signal's name (SIGUSR1), %d a process ID */
    title = g_strdup_printf (_("Sent SIG%s to process %d"), call->info->name, call->pid);
  tether_application_tell (self, title, NULL);
}

/* (pid, signal name, to its descendants too): members only, and only the
 * signals tether-signals.h offers. The supervisor has no verb for any
 * signal: its "can I?" (can_signal_pid), then the owner's verb, which
 * signals members only. No confirmation here, as for every action: the
 * window asks before the dangerous ones. */
static void
send_signal_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  TetherApplication *self = user_data;
  const char *name = NULL;
  SignalCall *call;
  int pid = 0;
  gboolean subtree = FALSE;
  const TetherSignalInfo *info;
  TetherOwner *owner;

  g_variant_get (parameter, "(i&sb)", &pid, &name, &subtree);
  info = tether_signals_lookup (name);
  if (info == NULL)
    {
      /* translators: %s is what was asked for, %d a process ID */
      g_autofree char *title = g_strdup_printf (_("Could not send “%s” to process %d"), name, pid);
      tether_application_tell (self, title,
                               _("Tether sends HUP, INT, QUIT, USR1, USR2, CONT, STOP, TERM or KILL"));
      return;
    }
  if (!tether_supervisor_can_signal_pid (self->supervisor, pid))
    {
      /* translators: SIG%s is a signal's name (SIGUSR1), %d a process ID */
      g_autofree char *title = g_strdup_printf (_("Could not send SIG%s to process %d"), info->name, pid);
      g_autofree char *body = g_strdup_printf (_("Process %d is not part of the backend’s tree"), pid);
      tether_application_tell (self, title, body);
      return;
    }

  call = g_new0 (SignalCall, 1);
  call->self = g_object_ref (self);
  call->pid = pid;
  call->info = info;
  call->subtree = subtree;
  /* The owner signals members only, and checks again at the moment it
   * sends (a pid reused meanwhile is not reached). */
  owner = tether_supervisor_get_owner (self->supervisor);
  if (subtree)
    tether_owner_signal_subtree_async (owner, pid, info->number, NULL, on_signal_sent, call);
  else
    tether_owner_signal_async (owner, pid, info->number, NULL, on_signal_sent, call);
}

static void
on_resized (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->n_resizes--;
  tether_application_pool_activity_changed (self);
  if (!tether_supervisor_pool_finish (TETHER_SUPERVISOR (source), result, &error))
    /* translators: %s is the backend's name */
    report_error (self, _("Could not resize the worker pool of %s"), error);
}

static void
on_recycled (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  self->n_recycles--;
  tether_application_pool_activity_changed (self);
  if (!tether_supervisor_pool_finish (TETHER_SUPERVISOR (source), result, &error))
    /* translators: %s is the backend's name */
    report_error (self, _("Could not recycle the workers of %s"), error);
}

/* The pool's bounds are the supervisor's to check (it says what they
 * are); only a negative count cannot reach it. */
static void
resize_activated (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  TetherApplication *self = user_data;
  int n = g_variant_get_int32 (parameter);

  if (n < 0)
    {
      /* translators: %s is the backend's name */
      g_autofree char *title = g_strdup_printf (_("Could not resize the worker pool of %s"),
                                                backend_name (self));
      tether_application_tell (self, title, _("The number of workers cannot be negative"));
      return;
    }
  self->n_resizes++;
  tether_application_pool_activity_changed (self);
  tether_supervisor_resize (self->supervisor, (guint) n, NULL, on_resized, g_object_ref (self));
}

static void
recycle_workers_activated (GSimpleAction *action,
                           GVariant      *parameter,
                           gpointer       user_data)
{
  TetherApplication *self = user_data;

  self->n_recycles++;
  tether_application_pool_activity_changed (self);
  tether_supervisor_recycle_workers (self->supervisor, NULL, on_recycled, g_object_ref (self));
}

/* The rollback's checkpoint is the task's data. */
static void
on_rolled_back (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherApplication *self = g_task_get_source_object (task);
  const char *checkpoint = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  TetherRollbackReport report;

  if (!tether_supervisor_rollback_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    {
      /* translators: %s is the backend's name */
      report_error (self, _("Could not roll back %s"), error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* translators: %s is a checkpoint ID (as the backend named it), %.1f
   * the seconds it took to be running again there */
  title = g_strdup_printf (_("Rolled back to checkpoint %s in %.1f s"), checkpoint, report.to_running);
  tether_application_tell (self, title, NULL);
  g_task_return_boolean (task, TRUE);
}

void
tether_application_rollback (TetherApplication   *self,
                             const char          *checkpoint,
                             const char          *reason,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_APPLICATION (self));
  g_return_if_fail (checkpoint != NULL);

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, tether_application_rollback);
  g_task_set_task_data (task, g_strdup (checkpoint), g_free);
  if (self->supervisor == NULL)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED, _("No profile is open"));
      g_object_unref (task);
      return;
    }
  /* Unknown checkpoints and a backend that is not running are the
   * supervisor's to refuse (it says which checkpoints there are). */
  tether_supervisor_rollback (self->supervisor, checkpoint, reason, NULL, on_rolled_back, task);
}

gboolean
tether_application_rollback_finish (TetherApplication  *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The D-Bus path: no dialog, no confirmation, the outcome as news. */
static void
rollback_activated (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  tether_application_rollback (user_data, g_variant_get_string (parameter, NULL), NULL, NULL, NULL);
}

static void
open_profile_activated (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       user_data)
{
  TetherApplication *self = user_data;
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (g_variant_get_string (parameter, NULL));
  g_autoptr(GError) error = NULL;

  if (!tether_application_open_profile (self, file, &error))
    tether_application_tell (self, _("Could not open the profile"), error->message);
  g_application_activate (G_APPLICATION (self));
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  tether_application_quit_after_stop (user_data);
}

static const GActionEntry app_actions[] = {
  { "start", start_activated },
  { "stop", stop_activated },
  { "force-stop", force_stop_activated },
  { "restart", restart_activated },
  { "stop-subtree", stop_subtree_activated, "i" },
  { "kill-subtree", kill_subtree_activated, "i" },
  { "send-signal", send_signal_activated, "(isb)" },
  { "resize", resize_activated, "i" },
  { "recycle-workers", recycle_workers_activated },
  { "rollback", rollback_activated, "s" },
  { "open-profile", open_profile_activated, "s" },
  { "quit", quit_activated },
};

void
tether_application_install_actions (TetherApplication *self)
{
  static const char *quit_accels[] = { "<Control>q", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  tether_application_update_actions (self);
}

static void
set_enabled (TetherApplication *self,
             const char        *name,
             gboolean           enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

/* The supervisor says what can be done; the application only adds that
 * nothing starts while it is quitting. */
void
tether_application_update_actions (TetherApplication *self)
{
  TetherSupervisor *s = self->supervisor;
  TetherPool *pool = s != NULL ? tether_supervisor_get_pool (s) : NULL;
  gboolean can_resize = s != NULL && tether_supervisor_get_can_resize (s);

  set_enabled (self, "start", s != NULL && !self->quitting && self->start_check == NULL &&
               tether_supervisor_get_can_start (s));
  set_enabled (self, "stop", s != NULL && tether_supervisor_get_can_stop (s));
  set_enabled (self, "force-stop", s != NULL && tether_supervisor_get_can_kill (s));
  set_enabled (self, "restart", s != NULL && !self->quitting && tether_supervisor_get_can_restart (s));
  set_enabled (self, "stop-subtree", s != NULL && tether_supervisor_get_can_signal (s));
  set_enabled (self, "kill-subtree", s != NULL && tether_supervisor_get_can_signal (s));
  set_enabled (self, "send-signal", s != NULL && tether_supervisor_get_can_signal (s));
  set_enabled (self, "resize", can_resize);
  /* Whether the checkpoint is one the backend reported is the
   * supervisor's to say. */
  set_enabled (self, "rollback", s != NULL && !self->quitting &&
               (tether_supervisor_get_state (s) == TETHER_STATE_RUNNING ||
                tether_supervisor_get_state (s) == TETHER_STATE_NOT_RESPONDING));
  /* A server that is its own master replaces its workers itself. */
  set_enabled (self, "recycle-workers",
               can_resize && tether_pool_get_mode (pool) == TETHER_POOL_MANAGED);
}
