/* tether-history-window.c: the journal's events, newest first
 *
 * What the journal holds, as `tetherctl history` shows it: checkpoints the
 * backend reported (this run's and earlier runs'), rollbacks and their
 * outcome, pool resizes, stops that needed force. The journal appends in
 * its own thread and says nothing when a line is on disk, so the window
 * looks once a second while it is open; new events go on top, the rest
 * stay as they are (scrolling, focus).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-history-window.h"

/* The newest events shown, as tetherctl history. */
#define MAX_ROWS 500
/* How often new events are looked for, and relative times redone. */
#define POLL_INTERVAL_MS 1000
#define RELATIVE_REFRESH_S 30

struct _TetherHistoryWindow
{
  AdwWindow parent_instance;

  /* template children */
  AdwWindowTitle *window_title;
  GtkSearchEntry *search_entry;
  GtkStack *stack;
  GtkListBox *list;

  TetherSupervisor *supervisor;
  guint n_rows;
  /* The journal as last shown: how many entries, and the newest's time
   * (compaction replaces the entries: then everything is redone). */
  guint n_seen;
  gint64 newest_seen;
  guint poll_timer;
  guint ticks;
};

G_DEFINE_FINAL_TYPE (TetherHistoryWindow, tether_history_window, ADW_TYPE_WINDOW)

char *
tether_format_event_time (gint64 time,
                          gint64 now)
{
  g_autoptr(GDateTime) then = g_date_time_new_from_unix_local (time / G_USEC_PER_SEC);
  g_autoptr(GDateTime) today = g_date_time_new_from_unix_local (now / G_USEC_PER_SEC);
  gint64 ago = MAX (now - time, 0) / G_USEC_PER_SEC;
  g_autofree char *clock = NULL;
  g_autofree char *relative = NULL;

  if (then == NULL || today == NULL)
    return g_strdup ("");

  if (g_date_time_get_year (then) == g_date_time_get_year (today) &&
      g_date_time_get_day_of_year (then) == g_date_time_get_day_of_year (today))
    /* translators: a time of day today, in g_date_time_format ()'s terms */
    clock = g_date_time_format (then, _("%H:%M:%S"));
  else
    /* translators: a date and time, in g_date_time_format ()'s terms */
    clock = g_date_time_format (then, _("%Y-%m-%d %H:%M"));

  if (ago < 60)
    relative = g_strdup (_("just now"));
  else if (ago < 60 * 60)
    relative = g_strdup_printf (ngettext ("%d minute ago", "%d minutes ago", (int) (ago / 60)),
                                (int) (ago / 60));
  else if (ago < 24 * 60 * 60)
    relative = g_strdup_printf (ngettext ("%d hour ago", "%d hours ago", (int) (ago / 3600)),
                                (int) (ago / 3600));
  else
    relative = g_strdup_printf (ngettext ("%d day ago", "%d days ago", (int) (ago / 86400)),
                                (int) (ago / 86400));

  /* translators: when, then how long ago: "14:03:12 (12 minutes ago)" */
  return g_strdup_printf (_("%s (%s)"), clock, relative);
}

/* ---- rows --------------------------------------------------------------- */

static gboolean
entry_failed (const TetherJournalEntry *entry)
{
  return (entry->kind == TETHER_JOURNAL_ROLLBACK || entry->kind == TETHER_JOURNAL_RESIZE) &&
         entry->outcome != NULL && !g_str_equal (entry->outcome, "ok");
}

static char *
entry_title (const TetherJournalEntry *entry)
{
  const char *id = entry->id != NULL ? entry->id : "?";

  switch (entry->kind)
    {
    case TETHER_JOURNAL_CHECKPOINT:
      /* translators: %s is a checkpoint ID, as the backend named it */
      return g_strdup_printf (_("Checkpoint %s"), id);
    case TETHER_JOURNAL_ROLLBACK:
      /* translators: %s is a checkpoint ID */
      return entry_failed (entry) ? g_strdup_printf (_("Rollback to checkpoint %s failed"), id)
                                  : g_strdup_printf (_("Rolled back to checkpoint %s"), id);
    case TETHER_JOURNAL_RESIZE:
      /* translators: %s says what was asked for, e.g. "resize to 3 workers" */
      return entry_failed (entry) ? g_strdup_printf (_("Worker pool: %s failed"), entry->label)
                                  : g_strdup_printf (_("Worker pool: %s"), entry->label);
    case TETHER_JOURNAL_FORCED_STOP:
      return g_strdup (_("Stopped by force"));
    default:
      return g_strdup (tether_journal_kind_to_string (entry->kind));
    }
}

