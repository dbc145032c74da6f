/* tether-log-view.c: the backend's output, live
 *
 * The log's lines (both streams, in the order Tether read them) in a list
 * view, newest last. Lines come in on the log's "lines-added": only those
 * after the newest one shown are copied, and the store keeps at most
 * TETHER_LOG_VIEW_MAX_LINES (older ones leave from the front, in one
 * splice). The view follows the tail while it is scrolled to the end;
 * scrolled up, it stays put and offers Jump to End. The search filters the
 * lines by a case-insensitive substring, a few at a time so a long log
 * never holds up the main loop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-log-view.h"
#include "tether-window.h"

/* ---- one line ----------------------------------------------------------- */

#define TETHER_TYPE_LOG_ITEM (tether_log_item_get_type ())

G_DECLARE_FINAL_TYPE (TetherLogItem, tether_log_item, TETHER, LOG_ITEM, GObject)

struct _TetherLogItem
{
  GObject parent_instance;

  gint64 time;
  TetherLogStream stream;
  char *text;
};

enum
{
  ITEM_PROP_0,
  ITEM_PROP_TEXT,
  ITEM_N_PROPS
};

static GParamSpec *item_props[ITEM_N_PROPS];

G_DEFINE_FINAL_TYPE (TetherLogItem, tether_log_item, G_TYPE_OBJECT)

static void
tether_log_item_finalize (GObject *object)
{
  g_free (TETHER_LOG_ITEM (object)->text);
  G_OBJECT_CLASS (tether_log_item_parent_class)->finalize (object);
}

static void
tether_log_item_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  switch (prop_id)
    {
    case ITEM_PROP_TEXT:
      g_value_set_string (value, TETHER_LOG_ITEM (object)->text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_log_item_class_init (TetherLogItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_log_item_finalize;
  object_class->get_property = tether_log_item_get_property;
  item_props[ITEM_PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, ITEM_N_PROPS, item_props);
}

static void
tether_log_item_init (TetherLogItem *self)
{
}

/* Takes the line's text. */
static TetherLogItem *
tether_log_item_new_take (TetherLogLine *line)
{
  TetherLogItem *self = g_object_new (TETHER_TYPE_LOG_ITEM, NULL);

  self->time = line->time;
  self->stream = line->stream;
  self->text = g_steal_pointer (&line->text);
  return self;
}

/* ---- the view ----------------------------------------------------------- */

struct _TetherLogView
{
  GtkWidget parent_instance;

  /* template children */
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkScrolledWindow *scroller;
  GtkListView *list_view;
  GtkLabel *empty_label;
  GtkWidget *jump_button;
  GtkLabel *count_label;

  TetherLog *log;
  gulong lines_added_id;
  guint64 last_seq;                 /* the newest line in the store */
  GListStore *store;                /* of TetherLogItem */
  GtkStringFilter *filter;
  GtkFilterListModel *filtered;
  GtkAdjustment *vadjustment;
  gboolean following;               /* scrolled to the end: stay there */
  guint follow_idle;
  gboolean file_exists;
};

/* How far from the end (px) still counts as at the end. */
#define END_SLACK 8.0

G_DEFINE_FINAL_TYPE (TetherLogView, tether_log_view, GTK_TYPE_WIDGET)

static void
update_count (TetherLogView *self)
{
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filtered));
  const char *search = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  gboolean searching = gtk_search_bar_get_search_mode (self->search_bar) && search[0] != '\0';
  g_autofree char *text = NULL;

  if (searching && gtk_filter_list_model_get_pending (self->filtered) > 0)
    text = g_strdup (_("Searching…"));
  else if (searching)
    /* translators: lines that contain the search text, of those kept */
    text = g_strdup_printf (ngettext ("%u of %u line matches", "%u of %u lines match", total),
                            shown, total);
  else
    text = g_strdup_printf (ngettext ("%u line", "%u lines", total), total);
  gtk_label_set_label (self->count_label, text);

  if (total == 0)
    gtk_label_set_label (self->empty_label, _("No output yet"));
  else if (shown == 0 && gtk_filter_list_model_get_pending (self->filtered) == 0)
    gtk_label_set_label (self->empty_label, _("No matching lines"));
  gtk_widget_set_visible (GTK_WIDGET (self->empty_label),
                          total == 0 || (shown == 0 && gtk_filter_list_model_get_pending (self->filtered) == 0));
}

