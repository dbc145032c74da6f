/* tether-graph.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>

#include <glib/gi18n.h>

#include "tether-graph.h"

#include "tether-enum-types.h"

#define MIN_SPAN            10
#define DEFAULT_SPAN        300
/* A gap wider than this many median intervals means sampling stopped. */
#define GAP_FACTOR          3
/* With a one-line header above it (tether-window.ui), 96 px in all. */
#define NATURAL_HEIGHT      76
#define LINE_WIDTH          1.5
#define COMPACT_LINE_WIDTH  1.25
#define FILL_ALPHA          0.25
#define GRID_ALPHA          0.12
#define MIB                 ((guint64) 1 << 20)
#define TIB                 ((guint64) 1 << 40)

struct _TetherGraph
{
  GtkWidget parent_instance;

  TetherHistory *history;
  gulong changed_handler;
  TetherHistoryField field;
  guint span;

  /* Reused every frame for the median sample interval. */
  GArray *steps;

  char *current_text;
  char *axis_text;

  gint64 a11y_updated_at;
  guint a11y_source;

  guint compact : 1;
  guint a11y_stale : 1;
};

G_DEFINE_FINAL_TYPE (TetherGraph, tether_graph, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_HISTORY,
  PROP_FIELD,
  PROP_SPAN,
  PROP_COMPACT,
  PROP_CURRENT_TEXT,
  PROP_AXIS_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* What one frame (or one accessible summary) shows. */
typedef struct
{
  TetherHistory *history;
  guint first;        /* index of the first sample to trace */
  guint end;          /* one past the newest sample */
  gint64 left;        /* time at the left edge, µs */
  gint64 span_us;
  double current;
  double peak;
  double axis_max;
  guint64 axis_unit;  /* RSS only: bytes per axis label unit */
  gboolean has_data;
} GraphView;

static const char *
field_name (TetherHistoryField field)
{
  return field == TETHER_HISTORY_RSS ? _("Memory") : _("CPU");
}

static char *
format_value (TetherHistoryField field,
              double             value)
{
  if (field == TETHER_HISTORY_RSS)
    return g_format_size_full ((guint64) value, G_FORMAT_SIZE_IEC_UNITS);

  /* Translators: CPU usage; 100 % is one core busy all the time */
  return g_strdup_printf (_("%.1f %%"), value);
}

/* 1, 2 or 5 times a power of ten, at least value and at least 1. */
static double
nice_ceil (double value)
{
  double p = 1.0;

  if (!(value > 1.0))
    return 1.0;

  while (p * 10.0 < value)
    p *= 10.0;

  if (value <= 2.0 * p)
    return 2.0 * p;
  if (value <= 5.0 * p)
    return 5.0 * p;
  return 10.0 * p;
}

static void
compute_axis (TetherHistoryField  field,
              double              peak,
              double             *axis_max,
              guint64            *axis_unit)
{
  if (field == TETHER_HISTORY_RSS)
    {
      guint64 unit = MIB;
      double n = nice_ceil (peak / unit);

      /* "1 GiB" reads better than "1000 MiB". */
      while (n > 512.0 && unit < TIB)
        {
          unit *= 1024;
          n = nice_ceil (peak / unit);
        }

      *axis_max = n * unit;
      *axis_unit = unit;
    }
  else
    {
      double hundreds;

      /* A core busy all the time reads a little over 100 % now and then,
       * as ticks are never exactly one interval apart; 1 % of slack keeps
       * the axis from jumping to 200 % for that. Whatever pokes above the
       * axis is drawn at the top. */
      if (!(peak > 0.0))
        hundreds = 1.0;
      else if (peak > 1e6)
        hundreds = 1e4;
      else
        {
          hundreds = (double) (guint) (peak / 101.0);
          if (hundreds * 101.0 < peak)
            hundreds += 1.0;
        }

      *axis_max = 100.0 * MAX (hundreds, 1.0);
      *axis_unit = 0;
    }
}

static char *
format_axis_max (const GraphView    *view,
                 TetherHistoryField  field)
{
  g_autofree char *unit = NULL;

  if (field != TETHER_HISTORY_RSS)
    /* Translators: the top of the CPU axis, e.g. "200 %" */
    return g_strdup_printf (_("%.0f %%"), view->axis_max);

  /* g_format_size() would say "200.0 MiB"; an axis wants "200 MiB". */
  unit = g_format_size_full ((guint64) view->axis_max,
                             G_FORMAT_SIZE_IEC_UNITS | G_FORMAT_SIZE_ONLY_UNIT);
  return g_strdup_printf ("%.0f %s", view->axis_max / view->axis_unit, unit);
}

static void
compute_view (TetherGraph *self,
              GraphView   *view)
{
  const TetherSample *last = NULL;

  *view = (GraphView) { 0 };
  view->history = self->history;
  view->span_us = (gint64) self->span * G_USEC_PER_SEC;

  if (self->history != NULL)
    last = tether_history_get_last (self->history);

  if (last != NULL)
    {
      guint lo = 0;
      guint hi = tether_history_get_length (self->history);

      view->end = hi;
      /* Measured from the newest sample, not the clock, so the graph
       * stands still while the backend is stopped. */
      view->left = last->time - view->span_us;

      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;

          if (tether_history_get (self->history, mid)->time < view->left)
            lo = mid + 1;
          else
            hi = mid;
        }

      /* One sample past the left edge lets the line run into the edge
       * instead of starting short of it. */
      view->first = lo > 0 ? lo - 1 : 0;
      view->current = tether_sample_get_value (last, self->field);
      tether_history_get_range (self->history, self->field, view->left,
                                NULL, &view->peak);
      view->has_data = TRUE;
    }

  compute_axis (self->field, view->peak, &view->axis_max, &view->axis_unit);
}