static char *
entry_subtitle (const TetherJournalEntry *entry,
                gint64                    now)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  switch (entry->kind)
    {
    case TETHER_JOURNAL_CHECKPOINT:
      if (entry->label != NULL)
        g_ptr_array_add (parts, g_strdup (entry->label));
      break;
    case TETHER_JOURNAL_ROLLBACK:
      if (entry->label != NULL)
        /* translators: %s is why someone rolled back, as they said it */
        g_ptr_array_add (parts, g_strdup_printf (_("reason: %s"), entry->label));
      break;
    case TETHER_JOURNAL_FORCED_STOP:
      if (entry->label != NULL)
        g_ptr_array_add (parts, g_strdup (entry->label));
      if (g_strcmp0 (entry->outcome, "escalated") == 0)
        g_ptr_array_add (parts, g_strdup (_("it did not stop in time")));
      else if (g_strcmp0 (entry->outcome, "asked") == 0)
        g_ptr_array_add (parts, g_strdup (_("force was asked for")));
      break;
    case TETHER_JOURNAL_RESIZE:
    default:
      break;
    }
  g_ptr_array_add (parts, tether_format_event_time (entry->time, now));
  if (entry->pid > 0)
    /* translators: %d is the process that reported a checkpoint */
    g_ptr_array_add (parts, g_strdup_printf (_("from process %d"), entry->pid));
  if (entry_failed (entry))
    g_ptr_array_add (parts, g_strdup (entry->outcome));
  g_ptr_array_add (parts, NULL);
  /* Parts of one line, between dots. */
  return g_strjoinv (" · ", (char **) parts->pdata);
}

static const char *
entry_icon (const TetherJournalEntry *entry)
{
  switch (entry->kind)
    {
    case TETHER_JOURNAL_CHECKPOINT:
      return "bookmark-new-symbolic";
    case TETHER_JOURNAL_ROLLBACK:
      return "edit-undo-symbolic";
    case TETHER_JOURNAL_RESIZE:
      return "view-list-bullet-symbolic";
    case TETHER_JOURNAL_FORCED_STOP:
    default:
      return "process-stop-symbolic";
    }
}

