/* tether-application.c: the Tether desktop application
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <unistd.h>

#include "tether-application-private.h"
#include "tether-error.h"
#include "tether-reaper.h"
#include "tether-window.h"

G_DEFINE_FINAL_TYPE (TetherApplication, tether_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_SUPERVISOR,
  PROP_POOL_ACTIVITY,
  PROP_START_ACTIVITY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const GOptionEntry option_entries[] = {
  { "start", 's', 0, G_OPTION_ARG_NONE, NULL,
    N_("Start the backend once the profile is open"), NULL },
  { "demo", 0, 0, G_OPTION_ARG_NONE, NULL,
    N_("Open the bundled demo profile"), NULL },
  { "owner", 0, 0, G_OPTION_ARG_STRING, NULL,
    N_("Tree ownership: auto, cgroup or reaper (default: $TETHER_OWNER, else auto)"), N_("KIND") },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL,
    N_("Print the version and exit"), NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, N_("[PROFILE.json]") },
  { NULL }
};

static TetherWindow *
get_window (TetherApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
      window = windows != NULL ? windows->data : NULL;
    }
  return window != NULL ? TETHER_WINDOW (window) : NULL;
}

static TetherWindow *
ensure_window (TetherApplication *self)
{
  TetherWindow *window = get_window (self);

  if (window == NULL)
    window = tether_window_new (self);
  return window;
}

GSettings *
tether_application_get_settings (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);
  return self->settings;
}

TetherSupervisor *
tether_application_get_supervisor (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);
  return self->supervisor;
}

GFile *
tether_application_get_demo_profile (TetherApplication *self)
{
  const char *env = g_getenv ("TETHER_DEMO_PROFILE");
  g_autofree char *installed = g_build_filename (TETHER_DATADIR, "tether", "examples",
                                                 "demo.json", NULL);

  if (env != NULL && *env != '\0')
    return g_file_new_for_path (env);
  if (g_file_test (installed, G_FILE_TEST_EXISTS))
    return g_file_new_for_path (installed);
  return g_file_new_for_path (TETHER_DEMO_PROFILE_SOURCE);
}

const char *
tether_application_get_pool_activity (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  if (self->n_resizes > 0)
    return _("Resizing the worker pool…");
  if (self->n_recycles > 0)
    return _("Recycling the workers…");
  return NULL;
}

void
tether_application_pool_activity_changed (TetherApplication *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POOL_ACTIVITY]);
}

const char *
tether_application_get_start_activity (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);
  return self->start_activity;
}

void
tether_application_set_start_activity (TetherApplication *self,
                                       const char        *activity)
{
  if (g_strcmp0 (self->start_activity, activity) == 0)
    return;
  g_free (self->start_activity);
  self->start_activity = g_strdup (activity);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_START_ACTIVITY]);
}

GtkWindow *
tether_application_get_shown_window (TetherApplication *self)
{
  TetherWindow *window = get_window (self);

  return window != NULL && gtk_widget_get_visible (GTK_WIDGET (window)) ? GTK_WINDOW (window) : NULL;
}

/* tag: the notification's, when no window is shown (news of one kind that
 * come in bursts, such as workers', replace each other there); NULL for
 * the backend's own. In the window the newest toast replaces any other. */
static void
tell_tagged (TetherApplication *self,
             const char        *tag,
             const char        *title,
             const char        *body)
{
  TetherWindow *window = get_window (self);

  g_message ("%s%s%s", title, body != NULL ? ": " : "", body != NULL ? body : "");

  if (window != NULL && gtk_widget_get_visible (GTK_WIDGET (window)))
    {
      tether_window_toast (window, title, body);
    }
  else
    {
      g_autoptr(GNotification) notification = g_notification_new (title);

      if (body != NULL)
        g_notification_set_body (notification, body);
      g_application_send_notification (G_APPLICATION (self), tag != NULL ? tag : "backend",
                                       notification);
    }
}