/* ---- following the tail ------------------------------------------------- */

static gboolean
is_at_end (TetherLogView *self)
{
  GtkAdjustment *adj = self->vadjustment;

  return gtk_adjustment_get_value (adj) >=
         gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj) - END_SLACK;
}

static void
set_following (TetherLogView *self,
               gboolean       following)
{
  self->following = following;
  gtk_widget_set_visible (self->jump_button, !following);
}

static gboolean
on_follow_idle (gpointer user_data)
{
  TetherLogView *self = user_data;
  GtkAdjustment *adj = self->vadjustment;

  self->follow_idle = 0;
  if (self->following)
    gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  return G_SOURCE_REMOVE;
}

/* After the layout that moved the end: the list view sizes its rows
 * during allocation, so the scroll waits for it. */
static void
queue_follow (TetherLogView *self)
{
  if (self->following && self->follow_idle == 0)
    self->follow_idle = g_idle_add (on_follow_idle, self);
}

static void
on_adjustment_changed (TetherLogView *self)
{
  if (self->following && !is_at_end (self))
    queue_follow (self);
}

/* Scrolled away from the end (by whatever means: wheel, keys, the
 * scrollbar), the view stops following; back at the end, it follows. */
static void
on_value_changed (TetherLogView *self)
{
  set_following (self, is_at_end (self));
}

static void
jump_to_end_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TetherLogView *self = TETHER_LOG_VIEW (widget);

  set_following (self, TRUE);
  on_follow_idle (self);
  queue_follow (self);   /* again, once the rows near the end are measured */
}

/* ---- the lines ---------------------------------------------------------- */

static void
update_open_file (TetherLogView *self)
{
  const char *path = self->log != NULL ? tether_log_get_path (self->log) : NULL;

  /* Once there, the file stays (rotation renames it and starts anew). */
  if (!self->file_exists)
    self->file_exists = path != NULL && g_file_test (path, G_FILE_TEST_EXISTS);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "log.open-file", self->file_exists);
}

static void
fetch_lines (TetherLogView *self)
{
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GPtrArray) items = NULL;
  guint n_store, n_new, skip, drop;

  update_open_file (self);
  if (self->log == NULL)
    return;
  lines = tether_log_get_lines (self->log, TETHER_LOG_VIEW_MAX_LINES, self->last_seq);
  if (lines->len == 0)
    return;
  self->last_seq = ((TetherLogLine *) g_ptr_array_index (lines, lines->len - 1))->seq;

  n_new = MIN (lines->len, TETHER_LOG_VIEW_MAX_LINES);
  skip = lines->len - n_new;
  items = g_ptr_array_new_full (n_new, g_object_unref);
  for (guint i = skip; i < lines->len; i++)
    g_ptr_array_add (items, tether_log_item_new_take (g_ptr_array_index (lines, i)));

  n_store = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  drop = n_store + n_new > TETHER_LOG_VIEW_MAX_LINES ? n_store + n_new - TETHER_LOG_VIEW_MAX_LINES : 0;
  if (drop >= n_store)
    {
      g_list_store_splice (self->store, 0, n_store, items->pdata, items->len);
    }
  else
    {
      g_list_store_splice (self->store, n_store, 0, items->pdata, items->len);
      if (drop > 0)
        g_list_store_splice (self->store, 0, drop, NULL, 0);
    }
  update_count (self);
  queue_follow (self);
}

