/* tether-window.c: the main window
 *
 * Shows the application's supervisor: state, STATUS= text, why and for how
 * long it is not responding, the stop ladder's countdown, whole-tree graphs
 * and the live process tree. Every button is an action; the lifecycle ones
 * are the application's (the same on D-Bus), the window adds only what
 * needs a person: confirmations, the file chooser, the selected row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "tether-application.h"
#include "tether-bar.h"
#include "tether-bundle.h"
#include "tether-control.h"
#include "tether-graph.h"
#include "tether-history-window.h"
#include "tether-log-view.h"
#include "tether-preferences-window.h"
#include "tether-process-details.h"
#include "tether-process-tree.h"
#include "tether-rollback-window.h"
#include "tether-signal-dialog.h"
#include "tether-window.h"

struct _TetherWindow
{
  AdwApplicationWindow parent_instance;

  /* template children */
  AdwToastOverlay *toast_overlay;
  AdwWindowTitle *window_title;
  GtkStack *stack;
  GtkWidget *controls_box;
  GtkWidget *tree_scroller;
  AdwStatusPage *empty_page;
  GtkLabel *empty_log_heading;
  GtkLabel *empty_log_label;
  GtkLabel *state_pill;
  GtkSpinner *start_spinner;
  GtkLabel *status_label;
  GtkLabel *count_label;
  GtkLabel *owner_label;
  GtkWidget *rollback_button;
  GtkWidget *pool_box;
  GtkSpinButton *workers_spin;
  GtkSpinner *workers_spinner;
  GtkLabel *workers_label;
  GtkLabel *workers_short_label;
  GtkWidget *recycle_button;
  GtkRevealer *pool_problem_revealer;
  GtkLabel *pool_problem_label;
  GtkRevealer *countdown_revealer;
  GtkLabel *countdown_label;
  GtkProgressBar *countdown_bar;
  GtkRevealer *unresponsive_revealer;
  GtkLabel *unresponsive_title;
  GtkLabel *unresponsive_message;
  TetherGraph *cpu_graph;
  TetherGraph *memory_graph;
  GtkWidget *memory_header;
  GtkColumnView *column_view;
  GPtrArray *wide_columns;             /* the .ui file's order */
  int wide_name_width;                 /* Name's width before it narrowed */
  gboolean narrow_columns;             /* Name, CPU, Memory moved first */
  guint column_order_idle;
  GtkColumnViewColumn *name_column;
  GtkColumnViewColumn *pid_column;
  GtkColumnViewColumn *ppid_column;
  GtkColumnViewColumn *role_column;
  GtkColumnViewColumn *state_column;
  GtkColumnViewColumn *cpu_column;
  GtkColumnViewColumn *memory_column;
  GtkColumnViewColumn *threads_column;
  GtkColumnViewColumn *uptime_column;
  GtkColumnViewColumn *user_column;
  GtkColumnViewColumn *nice_column;
  GtkColumnViewColumn *started_column;
  GtkColumnViewColumn *cmdline_column;
  GtkLabel *detail_label;
  TetherGraph *selected_graph;
  GtkWidget *row_popover;           /* a GtkPopoverMenu */
  GMenu *row_menu_title;            /* its first section: "python3 (1234)" */
  AdwViewStack *view_stack;         /* Processes, Log */
  TetherLogView *log_view;
  AdwFlap *details_flap;
  TetherProcessDetails *process_details;
  TetherProcessTree *tree;
  GtkSearchBar *process_search_bar;
  GtkSearchEntry *process_search_entry;
  GtkLabel *match_label;

  TetherApplication *application;   /* unowned: the application outlives its windows */
  TetherSupervisor *supervisor;
  GSignalGroup *supervisor_signals;
  GSignalGroup *log_signals;          /* the supervisor's log: the empty state's lines */
  TetherPool *pool;                 /* the supervisor's, or NULL */
  GSignalGroup *pool_signals;
  GtkSingleSelection *selection;
  GtkSorter *sorter;                /* the column view's sorter, wrapped for tree rows */

  TetherPhase countdown_phase;
  gint64 countdown_started;
  guint countdown_timer;
  guint unresponsive_timer;         /* the bar's seconds, while it is shown */
  guint resize_timer;               /* the Workers spin button settling */
  gboolean syncing_spin;            /* the spin button follows the target */
  AdwToast *last_toast;             /* weak: the newest toast, shown or waiting */
  guint journal_timer;              /* until the journal has loaded earlier runs' checkpoints */
  GtkWindow *rollback_window;       /* weak: the Roll Back dialog, when open */
  GtkWindow *history_window;        /* weak */
  gboolean show_details;            /* the details pane, while a process is selected */
  GCancellable *saving_bundle;      /* a support bundle on its way to a file */
  char **extra_columns;             /* the optional columns shown (GSettings extra-columns) */
  GtkColumnViewColumn *menu_sort;   /* sorted by win.sort-by, until a header click */
  gboolean menu_sort_reversed;
  gboolean sorting_from_menu;
  guint row_menu_tick;              /* the keyboard row menu, waiting for its row to scroll in */
  gint64 row_menu_frame;            /* ... since this frame */
  GtkWidget *pressed_widget;        /* weak: the widget right-clicked, while its menu is open */
};

enum
{
  PROP_0,
  PROP_SHOW_DETAILS,
  PROP_FLAT_LIST,
  PROP_EXTRA_COLUMNS,
  PROP_SHOW_USER_COLUMN,
  PROP_SHOW_PPID_COLUMN,
  PROP_SHOW_NICE_COLUMN,
  PROP_SHOW_STARTED_COLUMN,
  N_PROPS
};

/* The optional columns: their GSettings names, in the order of the
 * PROP_SHOW_*_COLUMN properties (win.show-*-column, check items). */
static const char * const extra_column_ids[] = { "user", "ppid", "nice", "started" };

static GParamSpec *properties[N_PROPS];

/* How long the Workers spin button must rest before the pool is resized:
 * three clicks on + make one resize, not three. */
#define RESIZE_DELAY_MS 300

G_DEFINE_FINAL_TYPE (TetherWindow, tether_window, ADW_TYPE_APPLICATION_WINDOW)

static TetherProcessItem *
get_selected_item (TetherWindow *self)
{
  GtkTreeListRow *row = gtk_single_selection_get_selected_item (self->selection);

  return row != NULL ? gtk_tree_list_row_get_item (row) : NULL;
}

static gboolean
app_action_enabled (TetherWindow *self,
                    const char   *name)
{
  return g_action_group_get_action_enabled (G_ACTION_GROUP (self->application), name);
}

/* GTK 4.8's text entry keeps blinking its cursor when it is made
 * insensitive while focused, and warns that it missed the focus-out: the
 * focus leaves it first. */
static void
set_workers_spin_sensitive (TetherWindow *self,
                            gboolean      sensitive)
{
  GtkWidget *focus = gtk_window_get_focus (GTK_WINDOW (self));

  if (!sensitive && focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->workers_spin)))
    gtk_window_set_focus (GTK_WINDOW (self), NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->workers_spin), sensitive);
}

/* The window's actions follow the application's, which are computed in one
 * place (tether_application_update_actions); only the row adds a
 * condition. */
static void
update_actions (TetherWindow *self)
{
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  gboolean selected = item != NULL && tether_process_is_alive (tether_process_item_get_process (item));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.force-stop",
                                 app_action_enabled (self, "force-stop"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.restart",
                                 app_action_enabled (self, "restart"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.stop-subtree",
                                 selected && app_action_enabled (self, "stop-subtree"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.kill-subtree",
                                 selected && app_action_enabled (self, "kill-subtree"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.send-signal",
                                 selected && app_action_enabled (self, "send-signal"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.continue-process",
                                 selected && app_action_enabled (self, "send-signal") &&
                                 tether_process_get_state (tether_process_item_get_process (item)) == 'T');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-tree", self->supervisor != NULL);
  /* Open, it can always be closed. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-details", selected || self->show_details);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-bundle",
                                 self->supervisor != NULL && self->saving_bundle == NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-rollback", self->supervisor != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-history", self->supervisor != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-cmdline", item != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.copy-pid", item != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-processes", self->supervisor != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-log", self->supervisor != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.find", self->supervisor != NULL);
  set_workers_spin_sensitive (self, app_action_enabled (self, "resize"));
}

/* ---- state, status and countdown --------------------------------------- */

static void
update_status (TetherWindow *self)
{
  TetherState state;
  const char *status, *message, *activity;
  g_autofree char *pill_label = NULL;

  if (self->supervisor == NULL)
    return;

  state = tether_supervisor_get_state (self->supervisor);
  for (TetherState other = TETHER_STATE_STOPPED; other <= TETHER_STATE_FROZEN; other++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->state_pill), tether_state_to_string (other));
  gtk_widget_add_css_class (GTK_WIDGET (self->state_pill), tether_state_to_string (state));
  gtk_label_set_label (self->state_pill, tether_state_to_label (state));
  /* The pill's accessible name says what it is and what it shows. */
  pill_label = g_strdup_printf (_("State: %s"), tether_state_to_label (state));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_pill),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, pill_label, -1);

  status = tether_supervisor_get_status_text (self->supervisor);
  message = tether_supervisor_get_message (self->supervisor);
  activity = tether_application_get_start_activity (self->application);
  if ((state == TETHER_STATE_FAILED || state == TETHER_STATE_STOPPED) && message != NULL)
    status = message;
  if (activity != NULL)
    status = activity;
  gtk_widget_set_visible (GTK_WIDGET (self->start_spinner), activity != NULL);
  gtk_spinner_set_spinning (self->start_spinner, activity != NULL);
  gtk_label_set_label (self->status_label, status != NULL ? status : "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), status);
}

/* The backend's newest lines, for the empty state. */
#define EMPTY_STATE_LOG_LINES 8

/* Stopped or Failed with no process left: what happened, the backend's
 * last output and Start, instead of a table with only its headers. */
static void
update_empty_state (TetherWindow *self)
{
  TetherState state;
  gboolean empty;
  const char *message;
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GString) text = NULL;

  if (self->supervisor == NULL)
    return;
  state = tether_supervisor_get_state (self->supervisor);
  empty = (state == TETHER_STATE_STOPPED || state == TETHER_STATE_FAILED) &&
          tether_process_tree_get_n_items (self->tree) == 0;
  gtk_widget_set_visible (self->tree_scroller, !empty);
  gtk_widget_set_visible (GTK_WIDGET (self->empty_page), empty);
  if (!empty)
    return;

  message = tether_supervisor_get_message (self->supervisor);
  if (state == TETHER_STATE_FAILED)
    {
      adw_status_page_set_icon_name (self->empty_page, "dialog-error-symbolic");
      adw_status_page_set_title (self->empty_page, _("The Backend Failed"));
    }
  else
    {
      adw_status_page_set_icon_name (self->empty_page, "media-playback-stop-symbolic");
      adw_status_page_set_title (self->empty_page, _("Not Running"));
    }
  adw_status_page_set_description (self->empty_page,
                                   message != NULL ? message : _("No process of the backend is running."));

  lines = tether_log_get_lines (tether_supervisor_get_log (self->supervisor), EMPTY_STATE_LOG_LINES, 0);
  text = g_string_new (NULL);
  for (guint i = 0; i < lines->len; i++)
    {
      const TetherLogLine *line = g_ptr_array_index (lines, i);

      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, line->text);
    }
  gtk_label_set_label (self->empty_log_label, text->str);
  gtk_widget_set_visible (GTK_WIDGET (self->empty_log_label), text->len > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->empty_log_heading), text->len > 0);
}

