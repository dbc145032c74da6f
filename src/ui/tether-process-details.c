/* tether-process-details.c: the diagnosis of one member, kept fresh
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "tether-control.h"
#include "tether-process-details.h"

/* Rows of the thread list shown; the rest are counted. */
#define MAX_THREAD_ROWS 64

struct _TetherProcessDetails
{
  AdwBin parent_instance;

  /* template children */
  GtkLabel *title_label;
  GtkLabel *cmdline_label;
  GtkWidget *warning_box;
  GtkLabel *pid_key;
  GtkLabel *pid_value;
  GtkLabel *state_key;
  GtkLabel *state_value;
  GtkLabel *wchan_key;
  GtkLabel *wchan_value;
  GtkLabel *syscall_key;
  GtkLabel *syscall_value;
  GtkLabel *cpu_key;
  GtkLabel *cpu_value;
  GtkLabel *memory_key;
  GtkLabel *memory_value;
  GtkLabel *cpu_minute_key;
  GtkLabel *cpu_minute_value;
  GtkLabel *memory_minute_key;
  GtkLabel *memory_minute_value;
  GtkLabel *started_key;
  GtkLabel *started_value;
  GtkLabel *files_key;
  GtkLabel *files_value;
  GtkLabel *threads_heading;
  GtkLabel *threads_value;
  GtkLabel *listening_heading;
  GtkLabel *listening_value;
  GtkLabel *stack_heading;
  GtkLabel *stack_value;
  GtkLabel *updated_label;

  TetherSupervisor *supervisor;
  int pid;
  char *name;                 /* what the tree calls it, or NULL */
  GCancellable *reading;      /* a diagnosis in flight, or NULL */
  guint refresh_timer;
};

G_DEFINE_FINAL_TYPE (TetherProcessDetails, tether_process_details, ADW_TYPE_BIN)

/* Only a new text is set: setting the same one would drop what someone
 * has selected in it, every refresh. */
static void
set_text (GtkLabel   *label,
          const char *text)
{
  if (g_strcmp0 (gtk_label_get_label (label), text) != 0)
    gtk_label_set_label (label, text);
}

/* A value, named with its key for assistive technologies ("State: S —
 * sleeping"), as the state pill is: read alone, it says what it is. */
static void
set_value (GtkLabel   *label,
           GtkLabel   *key,
           const char *text)
{
  g_autofree char *name = NULL;

  if (g_strcmp0 (gtk_label_get_label (label), text) == 0)
    return;
  gtk_label_set_label (label, text);
  if (text[0] == '\0')
    {
      gtk_accessible_reset_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LABEL);
      return;
    }
  /* translators: a detail's name and value, "State: S — sleeping" */
  name = g_strdup_printf (_("%s: %s"), gtk_label_get_label (key), text);
  g_strdelimit (name, "\n", ' ');
  gtk_accessible_update_property (GTK_ACCESSIBLE (label), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
}

static const char *
get_string (JsonObject *object,
            const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
         ? json_node_get_string (node) : NULL;
}

/* A number, or -1 when the diagnosis could not read it (null). */
static gint64
get_int (JsonObject *object,
         const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_int (node) : -1;
}

static char *
syscall_text (JsonObject *diagnosis)
{
  JsonNode *node = json_object_get_member (diagnosis, "syscall");
  JsonObject *syscall;
  gint64 number;
  const char *name;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup (_("not readable"));
  syscall = json_node_get_object (node);
  if (json_object_get_boolean_member_with_default (syscall, "running", FALSE))
    return g_strdup (_("none: running on a CPU"));
  number = json_object_get_int_member_with_default (syscall, "number", -1);
  if (number < 0)
    return g_strdup (_("none: blocked outside a system call"));
  name = get_string (syscall, "name");
  /* translators: a system call's name and number, "read (0)" */
  return name != NULL ? g_strdup_printf (_("%s (%" PRId64 ")"), name, (int64_t) number)
                      /* translators: a system call known by its number only */
                      : g_strdup_printf (_("number %" PRId64), (int64_t) number);
}

/* In the tree's units (MiB). */
static char *
format_bytes (gint64 bytes)
{
  return g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
}

/* The sampler's last minute ("last_minute", null before its first
 * sample): "0.4 % on average, 0.0 to 1.2 %" and "18.2 MiB to 18.5 MiB". */
