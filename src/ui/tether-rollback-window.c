/* tether-rollback-window.c: pick a checkpoint, confirm, watch the rollback
 *
 * The checkpoints the backend reported and the journal holds (this run's
 * and earlier runs'), newest first, searchable. A row selected and Roll
 * Back… (or a row activated) asks first, saying what will happen to how
 * many processes; then the dialog follows the supervisor through the
 * rollback (Frozen, Stopping, Starting at the checkpoint) and closes once
 * the backend runs again there. The outcome is the application's news (a
 * toast), as for a rollback asked for over D-Bus; a failure also leaves
 * the dialog on its list, saying why.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-history-window.h"
#include "tether-rollback-window.h"

/* How often "12 minutes ago" is brought up to date. */
#define RELATIVE_REFRESH_S 30

typedef enum
{
  STEP_FREEZE,
  STEP_STOP,
  STEP_START,
  STEP_DONE,
} Step;

struct _TetherRollbackWindow
{
  AdwWindow parent_instance;

  /* template children */
  AdwToastOverlay *toast_overlay;
  AdwWindowTitle *window_title;
  GtkStack *stack;
  GtkStack *list_stack;
  GtkSearchEntry *search_entry;
  GtkListBox *list;
  GtkWidget *rollback_button;
  AdwStatusPage *progress_page;
  AdwActionRow *freeze_row;
  AdwActionRow *stop_row;
  AdwActionRow *start_row;
  GtkStack *freeze_stack;
  GtkStack *stop_stack;
  GtkStack *start_stack;

  TetherApplication *application;   /* unowned: it outlives its windows */
  TetherSupervisor *supervisor;
  char *rolling_back;               /* the checkpoint of the rollback asked for here, or NULL */
  Step step;                        /* where that rollback is */
  guint n_rows;
  guint relative_timer;
};

G_DEFINE_FINAL_TYPE (TetherRollbackWindow, tether_rollback_window, ADW_TYPE_WINDOW)

/* ---- the list ----------------------------------------------------------- */

static const TetherCheckpoint *
row_checkpoint (GtkListBoxRow *row)
{
  return g_object_get_data (G_OBJECT (row), "tether-checkpoint");
}

static void
checkpoint_free (TetherCheckpoint *cp)
{
  g_free (cp->id);
  g_free (cp->label);
  g_free (cp);
}

static char *
checkpoint_title (const TetherCheckpoint *cp)
{
  /* translators: %s is a checkpoint ID, as the backend named it */
  return g_strdup_printf (_("Checkpoint %s"), cp->id);
}