/* Which ownership is at work, and what it means for the person about to
 * stop the backend. AUTO until the first start decides. */
static void
update_owner_kind (TetherWindow *self)
{
  TetherOwnerKind kind = self->supervisor != NULL ? tether_supervisor_get_owner_kind (self->supervisor)
                                                  : TETHER_OWNER_AUTO;
  const char *label = NULL;
  const char *tooltip = NULL;

  switch (kind)
    {
    case TETHER_OWNER_CGROUP:
      /* translators: short, beside the process count: the tree is a cgroup */
      label = C_("ownership", "cgroup");
      tooltip = _("Ownership: a cgroup of its own. Every process the backend starts is in it, "
                  "detached ones too, and Stop and Force Stop end them all.");
      break;
    case TETHER_OWNER_REAPER:
      /* translators: short, beside the process count: a helper tracks the tree */
      label = C_("ownership", "helper");
      tooltip = tether_owner_in_flatpak ()
                ? _("Ownership: processes are tracked by Tether's helper (no cgroup in the Flatpak sandbox); "
                    "detached processes are still caught, and Stop and Force Stop end them all.")
                : _("Ownership: processes are tracked by Tether's helper (no cgroup could be made); "
                    "detached processes are still caught, and Stop and Force Stop end them all.");
      break;
    case TETHER_OWNER_AUTO:
    default:
      break;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->owner_label), label != NULL);
  gtk_label_set_label (self->owner_label, label != NULL ? label : "");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->owner_label), tooltip);
  if (tooltip != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->owner_label),
                                    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, tooltip, -1);
}

static void
on_log_lines_added (TetherWindow *self)
{
  if (gtk_widget_get_visible (GTK_WIDGET (self->empty_page)))
    update_empty_state (self);
}

static void
update_countdown_text (TetherWindow *self)
{
  gint64 deadline = tether_supervisor_get_phase_deadline (self->supervisor);
  gint64 now = g_get_monotonic_time ();
  gint64 left_us = MAX (deadline - now, 0);
  int left = (int) ((left_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  double total = MAX (deadline - self->countdown_started, 1);
  g_autofree char *text = NULL;

  switch (self->countdown_phase)
    {
    case TETHER_PHASE_GRACEFUL:
      text = g_strdup_printf (ngettext ("Asked the backend to exit; SIGTERM to every process in %d second",
                                        "Asked the backend to exit; SIGTERM to every process in %d seconds",
                                        left), left);
      break;
    case TETHER_PHASE_TERM:
      text = g_strdup_printf (ngettext ("Sent SIGTERM to every process; killing them in %d second",
                                        "Sent SIGTERM to every process; killing them in %d seconds",
                                        left), left);
      break;
    case TETHER_PHASE_KILL:
    default:
      text = g_strdup (_("Killing the remaining processes…"));
      break;
    }
  gtk_label_set_label (self->countdown_label, text);
  gtk_progress_bar_set_fraction (self->countdown_bar,
                                 deadline > 0 ? CLAMP (left_us / total, 0.0, 1.0) : 0.0);
}

static gboolean
on_countdown_tick (gpointer user_data)
{
  update_countdown_text (user_data);
  return G_SOURCE_CONTINUE;
}

/* Every row still there during a stop says what it has outlived: after
 * SIGTERM, the processes that ignore it are the ones left marked. */
static void
update_stop_marker (TetherWindow *self,
                    TetherPhase   phase)
{
  const char *marker = NULL;

  switch (phase)
    {
    case TETHER_PHASE_GRACEFUL:
      /* translators: a process row's mark while the backend is asked to exit */
      marker = _("Still running");
      break;
    case TETHER_PHASE_TERM:
      /* translators: a process row's mark: it has not exited after SIGTERM */
      marker = _("Still running after SIGTERM");
      break;
    case TETHER_PHASE_KILL:
      /* translators: a process row's mark: it has not exited after SIGKILL */
      marker = _("Still running after SIGKILL");
      break;
    case TETHER_PHASE_NONE:
    default:
      break;
    }
  tether_process_tree_set_stop_marker (self->tree, marker);
}

/* The countdown redraws four times a second only while a stop is under
 * way; the phase and its deadline come from the supervisor. */
static void
update_countdown (TetherWindow *self)
{
  TetherPhase phase = self->supervisor != NULL ? tether_supervisor_get_phase (self->supervisor)
                                               : TETHER_PHASE_NONE;

  if (phase != self->countdown_phase)
    {
      self->countdown_phase = phase;
      self->countdown_started = g_get_monotonic_time ();
    }
  gtk_revealer_set_reveal_child (self->countdown_revealer, phase != TETHER_PHASE_NONE);
  update_stop_marker (self, phase);
  if (phase == TETHER_PHASE_NONE)
    {
      g_clear_handle_id (&self->countdown_timer, g_source_remove);
      return;
    }
  update_countdown_text (self);
  if (self->countdown_timer == 0)
    self->countdown_timer = g_timeout_add (250, on_countdown_tick, self);
}

/* ---- not responding ----------------------------------------------------- */

/* How long, to the second: "45 s", "1 min 20 s", "2 h 05 min". */
static char *
format_duration (gint64 seconds)
{
  seconds = MAX (seconds, 0);
  if (seconds < 60)
    return g_strdup_printf (C_("duration", "%d s"), (int) seconds);
  if (seconds < 3600)
    return g_strdup_printf (C_("duration", "%d min %d s"), (int) (seconds / 60), (int) (seconds % 60));
  return g_strdup_printf (C_("duration", "%d h %02d min"),
                          (int) (seconds / 3600), (int) (seconds % 3600 / 60));
}

static gboolean
is_unresponsive (TetherWindow *self)
{
  return self->supervisor != NULL &&
         tether_supervisor_get_state (self->supervisor) == TETHER_STATE_NOT_RESPONDING;
}

static void schedule_unresponsive_tick (TetherWindow *self);

static void
update_unresponsive_title (TetherWindow *self)
{
  gint64 since = tether_supervisor_get_unresponsive_since (self->supervisor);
  g_autofree char *duration = format_duration ((g_get_real_time () - since) / G_USEC_PER_SEC);
  /* translators: %s is how long, e.g. "1 min 20 s" */
  g_autofree char *title = g_strdup_printf (_("Not responding for %s"), duration);

  gtk_label_set_label (self->unresponsive_title, title);
}

static gboolean
on_unresponsive_tick (gpointer user_data)
{
  TetherWindow *self = user_data;

  self->unresponsive_timer = 0;
  if (!is_unresponsive (self))
    return G_SOURCE_REMOVE;
  update_unresponsive_title (self);
  schedule_unresponsive_tick (self);
  return G_SOURCE_REMOVE;
}

/* The next whole second since it stopped responding, and only while the
 * bar can be seen: a hidden window counts nothing. */
static void
schedule_unresponsive_tick (TetherWindow *self)
{
  gint64 elapsed;

  if (!is_unresponsive (self) || !gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      g_clear_handle_id (&self->unresponsive_timer, g_source_remove);
      return;
    }
  if (self->unresponsive_timer != 0)
    return;
  elapsed = g_get_real_time () - tether_supervisor_get_unresponsive_since (self->supervisor);
  self->unresponsive_timer = g_timeout_add ((G_USEC_PER_SEC - MAX (elapsed, 0) % G_USEC_PER_SEC) / 1000 + 1,
                                            on_unresponsive_tick, self);
}

/* A folded revealer keeps its child in the accessibility tree: the bar
 * leaves it once it has slid away (and comes back before it slides in). */
static void
on_unresponsive_child_revealed (TetherWindow *self)
{
  if (!gtk_revealer_get_reveal_child (self->unresponsive_revealer) &&
      !gtk_revealer_get_child_revealed (self->unresponsive_revealer))
    gtk_widget_set_visible (GTK_WIDGET (self->unresponsive_revealer), FALSE);
}

/* The bar under the header: how long, why (the supervisor's message, with
 * since when), Restart and Force Stop. */
static void
update_unresponsive (TetherWindow *self)
{
  gboolean shown = is_unresponsive (self);

  if (shown)
    gtk_widget_set_visible (GTK_WIDGET (self->unresponsive_revealer), TRUE);
  gtk_revealer_set_reveal_child (self->unresponsive_revealer, shown);
  if (shown)
    {
      const char *message = tether_supervisor_get_message (self->supervisor);

      update_unresponsive_title (self);
      gtk_label_set_label (self->unresponsive_message, message != NULL ? message : "");
      gtk_widget_set_visible (GTK_WIDGET (self->unresponsive_message), message != NULL);
    }
  schedule_unresponsive_tick (self);
}

static void
on_supervisor_changed (TetherWindow *self)
{
  update_status (self);
  update_countdown (self);
  update_unresponsive (self);
  update_actions (self);
  update_empty_state (self);
}

static void
on_message_changed (TetherWindow *self)
{
  update_status (self);
  update_unresponsive (self);
  update_empty_state (self);
}

/* ---- the worker pool ---------------------------------------------------- */

/* What the pool is doing: a resize or recycle asked for here (or over
 * D-Bus), else the pool on its way to a target set elsewhere (tetherctl),
 * or NULL when it is settled or has said why it cannot get there. */
static const char *
pool_activity (TetherWindow *self)
{
  const char *activity = tether_application_get_pool_activity (self->application);
  guint target, actual;

  if (activity != NULL)
    return activity;
  if (!tether_supervisor_get_can_resize (self->supervisor) || tether_pool_get_problem (self->pool) != NULL)
    return NULL;
  target = tether_pool_get_target (self->pool);
  actual = tether_pool_get_actual (self->pool);
  if (actual < target)
    return _("Starting workers…");
  if (actual > target)
    return _("Retiring workers…");
  return NULL;
}

/* The spin button shows the target unless someone is choosing a new one
 * (the resize timer runs); a resize asked for elsewhere moves it too. Only
 * a new value is set: setting the same one would rewrite the text, and
 * with it what someone is typing there. */
static void
sync_workers_spin (TetherWindow *self)
{
  if (self->pool == NULL || self->resize_timer != 0 ||
      gtk_spin_button_get_value_as_int (self->workers_spin) == (int) tether_pool_get_target (self->pool))
    return;
  self->syncing_spin = TRUE;
  gtk_spin_button_set_value (self->workers_spin, tether_pool_get_target (self->pool));
  self->syncing_spin = FALSE;
}

static void
update_pool (TetherWindow *self)
{
  const char *problem, *activity;
  guint target, actual;
  g_autofree char *text = NULL;
  g_autofree char *short_text = NULL;

  gtk_widget_set_visible (self->pool_box, self->pool != NULL);
  gtk_column_view_column_set_visible (self->role_column, self->pool != NULL);
  if (self->pool == NULL)
    {
      gtk_revealer_set_reveal_child (self->pool_problem_revealer, FALSE);
      return;
    }

  target = tether_pool_get_target (self->pool);
  actual = tether_pool_get_actual (self->pool);
  /* translators: the live count of ready workers, then the pool's target */
  text = g_strdup_printf (ngettext ("%u of %u worker ready", "%u of %u workers ready", target),
                          actual, target);
  /* translators: the same, when the window is narrow */
  short_text = g_strdup_printf (ngettext ("%u of %u ready", "%u of %u ready", target), actual, target);
  gtk_label_set_label (self->workers_label, text);
  gtk_label_set_label (self->workers_short_label, short_text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->workers_short_label), text);

  activity = pool_activity (self);
  gtk_widget_set_visible (GTK_WIDGET (self->workers_spinner), activity != NULL);
  gtk_spinner_set_spinning (self->workers_spinner, activity != NULL);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->workers_spinner), activity);
  if (activity != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->workers_spinner),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, activity, -1);

  problem = tether_pool_get_problem (self->pool);
  if (problem != NULL)
    gtk_label_set_label (self->pool_problem_label, problem);
  gtk_revealer_set_reveal_child (self->pool_problem_revealer, problem != NULL);

  sync_workers_spin (self);
}