static void
last_minute_texts (JsonObject  *diagnosis,
                   char       **cpu,
                   char       **memory)
{
  JsonNode *node = json_object_get_member (diagnosis, "last_minute");
  JsonObject *minute, *cpu_stats, *rss_stats;
  g_autofree char *rss_min = NULL;
  g_autofree char *rss_max = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node) ||
      !json_object_has_member (minute = json_node_get_object (node), "cpu_percent") ||
      !json_object_has_member (minute, "rss_bytes"))
    {
      *cpu = g_strdup (_("not sampled yet"));
      *memory = g_strdup (_("not sampled yet"));
      return;
    }
  cpu_stats = json_object_get_object_member (minute, "cpu_percent");
  rss_stats = json_object_get_object_member (minute, "rss_bytes");
  /* translators: CPU use over the last minute: the mean, then the lowest and highest */
  *cpu = g_strdup_printf (_("%.1f %% on average, %.1f to %.1f %%"),
                          json_object_get_double_member_with_default (cpu_stats, "mean", 0),
                          json_object_get_double_member_with_default (cpu_stats, "min", 0),
                          json_object_get_double_member_with_default (cpu_stats, "max", 0));
  rss_min = format_bytes (json_object_get_int_member_with_default (rss_stats, "min", 0));
  rss_max = format_bytes (json_object_get_int_member_with_default (rss_stats, "max", 0));
  /* translators: the lowest and highest memory use over the last minute */
  *memory = g_strdup_printf (_("%s to %s"), rss_min, rss_max);
}

static char *
started_text (JsonObject *diagnosis)
{
  const char *iso = get_string (diagnosis, "started");
  g_autoptr(GDateTime) utc = iso != NULL ? g_date_time_new_from_iso8601 (iso, NULL) : NULL;
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_local (utc) : NULL;

  return local != NULL ? g_date_time_format (local, "%Y-%m-%d %H:%M:%S") : g_strdup (_("unknown"));
}

/* "4242 S worker", one thread a line. */
static char *
threads_text (JsonArray *threads)
{
  GString *text = g_string_new (NULL);
  guint n = json_array_get_length (threads);

  for (guint i = 0; i < n && i < MAX_THREAD_ROWS; i++)
    {
      JsonObject *thread = json_array_get_object_element (threads, i);
      const char *state = get_string (thread, "state");
      const char *name = get_string (thread, "name");

      g_string_append_printf (text, "%s%" G_GINT64_FORMAT " %s %s", i > 0 ? "\n" : "",
                              get_int (thread, "tid"), state != NULL ? state : "?",
                              name != NULL ? name : "");
    }
  if (n > MAX_THREAD_ROWS)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, ngettext ("… and %u more", "… and %u more", n - MAX_THREAD_ROWS),
                              n - MAX_THREAD_ROWS);
    }
  return g_string_free (text, FALSE);
}

/* "tcp 127.0.0.1:8765", "unix /run/app.sock", one socket a line. */
static char *
listening_text (JsonNode *node)
{
  GString *text;
  JsonArray *listening;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return g_strdup (_("not readable"));
  listening = json_node_get_array (node);
  if (json_array_get_length (listening) == 0)
    return g_strdup (_("nothing"));
  text = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (listening); i++)
    {
      JsonObject *entry = json_array_get_object_element (listening, i);
      const char *proto = get_string (entry, "proto");
      const char *address = get_string (entry, "address");

      g_string_append_printf (text, "%s%s %s", i > 0 ? "\n" : "", proto != NULL ? proto : "?",
                              address != NULL ? address : _("(unnamed)"));
    }
  return g_string_free (text, FALSE);
}

static char *
stack_text (JsonNode *node)
{
  GString *text;
  JsonArray *stack;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  stack = json_node_get_array (node);
  text = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (stack); i++)
    g_string_append_printf (text, "%s%s", i > 0 ? "\n" : "", json_array_get_string_element (stack, i));
  return g_string_free (text, FALSE);
}

static void
clear_values (TetherProcessDetails *self)
{
  GtkLabel *pairs[][2] = {
    { self->pid_value, self->pid_key }, { self->state_value, self->state_key },
    { self->wchan_value, self->wchan_key }, { self->syscall_value, self->syscall_key },
    { self->cpu_value, self->cpu_key }, { self->memory_value, self->memory_key },
    { self->cpu_minute_value, self->cpu_minute_key }, { self->memory_minute_value, self->memory_minute_key },
    { self->started_value, self->started_key }, { self->files_value, self->files_key },
    { self->threads_value, self->threads_heading }, { self->listening_value, self->listening_heading },
    { self->stack_value, self->stack_heading },
  };

  set_text (self->cmdline_label, "");
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    set_value (pairs[i][0], pairs[i][1], "");
  gtk_widget_set_visible (self->warning_box, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->stack_heading), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->stack_value), FALSE);
}