void
tether_application_tell (TetherApplication *self,
                         const char        *title,
                         const char        *body)
{
  g_return_if_fail (TETHER_IS_APPLICATION (self));

  tell_tagged (self, NULL, title, body);
}

/* Kept alive only for the backend: once it is gone for good, so is the
 * windowless application (its hidden window was all that held it). */
static void
release_if_stopped (TetherApplication *self)
{
  if (self->held_in_background && !tether_supervisor_is_active (self->supervisor))
    {
      TetherWindow *window = get_window (self);

      tether_application_release_background (self);
      if (window != NULL && !gtk_widget_get_visible (GTK_WIDGET (window)))
        gtk_window_destroy (GTK_WINDOW (window));
    }
}

static void
tell_stopped (TetherApplication *self)
{
  /* translators: %s is the backend's name */
  g_autofree char *title = g_strdup_printf (_("%s stopped"), tether_supervisor_get_profile (self->supervisor)->name);

  tether_application_tell (self, title, tether_supervisor_get_message (self->supervisor));
}

/* The supervisor is STOPPED before the rollback's stop completes and the
 * start follows: once that has had its turn, a rollback still STOPPED
 * went no further. */
static gboolean
on_rollback_settled (gpointer user_data)
{
  TetherApplication *self = user_data;

  self->rollback_settle = 0;
  if (self->supervisor == NULL || !self->in_rollback ||
      tether_supervisor_get_state (self->supervisor) != TETHER_STATE_STOPPED)
    return G_SOURCE_REMOVE;
  self->in_rollback = FALSE;
  if (self->held_in_background && !tether_supervisor_is_active (self->supervisor))
    tell_stopped (self);
  release_if_stopped (self);
  return G_SOURCE_REMOVE;
}

/* Turns state changes into news: a crash, an automatic restart, a stop that
 * needed force. Whoever asked (a button, tetherctl, D-Bus), the same news.
 * A rollback (FROZEN, a stop, a start) is news only for how it ends. */
static void
on_state_changed (TetherSupervisor  *supervisor,
                  GParamSpec        *pspec,
                  TetherApplication *self)
{
  TetherState state = tether_supervisor_get_state (supervisor);
  TetherState was = self->last_state;
  const char *name = tether_supervisor_get_profile (supervisor)->name;
  const char *message = tether_supervisor_get_message (supervisor);

  self->last_state = state;
  tether_application_update_actions (self);

  if (state == TETHER_STATE_FROZEN)
    self->in_rollback = TRUE;
  else if (state == TETHER_STATE_RUNNING || state == TETHER_STATE_NOT_RESPONDING ||
           state == TETHER_STATE_FAILED)
    self->in_rollback = FALSE;
  if (self->in_rollback && state == TETHER_STATE_STOPPED)
    {
      if (self->rollback_settle == 0)
        self->rollback_settle = g_idle_add_full (G_PRIORITY_LOW, on_rollback_settled, self, NULL);
      return;
    }

  if (state == TETHER_STATE_FAILED && was != TETHER_STATE_FAILED)
    {
      /* translators: %s is the backend's name */
      g_autofree char *title = g_strdup_printf (_("%s failed"), name);
      tether_application_tell (self, title, message);
    }
  else if (state == TETHER_STATE_STARTING && tether_supervisor_get_n_restarts (supervisor) > 0 &&
           !self->in_rollback && (was == TETHER_STATE_FAILED || was == TETHER_STATE_STOPPED))
    {
      /* translators: %s is the backend's name, %u how many restarts so far */
      g_autofree char *title = g_strdup_printf (_("Restarting %s (attempt %u)"), name,
                                                tether_supervisor_get_n_restarts (supervisor));
      tether_application_tell (self, title, message);
    }
  else if (state == TETHER_STATE_STOPPED && was != TETHER_STATE_STOPPED &&
           self->held_in_background && !tether_supervisor_is_active (supervisor))
    tell_stopped (self);

  /* The window shows it (a bar under the header); without one on screen,
   * a notification, withdrawn once it is over. */
  if (state == TETHER_STATE_NOT_RESPONDING && was != TETHER_STATE_NOT_RESPONDING)
    {
      TetherWindow *window = get_window (self);

      if (window == NULL || !gtk_widget_get_visible (GTK_WIDGET (window)))
        {
          /* translators: %s is the backend's name */
          g_autofree char *title = g_strdup_printf (_("%s is not responding"), name);
          tell_tagged (self, "unresponsive", title, message);
        }
    }
  else if (state != TETHER_STATE_NOT_RESPONDING && was == TETHER_STATE_NOT_RESPONDING)
    g_application_withdraw_notification (G_APPLICATION (self), "unresponsive");

  release_if_stopped (self);
}