static gboolean
on_resize_timeout (gpointer user_data)
{
  TetherWindow *self = user_data;
  int n = gtk_spin_button_get_value_as_int (self->workers_spin);

  self->resize_timer = 0;
  if (self->pool != NULL && n != (int) tether_pool_get_target (self->pool) &&
      app_action_enabled (self, "resize"))
    g_action_group_activate_action (G_ACTION_GROUP (self->application), "resize",
                                    g_variant_new_int32 (n));
  else
    sync_workers_spin (self);
  return G_SOURCE_REMOVE;
}

static void
on_workers_value_changed (TetherWindow *self)
{
  if (self->syncing_spin)
    return;
  g_clear_handle_id (&self->resize_timer, g_source_remove);
  self->resize_timer = g_timeout_add (RESIZE_DELAY_MS, on_resize_timeout, self);
}

/* Enter in the spin button: no need to wait (the spin button has taken
 * the typed value by now). */
static void
on_workers_activate (TetherWindow *self)
{
  if (self->resize_timer == 0)
    return;
  g_clear_handle_id (&self->resize_timer, g_source_remove);
  on_resize_timeout (self);
}

static void
set_pool (TetherWindow *self,
          TetherPool   *pool)
{
  g_clear_handle_id (&self->resize_timer, g_source_remove);
  g_set_object (&self->pool, pool);
  g_signal_group_set_target (self->pool_signals, pool);
  tether_process_tree_set_pool (self->tree, pool);
  if (pool != NULL)
    {
      const TetherProfile *profile = tether_supervisor_get_profile (self->supervisor);

      /* Not a choice of anyone's: the value clamped into the range. */
      self->syncing_spin = TRUE;
      gtk_spin_button_set_range (self->workers_spin, profile->pool.min, profile->pool.max);
      self->syncing_spin = FALSE;
      gtk_widget_set_visible (self->recycle_button,
                              tether_pool_get_mode (pool) == TETHER_POOL_MANAGED);
    }
  update_pool (self);
}

/* ---- checkpoints -------------------------------------------------------- */

/* The Roll Back… button (by the state) is for backends that checkpoint: shown
 * once one has been reported (in this run or, from the journal, an
 * earlier one). The menu item is always there. */
static void
update_rollback_button (TetherWindow *self)
{
  gtk_widget_set_visible (self->rollback_button,
                          self->supervisor != NULL &&
                          tether_supervisor_get_checkpoints (self->supervisor)->len > 0);
}

/* The journal loads in its own thread and says nothing when it is done
 * (its checkpoints are not news): a few looks, until it has. */
static gboolean
on_journal_poll (gpointer user_data)
{
  TetherWindow *self = user_data;
  TetherJournal *journal = self->supervisor != NULL ? tether_supervisor_get_journal (self->supervisor) : NULL;

  update_rollback_button (self);
  if (journal != NULL && !tether_journal_is_loaded (journal))
    return G_SOURCE_CONTINUE;
  self->journal_timer = 0;
  return G_SOURCE_REMOVE;
}

/* ---- the tree ----------------------------------------------------------- */

/* The detail line follows the selected row on every tick (a worker's
 * state, a command line after an exec). */
static void
update_detail_text (TetherWindow      *self,
                    TetherProcessItem *item)
{
  const char *cmdline = tether_process_item_get_cmdline (item);
  const char *worker = tether_process_item_get_worker_text (item);
  g_autofree char *text = NULL;

  if (worker != NULL)
    text = g_strdup_printf ("%s (%d) — %s — %s", tether_process_item_get_name (item),
                            tether_process_item_get_pid (item), worker,
                            cmdline != NULL ? cmdline : "");
  else
    text = g_strdup_printf ("%s (%d) — %s", tether_process_item_get_name (item),
                            tether_process_item_get_pid (item), cmdline != NULL ? cmdline : "");
  gtk_label_set_label (self->detail_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->detail_label), text);
}

static void
update_detail (TetherWindow *self)
{
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  if (item == NULL)
    {
      gtk_label_set_label (self->detail_label, _("No process selected"));
      tether_graph_set_history (self->selected_graph, NULL);
      gtk_widget_set_visible (GTK_WIDGET (self->selected_graph), FALSE);
      return;
    }

  update_detail_text (self, item);
  tether_graph_set_history (self->selected_graph,
                            tether_process_get_history (tether_process_item_get_process (item)));
  gtk_widget_set_visible (GTK_WIDGET (self->selected_graph), TRUE);
}

/* ---- the details pane ---------------------------------------------------- */

static int
get_selected_pid (TetherWindow *self)
{
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  return item != NULL && tether_process_is_alive (tether_process_item_get_process (item))
         ? tether_process_item_get_pid (item) : 0;
}

static void set_show_details (TetherWindow *self,
                              gboolean      show);

/* The pane shows the selected process, and closes when there is none (it
 * died, or the backend went): it never moves on to another process. */
static void
update_process_details (TetherWindow *self)
{
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  int pid = get_selected_pid (self);

  if (pid == 0 && self->show_details)
    {
      set_show_details (self, FALSE);
      return;
    }
  tether_process_details_set_process (self->process_details, self->supervisor,
                                      self->show_details ? pid : 0,
                                      item != NULL ? tether_process_item_get_name (item) : NULL);
}

static void
set_show_details (TetherWindow *self,
                  gboolean      show)
{
  show = !!show && get_selected_pid (self) != 0;
  if (show == self->show_details)
    return;
  self->show_details = show;
  /* The pane is the Processes page's. */
  if (show)
    adw_view_stack_set_visible_child_name (self->view_stack, "processes");
  adw_flap_set_reveal_flap (self->details_flap, show);
  update_process_details (self);
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_DETAILS]);
}

/* Folded over the tree, the pane also closes by itself (Escape, a click
 * beside it). */
static void
on_details_flap_revealed (TetherWindow *self)
{
  set_show_details (self, adw_flap_get_reveal_flap (self->details_flap));
}

static void
on_selection_changed (TetherWindow *self)
{
  update_detail (self);
  update_process_details (self);
  update_actions (self);
}

static void
update_count_label (TetherWindow *self,
                    guint         n_processes)
{
  g_autofree char *count = g_strdup_printf (ngettext ("%u process", "%u processes", n_processes),
                                            n_processes);

  gtk_label_set_label (self->count_label, count);
}

/* The machine's RAM in bytes (0 if it cannot tell). */
static guint64
get_total_ram (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  return pages > 0 && page_size > 0 ? (guint64) pages * (guint64) page_size : 0;
}

/* The memory graph's note says which measure it shows and how much of the
 * machine's RAM that is; its tooltip says what the measure counts. */
static void
update_memory_note (TetherWindow              *self,
                    const TetherSamplerTotals *totals)
{
  static guint64 total_ram = 0;
  const char *measure, *meaning;
  g_autofree char *ram = NULL;
  g_autofree char *note = NULL;
  g_autofree char *tooltip = NULL;

  if (total_ram == 0)
    total_ram = get_total_ram ();
  switch (totals->memory_source)
    {
    case TETHER_MEMORY_CGROUP:
      /* translators: the memory graph's measure; keep it short */
      measure = C_("memory measure", "cgroup");
      meaning = _("Memory charged to the backend's cgroup (memory.current): every process, "
                  "shared pages once, page cache and kernel memory included.");
      break;
    case TETHER_MEMORY_PSS:
      /* translators: the memory graph's measure (proportional set size); keep it short */
      measure = C_("memory measure", "PSS");
      meaning = _("The sum of every process's proportional set size (PSS): a page shared by several "
                  "processes counts once in all, split among them. Read every 5 seconds.");
      break;
    case TETHER_MEMORY_RSS:
    default:
      /* translators: the memory graph's measure (resident set size); keep it short */
      measure = C_("memory measure", "RSS");
      meaning = _("The sum of every process's resident set size (RSS), until the first PSS reading: "
                  "shared pages count once per process, so this overstates the tree.");
      break;
    }
  if (total_ram == 0)
    {
      tether_graph_set_axis_text (self->memory_graph, measure);
      gtk_widget_set_tooltip_text (self->memory_header, meaning);
      return;
    }
  ram = g_format_size_full (total_ram, G_FORMAT_SIZE_IEC_UNITS);
  /* translators: the memory graph's note, e.g. "PSS, 0.4 % of 23.4 GiB RAM" */
  note = g_strdup_printf (_("%s, %.1f %% of %s RAM"), measure,
                          100.0 * (double) totals->memory_bytes / (double) total_ram, ram);
  /* translators: %s is what the measure means; then the machine's RAM */
  tooltip = g_strdup_printf (_("%s\nThis machine has %s of RAM."), meaning, ram);
  tether_graph_set_axis_text (self->memory_graph, note);
  gtk_widget_set_tooltip_text (self->memory_header, tooltip);
}

static void
on_tree_updated (TetherProcessTree *tree,
                 gboolean           changed,
                 TetherWindow      *self)
{
  const TetherSamplerTotals *totals = tether_sampler_get_totals (tether_process_tree_get_sampler (tree));
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  /* Values moved: a view sorted by CPU or memory must re-sort. Rows keep
   * their identity, so the selection stays on its process. */
  if (changed)
    gtk_sorter_changed (self->sorter, GTK_SORTER_CHANGE_DIFFERENT);

  update_count_label (self, totals->n_processes);
  update_memory_note (self, totals);
  update_empty_state (self);
  if (item != NULL)
    {
      update_detail_text (self, item);
      /* Continue follows the selected process's state. */
      update_actions (self);
    }
}

/* Closures of the cell templates in tether-window.ui; the expression takes
 * an object or string result, so they return new references.
 *
 * GTK 4.8's expander shows an arrow on every expandable row, and each row
 * is expandable (its store exists even while empty, so children can
 * appear later). A leaf gets no list row, only the indentation the arrow
 * and its ancestors' indents would have taken; it regains the arrow when
 * its first child arrives. */
#define TREE_INDENT 16  /* Adwaita's treeexpander indent and expander width */