static void
update_row (AdwActionRow *row,
            gint64        now)
{
  const TetherCheckpoint *cp = row_checkpoint (GTK_LIST_BOX_ROW (row));
  g_autofree char *when = tether_format_event_time (cp->time, now);
  g_autofree char *subtitle = NULL;

  /* translators: a checkpoint's label (the backend's words), then when */
  subtitle = cp->label != NULL ? g_strdup_printf (_("%s · %s"), cp->label, when) : g_strdup (when);
  adw_action_row_set_subtitle (row, subtitle);
  /* Its accessible name is its title; GTK 4.8 does not make the subtitle
   * (described-by) its description. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle, -1);
}

static GtkWidget *
new_row (const TetherCheckpoint *cp,
         gint64                  now)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new_from_icon_name ("bookmark-new-symbolic");
  TetherCheckpoint *copy = g_new0 (TetherCheckpoint, 1);
  g_autofree char *title = checkpoint_title (cp);

  copy->id = g_strdup (cp->id);
  copy->label = g_strdup (cp->label);
  copy->time = cp->time;
  g_object_set_data_full (G_OBJECT (row), "tether-checkpoint", copy, (GDestroyNotify) checkpoint_free);

  /* What the backend wrote is text, not markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_accessible_update_state (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  update_row (ADW_ACTION_ROW (row), now);
  return row;
}

static void
update_button (TetherRollbackWindow *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->list);

  gtk_widget_set_sensitive (self->rollback_button,
                            row != NULL && gtk_widget_get_child_visible (GTK_WIDGET (row)) &&
                            self->rolling_back == NULL &&
                            g_action_group_get_action_enabled (G_ACTION_GROUP (self->application),
                                                               "rollback"));
}

static void
update_list_page (TetherRollbackWindow *self)
{
  gtk_stack_set_visible_child_name (self->list_stack, self->n_rows > 0 ? "checkpoints" : "empty");
  gtk_widget_set_visible (GTK_WIDGET (self->search_entry), self->n_rows > 0);
}

static void
fill_list (TetherRollbackWindow *self)
{
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (self->supervisor);
  gint64 now = g_get_real_time ();

  for (guint i = 0; i < checkpoints->len; i++)
    gtk_list_box_prepend (self->list, new_row (g_ptr_array_index (checkpoints, i), now));
  self->n_rows = checkpoints->len;
  update_list_page (self);
}

/* The newest is last in the supervisor's list; the oldest leave it when
 * there are too many, and their rows go too. */
static void
on_checkpoint (TetherRollbackWindow *self,
               const char           *id,
               const char           *label)
{
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (self->supervisor);

  if (checkpoints->len == 0)
    return;
  gtk_list_box_prepend (self->list, new_row (g_ptr_array_index (checkpoints, checkpoints->len - 1),
                                             g_get_real_time ()));
  self->n_rows++;
  while (self->n_rows > checkpoints->len)
    {
      gtk_list_box_remove (self->list,
                           GTK_WIDGET (gtk_list_box_get_row_at_index (self->list, self->n_rows - 1)));
      self->n_rows--;
    }
  update_list_page (self);
  update_button (self);
}

static gboolean
on_relative_timeout (gpointer user_data)
{
  TetherRollbackWindow *self = user_data;
  gint64 now = g_get_real_time ();

  for (guint i = 0; i < self->n_rows; i++)
    update_row (ADW_ACTION_ROW (gtk_list_box_get_row_at_index (self->list, i)), now);
  return G_SOURCE_CONTINUE;
}

/* ---- search ------------------------------------------------------------- */

static gboolean
filter_row (GtkListBoxRow *row,
            gpointer       user_data)
{
  TetherRollbackWindow *self = user_data;
  const TetherCheckpoint *cp = row_checkpoint (row);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *needle = NULL;
  g_autofree char *id = NULL;
  g_autofree char *label = NULL;

  if (text[0] == '\0')
    return TRUE;
  needle = g_utf8_casefold (text, -1);
  id = g_utf8_casefold (cp->id, -1);
  label = cp->label != NULL ? g_utf8_casefold (cp->label, -1) : NULL;
  return strstr (id, needle) != NULL || (label != NULL && strstr (label, needle) != NULL);
}

static void
on_search_changed (TetherRollbackWindow *self)
{
  gtk_list_box_invalidate_filter (self->list);
  update_button (self);
}

/* Escape empties the search, then closes the dialog. */
static void
on_stop_search (TetherRollbackWindow *self)
{
  if (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))[0] != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  else
    gtk_window_close (GTK_WINDOW (self));
}

/* ---- the rollback ------------------------------------------------------- */

static void
set_step (GtkStack *stack,
          Step      step,
          Step      current)
{
  gtk_stack_set_visible_child_name (stack, step < current ? "done" : step == current ? "active" : "pending");
}