static void
on_can_changed (TetherSupervisor  *supervisor,
                GParamSpec        *pspec,
                TetherApplication *self)
{
  tether_application_update_actions (self);
}

/* Only a step that reached its deadline is news (the backend ignored the
 * polite request); a force asked for by a button, tetherctl or D-Bus is
 * not. */
static void
on_stop_escalated (TetherSupervisor  *supervisor,
                   int                next_phase,
                   TetherApplication *self)
{
  /* translators: %s is the backend's name */
  g_autofree char *title = NULL;

  if (next_phase != TETHER_PHASE_KILL)
    return;
  title = g_strdup_printf (_("%s did not stop in time"), tether_supervisor_get_profile (supervisor)->name);
  tether_application_tell (self, title, _("Its remaining processes are being killed."));
}

/* A worker let go of for a limit or its heartbeat, or one that ended on
 * its own, is news; the resizes and recycles someone asked for are not
 * (the pool does not report them). */
static void
on_worker_retired (TetherPool         *pool,
                   int                 pid,
                   TetherWorkerReason  reason,
                   const char         *detail,
                   TetherApplication  *self)
{
  const char *label = tether_worker_reason_to_label (reason);
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;

  if (reason == TETHER_WORKER_REASON_EXITED)
    {
      /* translators: %d is the worker's process id */
      title = g_strdup_printf (_("Worker %d ended"), pid);
      body = g_strdup (detail != NULL ? detail : label);
    }
  else
    {
      /* translators: %d is the worker's process id */
      title = g_strdup_printf (_("Worker %d replaced"), pid);
      /* translators: why a worker was replaced, then the particulars, e.g.
       * "memory over the soft limit (RSS 530 MB over the 512 MB limit)" */
      body = detail != NULL ? g_strdup_printf (_("%s (%s)"), label, detail) : g_strdup (label);
    }
  tell_tagged (self, "worker", title, body);
}