static GtkTreeListRow *
row_if_parent (gpointer        this,
               GtkTreeListRow *row,
               gboolean        has_children,
               gboolean        expandable)
{
  return has_children && expandable ? g_object_ref (row) : NULL;
}

/* The flat list's rows are not expandable: each one a leaf, all aligned. */
static int
leaf_indent (gpointer this,
             guint    depth,
             gboolean has_children,
             gboolean expandable)
{
  return has_children && expandable ? 0 : (int) (depth + 1) * TREE_INDENT;
}

static char *
uptime_text (gpointer this,
             gint64   started_at,
             gint64   now)
{
  return tether_format_uptime ((now - started_at) / G_USEC_PER_SEC);
}

/* Adwaita's dim-label opacity for what is not settled. */
static double
dim_unless (gpointer this,
            gboolean settled)
{
  return settled ? 1.0 : 0.55;
}

/* The CPU and memory columns' sort keys: in the tree a branch ranks by
 * what it holds (a busy child lifts its parent), flat each process by its
 * own. */
static double
cpu_rank (gpointer this,
          double   cpu_percent,
          double   subtree_cpu_percent,
          gboolean flat)
{
  return flat ? cpu_percent : subtree_cpu_percent;
}

static guint64
memory_rank (gpointer this,
             guint64  memory_bytes,
             guint64  subtree_memory_bytes,
             gboolean flat)
{
  return flat ? memory_bytes : subtree_memory_bytes;
}

static char *
subtree_cpu_tooltip (gpointer this,
                     gboolean has_children,
                     double   subtree_cpu_percent)
{
  if (!has_children)
    return NULL;
  /* translators: %.1f is a CPU percentage (100 = one core) */
  return g_strdup_printf (_("With its descendants: %.1f %%"), subtree_cpu_percent);
}

static char *
subtree_memory_tooltip (gpointer this,
                        gboolean has_children,
                        guint64  subtree_memory_bytes)
{
  g_autofree char *size = NULL;

  if (!has_children)
    return NULL;
  size = g_format_size_full (subtree_memory_bytes, G_FORMAT_SIZE_IEC_UNITS);
  /* translators: %s is an amount of memory (resident, "12.5 MiB") */
  return g_strdup_printf (_("With its descendants: %s"), size);
}

/* The Name cell's tooltip: the kernel's name, which ps, top and kill
 * scripts know it by, and the command line it was told from. */
static char *
name_tooltip (gpointer    this,
              const char *comm,
              const char *cmdline)
{
  /* translators: %s is the kernel's 15-character name of a process (comm) */
  g_autofree char *kernel = g_strdup_printf (_("Kernel name: %s"), comm != NULL ? comm : "");

  return cmdline != NULL ? g_strconcat (kernel, "\n", cmdline, NULL) : g_steal_pointer (&kernel);
}

static gboolean
has_text (gpointer    this,
          const char *text)
{
  return text != NULL && *text != '\0';
}

/* Started At: the time for today's processes, else the day too; now is
 * the tree's clock, so the cells turn at midnight. */
static char *
started_text (gpointer this,
              gint64   started_at,
              gint64   now)
{
  g_autoptr(GDateTime) start = g_date_time_new_from_unix_local (started_at / G_USEC_PER_SEC);
  g_autoptr(GDateTime) today = now > 0 ? g_date_time_new_from_unix_local (now / G_USEC_PER_SEC)
                                       : g_date_time_new_now_local ();

  if (start == NULL || today == NULL)
    return NULL;
  if (g_date_time_get_year (start) == g_date_time_get_year (today) &&
      g_date_time_get_day_of_year (start) == g_date_time_get_day_of_year (today))
    /* translators: a process's start time today, a g_date_time_format() format */
    return g_date_time_format (start, C_("started at", "%H:%M:%S"));
  /* translators: a process's start before today, a g_date_time_format() format */
  return g_date_time_format (start, C_("started at", "%b %-d %H:%M"));
}

static char *
started_tooltip (gpointer this,
                 gint64   started_at)
{
  g_autoptr(GDateTime) start = g_date_time_new_from_unix_local (started_at / G_USEC_PER_SEC);

  /* translators: a process's full start date, a g_date_time_format() format */
  return start != NULL ? g_date_time_format (start, C_("started at", "%c")) : NULL;
}

/* GTK 4.8 has no API for a column view's rows: the list view is its
 * child, and each row widget ("row") a child of that, selected or not
 * by state flag. */
static GtkWidget *
get_list_view (TetherWindow *self)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->column_view));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_VIEW (child))
      return child;
  return NULL;
}

/* The row widget a widget of the view is in, or NULL (the header). */
static GtkWidget *
get_row_of (TetherWindow *self,
            GtkWidget    *widget)
{
  GtkWidget *list = get_list_view (self);

  while (widget != NULL && gtk_widget_get_parent (widget) != list)
    widget = gtk_widget_get_parent (widget);
  return widget;
}

/* The selected row's bounds in the column view when it is in view. */
static gboolean
get_selected_row_bounds (TetherWindow    *self,
                         graphene_rect_t *bounds)
{
  GtkWidget *list = get_list_view (self);
  graphene_rect_t list_bounds;

  if (list == NULL || !gtk_widget_compute_bounds (list, GTK_WIDGET (self->column_view), &list_bounds))
    return FALSE;
  for (GtkWidget *row = gtk_widget_get_first_child (list); row != NULL; row = gtk_widget_get_next_sibling (row))
    {
      if (!gtk_widget_get_child_visible (row) || !gtk_widget_get_mapped (row) ||
          !(gtk_widget_get_state_flags (row) & GTK_STATE_FLAG_SELECTED) ||
          !gtk_widget_compute_bounds (row, GTK_WIDGET (self->column_view), bounds))
        continue;
      /* Rows scrolled out stay realized, above or below the viewport. */
      return bounds->origin.y >= list_bounds.origin.y &&
             bounds->origin.y + bounds->size.height <= gtk_widget_get_height (GTK_WIDGET (self->column_view));
    }
  return FALSE;
}

/* rect: what the menu points at, in the column view's coordinates. */
static void
popup_row_menu (TetherWindow       *self,
                const GdkRectangle *rect)
{
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  /* A line without an action: shown, greyed, never activated. */
  g_menu_remove_all (self->row_menu_title);
  if (item != NULL)
    {
      /* translators: a process's name, then its ID */
      g_autofree char *title = g_strdup_printf (_("%s (%d)"), tether_process_item_get_name (item),
                                                tether_process_item_get_pid (item));
      g_menu_append (self->row_menu_title, title, NULL);
    }
  gtk_popover_set_pointing_to (GTK_POPOVER (self->row_popover), rect);
  gtk_popover_popup (GTK_POPOVER (self->row_popover));
}

/* GTK 4.8 marks the widget under a pressed button and its ancestors
 * :active until the button is released; the row menu's grab takes the
 * release, so the right-clicked row and cell stayed :active for good,
 * shaded darker than the real selection (and shaded after the selection
 * moved on). The menu closing is that release. */
static void
on_row_popover_closed (TetherWindow *self)
{
  for (GtkWidget *w = self->pressed_widget; w != NULL; w = gtk_widget_get_parent (w))
    gtk_widget_unset_state_flags (w, GTK_STATE_FLAG_ACTIVE);
  g_clear_weak_pointer (&self->pressed_widget);
}

/* The view's one right-click gesture (tether-window.ui): the row under
 * the pointer selects itself and takes the focus, as a left click does,
 * then its menu opens there. */
static void
on_view_pressed (GtkGestureClick *gesture,
                 int              n_press,
                 double           x,
                 double           y,
                 TetherWindow    *self)
{
  GtkWidget *cell = gtk_widget_pick (GTK_WIDGET (self->column_view), x, y, GTK_PICK_DEFAULT);
  GtkWidget *row = cell != NULL ? get_row_of (self, cell) : NULL;
  GdkRectangle rect = { (int) x, (int) y, 1, 1 };

  /* Only a row's widgets have the action; the header and the empty space
   * below the rows do not. */
  if (row == NULL ||
      !gtk_widget_activate_action (cell, "listitem.select", "(bb)", FALSE, FALSE) ||
      gtk_single_selection_get_selected_item (self->selection) == NULL)
    return;
  gtk_widget_grab_focus (row);
  g_set_weak_pointer (&self->pressed_widget, cell);
  popup_row_menu (self, &rect);
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

/* The keyboard's row menu hangs under the selected row, at its start,
 * as a right-click's would: never in the middle of the list, away from
 * the process it acts on. */
static gboolean
popup_row_menu_at_selected (TetherWindow *self)
{
  graphene_rect_t bounds;
  GdkRectangle rect;

  if (!get_selected_row_bounds (self, &bounds))
    return FALSE;
  rect = (GdkRectangle) { (int) bounds.origin.x + 2 * TREE_INDENT, (int) bounds.origin.y,
                          1, (int) bounds.size.height };
  popup_row_menu (self, &rect);
  return TRUE;
}

static gboolean
on_row_menu_tick (GtkWidget     *widget,
                  GdkFrameClock *clock,
                  gpointer       user_data)
{
  TetherWindow *self = user_data;
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  /* A frame or two after the scroll the row is laid out in view. */
  if (item != NULL && !popup_row_menu_at_selected (self))
    {
      GdkRectangle top = { 2 * TREE_INDENT, 0, 1, 1 };

      if (gdk_frame_clock_get_frame_counter (clock) < self->row_menu_frame + 3)
        return G_SOURCE_CONTINUE;
      /* Still not in view (a layout GTK put off): at the list's top
       * rather than nowhere; its first line names the process. */
      popup_row_menu (self, &top);
    }
  self->row_menu_tick = 0;
  return G_SOURCE_REMOVE;
}

static void
row_menu_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  GtkWidget *list = get_list_view (self);
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  if (item == NULL || self->row_menu_tick != 0 || popup_row_menu_at_selected (self))
    return;
  /* Scrolled out of view: bring it in first (the menu follows once the
   * row has been laid out, or never, if it died meanwhile). */
  if (list == NULL || clock == NULL)
    return;
  gtk_widget_activate_action (list, "list.scroll-to-item", "u",
                              gtk_single_selection_get_selected (self->selection));
  self->row_menu_frame = gdk_frame_clock_get_frame_counter (clock);
  self->row_menu_tick = gtk_widget_add_tick_callback (widget, on_row_menu_tick, self, NULL);
}

/* ---- the columns --------------------------------------------------------- */

static GtkColumnViewColumn *
get_extra_column (TetherWindow *self,
                  guint         i)
{
  GtkColumnViewColumn *columns[] = { self->user_column, self->ppid_column, self->nice_column,
                                     self->started_column };

  G_STATIC_ASSERT (G_N_ELEMENTS (columns) == G_N_ELEMENTS (extra_column_ids));
  return columns[i];
}

static void
set_extra_columns (TetherWindow       *self,
                   const char * const *ids)
{
  if (ids != NULL && self->extra_columns != NULL &&
      g_strv_equal ((const char * const *) self->extra_columns, ids))
    return;
  g_strfreev (self->extra_columns);
  self->extra_columns = g_strdupv ((char **) ids);
  for (guint i = 0; i < G_N_ELEMENTS (extra_column_ids); i++)
    {
      gboolean show = ids != NULL && g_strv_contains (ids, extra_column_ids[i]);

      if (gtk_column_view_column_get_visible (get_extra_column (self, i)) == show)
        continue;
      gtk_column_view_column_set_visible (get_extra_column (self, i), show);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_USER_COLUMN + i]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXTRA_COLUMNS]);
}