void
tether_log_view_set_log (TetherLogView *self,
                         TetherLog     *log)
{
  g_return_if_fail (TETHER_IS_LOG_VIEW (self));

  if (log == self->log)
    return;
  if (self->log != NULL)
    g_clear_signal_handler (&self->lines_added_id, self->log);
  g_set_object (&self->log, log);
  self->last_seq = 0;
  self->file_exists = FALSE;
  g_list_store_remove_all (self->store);
  set_following (self, TRUE);
  if (log != NULL)
    self->lines_added_id = g_signal_connect_swapped (log, "lines-added", G_CALLBACK (fetch_lines), self);
  fetch_lines (self);
  update_count (self);
}

/* ---- rows --------------------------------------------------------------- */

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *list_item,
           gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *time = gtk_label_new (NULL);
  GtkWidget *mark = gtk_label_new (NULL);
  GtkWidget *text = gtk_label_new (NULL);

  gtk_widget_add_css_class (box, "log-line");
  gtk_widget_add_css_class (time, "numeric");
  gtk_widget_add_css_class (time, "dim-label");
  gtk_widget_set_valign (time, GTK_ALIGN_START);
  /* The stream's mark: "E" on stderr, the same room left empty on stdout
   * (the text label's description says which, for assistive technologies). */
  gtk_widget_add_css_class (mark, "stream-mark");
  gtk_label_set_width_chars (GTK_LABEL (mark), 1);
  gtk_widget_set_valign (mark, GTK_ALIGN_START);
  gtk_accessible_update_state (GTK_ACCESSIBLE (mark), GTK_ACCESSIBLE_STATE_HIDDEN, TRUE, -1);
  gtk_widget_add_css_class (text, "monospace");
  gtk_label_set_xalign (GTK_LABEL (text), 0);
  gtk_label_set_wrap (GTK_LABEL (text), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (text), PANGO_WRAP_WORD_CHAR);
  gtk_widget_set_hexpand (text, TRUE);
  gtk_box_append (GTK_BOX (box), time);
  gtk_box_append (GTK_BOX (box), mark);
  gtk_box_append (GTK_BOX (box), text);
  gtk_list_item_set_child (list_item, box);
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *list_item,
          gpointer                  user_data)
{
  TetherLogItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkWidget *time = gtk_widget_get_first_child (box);
  GtkWidget *mark = gtk_widget_get_next_sibling (time);
  GtkWidget *text = gtk_widget_get_next_sibling (mark);
  gboolean is_stderr = item->stream == TETHER_LOG_STDERR;
  g_autoptr(GDateTime) date = g_date_time_new_from_unix_local (item->time / G_USEC_PER_SEC);
  g_autofree char *hms = date != NULL ? g_date_time_format (date, "%H:%M:%S") : g_strdup ("--:--:--");
  g_autofree char *stamp = g_strdup_printf ("%s.%03d", hms, (int) (item->time % G_USEC_PER_SEC / 1000));

  gtk_label_set_label (GTK_LABEL (time), stamp);
  gtk_label_set_label (GTK_LABEL (mark), is_stderr ? "E" : "");
  gtk_label_set_label (GTK_LABEL (text), item->text);
  if (is_stderr)
    gtk_widget_add_css_class (box, "stderr");
  else
    gtk_widget_remove_css_class (box, "stderr");
  gtk_accessible_update_property (GTK_ACCESSIBLE (text), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  /* translators: which stream a log line came on */
                                  is_stderr ? _("stderr") : _("stdout"), -1);
}

/* ---- search ------------------------------------------------------------- */

static void
on_search_changed (TetherLogView *self)
{
  const char *search = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));

  gtk_string_filter_set_search (self->filter,
                                gtk_search_bar_get_search_mode (self->search_bar) && search[0] != '\0'
                                ? search : NULL);
  update_count (self);
}

/* Closing the bar shows every line again (the text stays for next time). */
static void
on_search_mode_changed (TetherLogView *self)
{
  on_search_changed (self);
}

void
tether_log_view_start_search (TetherLogView *self)
{
  g_return_if_fail (TETHER_IS_LOG_VIEW (self));

  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
  gtk_editable_select_region (GTK_EDITABLE (self->search_entry), 0, -1);
}

/* ---- Open Log File ------------------------------------------------------ */