gboolean
tether_application_open_profile (TetherApplication  *self,
                                 GFile              *file,
                                 GError            **error)
{
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) supervisor = NULL;
  g_autoptr(TetherControl) control = NULL;
  g_autofree char *path = g_file_get_path (file);

  g_return_val_if_fail (TETHER_IS_APPLICATION (self), FALSE);

  if (path == NULL)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("%s is not a local file"), uri);
      return FALSE;
    }

  if (self->supervisor != NULL && tether_supervisor_is_active (self->supervisor))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                   _("Stop %s before opening another profile"),
                   tether_supervisor_get_profile (self->supervisor)->name);
      return FALSE;
    }

  profile = tether_profile_load (path, error);
  if (profile == NULL)
    return FALSE;

  supervisor = tether_supervisor_new (profile, self->owner_kind);
  /* Besides the log, the backend's output goes where Tether's does (a
   * terminal it was started from, the journal), as before there was a log. */
  tether_supervisor_set_stdio (supervisor, STDOUT_FILENO, STDERR_FILENO);

  /* The socket tetherctl finds by profile: refused when another Tether
   * (a `tetherctl run`, another session) already supervises this profile,
   * so the same backend never runs twice. */
  if (self->control != NULL &&
      g_strcmp0 (tether_supervisor_get_profile (self->supervisor)->path, profile->path) == 0)
    g_clear_object (&self->control);  /* our own socket for the same profile */
  control = tether_control_new (supervisor, NULL, error);
  if (control == NULL)
    return FALSE;

  g_clear_object (&self->control);
  self->control = g_steal_pointer (&control);
  /* A start still looking at the last profile's leftovers is not this
   * one's. */
  if (self->start_check != NULL)
    g_cancellable_cancel (self->start_check);
  g_set_object (&self->supervisor, supervisor);
  self->last_state = tether_supervisor_get_state (supervisor);
  self->in_rollback = FALSE;
  g_signal_group_set_target (self->supervisor_signals, supervisor);
  g_signal_group_set_target (self->pool_signals, tether_supervisor_get_pool (supervisor));
  g_settings_set_string (self->settings, "last-profile", profile->path);

  tether_application_update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUPERVISOR]);
  return TRUE;
}

static void
start_if_possible (TetherApplication *self)
{
  if (g_action_group_get_action_enabled (G_ACTION_GROUP (self), "start"))
    g_action_group_activate_action (G_ACTION_GROUP (self), "start", NULL);
}

gboolean
tether_application_open_file (TetherApplication *self,
                              GFile             *file,
                              gboolean           start)
{
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (TETHER_IS_APPLICATION (self), FALSE);

  if (!tether_application_open_profile (self, file, &error))
    {
      g_autofree char *name = g_file_get_parse_name (file);
      /* translators: %s is a file name */
      g_autofree char *title = g_strdup_printf (_("Could not open %s"), name);

      tether_window_show_error (ensure_window (self), title, error->message);
      return FALSE;
    }
  if (start)
    start_if_possible (self);
  return TRUE;
}

static void
tether_application_activate (GApplication *application)
{
  TetherApplication *self = TETHER_APPLICATION (application);
  TetherWindow *window = get_window (self);

  if (window == NULL)
    {
      g_autofree char *last = g_settings_get_string (self->settings, "last-profile");

      window = ensure_window (self);
      if (self->supervisor == NULL && last[0] != '\0' && g_file_test (last, G_FILE_TEST_EXISTS))
        {
          g_autoptr(GFile) file = g_file_new_for_path (last);
          g_autoptr(GError) error = NULL;

          /* A last profile that no longer opens only leads to the welcome page. */
          if (!tether_application_open_profile (self, file, &error))
            g_message ("Not reopening %s: %s", last, error->message);
        }
    }

  tether_application_release_background (self);
  gtk_window_present (GTK_WINDOW (window));
}

static void
tether_application_open (GApplication  *application,
                         GFile        **files,
                         int            n_files,
                         const char    *hint)
{
  TetherApplication *self = TETHER_APPLICATION (application);

  ensure_window (self);
  if (n_files > 0)
    tether_application_open_file (self, files[0], FALSE);
  tether_application_activate (application);
}

static int
tether_application_command_line (GApplication            *application,
                                 GApplicationCommandLine *command_line)
{
  TetherApplication *self = TETHER_APPLICATION (application);
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_autofree const char **rest = NULL;
  g_autoptr(GFile) file = NULL;
  gboolean start = FALSE, demo = FALSE;
  const char *owner = NULL;

  g_variant_dict_lookup (options, "start", "b", &start);
  g_variant_dict_lookup (options, "demo", "b", &demo);
  /* Checked by the launching process already (handle_local_options); here
   * it reaches a running instance too, for the profile opened next. */
  if (g_variant_dict_lookup (options, "owner", "&s", &owner))
    tether_owner_kind_from_string (owner, &self->owner_kind);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &rest);

  if (rest != NULL && rest[0] != NULL)
    file = g_application_command_line_create_file_for_arg (command_line, rest[0]);
  else if (demo)
    file = tether_application_get_demo_profile (self);

  /* The window first: opening may need it for an error dialog, and
   * activating then does not reopen the last profile over this one. */
  ensure_window (self);
  if (file != NULL)
    tether_application_open_file (self, file, start);
  else if (start)
    start_if_possible (self);
  tether_application_activate (application);

  return 0;
}