/* One check item of the Columns menu: the list of shown ones, with or
 * without it, in the menu's order. */
static void
set_extra_column_shown (TetherWindow *self,
                        guint         i,
                        gboolean      show)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) ids = NULL;

  for (guint j = 0; j < G_N_ELEMENTS (extra_column_ids); j++)
    if (j == i ? show : gtk_column_view_column_get_visible (get_extra_column (self, j)))
      g_strv_builder_add (builder, extra_column_ids[j]);
  ids = g_strv_builder_end (builder);
  set_extra_columns (self, (const char * const *) ids);
}

/* win.sort-by: the column's first order (largest first, A to Z), its
 * reverse when chosen again. GTK 4.8 cannot say how the view is sorted
 * (the sorter's getters are 4.10), so only a sort this action made is
 * reversed; a header click makes the next one start over. */
static void
sort_by_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  const char *id = g_variant_get_string (parameter, NULL);
  struct { const char *id; GtkColumnViewColumn *column; } columns[] = {
    { "name", self->name_column }, { "pid", self->pid_column }, { "state", self->state_column },
    { "cpu", self->cpu_column }, { "memory", self->memory_column },
    { "threads", self->threads_column }, { "uptime", self->uptime_column },
  };
  GtkColumnViewColumn *column = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    if (g_str_equal (id, columns[i].id))
      column = columns[i].column;
  if (column == NULL)
    return;

  self->menu_sort_reversed = column == self->menu_sort && !self->menu_sort_reversed;
  self->sorting_from_menu = TRUE;
  gtk_column_view_sort_by_column (self->column_view, column,
                                  self->menu_sort_reversed ? GTK_SORT_DESCENDING : GTK_SORT_ASCENDING);
  self->sorting_from_menu = FALSE;
  self->menu_sort = column;
}

static void
on_view_sorter_changed (TetherWindow *self)
{
  if (!self->sorting_from_menu)
    self->menu_sort = NULL;
}

/* ---- the pages ---------------------------------------------------------- */

/* win.show-processes, win.show-log (Alt+1, Alt+2). */
static void
show_page_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->view_stack,
                                         g_str_equal (action_name, "win.show-log") ? "log" : "processes");
}

/* Ctrl+F: the search of the page shown. */
static void
find_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  if (g_strcmp0 (adw_view_stack_get_visible_child_name (self->view_stack), "log") == 0)
    {
      tether_log_view_start_search (self->log_view);
      return;
    }
  gtk_search_bar_set_search_mode (self->process_search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->process_search_entry));
}

/* ---- searching the processes --------------------------------------------- */

static void
update_match_label (TetherWindow *self)
{
  guint n = tether_process_tree_get_n_matches (self->tree);
  g_autofree char *text = NULL;

  if (tether_process_tree_get_search (self->tree) == NULL)
    text = g_strdup ("");
  else if (n == 0)
    text = g_strdup (_("No process matches"));
  else
    /* translators: %u counts the processes that match the search */
    text = g_strdup_printf (ngettext ("%u match", "%u matches", n), n);
  gtk_label_set_label (self->match_label, text);
}

static void
on_process_search_changed (TetherWindow *self)
{
  tether_process_tree_set_search (self->tree, gtk_editable_get_text (GTK_EDITABLE (self->process_search_entry)));
}

/* Enter: the first row shown is selected, and the list takes the keys
 * (Delete, the row menu). */
static void
on_process_search_activate (TetherWindow *self)
{
  GListModel *rows = G_LIST_MODEL (self->selection);

  if (g_list_model_get_n_items (rows) == 0)
    return;
  gtk_single_selection_set_selected (self->selection, 0);
  gtk_widget_grab_focus (GTK_WIDGET (self->column_view));
}

/* Closed (Escape, Ctrl+F's button): every row again. */
static void
on_process_search_mode (TetherWindow *self)
{
  if (!gtk_search_bar_get_search_mode (self->process_search_bar))
    gtk_editable_set_text (GTK_EDITABLE (self->process_search_entry), "");
}

/* ---- the supervisor ----------------------------------------------------- */

static void
set_supervisor (TetherWindow     *self,
                TetherSupervisor *supervisor)
{
  GSettings *settings = tether_application_get_settings (self->application);
  TetherSampler *sampler = supervisor != NULL ? tether_supervisor_get_sampler (supervisor) : NULL;

  /* The history is one backend's (the Roll Back dialog closes itself). */
  if (self->history_window != NULL && supervisor != self->supervisor)
    gtk_window_destroy (self->history_window);
  g_set_object (&self->supervisor, supervisor);
  g_signal_group_set_target (self->supervisor_signals, supervisor);
  g_signal_group_set_target (self->log_signals, supervisor != NULL ? tether_supervisor_get_log (supervisor) : NULL);
  set_pool (self, supervisor != NULL ? tether_supervisor_get_pool (supervisor) : NULL);
  update_rollback_button (self);
  if (supervisor != NULL && !tether_journal_is_loaded (tether_supervisor_get_journal (supervisor)) &&
      self->journal_timer == 0)
    self->journal_timer = g_timeout_add (100, on_journal_poll, self);
  tether_process_tree_set_sampler (self->tree, sampler);
  tether_log_view_set_log (self->log_view, supervisor != NULL ? tether_supervisor_get_log (supervisor) : NULL);
  tether_graph_set_history (self->cpu_graph, sampler ? tether_sampler_get_history (sampler) : NULL);
  tether_graph_set_history (self->memory_graph, sampler ? tether_sampler_get_history (sampler) : NULL);

  /* On the welcome page there is nothing to start or stop. */
  gtk_widget_set_visible (self->controls_box, supervisor != NULL);
  update_owner_kind (self);
  if (supervisor == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "welcome");
      adw_window_title_set_title (self->window_title, _("Tether"));
      gtk_label_set_label (self->status_label, "");
      gtk_window_set_title (GTK_WINDOW (self), _("Tether"));
    }
  else
    {
      const char *name = tether_supervisor_get_profile (supervisor)->name;
      g_autofree char *title = g_strdup_printf (_("%s — Tether"), name);

      gtk_stack_set_visible_child_name (self->stack, "backend");
      adw_window_title_set_title (self->window_title, name);
      gtk_window_set_title (GTK_WINDOW (self), title);
      /* The keys and the properties share units (ms, s). A sampler keeps
       * its bindings for life: whichever window showed it last, it follows
       * the settings. */
      g_settings_bind (settings, "refresh-interval", sampler, "interval", G_SETTINGS_BIND_GET);
      g_settings_bind (settings, "graph-span", sampler, "history-span", G_SETTINGS_BIND_GET);
      /* What the sampler counted last (0 before it first ticks). */
      update_count_label (self, tether_sampler_get_totals (sampler)->n_processes);
    }
  on_supervisor_changed (self);
  update_process_details (self);
}

static void
on_app_supervisor_changed (TetherWindow *self)
{
  set_supervisor (self, tether_application_get_supervisor (self->application));
}

/* ---- window actions ----------------------------------------------------- */

static void
on_confirmed (AdwMessageDialog *dialog,
              const char       *response,
              TetherWindow     *self)
{
  const char *action = g_object_get_data (G_OBJECT (dialog), "action");
  GVariant *target = g_object_get_data (G_OBJECT (dialog), "target");

  if (g_strcmp0 (response, "confirm") == 0)
    g_action_group_activate_action (G_ACTION_GROUP (self->application), action, target);
}

/* The application's action_name with target once the person says
 * confirm_label (destructive; Cancel is the default). */
static void
ask_then (TetherWindow *self,
          const char   *heading,
          const char   *body,
          const char   *confirm_label,
          const char   *action_name,
          GVariant     *target)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), heading, body));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "confirm", confirm_label, NULL);
  adw_message_dialog_set_response_appearance (dialog, "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "action", g_strdup (action_name), g_free);
  if (target != NULL)
    g_object_set_data_full (G_OBJECT (dialog), "target", g_variant_ref_sink (target),
                            (GDestroyNotify) g_variant_unref);
  g_signal_connect (dialog, "response", G_CALLBACK (on_confirmed), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Killing asks first, unless the preferences say not to. The confirm
 * button is named like the action. */
static void
confirm_then (TetherWindow *self,
              const char   *heading,
              const char   *body,
              const char   *confirm_label,
              const char   *action_name,
              GVariant     *target)
{
  GSettings *settings = tether_application_get_settings (self->application);

  if (!g_settings_get_boolean (settings, "confirm-force-stop"))
    {
      g_action_group_activate_action (G_ACTION_GROUP (self->application), action_name, target);
      return;
    }
  ask_then (self, heading, body, confirm_label, action_name, target);
}

/* The confirmation counts what is alive now, not as of the last tick: it
 * opens once a fresh tick is in (a few milliseconds). */
static void
on_counted_for_force_stop (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(TetherWindow) self = user_data;
  TetherSampler *sampler = TETHER_SAMPLER (source);
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  guint n;

  tether_sampler_refresh_finish (sampler, result, NULL);
  if (self->supervisor == NULL || tether_supervisor_get_sampler (self->supervisor) != sampler)
    return;
  n = tether_sampler_get_totals (sampler)->n_processes;
  /* translators: %s is the backend's name */
  heading = g_strdup_printf (_("Force Stop %s?"), tether_supervisor_get_profile (self->supervisor)->name);
  body = g_strdup_printf (ngettext ("%u process will be killed at once, without a chance to finish its work.",
                                    "%u processes will be killed at once, without a chance to finish their work.",
                                    n), n);
  confirm_then (self, heading, body, _("_Force Stop"), "force-stop", NULL);
}

static void
force_stop_activated (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  GSettings *settings = tether_application_get_settings (self->application);

  /* Without the confirmation there is no count to show, nor a tick to wait
   * for. */
  if (!g_settings_get_boolean (settings, "confirm-force-stop"))
    {
      g_action_group_activate_action (G_ACTION_GROUP (self->application), "force-stop", NULL);
      return;
    }
  tether_sampler_refresh_async (tether_supervisor_get_sampler (self->supervisor), NULL,
                                on_counted_for_force_stop, g_object_ref (self));
}

/* Restart ends every process of a running backend: it asks first (unless
 * the preferences say not to); a stopped one just starts. D-Bus callers of
 * app.restart are not asked: they chose already. */
static void
restart_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  GSettings *settings = tether_application_get_settings (self->application);
  TetherState state;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  guint n;

  if (self->supervisor == NULL)
    return;
  state = tether_supervisor_get_state (self->supervisor);
  if (state == TETHER_STATE_STOPPED || state == TETHER_STATE_FAILED ||
      !g_settings_get_boolean (settings, "confirm-restart"))
    {
      g_action_group_activate_action (G_ACTION_GROUP (self->application), "restart", NULL);
      return;
    }
  n = tether_sampler_get_totals (tether_supervisor_get_sampler (self->supervisor))->n_processes;
  /* translators: %s is the backend's name */
  heading = g_strdup_printf (_("Restart %s?"), tether_supervisor_get_profile (self->supervisor)->name);
  body = g_strdup_printf (ngettext ("Its %u process is asked to exit, then forced, and the backend starts again.",
                                    "Its %u processes are asked to exit, then forced, and the backend starts again.",
                                    n), n);
  ask_then (self, heading, body, _("_Restart"), "restart", NULL);
}

static guint
count_subtree (TetherProcessItem *item)
{
  GListModel *children = G_LIST_MODEL (tether_process_item_get_children (item));
  guint n = 1;

  for (guint i = 0; i < g_list_model_get_n_items (children); i++)
    {
      g_autoptr(TetherProcessItem) child = g_list_model_get_item (children, i);
      n += count_subtree (child);
    }
  return n;
}

static void
kill_subtree_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  guint n;

  if (item == NULL)
    return;
  n = count_subtree (item);
  heading = g_strdup_printf (_("Kill %s (%d)?"), tether_process_item_get_name (item),
                             tether_process_item_get_pid (item));
  body = g_strdup_printf (ngettext ("%u process will be killed at once.",
                                    "This process and its descendants, %u processes, will be killed at once.",
                                    n), n);
  confirm_then (self, heading, body, _("_Kill"), "kill-subtree",
                g_variant_new_int32 (tether_process_item_get_pid (item)));
}