static void
show_diagnosis (TetherProcessDetails *self,
                JsonObject           *diagnosis)
{
  const char *name = get_string (diagnosis, "name");
  const char *cmdline = get_string (diagnosis, "cmdline");
  const char *state = get_string (diagnosis, "state");
  const char *state_label = get_string (diagnosis, "state_label");
  const char *wchan = get_string (diagnosis, "wchan");
  JsonNode *threads = json_object_get_member (diagnosis, "threads");
  gint64 rss = get_int (diagnosis, "rss_bytes");
  gint64 files = get_int (diagnosis, "open_files");
  /* The tree's name for it (what its command line runs), else the kernel's. */
  g_autofree char *title = g_strdup_printf ("%s (%d)", self->name != NULL ? self->name : name != NULL ? name : "?",
                                            self->pid);
  g_autofree char *pid = g_strdup_printf ("%d", self->pid);
  /* translators: a process state's letter, then what it means: "S — sleeping" */
  g_autofree char *state_text = g_strdup_printf (_("%s — %s"), state != NULL ? state : "?",
                                                 state_label != NULL ? state_label : "");
  g_autofree char *syscall = syscall_text (diagnosis);
  /* translators: CPU time in seconds */
  g_autofree char *cpu = g_strdup_printf (_("%.2f s"), json_object_get_double_member_with_default (diagnosis, "cpu_seconds", 0));
  g_autofree char *memory = rss >= 0 ? format_bytes (rss) : g_strdup (_("not readable"));
  g_autofree char *started = started_text (diagnosis);
  g_autofree char *cpu_minute = NULL;
  g_autofree char *memory_minute = NULL;
  g_autofree char *files_text = files >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, files) : g_strdup (_("not readable"));
  g_autofree char *threads_list = NULL;
  g_autofree char *threads_title = NULL;
  g_autofree char *listening = listening_text (json_object_get_member (diagnosis, "listening"));
  g_autofree char *stack = stack_text (json_object_get_member (diagnosis, "stack"));

  if (threads != NULL && JSON_NODE_HOLDS_ARRAY (threads))
    {
      guint n = json_array_get_length (json_node_get_array (threads));

      threads_list = threads_text (json_node_get_array (threads));
      /* translators: the heading of the thread list, with how many there are */
      threads_title = g_strdup_printf (_("Threads (%u)"), n);
    }
  else
    {
      threads_list = g_strdup (_("not readable"));
      threads_title = g_strdup (_("Threads"));
    }

  set_text (self->title_label, title);
  set_text (self->cmdline_label, cmdline != NULL && cmdline[0] != '\0' ? cmdline : _("(no command line: a kernel thread or a zombie)"));
  set_value (self->pid_value, self->pid_key, pid);
  set_value (self->state_value, self->state_key, state_text);
  gtk_widget_set_visible (self->warning_box,
                          json_object_get_boolean_member_with_default (diagnosis, "uninterruptible", FALSE));
  set_value (self->wchan_value, self->wchan_key, wchan != NULL ? wchan : _("not readable"));
  set_value (self->syscall_value, self->syscall_key, syscall);
  set_value (self->cpu_value, self->cpu_key, cpu);
  set_value (self->memory_value, self->memory_key, memory);
  last_minute_texts (diagnosis, &cpu_minute, &memory_minute);
  set_value (self->cpu_minute_value, self->cpu_minute_key, cpu_minute);
  set_value (self->memory_minute_value, self->memory_minute_key, memory_minute);
  set_value (self->started_value, self->started_key, started);
  set_value (self->files_value, self->files_key, files_text);
  set_text (self->threads_heading, threads_title);
  set_value (self->threads_value, self->threads_heading, threads_list);
  set_value (self->listening_value, self->listening_heading, listening);
  /* Root only: without it there is nothing to show, not an error. */
  gtk_widget_set_visible (GTK_WIDGET (self->stack_heading), stack != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->stack_value), stack != NULL);
  set_value (self->stack_value, self->stack_heading, stack != NULL ? stack : "");
}

static void read_diagnosis (TetherProcessDetails *self);

static gboolean
on_refresh_timeout (gpointer user_data)
{
  TetherProcessDetails *self = user_data;

  self->refresh_timer = 0;
  read_diagnosis (self);
  return G_SOURCE_REMOVE;
}

/* The next reading, TETHER_PROCESS_DETAILS_REFRESH_MS after this one came
 * in, and only while there is something shown to refresh. */