/* The supervisor's state says which step a rollback is at. */
static void
update_progress (TetherRollbackWindow *self)
{
  Step current;
  const char *text;
  g_autofree char *starting = NULL;

  if (self->rolling_back == NULL)
    return;

  switch (tether_supervisor_get_state (self->supervisor))
    {
    case TETHER_STATE_FROZEN:
      self->step = STEP_FREEZE;
      break;
    case TETHER_STATE_STOPPING:
    case TETHER_STATE_KILLING:
      self->step = STEP_STOP;
      break;
    case TETHER_STATE_STOPPED:
    case TETHER_STATE_STARTING:
    case TETHER_STATE_FAILED:
      self->step = STEP_START;
      break;
    case TETHER_STATE_RUNNING:
    case TETHER_STATE_NOT_RESPONDING:
    default:
      /* Before the freeze (asked for, not begun yet), or after the start. */
      if (self->step == STEP_START)
        self->step = STEP_DONE;
      break;
    }
  current = self->step;
  set_step (self->freeze_stack, STEP_FREEZE, current);
  set_step (self->stop_stack, STEP_STOP, current);
  set_step (self->start_stack, STEP_START, current);

  switch (current)
    {
    case STEP_FREEZE:
      text = _("Freezing every process…");
      break;
    case STEP_STOP:
      text = tether_supervisor_get_profile (self->supervisor)->rollback.stop == TETHER_ROLLBACK_STOP_KILL
             ? _("Killing the backend…") : _("Stopping the backend…");
      break;
    case STEP_START:
      /* translators: %s is a checkpoint ID */
      text = starting = g_strdup_printf (_("Starting at checkpoint %s…"), self->rolling_back);
      break;
    case STEP_DONE:
    default:
      text = _("Running again");
      break;
    }
  adw_status_page_set_description (self->progress_page, text);
}

static void
on_rolled_back (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(TetherRollbackWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = tether_application_rollback_finish (TETHER_APPLICATION (source), result, &error);

  g_clear_pointer (&self->rolling_back, g_free);
  if (self->supervisor == NULL)
    return; /* closed meanwhile: the application told the outcome */
  if (ok)
    {
      gtk_window_close (GTK_WINDOW (self));
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "list");
  {
    /* translators: %s says why */
    g_autofree char *text = g_strdup_printf (_("Could not roll back: %s"), error->message);
    AdwToast *toast = adw_toast_new (text);

    adw_toast_set_timeout (toast, 8);
    adw_toast_overlay_add_toast (self->toast_overlay, toast);
  }
  update_button (self);
}

static void
begin_rollback (TetherRollbackWindow *self,
                const char           *checkpoint,
                const char           *reason)
{
  const TetherProfile *profile = tether_supervisor_get_profile (self->supervisor);
  g_autofree char *title = NULL;
  g_autofree char *start = NULL;

  self->rolling_back = g_strdup (checkpoint);
  self->step = STEP_FREEZE;
  /* translators: %s is a checkpoint ID */
  title = g_strdup_printf (_("Rolling Back to Checkpoint %s"), checkpoint);
  adw_status_page_set_title (self->progress_page, title);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->stop_row),
                                 profile->rollback.stop == TETHER_ROLLBACK_STOP_KILL
                                 ? _("Kill the backend") : _("Stop the backend"));
  /* translators: %s is a checkpoint ID */
  start = g_strdup_printf (_("Start at checkpoint %s"), checkpoint);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->start_row), start);
  gtk_stack_set_visible_child_name (self->stack, "progress");
  update_progress (self);
  update_button (self);

  tether_application_rollback (self->application, checkpoint, reason, on_rolled_back, g_object_ref (self));
}

static void
on_confirm_response (AdwMessageDialog     *dialog,
                     const char           *response,
                     TetherRollbackWindow *self)
{
  const char *checkpoint = g_object_get_data (G_OBJECT (dialog), "tether-checkpoint-id");
  GtkEditable *reason_entry = g_object_get_data (G_OBJECT (dialog), "tether-reason");
  g_autofree char *reason = NULL;

  if (!g_str_equal (response, "rollback") || self->supervisor == NULL || self->rolling_back != NULL)
    return;
  reason = g_strstrip (g_strdup (gtk_editable_get_text (reason_entry)));
  begin_rollback (self, checkpoint, reason[0] != '\0' ? reason : NULL);
}