static int
compare_steps (const void *a,
               const void *b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* The longest step between two samples that is still drawn as a line. */
static gint64
compute_max_step (TetherGraph     *self,
                  const GraphView *view)
{
  gint64 median;
  guint n = 0;

  if (view->end - view->first < 3)
    return G_MAXINT64;

  g_array_set_size (self->steps, view->end - view->first - 1);
  for (guint i = view->first + 1; i < view->end; i++)
    {
      gint64 step = tether_history_get (view->history, i)->time
                  - tether_history_get (view->history, i - 1)->time;

      g_array_index (self->steps, gint64, n++) = step;
    }

  qsort (self->steps->data, n, sizeof (gint64), compare_steps);
  median = g_array_index (self->steps, gint64, (n - 1) / 2);

  return median > 0 ? GAP_FACTOR * median : G_MAXINT64;
}

/* Adds one sub-path per run of samples not broken by a gap: the line
 * itself, or (closed) the area between it and the baseline. */
static void
trace_series (cairo_t               *cr,
              const GraphView       *view,
              TetherHistoryField     field,
              gint64                 max_step,
              const graphene_rect_t *plot,
              gboolean               closed)
{
  double bottom = plot->origin.y + plot->size.height;
  double last_x = 0.0;
  gint64 last_time = 0;
  gboolean in_run = FALSE;

  for (guint i = view->first; i < view->end; i++)
    {
      const TetherSample *s = tether_history_get (view->history, i);
      double value = CLAMP (tether_sample_get_value (s, field), 0.0, view->axis_max);
      double x = plot->origin.x
               + (double) (s->time - view->left) / view->span_us * plot->size.width;
      double y = bottom - value / view->axis_max * plot->size.height;

      if (in_run && s->time - last_time > max_step)
        {
          if (closed)
            {
              cairo_line_to (cr, last_x, bottom);
              cairo_close_path (cr);
            }
          in_run = FALSE;
        }

      if (!in_run)
        {
          cairo_move_to (cr, x, closed ? bottom : y);
          in_run = TRUE;
        }

      /* Right after a move_to this is a zero-length segment, which round
       * caps turn into a dot: a lone sample between two gaps still shows. */
      cairo_line_to (cr, x, y);
      last_x = x;
      last_time = s->time;
    }

  if (in_run && closed)
    {
      cairo_line_to (cr, last_x, bottom);
      cairo_close_path (cr);
    }
}

static void
snapshot_series (TetherGraph           *self,
                 GtkSnapshot           *snapshot,
                 const GraphView       *view,
                 const graphene_rect_t *plot,
                 const GdkRGBA         *color)
{
  GdkRGBA fill = *color;
  gint64 max_step;
  cairo_t *cr;

  if (!view->has_data || color->alpha == 0.0)
    return;

  max_step = compute_max_step (self, view);
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0,
                                                       gtk_widget_get_width (GTK_WIDGET (self)),
                                                       gtk_widget_get_height (GTK_WIDGET (self))));

  fill.alpha *= FILL_ALPHA;
  gdk_cairo_set_source_rgba (cr, &fill);
  trace_series (cr, view, self->field, max_step, plot, TRUE);
  cairo_fill (cr);

  gdk_cairo_set_source_rgba (cr, color);
  cairo_set_line_width (cr, self->compact ? COMPACT_LINE_WIDTH : LINE_WIDTH);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  trace_series (cr, view, self->field, max_step, plot, FALSE);
  cairo_stroke (cr);

  cairo_destroy (cr);
}