static void
on_uri_shown (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!gtk_show_uri_full_finish (GTK_WINDOW (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && TETHER_IS_WINDOW (source))
    tether_window_toast (TETHER_WINDOW (source), _("Could not open the log file"), error->message);
}

static void
open_file_activated (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  TetherLogView *self = TETHER_LOG_VIEW (widget);
  const char *path = self->log != NULL ? tether_log_get_path (self->log) : NULL;
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autofree char *uri = NULL;

  if (path == NULL || !GTK_IS_WINDOW (root))
    return;
  uri = g_filename_to_uri (path, NULL, NULL);
  if (uri != NULL)
    gtk_show_uri_full (GTK_WINDOW (root), uri, GDK_CURRENT_TIME, NULL, on_uri_shown, NULL);
}

/* ---- the widget --------------------------------------------------------- */

static void
tether_log_view_dispose (GObject *object)
{
  TetherLogView *self = TETHER_LOG_VIEW (object);
  GtkWidget *child;

  if (self->log != NULL)
    g_clear_signal_handler (&self->lines_added_id, self->log);
  g_clear_object (&self->log);
  g_clear_handle_id (&self->follow_idle, g_source_remove);
  if (self->filtered != NULL)
    g_signal_handlers_disconnect_by_data (self->filtered, self);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (tether_log_view_parent_class)->dispose (object);
}

static void
tether_log_view_finalize (GObject *object)
{
  TetherLogView *self = TETHER_LOG_VIEW (object);

  g_clear_object (&self->store);
  g_clear_object (&self->filtered);

  G_OBJECT_CLASS (tether_log_view_parent_class)->finalize (object);
}

static void
tether_log_view_class_init (TetherLogViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_log_view_dispose;
  object_class->finalize = tether_log_view_finalize;

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tetherlogview");
  gtk_widget_class_set_template_from_resource (widget_class, "/org/tether/Tether/tether-log-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, search_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, scroller);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, list_view);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, empty_label);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, jump_button);
  gtk_widget_class_bind_template_child (widget_class, TetherLogView, count_label);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_search_mode_changed);

  gtk_widget_class_install_action (widget_class, "log.jump-to-end", NULL, jump_to_end_activated);
  gtk_widget_class_install_action (widget_class, "log.open-file", NULL, open_file_activated);
}

static void
tether_log_view_init (TetherLogView *self)
{
  GtkListItemFactory *factory;
  GtkExpression *expression;
  GtkNoSelection *selection;

  gtk_widget_init_template (GTK_WIDGET (self));
  /* Escape in the entry closes the bar. */
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (GTK_WIDGET (self))),
                                  GTK_ORIENTATION_VERTICAL);

  self->store = g_list_store_new (TETHER_TYPE_LOG_ITEM);
  expression = gtk_property_expression_new (TETHER_TYPE_LOG_ITEM, NULL, "text");
  self->filter = gtk_string_filter_new (expression);
  gtk_string_filter_set_ignore_case (self->filter, TRUE);
  gtk_string_filter_set_match_mode (self->filter, GTK_STRING_FILTER_MATCH_MODE_SUBSTRING);
  self->filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                              GTK_FILTER (self->filter));
  /* A search over ten thousand lines runs a slice per main loop turn. */
  gtk_filter_list_model_set_incremental (self->filtered, TRUE);
  g_signal_connect_swapped (self->filtered, "notify::pending", G_CALLBACK (update_count), self);
  g_signal_connect_swapped (self->filtered, "items-changed", G_CALLBACK (update_count), self);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), NULL);
  gtk_list_view_set_factory (self->list_view, factory);
  g_object_unref (factory);
  selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->filtered)));
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (selection));
  g_object_unref (selection);

  self->vadjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (self->vadjustment, "changed", G_CALLBACK (on_adjustment_changed),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "value-changed", G_CALLBACK (on_value_changed),
                           self, G_CONNECT_SWAPPED);

  set_following (self, TRUE);
  update_open_file (self);
  update_count (self);
}