static void
stop_subtree_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  g_autofree char *title = NULL;
  guint n_descendants;

  if (item == NULL)
    return;
  g_action_group_activate_action (G_ACTION_GROUP (self->application), "stop-subtree",
                                  g_variant_new_int32 (tether_process_item_get_pid (item)));
  /* SIGTERM cannot be taken back, so Delete does not ask; it says what it
   * reached, by name, where the person is looking (a failure is told
   * apart by the application). */
  n_descendants = count_subtree (item) - 1;
  if (n_descendants == 0)
    title = g_strdup_printf (_("Sent SIGTERM to %s (%d)"), tether_process_item_get_name (item),
                             tether_process_item_get_pid (item));
  else
    title = g_strdup_printf (ngettext ("Sent SIGTERM to %s (%d) and its %u descendant",
                                       "Sent SIGTERM to %s (%d) and its %u descendants",
                                       n_descendants),
                             tether_process_item_get_name (item), tether_process_item_get_pid (item),
                             n_descendants);
  tether_window_toast (self, title, NULL);
}

/* Send Signal…: the choice, then app.send-signal; a signal that ends or
 * freezes what it reaches is asked about once more, saying what it does
 * and to how many processes. */
static void
on_signal_chosen (TetherSignalDialog *dialog,
                  const char         *response,
                  TetherWindow       *self)
{
  const TetherSignalInfo *info = tether_signal_dialog_get_signal (dialog);
  gboolean subtree = tether_signal_dialog_get_subtree (dialog);
  int pid = tether_signal_dialog_get_pid (dialog);
  const char *name = g_object_get_data (G_OBJECT (dialog), "tether-name");
  guint n = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (dialog), "tether-n-subtree"));
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  g_autofree char *confirm = NULL;
  GVariant *target;

  if (!g_str_equal (response, "send") || info == NULL)
    return;
  target = g_variant_new ("(isb)", pid, info->name, subtree);
  if (!info->dangerous)
    {
      g_action_group_activate_action (G_ACTION_GROUP (self->application), "send-signal", target);
      return;
    }

  if (subtree)
    {
      /* translators: SIG%s is a signal's name (SIGSTOP), %s a process's name, %d its ID */
      heading = g_strdup_printf (_("Send SIG%s to %s (%d) and Its Descendants?"), info->name, name, pid);
      /* translators: %s says what the signal does, %u counts the processes */
      body = g_strdup_printf (ngettext ("%s. %u process will get it.", "%s. %u processes will get it.", n),
                              _(info->description), n);
    }
  else
    {
      /* translators: SIG%s is a signal's name (SIGSTOP), %s a process's name, %d its ID */
      heading = g_strdup_printf (_("Send SIG%s to %s (%d)?"), info->name, name, pid);
      body = g_strdup_printf ("%s.", _(info->description));
    }
  /* translators: the button that sends it, SIG%s is the signal's name */
  confirm = g_strdup_printf (_("_Send SIG%s"), info->name);
  ask_then (self, heading, body, confirm, "send-signal", target);
}

static void
send_signal_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  GtkWidget *dialog;
  guint n;

  if (item == NULL)
    return;
  n = count_subtree (item);
  dialog = tether_signal_dialog_new (GTK_WINDOW (self), tether_process_item_get_name (item),
                                     tether_process_item_get_pid (item), n);
  g_object_set_data_full (G_OBJECT (dialog), "tether-name", g_strdup (tether_process_item_get_name (item)), g_free);
  g_object_set_data (G_OBJECT (dialog), "tether-n-subtree", GUINT_TO_POINTER (n));
  g_signal_connect (dialog, "response", G_CALLBACK (on_signal_chosen), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- the support bundle -------------------------------------------------- */

typedef struct
{
  TetherWindow *self;
  GFile *file;
} BundleSave;

static void
bundle_save_free (BundleSave *save)
{
  g_object_unref (save->self);
  g_object_unref (save->file);
  g_free (save);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BundleSave, bundle_save_free)

static void
bundle_done (BundleSave   *save,
             const GError *error)
{
  TetherWindow *self = save->self;

  g_clear_object (&self->saving_bundle);
  /* The window went meanwhile. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    tether_window_toast (self, _("Could not save the support bundle"), error->message);
  else
    {
      g_autofree char *where = g_file_get_parse_name (save->file);
      /* translators: %s is a file's path */
      g_autofree char *title = g_strdup_printf (_("Saved support bundle to %s"), where);

      tether_window_toast (self, title, NULL);
    }
  update_actions (self);
}

static void
on_bundle_saved (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(BundleSave) save = user_data;
  g_autoptr(GError) error = NULL;

  tether_bundle_save_finish (TETHER_BUNDLE (source), result, NULL, &error);
  bundle_done (save, error);
}

static void
on_bundle_collected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(BundleSave) save = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherBundle) bundle = tether_bundle_collect_finish (result, &error);
  g_autofree char *gtk = NULL;
  g_autofree char *adw = NULL;
  GCancellable *cancellable;
  GFile *file;

  if (bundle == NULL)
    {
      bundle_done (save, error);
      return;
    }
  /* What core cannot know: the toolkit this app runs on. */
  gtk = g_strdup_printf ("%u.%u.%u", gtk_get_major_version (), gtk_get_minor_version (),
                         gtk_get_micro_version ());
  adw = g_strdup_printf ("%u.%u.%u", adw_get_major_version (), adw_get_minor_version (),
                         adw_get_micro_version ());
  tether_bundle_add_version (bundle, "gtk", gtk);
  tether_bundle_add_version (bundle, "libadwaita", adw);
  file = save->file;
  cancellable = save->self->saving_bundle;
  tether_bundle_save_async (bundle, file, cancellable, on_bundle_saved, g_steal_pointer (&save));
}

static void
on_bundle_chooser_response (GtkNativeDialog *native,
                            int              response,
                            TetherWindow    *self)
{
  g_autoptr(GFile) file = NULL;
  BundleSave *save;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));
  g_object_unref (native);
  if (file == NULL || self->supervisor == NULL || self->saving_bundle != NULL)
    return;

  save = g_new0 (BundleSave, 1);
  save->self = g_object_ref (self);
  save->file = g_steal_pointer (&file);
  self->saving_bundle = g_cancellable_new ();
  update_actions (self);
  /* The diagnosis reads /proc in a thread, the file is written in one. */
  tether_bundle_collect_async (self->supervisor, self->saving_bundle, on_bundle_collected, save);
}

/* "tether-bundle-demo-2026-12-01-2152.json": the profile's file name and
 * when, so bundles of several backends and days sort and do not clash. */
static char *
bundle_file_name (TetherSupervisor *supervisor)
{
  const char *path = tether_supervisor_get_profile (supervisor)->path;
  g_autofree char *base = path != NULL ? g_path_get_basename (path) : g_strdup ("backend");
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *when = g_date_time_format (now, "%Y-%m-%d-%H%M");

  if (g_str_has_suffix (base, ".json"))
    base[strlen (base) - strlen (".json")] = '\0';
  g_strdelimit (base, " /\\:", '-');
  return g_strdup_printf ("tether-bundle-%s-%s.json", base, when);
}

/* GtkFileChooserNative: the portal's dialog in a sandbox; GTK 4.8 has no
 * GtkFileDialog. */
static void
save_bundle_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
  g_autofree char *name = NULL;
  GtkFileChooserNative *native;

  if (self->supervisor == NULL)
    return;
  name = bundle_file_name (self->supervisor);
  gtk_file_filter_set_name (filter, _("Support bundles (JSON)"));
  gtk_file_filter_add_pattern (filter, "*.json");
  gtk_file_filter_add_mime_type (filter, "application/json");

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  native = gtk_file_chooser_native_new (_("Save Support Bundle"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), name);
  G_GNUC_END_IGNORE_DEPRECATIONS
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  /* A window closed meanwhile hears nothing. */
  g_signal_connect_object (native, "response", G_CALLBACK (on_bundle_chooser_response), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

/* The row menu's Continue, for a Paused (SIGSTOPped) process: the
 * application's send-signal, as Send Signal… CONT would. */
static void
continue_process_activated (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);

  if (item == NULL)
    return;
  g_action_group_activate_action (G_ACTION_GROUP (self->application), "send-signal",
                                  g_variant_new ("(isb)", tether_process_item_get_pid (item), "CONT", FALSE));
}

/* The document `tetherctl tree --json` prints, of the last sample. */
static void
copy_tree_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(JsonNode) tree = NULL;
  g_autofree char *text = NULL;

  if (self->supervisor == NULL)
    return;
  tree = tether_control_tree_json (self->supervisor);
  text = json_to_string (tree, TRUE);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  tether_window_toast (self, _("Process tree copied as JSON"), NULL);
}

static void
copy_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherProcessItem) item = get_selected_item (self);
  g_autofree char *text = NULL;

  if (item == NULL)
    return;
  if (g_str_equal (action_name, "win.copy-pid"))
    text = g_strdup_printf ("%d", tether_process_item_get_pid (item));
  else
    text = g_strdup (tether_process_item_get_cmdline (item) ? tether_process_item_get_cmdline (item)
                                                             : tether_process_item_get_name (item));
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
  tether_window_toast (self, g_str_equal (action_name, "win.copy-pid") ? _("PID copied")
                                                                       : _("Command line copied"),
                       NULL);
}

#if GTK_CHECK_VERSION (4, 10, 0)
static void
on_file_dialog_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherWindow) self = user_data;
  g_autoptr(GFile) file = NULL;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (source), result, NULL);
  G_GNUC_END_IGNORE_DEPRECATIONS
  if (file != NULL)
    tether_application_open_file (self->application, file, FALSE);
}
#else
static void
on_file_chooser_response (GtkNativeDialog *native,
                          int              response,
                          TetherWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));

      if (file != NULL)
        tether_application_open_file (self->application, file, FALSE);
    }
  g_object_unref (native);
}
#endif