/* Faint lines at the top of the axis, half way and zero. */
static void
snapshot_grid (GtkSnapshot           *snapshot,
               const graphene_rect_t *plot,
               const GdkRGBA         *color)
{
  GdkRGBA c = *color;

  c.alpha *= GRID_ALPHA;

  for (guint i = 0; i <= 2; i++)
    {
      /* Whole pixels keep the lines crisp. */
      int y = (int) (plot->origin.y + plot->size.height * i / 2.0);

      gtk_snapshot_append_color (snapshot, &c,
                                 &GRAPHENE_RECT_INIT (plot->origin.x, y,
                                                      plot->size.width, 1));
    }
}

static void
get_colors (TetherGraph *self,
            GdkRGBA     *line,
            GdkRGBA     *text)
{
  GtkWidget *parent = gtk_widget_get_parent (GTK_WIDGET (self));

  /* Our own CSS color is the line, so the app's stylesheet can tint it
   * per field; the grid keeps the surroundings' foreground. */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), line);
  if (parent != NULL)
    gtk_style_context_get_color (gtk_widget_get_style_context (parent), text);
  else
    *text = *line;
}

static void
tether_graph_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  TetherGraph *self = TETHER_GRAPH (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GdkRGBA line_color;
  GdkRGBA grid_color;
  graphene_rect_t plot;
  GraphView view;

  if (width <= 0 || height <= 0)
    return;

  get_colors (self, &line_color, &grid_color);
  compute_view (self, &view);

  if (self->compact)
    {
      /* Inset so a line at zero or at the top is not cut in half. */
      plot = GRAPHENE_RECT_INIT (0, COMPACT_LINE_WIDTH,
                                 width, MAX (0, height - 2 * COMPACT_LINE_WIDTH));
    }
  else
    {
      /* One pixel below for the grid line at zero. */
      plot = GRAPHENE_RECT_INIT (0, 0, width, MAX (0, height - 1));
      snapshot_grid (snapshot, &plot, &grid_color);
    }

  snapshot_series (self, snapshot, &view, &plot, &line_color);
}

static void
tether_graph_measure (GtkWidget      *widget,
                      GtkOrientation  orientation,
                      int             for_size,
                      int            *minimum,
                      int            *natural,
                      int            *minimum_baseline,
                      int            *natural_baseline)
{
  TetherGraph *self = TETHER_GRAPH (widget);

  if (self->compact)
    {
      if (orientation == GTK_ORIENTATION_HORIZONTAL)
        {
          *minimum = 24;
          *natural = 80;
        }
      else
        {
          *minimum = 12;
          *natural = 24;
        }
    }
  else
    {
      if (orientation == GTK_ORIENTATION_HORIZONTAL)
        {
          *minimum = 64;
          *natural = 240;
        }
      else
        {
          *minimum = 32;
          *natural = NATURAL_HEIGHT;
        }
    }
}

static char *
format_span (guint seconds)
{
  if (seconds % 3600 == 0)
    return g_strdup_printf (ngettext ("%u hour", "%u hours", seconds / 3600),
                            seconds / 3600);
  if (seconds % 60 == 0)
    return g_strdup_printf (ngettext ("%u minute", "%u minutes", seconds / 60),
                            seconds / 60);
  return g_strdup_printf (ngettext ("%u second", "%u seconds", seconds), seconds);
}