static int
tether_application_handle_local_options (GApplication *application,
                                         GVariantDict *options)
{
  TetherApplication *self = TETHER_APPLICATION (application);
  const char *owner = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("tether %s\n", PACKAGE_VERSION);
      return 0;
    }
  /* Checked here, in the process that was started, so a mistake is said
   * on its terminal rather than in the running instance. */
  if (g_variant_dict_lookup (options, "owner", "&s", &owner) &&
      !tether_owner_kind_from_string (owner, &self->owner_kind))
    {
      g_printerr (_("tether: --owner must be auto, cgroup or reaper (got “%s”)\n"), owner);
      return 2;
    }
  return -1;
}

static void
on_stopped_for_quit (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, NULL, &error))
    g_warning ("Stopping before quitting: %s", error->message);
  g_application_quit (G_APPLICATION (self));
}

/* Quitting never leaves an orphan: the backend walks the stop ladder
 * first (a second request skips to the forced step). */
void
tether_application_quit_after_stop (TetherApplication *self)
{
  if (self->supervisor == NULL || !tether_supervisor_is_active (self->supervisor))
    {
      g_application_quit (G_APPLICATION (self));
      return;
    }
  if (self->quitting)
    {
      tether_supervisor_kill (self->supervisor, NULL, on_stopped_for_quit, g_object_ref (self));
      return;
    }
  self->quitting = TRUE;
  tether_application_update_actions (self);
  tether_supervisor_stop (self->supervisor, NULL, on_stopped_for_quit, g_object_ref (self));
}

/* In the background the window is hidden, not destroyed: GtkApplication
 * holds itself for every window, shown or not, and activating the
 * application shows the same window again. */
void
tether_application_release_background (TetherApplication *self)
{
  self->held_in_background = FALSE;
}

void
tether_application_keep_in_background (TetherApplication *self)
{
  self->held_in_background = TRUE;
}

static gboolean
on_unix_signal (gpointer user_data)
{
  tether_application_quit_after_stop (user_data);
  return G_SOURCE_CONTINUE;
}

static void
tether_application_startup (GApplication *application)
{
  TetherApplication *self = TETHER_APPLICATION (application);

  G_APPLICATION_CLASS (tether_application_parent_class)->startup (application);

  /* A backend's processes come back here if tether-shim is killed. */
  {
    g_autoptr(GError) error = NULL;

    if (!tether_reaper_install (&error))
      g_message ("%s", error->message);
  }
  tether_application_install_actions (self);
  /* SIGTERM/SIGINT (a session ending, Ctrl-C in a terminal) stop the
   * backend like Quit does. */
  g_unix_signal_add (SIGTERM, on_unix_signal, self);
  g_unix_signal_add (SIGINT, on_unix_signal, self);
}

static void
tether_application_shutdown (GApplication *application)
{
  TetherApplication *self = TETHER_APPLICATION (application);

  /* Disposed, not just released (a window may still hold a reference):
   * the control socket is removed and whatever is left of the tree is
   * killed, now, before the process exits. */
  g_signal_group_set_target (self->supervisor_signals, NULL);
  g_signal_group_set_target (self->pool_signals, NULL);
  g_clear_handle_id (&self->rollback_settle, g_source_remove);
  if (self->start_check != NULL)
    g_cancellable_cancel (self->start_check);
  if (self->control != NULL)
    g_object_run_dispose (G_OBJECT (self->control));
  if (self->supervisor != NULL)
    g_object_run_dispose (G_OBJECT (self->supervisor));
  g_clear_object (&self->control);
  g_clear_object (&self->supervisor);

  G_APPLICATION_CLASS (tether_application_parent_class)->shutdown (application);
}