static void
schedule_refresh (TetherProcessDetails *self)
{
  if (self->refresh_timer != 0 || self->reading != NULL || self->pid <= 0 ||
      !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;
  self->refresh_timer = g_timeout_add (TETHER_PROCESS_DETAILS_REFRESH_MS, on_refresh_timeout, self);
}

static void
on_diagnosed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(TetherProcessDetails) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = tether_control_diagnose_finish (result, &error);
  JsonObject *diagnosis;
  JsonNode *list;
  JsonArray *processes;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *when = NULL;
  g_autofree char *updated = NULL;

  /* Another process, or none, by now: this reading is not wanted. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->reading);

  /* The control method's reply: {"processes": [the one asked for]}. */
  diagnosis = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  list = diagnosis != NULL ? json_object_get_member (diagnosis, "processes") : NULL;
  processes = list != NULL && JSON_NODE_HOLDS_ARRAY (list) ? json_node_get_array (list) : NULL;
  diagnosis = processes != NULL && json_array_get_length (processes) > 0
              ? json_array_get_object_element (processes, 0) : NULL;
  if (diagnosis == NULL)
    {
      clear_values (self);
      set_text (self->updated_label, error != NULL ? error->message : _("The process is gone"));
      schedule_refresh (self);
      return;
    }
  show_diagnosis (self, diagnosis);
  now = g_date_time_new_now_local ();
  when = g_date_time_format (now, "%H:%M:%S");
  /* translators: %s is a time of day */
  updated = g_strdup_printf (_("Read from /proc at %s, every %u seconds"), when,
                             TETHER_PROCESS_DETAILS_REFRESH_MS / 1000);
  set_text (self->updated_label, updated);
  schedule_refresh (self);
}

static void
read_diagnosis (TetherProcessDetails *self)
{
  if (self->pid <= 0 || self->supervisor == NULL || self->reading != NULL)
    return;
  self->reading = g_cancellable_new ();
  tether_control_diagnose_async (self->supervisor, self->pid, self->reading, on_diagnosed, g_object_ref (self));
}

static void
stop_reading (TetherProcessDetails *self)
{
  g_clear_handle_id (&self->refresh_timer, g_source_remove);
  if (self->reading != NULL)
    g_cancellable_cancel (self->reading);
  g_clear_object (&self->reading);
}

void
tether_process_details_set_process (TetherProcessDetails *self,
                                    TetherSupervisor     *supervisor,
                                    int                   pid,
                                    const char           *name)
{
  g_return_if_fail (TETHER_IS_PROCESS_DETAILS (self));
  g_return_if_fail (supervisor == NULL || TETHER_IS_SUPERVISOR (supervisor));

  if (supervisor == NULL)
    pid = 0;
  if (pid == self->pid && supervisor == self->supervisor)
    return;

  stop_reading (self);
  g_set_object (&self->supervisor, supervisor);
  self->pid = MAX (pid, 0);
  g_free (self->name);
  self->name = self->pid > 0 ? g_strdup (name) : NULL;
  clear_values (self);
  if (self->pid > 0)
    {
      g_autofree char *title = self->name != NULL ? g_strdup_printf ("%s (%d)", self->name, self->pid)
                                                  : g_strdup_printf (_("Process %d"), self->pid);

      set_text (self->title_label, title);
      set_text (self->updated_label, _("Reading /proc…"));
      if (gtk_widget_get_mapped (GTK_WIDGET (self)))
        read_diagnosis (self);
    }
  else
    {
      /* Closed by then: the window says there is no selection. */
      set_text (self->title_label, "");
      set_text (self->updated_label, "");
    }
}

int
tether_process_details_get_pid (TetherProcessDetails *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_DETAILS (self), 0);

  return self->pid;
}

/* Read while it can be seen; hidden, it reads nothing. */
static void
tether_process_details_map (GtkWidget *widget)
{
  TetherProcessDetails *self = TETHER_PROCESS_DETAILS (widget);

  GTK_WIDGET_CLASS (tether_process_details_parent_class)->map (widget);
  read_diagnosis (self);
}

static void
tether_process_details_unmap (GtkWidget *widget)
{
  stop_reading (TETHER_PROCESS_DETAILS (widget));
  GTK_WIDGET_CLASS (tether_process_details_parent_class)->unmap (widget);
}

static void
tether_process_details_dispose (GObject *object)
{
  TetherProcessDetails *self = TETHER_PROCESS_DETAILS (object);

  stop_reading (self);
  g_clear_object (&self->supervisor);
  g_clear_pointer (&self->name, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_PROCESS_DETAILS);

  G_OBJECT_CLASS (tether_process_details_parent_class)->dispose (object);
}

static void
tether_process_details_class_init (TetherProcessDetailsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_process_details_dispose;
  widget_class->map = tether_process_details_map;
  widget_class->unmap = tether_process_details_unmap;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/tether/Tether/tether-process-details.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, title_label);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, cmdline_label);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, warning_box);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, pid_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, state_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, wchan_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, syscall_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, cpu_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, memory_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, started_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, files_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, threads_heading);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, threads_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, listening_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, stack_heading);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, stack_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, pid_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, state_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, wchan_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, syscall_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, cpu_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, memory_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, started_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, files_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, listening_heading);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, cpu_minute_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, cpu_minute_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, memory_minute_key);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, memory_minute_value);
  gtk_widget_class_bind_template_child (widget_class, TetherProcessDetails, updated_label);
}

static void
tether_process_details_init (TetherProcessDetails *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