static void
open_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Tether profiles (JSON)"));
  gtk_file_filter_add_pattern (filter, "*.json");
  gtk_file_filter_add_mime_type (filter, "application/json");

#if GTK_CHECK_VERSION (4, 10, 0)
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  {
    g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
    g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);

    g_list_store_append (filters, filter);
    gtk_file_dialog_set_title (dialog, _("Open Profile"));
    gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
    gtk_file_dialog_open (dialog, GTK_WINDOW (self), NULL, on_file_dialog_done, g_object_ref (self));
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
#else
  {
    GtkFileChooserNative *native;

    native = gtk_file_chooser_native_new (_("Open Profile"), GTK_WINDOW (self),
                                          GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
    gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
    g_signal_connect (native, "response", G_CALLBACK (on_file_chooser_response), self);
    gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
  }
#endif
}

static void
run_demo_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(GFile) file = tether_application_get_demo_profile (self->application);

  tether_application_open_file (self->application, file, TRUE);
}

static void
preferences_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  GtkWindow *prefs = tether_preferences_window_new (tether_application_get_settings (self->application));

  gtk_window_set_transient_for (prefs, GTK_WINDOW (self));
  gtk_window_present (prefs);
}

static void
about_activated (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  static const char *developers[] = { "The Tether developers", NULL };

  adw_show_about_window (GTK_WINDOW (widget),
                         "application-name", _("Tether"),
                         "application-icon", TETHER_APPLICATION_ID,
                         "version", PACKAGE_VERSION,
                         "comments", _("Run a backend and own its whole process tree"),
                         "developers", developers,
                         "license-type", GTK_LICENSE_GPL_3_0,
                         NULL);
}

static void
show_rollback_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  if (self->rollback_window == NULL)
    {
      self->rollback_window = tether_rollback_window_new (self->application, GTK_WINDOW (self));
      g_object_add_weak_pointer (G_OBJECT (self->rollback_window), (gpointer *) &self->rollback_window);
    }
  gtk_window_present (self->rollback_window);
}

static void
show_history_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  if (self->history_window == NULL)
    {
      self->history_window = tether_history_window_new (self->supervisor, GTK_WINDOW (self));
      g_object_add_weak_pointer (G_OBJECT (self->history_window), (gpointer *) &self->history_window);
    }
  gtk_window_present (self->history_window);
}

/* ---- closing ------------------------------------------------------------ */

static void
on_close_response (AdwMessageDialog *dialog,
                   const char       *response,
                   TetherWindow     *self)
{
  if (g_str_equal (response, "stop"))
    tether_application_quit_after_stop (self->application);
  else if (g_str_equal (response, "background"))
    {
      tether_application_keep_in_background (self->application);
      gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
    }
}

static gboolean
tether_window_close_request (GtkWindow *window)
{
  TetherWindow *self = TETHER_WINDOW (window);
  AdwMessageDialog *dialog;
  g_autofree char *heading = NULL;

  if (self->supervisor == NULL || !tether_supervisor_is_active (self->supervisor))
    return GTK_WINDOW_CLASS (tether_window_parent_class)->close_request (window);

  heading = g_strdup_printf (_("Stop %s?"), tether_supervisor_get_profile (self->supervisor)->name);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (window, heading,
             _("The backend is still running. Stop it now, or keep it running in the "
               "background: Tether then stays running without a window, and opening "
               "Tether again shows it.")));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "background", _("_Keep Running"),
                                    "stop", _("_Stop and Quit"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "stop", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_close_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

/* ---- public ------------------------------------------------------------- */

static AdwToast *
new_toast (const char *title,
           const char *body)
{
  g_autofree char *text = body != NULL ? g_strdup_printf ("%s: %s", title, body) : g_strdup (title);
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, body != NULL ? 8 : 3);
  return toast;
}

/* The newest toast replaces the one shown (or waiting): news never waits
 * behind older news, which the History keeps. The overlay shows one toast
 * at a time, and a toast under the pointer never times out. */