static void
tether_application_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_SUPERVISOR:
      g_value_set_object (value, self->supervisor);
      break;
    case PROP_POOL_ACTIVITY:
      g_value_set_string (value, tether_application_get_pool_activity (self));
      break;
    case PROP_START_ACTIVITY:
      g_value_set_string (value, self->start_activity);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_application_dispose (GObject *object)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  g_clear_handle_id (&self->rollback_settle, g_source_remove);
  g_clear_handle_id (&self->start_activity_delay, g_source_remove);
  g_clear_object (&self->start_check);
  g_clear_pointer (&self->start_activity, g_free);
  g_clear_object (&self->supervisor_signals);
  g_clear_object (&self->pool_signals);
  g_clear_object (&self->control);
  g_clear_object (&self->supervisor);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (tether_application_parent_class)->dispose (object);
}

static void
tether_application_class_init (TetherApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->get_property = tether_application_get_property;
  object_class->dispose = tether_application_dispose;

  app_class->startup = tether_application_startup;
  app_class->shutdown = tether_application_shutdown;
  app_class->activate = tether_application_activate;
  app_class->open = tether_application_open;
  app_class->command_line = tether_application_command_line;
  app_class->handle_local_options = tether_application_handle_local_options;

  properties[PROP_SUPERVISOR] =
    g_param_spec_object ("supervisor", NULL, NULL, TETHER_TYPE_SUPERVISOR,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_POOL_ACTIVITY] =
    g_param_spec_string ("pool-activity", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_START_ACTIVITY] =
    g_param_spec_string ("start-activity", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/* The schema is installed with the application; a build directory has its
 * own compiled copy (the README's demo runs from there). */
static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchemaSource) build_source = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, TETHER_APPLICATION_ID, TRUE);
  if (schema == NULL)
    {
      g_autoptr(GError) error = NULL;

      build_source = g_settings_schema_source_new_from_directory (TETHER_SCHEMA_BUILD_DIR, source,
                                                                  FALSE, &error);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, TETHER_APPLICATION_ID, FALSE);
      if (schema == NULL)
        g_error ("The settings schema %s is not installed (and not in %s)",
                 TETHER_APPLICATION_ID, TETHER_SCHEMA_BUILD_DIR);
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static const char * const can_properties[] = {
  "notify::can-start", "notify::can-stop", "notify::can-kill", "notify::can-restart", "notify::can-signal",
  "notify::can-resize",
};

static void
tether_application_init (TetherApplication *self)
{
  self->settings = new_settings ();
  self->last_state = TETHER_STATE_STOPPED;
  self->owner_kind = tether_owner_kind_from_env ();

  self->supervisor_signals = g_signal_group_new (TETHER_TYPE_SUPERVISOR);
  g_signal_group_connect (self->supervisor_signals, "notify::state",
                          G_CALLBACK (on_state_changed), self);
  for (guint i = 0; i < G_N_ELEMENTS (can_properties); i++)
    g_signal_group_connect (self->supervisor_signals, can_properties[i],
                            G_CALLBACK (on_can_changed), self);
  g_signal_group_connect (self->supervisor_signals, "stop-escalated",
                          G_CALLBACK (on_stop_escalated), self);
  self->pool_signals = g_signal_group_new (TETHER_TYPE_POOL);
  g_signal_group_connect (self->pool_signals, "worker-retired",
                          G_CALLBACK (on_worker_retired), self);

  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
}

TetherApplication *
tether_application_new (void)
{
  return g_object_new (TETHER_TYPE_APPLICATION,
                       "application-id", TETHER_APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/org/tether/Tether",
                       NULL);
}