/* A row keeps its entry, for the relative time and the search. */
static void
update_row (AdwActionRow *row,
            gint64        now)
{
  const TetherJournalEntry *entry = g_object_get_data (G_OBJECT (row), "tether-entry");
  g_autofree char *title = entry_title (entry);
  g_autofree char *subtitle = entry_subtitle (entry, now);
  g_autofree char *text = g_strconcat (title, " ", subtitle, NULL);

  adw_action_row_set_subtitle (row, subtitle);
  /* Its accessible name is its title; GTK 4.8 does not make the subtitle
   * (described-by) its description. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, subtitle, -1);
  g_object_set_data_full (G_OBJECT (row), "tether-search", g_utf8_casefold (text, -1), g_free);
}

static GtkWidget *
new_row (const TetherJournalEntry *entry,
         gint64                    now)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new_from_icon_name (entry_icon (entry));
  g_autofree char *title = entry_title (entry);

  /* What the backend wrote is text, not markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 2);
  gtk_accessible_update_state (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  if (entry_failed (entry))
    {
      GtkWidget *warning = gtk_image_new_from_icon_name ("dialog-warning-symbolic");

      gtk_widget_add_css_class (warning, "error");
      gtk_widget_set_tooltip_text (warning, entry->outcome);
      gtk_accessible_update_state (GTK_ACCESSIBLE (warning), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), warning);
    }
  g_object_set_data_full (G_OBJECT (row), "tether-entry", tether_journal_entry_copy (entry),
                          (GDestroyNotify) tether_journal_entry_free);
  update_row (ADW_ACTION_ROW (row), now);
  return row;
}

static void
remove_all_rows (TetherHistoryWindow *self)
{
  GtkListBoxRow *row;

  while ((row = gtk_list_box_get_row_at_index (self->list, 0)) != NULL)
    gtk_list_box_remove (self->list, GTK_WIDGET (row));
  self->n_rows = 0;
}

/* entries[from..] go on top, newest first; the oldest rows go beyond
 * MAX_ROWS. */
static void
add_entries (TetherHistoryWindow *self,
             GPtrArray           *entries,
             guint                from)
{
  gint64 now = g_get_real_time ();

  if (entries->len - from > MAX_ROWS)
    from = entries->len - MAX_ROWS;
  for (guint i = from; i < entries->len; i++)
    {
      gtk_list_box_prepend (self->list, new_row (g_ptr_array_index (entries, i), now));
      self->n_rows++;
    }
  while (self->n_rows > MAX_ROWS)
    {
      gtk_list_box_remove (self->list,
                           GTK_WIDGET (gtk_list_box_get_row_at_index (self->list, self->n_rows - 1)));
      self->n_rows--;
    }
}

static void
refresh (TetherHistoryWindow *self)
{
  TetherJournal *journal = tether_supervisor_get_journal (self->supervisor);
  GPtrArray *entries = journal != NULL ? tether_journal_get_entries (journal) : NULL;
  guint n = entries != NULL ? entries->len : 0;
  gint64 newest = n > 0 ? ((TetherJournalEntry *) g_ptr_array_index (entries, n - 1))->time : 0;

  if (n == self->n_seen && newest == self->newest_seen)
    return;

  /* Appended to (the entry shown last is where it was), or replaced. */
  if (self->n_seen > 0 && n > self->n_seen &&
      ((TetherJournalEntry *) g_ptr_array_index (entries, self->n_seen - 1))->time == self->newest_seen)
    add_entries (self, entries, self->n_seen);
  else
    {
      remove_all_rows (self);
      if (entries != NULL)
        add_entries (self, entries, 0);
    }
  self->n_seen = n;
  self->newest_seen = newest;
  gtk_stack_set_visible_child_name (self->stack, self->n_rows > 0 ? "events" : "empty");
}

static void
update_relative_times (TetherHistoryWindow *self)
{
  gint64 now = g_get_real_time ();

  for (guint i = 0; i < self->n_rows; i++)
    update_row (ADW_ACTION_ROW (gtk_list_box_get_row_at_index (self->list, i)), now);
  gtk_list_box_invalidate_filter (self->list);
}

static gboolean
on_poll (gpointer user_data)
{
  TetherHistoryWindow *self = user_data;

  refresh (self);
  if (++self->ticks % (RELATIVE_REFRESH_S * 1000 / POLL_INTERVAL_MS) == 0)
    update_relative_times (self);
  return G_SOURCE_CONTINUE;
}

/* ---- search ------------------------------------------------------------- */

static gboolean
filter_row (GtkListBoxRow *row,
            gpointer       user_data)
{
  TetherHistoryWindow *self = user_data;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *needle = NULL;

  if (text[0] == '\0')
    return TRUE;
  needle = g_utf8_casefold (text, -1);
  return strstr (g_object_get_data (G_OBJECT (row), "tether-search"), needle) != NULL;
}

static void
on_search_changed (TetherHistoryWindow *self)
{
  gtk_list_box_invalidate_filter (self->list);
}

/* Escape empties the search, then closes the window. */
static void
on_stop_search (TetherHistoryWindow *self)
{
  if (gtk_editable_get_text (GTK_EDITABLE (self->search_entry))[0] != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  else
    gtk_window_close (GTK_WINDOW (self));
}

/* ---- the window --------------------------------------------------------- */

GtkWindow *
tether_history_window_new (TetherSupervisor *supervisor,
                           GtkWindow        *parent)
{
  TetherHistoryWindow *self;

  g_return_val_if_fail (TETHER_IS_SUPERVISOR (supervisor), NULL);

  /* Not one of the application's windows: those are main windows. */
  self = g_object_new (TETHER_TYPE_HISTORY_WINDOW, "transient-for", parent, NULL);
  self->supervisor = g_object_ref (supervisor);
  adw_window_title_set_subtitle (self->window_title, tether_supervisor_get_profile (supervisor)->name);
  refresh (self);
  self->poll_timer = g_timeout_add (POLL_INTERVAL_MS, on_poll, self);
  return GTK_WINDOW (self);
}

static void
tether_history_window_dispose (GObject *object)
{
  TetherHistoryWindow *self = TETHER_HISTORY_WINDOW (object);

  g_clear_handle_id (&self->poll_timer, g_source_remove);
  g_clear_object (&self->supervisor);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_HISTORY_WINDOW);

  G_OBJECT_CLASS (tether_history_window_parent_class)->dispose (object);
}

static void
tether_history_window_class_init (TetherHistoryWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_history_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/tether/Tether/tether-history-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherHistoryWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, TetherHistoryWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherHistoryWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, TetherHistoryWindow, list);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_stop_search);
}

static void
tether_history_window_init (TetherHistoryWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_list_box_set_filter_func (self->list, filter_row, self, NULL);
  /* Typing anywhere in the window searches. */
  gtk_search_entry_set_key_capture_widget (self->search_entry, GTK_WIDGET (self));
}