static void
update_accessible (TetherGraph *self)
{
  const char *name = field_name (self->field);
  g_autofree char *description = NULL;
  GraphView view;

  compute_view (self, &view);

  if (view.has_data)
    {
      g_autofree char *current = format_value (self->field, view.current);
      g_autofree char *peak = format_value (self->field, view.peak);
      g_autofree char *span = format_span (self->span);

      /* Translators: "CPU 12.3 %, peak 80.1 % over 5 minutes" */
      description = g_strdup_printf (_("%s %s, peak %s over %s"),
                                     name, current, peak, span);
    }
  else
    {
      /* Translators: a graph with nothing to show yet, e.g. "CPU: no data" */
      description = g_strdup_printf (_("%s: no data"), name);
    }

  /* The label is the app's to set (a graph's name depends on where it
   * sits), so only the description is ours. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description,
                                  -1);

  self->a11y_updated_at = g_get_monotonic_time ();
  self->a11y_stale = FALSE;
}

static gboolean
on_a11y_timeout (gpointer user_data)
{
  TetherGraph *self = user_data;

  self->a11y_source = 0;
  update_accessible (self);

  return G_SOURCE_REMOVE;
}

/* A screen reader gains nothing from more than one summary a second, and
 * an unmapped graph (a collapsed row, another page) needs none until it
 * is shown again. */
static void
queue_accessible_update (TetherGraph *self)
{
  gint64 since;

  if (self->a11y_source != 0)
    return;

  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      self->a11y_stale = TRUE;
      return;
    }

  since = g_get_monotonic_time () - self->a11y_updated_at;
  if (since >= G_USEC_PER_SEC)
    update_accessible (self);
  else
    self->a11y_source = g_timeout_add ((G_USEC_PER_SEC - since) / 1000 + 1,
                                       on_a11y_timeout, self);
}