void
tether_window_toast (TetherWindow *self,
                     const char   *title,
                     const char   *body)
{
  AdwToast *toast;

  g_return_if_fail (TETHER_IS_WINDOW (self));

  if (self->last_toast != NULL)
    adw_toast_dismiss (self->last_toast);
  toast = new_toast (title, body);
  g_set_weak_pointer (&self->last_toast, toast);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
tether_window_show_error (TetherWindow *self,
                          const char   *title,
                          const char   *body)
{
  GtkWidget *dialog;

  g_return_if_fail (TETHER_IS_WINDOW (self));

  dialog = adw_message_dialog_new (GTK_WINDOW (self), title, body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_app_action_enabled_changed (TetherWindow *self)
{
  update_actions (self);
}

TetherWindow *
tether_window_new (TetherApplication *application)
{
  TetherWindow *self = g_object_new (TETHER_TYPE_WINDOW, "application", application, NULL);
  GSettings *settings = tether_application_get_settings (application);

  self->application = application;
  g_settings_bind (settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "flat-list", self, "flat-list", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "extra-columns", self, "extra-columns", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "graph-span", self->cpu_graph, "span", G_SETTINGS_BIND_GET);
  g_settings_bind (settings, "graph-span", self->memory_graph, "span", G_SETTINGS_BIND_GET);
  g_settings_bind (settings, "graph-span", self->selected_graph, "span", G_SETTINGS_BIND_GET);
  g_signal_connect_object (application, "notify::supervisor",
                           G_CALLBACK (on_app_supervisor_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (application, "action-enabled-changed",
                           G_CALLBACK (on_app_action_enabled_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (application, "notify::pool-activity",
                           G_CALLBACK (update_pool), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (application, "notify::start-activity",
                           G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  set_supervisor (self, tether_application_get_supervisor (application));
  return self;
}

static void
tether_window_dispose (GObject *object)
{
  TetherWindow *self = TETHER_WINDOW (object);

  g_clear_handle_id (&self->countdown_timer, g_source_remove);
  g_clear_handle_id (&self->unresponsive_timer, g_source_remove);
  g_clear_handle_id (&self->resize_timer, g_source_remove);
  g_clear_handle_id (&self->journal_timer, g_source_remove);
  if (self->row_menu_tick != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->row_menu_tick);
  self->row_menu_tick = 0;
  /* The bundle's callbacks hold the window; they find it cancelled. */
  if (self->saving_bundle != NULL)
    g_cancellable_cancel (self->saving_bundle);
  if (self->rollback_window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->rollback_window), (gpointer *) &self->rollback_window);
  if (self->history_window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->history_window), (gpointer *) &self->history_window);
  self->rollback_window = self->history_window = NULL;
  if (self->tree != NULL)
    {
      tether_process_tree_set_pool (self->tree, NULL);
      tether_process_tree_set_sampler (self->tree, NULL);
    }
  g_clear_weak_pointer (&self->pressed_widget);
  /* The column view unparents only the children it made itself. */
  g_clear_pointer (&self->row_popover, gtk_widget_unparent);
  g_clear_object (&self->supervisor_signals);
  g_clear_object (&self->log_signals);
  g_clear_handle_id (&self->column_order_idle, g_source_remove);
  g_clear_pointer (&self->wide_columns, g_ptr_array_unref);
  g_clear_object (&self->pool_signals);
  g_clear_object (&self->pool);
  g_clear_object (&self->supervisor);
  g_clear_weak_pointer (&self->last_toast);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_WINDOW);

  G_OBJECT_CLASS (tether_window_parent_class)->dispose (object);
}

static void
tether_window_finalize (GObject *object)
{
  TetherWindow *self = TETHER_WINDOW (object);

  g_clear_object (&self->selection);
  g_clear_object (&self->sorter);
  g_strfreev (self->extra_columns);

  G_OBJECT_CLASS (tether_window_parent_class)->finalize (object);
}

/* The not-responding bar counts seconds only while the window is shown. */
/* Narrower than this, Name, CPU and Memory come first: what a person
 * looking for the process that is stuck needs, where only three columns
 * fit (a 360 px phone window). Wider, the columns go back to the .ui
 * file's order (wide_columns, kept at init). */
#define NARROW_COLUMNS_WIDTH 600
#define NARROW_NAME_WIDTH 150

static void
put_column (TetherWindow        *self,
            GtkColumnViewColumn *column,
            guint                position)
{
  GListModel *columns = gtk_column_view_get_columns (self->column_view);
  g_autoptr(GtkColumnViewColumn) there = g_list_model_get_item (columns, position);

  if (there == column)
    return;
  g_object_ref (column);
  gtk_column_view_remove_column (self->column_view, column);
  gtk_column_view_insert_column (self->column_view, position, column);
  g_object_unref (column);
}

static gboolean
update_column_order (gpointer user_data)
{
  TetherWindow *self = user_data;
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  gboolean narrow = width > 0 && width < NARROW_COLUMNS_WIDTH;
  guint position = 0;

  self->column_order_idle = 0;

  if (narrow == self->narrow_columns)
    return G_SOURCE_REMOVE;
  self->narrow_columns = narrow;
  /* A narrower Name leaves CPU and Memory whole; its wide width (the
   * person may have resized it) comes back with the room. */
  if (narrow)
    {
      self->wide_name_width = gtk_column_view_column_get_fixed_width (self->name_column);
      gtk_column_view_column_set_fixed_width (self->name_column, MIN (self->wide_name_width, NARROW_NAME_WIDTH));
    }
  else if (self->wide_name_width != 0)
    gtk_column_view_column_set_fixed_width (self->name_column, self->wide_name_width);
  /* Name, then CPU and Memory, then the rest as they were. */
  if (narrow)
    for (guint i = 0; i < self->wide_columns->len; i++)
      {
        GtkColumnViewColumn *column = g_ptr_array_index (self->wide_columns, i);

        if (column == self->name_column || column == self->cpu_column || column == self->memory_column)
          put_column (self, column, position++);
      }
  for (guint i = 0; i < self->wide_columns->len; i++)
    {
      GtkColumnViewColumn *column = g_ptr_array_index (self->wide_columns, i);

      if (!narrow || (column != self->name_column && column != self->cpu_column && column != self->memory_column))
        put_column (self, column, position++);
    }
  return G_SOURCE_REMOVE;
}

/* The columns follow the width the window is given (not its surface's,
 * which is still the default one while the window is first laid out);
 * they move after the allocation, never during it. */
static void
tether_window_size_allocate (GtkWidget *widget,
                             int        width,
                             int        height,
                             int        baseline)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  gboolean narrow = width < NARROW_COLUMNS_WIDTH;

  GTK_WIDGET_CLASS (tether_window_parent_class)->size_allocate (widget, width, height, baseline);
  if (narrow != self->narrow_columns && self->column_order_idle == 0)
    self->column_order_idle = g_idle_add (update_column_order, self);
}

static void
tether_window_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (tether_window_parent_class)->map (widget);
  update_unresponsive (TETHER_WINDOW (widget));
}

static void
tether_window_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (tether_window_parent_class)->unmap (widget);
  schedule_unresponsive_tick (TETHER_WINDOW (widget));
}

static void
tether_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherWindow *self = TETHER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_DETAILS:
      g_value_set_boolean (value, self->show_details);
      break;
    case PROP_FLAT_LIST:
      /* Asked for by the property action before the template is there. */
      g_value_set_boolean (value, self->tree != NULL && tether_process_tree_get_flat (self->tree));
      break;
    case PROP_EXTRA_COLUMNS:
      g_value_set_boxed (value, self->extra_columns);
      break;
    case PROP_SHOW_USER_COLUMN:
    case PROP_SHOW_PPID_COLUMN:
    case PROP_SHOW_NICE_COLUMN:
    case PROP_SHOW_STARTED_COLUMN:
      /* Asked for by the property actions before the template is there. */
      g_value_set_boolean (value, self->user_column != NULL &&
                                  gtk_column_view_column_get_visible (get_extra_column (self, prop_id - PROP_SHOW_USER_COLUMN)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TetherWindow *self = TETHER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SHOW_DETAILS:
      set_show_details (self, g_value_get_boolean (value));
      break;
    case PROP_FLAT_LIST:
      if (tether_process_tree_get_flat (self->tree) != g_value_get_boolean (value))
        {
          tether_process_tree_set_flat (self->tree, g_value_get_boolean (value));
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_EXTRA_COLUMNS:
      set_extra_columns (self, g_value_get_boxed (value));
      break;
    case PROP_SHOW_USER_COLUMN:
    case PROP_SHOW_PPID_COLUMN:
    case PROP_SHOW_NICE_COLUMN:
    case PROP_SHOW_STARTED_COLUMN:
      set_extra_column_shown (self, prop_id - PROP_SHOW_USER_COLUMN, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_window_class_init (TetherWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = tether_window_dispose;
  object_class->finalize = tether_window_finalize;
  object_class->get_property = tether_window_get_property;
  object_class->set_property = tether_window_set_property;
  widget_class->map = tether_window_map;
  widget_class->size_allocate = tether_window_size_allocate;
  widget_class->unmap = tether_window_unmap;
  window_class->close_request = tether_window_close_request;

  /* The details pane of the selected process (win.show-details, Ctrl+I):
   * only ever TRUE while a live process is selected. */
  properties[PROP_SHOW_DETAILS] =
    g_param_spec_boolean ("show-details", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The process list as one ranked list (win.flat-list; remembered). */
  properties[PROP_FLAT_LIST] =
    g_param_spec_boolean ("flat-list", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The optional columns shown (GSettings extra-columns), and each one
   * as a toggle for the Columns menu (win.show-user-column, ...). */
  properties[PROP_EXTRA_COLUMNS] =
    g_param_spec_boxed ("extra-columns", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_USER_COLUMN] =
    g_param_spec_boolean ("show-user-column", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_PPID_COLUMN] =
    g_param_spec_boolean ("show-ppid-column", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_NICE_COLUMN] =
    g_param_spec_boolean ("show-nice-column", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_STARTED_COLUMN] =
    g_param_spec_boolean ("show-started-column", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/tether/Tether/tether-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, controls_box);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, tree_scroller);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, empty_log_heading);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, empty_log_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, state_pill);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, start_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, count_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, owner_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, rollback_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, pool_box);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, workers_spin);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, workers_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, workers_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, workers_short_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, recycle_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, pool_problem_revealer);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, pool_problem_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, countdown_revealer);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, countdown_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, countdown_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, unresponsive_revealer);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, unresponsive_title);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, unresponsive_message);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, cpu_graph);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, memory_graph);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, memory_header);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, column_view);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, name_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, pid_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, ppid_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, role_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, state_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, cpu_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, memory_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, threads_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, uptime_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, user_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, nice_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, started_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, cmdline_column);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, selected_graph);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, row_popover);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, row_menu_title);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, tree);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, log_view);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, details_flap);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, process_details);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, process_search_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, process_search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, match_label);
  gtk_widget_class_bind_template_callback (widget_class, on_tree_updated);
  gtk_widget_class_bind_template_callback (widget_class, on_view_pressed);
  gtk_widget_class_bind_template_callback (widget_class, on_row_popover_closed);
  gtk_widget_class_bind_template_callback (widget_class, on_workers_value_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_unresponsive_child_revealed);
  gtk_widget_class_bind_template_callback (widget_class, row_if_parent);
  gtk_widget_class_bind_template_callback (widget_class, leaf_indent);
  gtk_widget_class_bind_template_callback (widget_class, uptime_text);
  gtk_widget_class_bind_template_callback (widget_class, dim_unless);
  gtk_widget_class_bind_template_callback (widget_class, cpu_rank);
  gtk_widget_class_bind_template_callback (widget_class, memory_rank);
  gtk_widget_class_bind_template_callback (widget_class, subtree_cpu_tooltip);
  gtk_widget_class_bind_template_callback (widget_class, subtree_memory_tooltip);
  gtk_widget_class_bind_template_callback (widget_class, name_tooltip);
  gtk_widget_class_bind_template_callback (widget_class, has_text);
  gtk_widget_class_bind_template_callback (widget_class, started_text);
  gtk_widget_class_bind_template_callback (widget_class, started_tooltip);
  gtk_widget_class_bind_template_callback (widget_class, on_process_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_process_search_activate);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_activated);
  gtk_widget_class_install_action (widget_class, "win.run-demo", NULL, run_demo_activated);
  gtk_widget_class_install_action (widget_class, "win.force-stop", NULL, force_stop_activated);
  gtk_widget_class_install_action (widget_class, "win.restart", NULL, restart_activated);
  gtk_widget_class_install_action (widget_class, "win.stop-subtree", NULL, stop_subtree_activated);
  gtk_widget_class_install_action (widget_class, "win.kill-subtree", NULL, kill_subtree_activated);
  gtk_widget_class_install_action (widget_class, "win.send-signal", NULL, send_signal_activated);
  gtk_widget_class_install_property_action (widget_class, "win.show-details", "show-details");
  gtk_widget_class_install_action (widget_class, "win.save-bundle", NULL, save_bundle_activated);
  gtk_widget_class_install_action (widget_class, "win.copy-cmdline", NULL, copy_activated);
  gtk_widget_class_install_action (widget_class, "win.copy-pid", NULL, copy_activated);
  gtk_widget_class_install_action (widget_class, "win.continue-process", NULL, continue_process_activated);
  gtk_widget_class_install_action (widget_class, "win.copy-tree", NULL, copy_tree_activated);
  gtk_widget_class_install_action (widget_class, "win.row-menu", NULL, row_menu_activated);
  gtk_widget_class_install_action (widget_class, "win.show-rollback", NULL, show_rollback_activated);
  gtk_widget_class_install_action (widget_class, "win.show-history", NULL, show_history_activated);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_activated);
  gtk_widget_class_install_action (widget_class, "win.about", NULL, about_activated);
  gtk_widget_class_install_action (widget_class, "win.show-processes", NULL, show_page_activated);
  gtk_widget_class_install_action (widget_class, "win.show-log", NULL, show_page_activated);
  gtk_widget_class_install_action (widget_class, "win.find", NULL, find_activated);
  gtk_widget_class_install_property_action (widget_class, "win.flat-list", "flat-list");
  gtk_widget_class_install_property_action (widget_class, "win.show-user-column", "show-user-column");
  gtk_widget_class_install_property_action (widget_class, "win.show-ppid-column", "show-ppid-column");
  gtk_widget_class_install_property_action (widget_class, "win.show-nice-column", "show-nice-column");
  gtk_widget_class_install_property_action (widget_class, "win.show-started-column", "show-started-column");
  gtk_widget_class_install_action (widget_class, "win.sort-by", "s", sort_by_activated);

  /* Named in the template, which the builder looks up by name. */
  g_type_ensure (TETHER_TYPE_BAR);
  g_type_ensure (TETHER_TYPE_GRAPH);
  g_type_ensure (TETHER_TYPE_LOG_VIEW);
  g_type_ensure (TETHER_TYPE_PROCESS_DETAILS);
  g_type_ensure (TETHER_TYPE_PROCESS_ITEM);
  g_type_ensure (TETHER_TYPE_PROCESS_TREE);
}

static void
tether_window_init (TetherWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->wide_columns = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < g_list_model_get_n_items (gtk_column_view_get_columns (self->column_view)); i++)
    g_ptr_array_add (self->wide_columns,
                     g_list_model_get_item (gtk_column_view_get_columns (self->column_view), i));

  self->selection = tether_process_tree_create_selection (self->tree,
                                                          gtk_column_view_get_sorter (self->column_view),
                                                          &self->sorter);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  g_signal_connect_object (gtk_column_view_get_sorter (self->column_view), "changed",
                           G_CALLBACK (on_view_sorter_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (on_selection_changed), self);
  g_signal_connect_swapped (self->details_flap, "notify::reveal-flap",
                            G_CALLBACK (on_details_flap_revealed), self);
  /* Typing into the list searches it. */
  gtk_search_bar_connect_entry (self->process_search_bar, GTK_EDITABLE (self->process_search_entry));
  gtk_search_bar_set_key_capture_widget (self->process_search_bar, GTK_WIDGET (self->column_view));
  g_signal_connect_swapped (self->process_search_bar, "notify::search-mode-enabled",
                            G_CALLBACK (on_process_search_mode), self);
  g_signal_connect_swapped (self->tree, "notify::n-matches", G_CALLBACK (update_match_label), self);
  g_signal_connect_swapped (self->tree, "notify::search", G_CALLBACK (update_match_label), self);
  /* The last row gone (or the first one back) may change the empty state. */
  g_signal_connect_object (tether_process_tree_get_roots (self->tree), "items-changed",
                           G_CALLBACK (update_empty_state), self, G_CONNECT_SWAPPED);

  /* A backend's last words are often read after its exit is: the empty
   * state follows the log. */
  self->log_signals = g_signal_group_new (TETHER_TYPE_LOG);
  g_signal_group_connect_swapped (self->log_signals, "lines-added", G_CALLBACK (on_log_lines_added), self);
  self->supervisor_signals = g_signal_group_new (TETHER_TYPE_SUPERVISOR);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::state",
                                  G_CALLBACK (on_supervisor_changed), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::phase",
                                  G_CALLBACK (on_supervisor_changed), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::status-text",
                                  G_CALLBACK (update_status), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::message",
                                  G_CALLBACK (on_message_changed), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::owner-kind",
                                  G_CALLBACK (update_owner_kind), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "notify::can-resize",
                                  G_CALLBACK (update_pool), self);
  g_signal_group_connect_swapped (self->supervisor_signals, "checkpoint",
                                  G_CALLBACK (update_rollback_button), self);

  self->pool_signals = g_signal_group_new (TETHER_TYPE_POOL);
  g_signal_group_connect_swapped (self->pool_signals, "notify::target",
                                  G_CALLBACK (update_pool), self);
  g_signal_group_connect_swapped (self->pool_signals, "notify::actual",
                                  G_CALLBACK (update_pool), self);
  g_signal_group_connect_swapped (self->pool_signals, "notify::problem",
                                  G_CALLBACK (update_pool), self);

  /* The spin button's text entry: Enter resizes at once. */
  g_signal_connect_swapped (gtk_editable_get_delegate (GTK_EDITABLE (self->workers_spin)), "activate",
                            G_CALLBACK (on_workers_activate), self);

  update_detail (self);
}