/* Says what will happen, counting what is alive now (a fresh sampler tick,
 * a few milliseconds), as Force Stop does. */
static void
on_counted_for_rollback (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(TetherRollbackWindow) self = user_data;
  TetherCheckpoint *cp = g_object_steal_data (G_OBJECT (self), "tether-confirming");
  const TetherProfile *profile;
  gboolean kill;
  guint n;
  GtkWidget *dialog;
  GtkWidget *reason;
  g_autofree char *heading = NULL;
  g_autofree char *what = NULL;
  g_autofree char *when = NULL;
  g_autofree char *then = NULL;
  g_autofree char *body = NULL;

  tether_sampler_refresh_finish (TETHER_SAMPLER (source), result, NULL);
  if (cp == NULL)
    return;
  if (self->supervisor == NULL)
    {
      checkpoint_free (cp);
      return;
    }

  profile = tether_supervisor_get_profile (self->supervisor);
  kill = profile->rollback.stop == TETHER_ROLLBACK_STOP_KILL;
  n = tether_supervisor_get_n_members (self->supervisor);
  /* translators: %s is a checkpoint ID */
  heading = g_strdup_printf (_("Roll Back to Checkpoint %s?"), cp->id);
  if (n == 0)
    /* translators: %s is a checkpoint ID */
    what = g_strdup_printf (kill ? _("Every process of the backend will be suspended, killed and restarted at checkpoint %s.")
                                 : _("Every process of the backend will be suspended, stopped and restarted at checkpoint %s."),
                            cp->id);
  else if (kill)
    /* translators: %u is how many processes, %s a checkpoint ID */
    what = g_strdup_printf (ngettext ("%u process will be suspended, killed and restarted at checkpoint %s.",
                                      "All %u processes will be suspended, killed and restarted at checkpoint %s.",
                                      n), n, cp->id);
  else
    /* translators: %u is how many processes, %s a checkpoint ID */
    what = g_strdup_printf (ngettext ("%u process will be suspended, stopped and restarted at checkpoint %s.",
                                      "All %u processes will be suspended, stopped and restarted at checkpoint %s.",
                                      n), n, cp->id);
  when = tether_format_event_time (cp->time, g_get_real_time ());
  /* translators: %s is when the checkpoint was saved, "14:03:12 (12 minutes ago)" */
  then = g_strdup_printf (_("The backend then carries on from the state it saved at %s."), when);
  body = g_strdup_printf ("%s %s", what, then);

  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "rollback", _("_Roll Back"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "rollback",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");

  reason = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (reason), _("Reason (optional)"));
  gtk_widget_set_tooltip_text (reason, _("Kept with the rollback in the history"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (reason), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Reason"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), reason);

  g_object_set_data_full (G_OBJECT (dialog), "tether-checkpoint-id", g_strdup (cp->id), g_free);
  g_object_set_data (G_OBJECT (dialog), "tether-reason", reason);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_confirm_response), self, 0);
  checkpoint_free (cp);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
confirm (TetherRollbackWindow *self,
         GtkListBoxRow        *row)
{
  const TetherCheckpoint *cp = row_checkpoint (row);
  TetherCheckpoint *copy;

  if (!gtk_widget_get_sensitive (self->rollback_button))
    return;
  /* The row may be gone (the oldest are let go of) by the time the count
   * is in: the dialog keeps its own copy. */
  copy = g_new0 (TetherCheckpoint, 1);
  copy->id = g_strdup (cp->id);
  copy->label = g_strdup (cp->label);
  copy->time = cp->time;
  g_object_set_data_full (G_OBJECT (self), "tether-confirming", copy, (GDestroyNotify) checkpoint_free);
  tether_sampler_refresh_async (tether_supervisor_get_sampler (self->supervisor), NULL,
                                on_counted_for_rollback, g_object_ref (self));
}

static void
on_rollback_clicked (TetherRollbackWindow *self)
{
  GtkListBoxRow *row = gtk_list_box_get_selected_row (self->list);

  if (row != NULL)
    confirm (self, row);
}

/* Enter or a double click on a row. */
static void
on_row_activated (TetherRollbackWindow *self,
                  GtkListBoxRow        *row)
{
  gtk_list_box_select_row (self->list, row);
  confirm (self, row);
}

/* ---- the window --------------------------------------------------------- */

static void
on_supervisor_replaced (TetherRollbackWindow *self)
{
  if (tether_application_get_supervisor (self->application) != self->supervisor)
    gtk_window_close (GTK_WINDOW (self));
}

GtkWindow *
tether_rollback_window_new (TetherApplication *application,
                            GtkWindow         *parent)
{
  TetherRollbackWindow *self;
  TetherSupervisor *supervisor;

  g_return_val_if_fail (TETHER_IS_APPLICATION (application), NULL);
  supervisor = tether_application_get_supervisor (application);
  g_return_val_if_fail (supervisor != NULL, NULL);

  /* Not one of the application's windows: those are main windows. */
  self = g_object_new (TETHER_TYPE_ROLLBACK_WINDOW, "transient-for", parent, NULL);
  self->application = application;
  self->supervisor = g_object_ref (supervisor);
  adw_window_title_set_subtitle (self->window_title, tether_supervisor_get_profile (supervisor)->name);

  g_signal_connect_object (supervisor, "checkpoint", G_CALLBACK (on_checkpoint), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (supervisor, "notify::state", G_CALLBACK (update_progress), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (application, "notify::supervisor", G_CALLBACK (on_supervisor_replaced),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (application, "action-enabled-changed::rollback", G_CALLBACK (update_button),
                           self, G_CONNECT_SWAPPED);
  fill_list (self);
  update_button (self);
  self->relative_timer = g_timeout_add_seconds (RELATIVE_REFRESH_S, on_relative_timeout, self);
  return GTK_WINDOW (self);
}

static void
tether_rollback_window_dispose (GObject *object)
{
  TetherRollbackWindow *self = TETHER_ROLLBACK_WINDOW (object);

  /* A rollback under way holds the dialog past its closing: nothing may
   * reach it once its widgets are gone. */
  g_clear_handle_id (&self->relative_timer, g_source_remove);
  if (self->supervisor != NULL)
    g_signal_handlers_disconnect_by_data (self->supervisor, self);
  if (self->application != NULL)
    g_signal_handlers_disconnect_by_data (self->application, self);
  g_clear_object (&self->supervisor);
  if (self->list != NULL)
    g_signal_handlers_disconnect_by_data (self->list, self);
  if (self->search_entry != NULL)
    g_signal_handlers_disconnect_by_data (self->search_entry, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_ROLLBACK_WINDOW);

  G_OBJECT_CLASS (tether_rollback_window_parent_class)->dispose (object);
}

static void
tether_rollback_window_finalize (GObject *object)
{
  TetherRollbackWindow *self = TETHER_ROLLBACK_WINDOW (object);

  g_free (self->rolling_back);

  G_OBJECT_CLASS (tether_rollback_window_parent_class)->finalize (object);
}

static void
tether_rollback_window_class_init (TetherRollbackWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_rollback_window_dispose;
  object_class->finalize = tether_rollback_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/tether/Tether/tether-rollback-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, list);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, rollback_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, progress_page);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, freeze_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, stop_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, start_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, freeze_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, stop_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherRollbackWindow, start_stack);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_stop_search);
  gtk_widget_class_bind_template_callback (widget_class, on_rollback_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, update_button);
}

static void
tether_rollback_window_init (TetherRollbackWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_list_box_set_filter_func (self->list, filter_row, self, NULL);
  /* Typing anywhere in the dialog searches. */
  gtk_search_entry_set_key_capture_widget (self->search_entry, GTK_WIDGET (self));
}