static void
set_text (TetherGraph  *self,
          char        **field,
          char         *text,
          guint         prop)
{
  if (g_strcmp0 (*field, text) == 0)
    {
      g_free (text);
      return;
    }
  g_free (*field);
  *field = text;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/* The texts of a header above the graph; empty without data (the axis
 * would only state the minimum scale). */
static void
update_texts (TetherGraph *self)
{
  GraphView view;

  compute_view (self, &view);
  set_text (self, &self->current_text,
            view.has_data ? format_value (self->field, view.current) : g_strdup (""),
            PROP_CURRENT_TEXT);
  set_text (self, &self->axis_text,
            view.has_data ? format_axis_max (&view, self->field) : g_strdup (""),
            PROP_AXIS_TEXT);
}

static void
on_history_changed (TetherGraph *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_texts (self);
  queue_accessible_update (self);
}

static void
tether_graph_map (GtkWidget *widget)
{
  TetherGraph *self = TETHER_GRAPH (widget);

  GTK_WIDGET_CLASS (tether_graph_parent_class)->map (widget);

  if (self->a11y_stale)
    queue_accessible_update (self);
}

static void
tether_graph_unmap (GtkWidget *widget)
{
  TetherGraph *self = TETHER_GRAPH (widget);

  if (self->a11y_source != 0)
    {
      g_clear_handle_id (&self->a11y_source, g_source_remove);
      self->a11y_stale = TRUE;
    }

  GTK_WIDGET_CLASS (tether_graph_parent_class)->unmap (widget);
}

/* The field and compactness are for life (the template sets them), and
 * so are the style classes that follow from them. */
static void
tether_graph_constructed (GObject *object)
{
  TetherGraph *self = TETHER_GRAPH (object);

  G_OBJECT_CLASS (tether_graph_parent_class)->constructed (object);

  gtk_widget_add_css_class (GTK_WIDGET (self), self->field == TETHER_HISTORY_RSS ? "memory" : "cpu");
  if (self->compact)
    gtk_widget_add_css_class (GTK_WIDGET (self), "compact");
}

static void
tether_graph_dispose (GObject *object)
{
  TetherGraph *self = TETHER_GRAPH (object);

  g_clear_handle_id (&self->a11y_source, g_source_remove);
  if (self->history != NULL)
    {
      g_clear_signal_handler (&self->changed_handler, self->history);
      g_clear_object (&self->history);
    }

  G_OBJECT_CLASS (tether_graph_parent_class)->dispose (object);
}

static void
tether_graph_finalize (GObject *object)
{
  TetherGraph *self = TETHER_GRAPH (object);

  g_free (self->current_text);
  g_free (self->axis_text);
  g_array_unref (self->steps);

  G_OBJECT_CLASS (tether_graph_parent_class)->finalize (object);
}

static void
tether_graph_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TetherGraph *self = TETHER_GRAPH (object);

  switch (prop_id)
    {
    case PROP_HISTORY:
      g_value_set_object (value, self->history);
      break;

    case PROP_FIELD:
      g_value_set_enum (value, self->field);
      break;

    case PROP_SPAN:
      g_value_set_uint (value, self->span);
      break;

    case PROP_COMPACT:
      g_value_set_boolean (value, self->compact);
      break;

    case PROP_CURRENT_TEXT:
      g_value_set_string (value, self->current_text);
      break;

    case PROP_AXIS_TEXT:
      g_value_set_string (value, self->axis_text);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_graph_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  TetherGraph *self = TETHER_GRAPH (object);

  switch (prop_id)
    {
    case PROP_HISTORY:
      tether_graph_set_history (self, g_value_get_object (value));
      break;

    case PROP_FIELD:
      self->field = g_value_get_enum (value);
      break;

    case PROP_SPAN:
      if (self->span != g_value_get_uint (value))
        {
          self->span = g_value_get_uint (value);
          on_history_changed (self);
          g_object_notify_by_pspec (object, pspec);
        }
      break;

    case PROP_COMPACT:
      self->compact = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_graph_class_init (TetherGraphClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = tether_graph_constructed;
  object_class->dispose = tether_graph_dispose;
  object_class->finalize = tether_graph_finalize;
  object_class->get_property = tether_graph_get_property;
  object_class->set_property = tether_graph_set_property;

  widget_class->snapshot = tether_graph_snapshot;
  widget_class->measure = tether_graph_measure;
  widget_class->map = tether_graph_map;
  widget_class->unmap = tether_graph_unmap;

  properties[PROP_HISTORY] =
    g_param_spec_object ("history", NULL, NULL,
                         TETHER_TYPE_HISTORY,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_FIELD] =
    g_param_spec_enum ("field", NULL, NULL, TETHER_TYPE_HISTORY_FIELD, TETHER_HISTORY_CPU,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SPAN] =
    g_param_spec_uint ("span", NULL, NULL,
                       MIN_SPAN, G_MAXUINT, DEFAULT_SPAN,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_COMPACT] =
    g_param_spec_boolean ("compact", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /* The newest value, e.g. "12.3 %" or "56.0 MiB"; "" without data. */
  properties[PROP_CURRENT_TEXT] =
    g_param_spec_string ("current-text", NULL, NULL,
                         "",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* The top of the y axis, e.g. "200 %" or "100 MiB"; "" without data. */
  properties[PROP_AXIS_TEXT] =
    g_param_spec_string ("axis-text", NULL, NULL,
                         "",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "tethergraph");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
tether_graph_init (TetherGraph *self)
{
  self->field = TETHER_HISTORY_CPU;
  self->span = DEFAULT_SPAN;
  self->steps = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->current_text = g_strdup ("");
  self->axis_text = g_strdup ("");
  self->a11y_stale = TRUE;
}

void
tether_graph_set_history (TetherGraph   *self,
                          TetherHistory *history)
{
  g_return_if_fail (TETHER_IS_GRAPH (self));
  g_return_if_fail (history == NULL || TETHER_IS_HISTORY (history));

  if (self->history == history)
    return;

  if (self->history != NULL)
    g_clear_signal_handler (&self->changed_handler, self->history);

  g_set_object (&self->history, history);

  if (history != NULL)
    self->changed_handler = g_signal_connect_object (history, "changed",
                                                     G_CALLBACK (on_history_changed),
                                                     self, G_CONNECT_SWAPPED);

  on_history_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HISTORY]);
}
