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
/* With a one-line header above it (tether-window.ui), about 110 px in
 * all: a plot of 60 px between the y ticks and the time axis. */
#define NATURAL_HEIGHT      92
#define MIN_HEIGHT          56
#define LINE_WIDTH          1.5
#define COMPACT_LINE_WIDTH  1.25
#define COMPACT_PLOT_WIDTH  80
#define FILL_ALPHA          0.25
#define GRID_ALPHA          0.12
#define TIME_GRID_ALPHA     0.07
/* Small text needs more than dim-label's 0.55 to stay readable. */
#define LABEL_ALPHA         0.75
#define CURSOR_ALPHA        0.6
#define LABEL_GAP           4
#define CURSOR_DOT          3.0
/* Live means the newest sample is younger than GAP_FACTOR intervals (the
 * median of the last RECENT_STEPS), at least MIN_STALE_USEC; with one
 * sample the interval is unknown: the sampler's slowest is 10 s. */
#define RECENT_STEPS        15
#define MIN_STALE_USEC      (2 * G_USEC_PER_SEC)
#define UNKNOWN_STALE_USEC  (12 * G_USEC_PER_SEC)
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
  char *readout_text;

  /* µs before the newest sample; -1: no cursor. */
  gint64 cursor;
  /* Where the last frame put the plot, for the pointer. */
  graphene_rect_t plot;

  gint64 a11y_updated_at;
  guint a11y_source;
  guint stale_source;

  guint compact : 1;
  guint a11y_stale : 1;
  guint live : 1;
  guint cursor_from_pointer : 1;
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
  PROP_LIVE,
  PROP_READOUT_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* What one frame (or one accessible summary) shows. */
typedef struct
{
  TetherHistory *history;
  guint first;        /* index of the first sample to trace */
  guint visible;      /* index of the first sample inside the span */
  guint end;          /* one past the newest sample */
  gint64 last;        /* time of the newest sample, µs */
  gint64 left;        /* time at the left edge, µs */
  gint64 span_us;
  double current;
  double peak;
  double axis_max;
  gboolean has_data;
  gboolean live;
} GraphView;

static void update_accessible (TetherGraph *self);

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

/* ---- axes ----------------------------------------------------------------- */

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

double
tether_graph_axis_max (TetherHistoryField field,
                       double             peak)
{
  /* Halves of these are still short labels: 0.25 %, 12.5 %. */
  static const double cpu_steps[] = { 0.5, 1, 2, 5, 10, 25, 50, 100 };
  double hundreds;

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

      return n * unit;
    }

  /* A core busy all the time reads a little over 100 % now and then, as
   * ticks are never exactly one interval apart; 1 % of slack keeps the
   * axis from jumping to 200 % for that (and 0.5 % to 1 % for 0.502 %).
   * Whatever pokes above the axis is drawn at the top. */
  if (!(peak > 0.0))
    return cpu_steps[0];

  for (guint i = 0; i < G_N_ELEMENTS (cpu_steps); i++)
    if (peak <= cpu_steps[i] * 1.01)
      return cpu_steps[i];

  if (peak > 1e6)
    return 1e6;

  hundreds = (double) (guint) (peak / 101.0);
  if (hundreds * 101.0 < peak)
    hundreds += 1.0;

  return 100.0 * hundreds;
}

/* value with at most two decimals and no trailing zeros: "0.25", "12.5",
 * "200", in the locale's own decimal separator. */
static char *
format_number (double value)
{
  char *text = g_strdup_printf ("%.2f", value);
  char *end = text + strlen (text);

  while (end > text && end[-1] == '0')
    end--;
  if (end > text && !g_ascii_isdigit (end[-1]))
    end = g_utf8_find_prev_char (text, end);
  *end = '\0';

  return text;
}

/* Bytes per unit of a memory axis: MiB, or GiB, TiB from there on. */
static guint64
memory_axis_unit (double axis_max)
{
  guint64 unit = MIB;

  while (unit < TIB && axis_max >= unit * 1024.0)
    unit *= 1024;

  return unit;
}

char *
tether_graph_format_tick (TetherHistoryField field,
                          double             value,
                          double             axis_max)
{
  g_autofree char *number = NULL;

  if (value == 0.0)
    return g_strdup ("0");

  if (field == TETHER_HISTORY_RSS)
    {
      guint64 unit = memory_axis_unit (axis_max);
      /* g_format_size() would say "200.0 MiB"; an axis wants "200 MiB". */
      g_autofree char *unit_name = g_format_size_full (unit, G_FORMAT_SIZE_IEC_UNITS |
                                                             G_FORMAT_SIZE_ONLY_UNIT);

      number = format_number (value / unit);
      /* Translators: a tick on the memory axis, e.g. "2.5 MiB" */
      return g_strdup_printf (C_("memory tick", "%s %s"), number, unit_name);
    }

  number = format_number (value);
  /* Translators: a tick on the CPU axis, e.g. "0.25 %" */
  return g_strdup_printf (_("%s %%"), number);
}

char *
tether_graph_format_duration (gint64 usec)
{
  guint64 seconds = (guint64) (MAX (usec, 0) + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC;
  guint hours = seconds / 3600;
  guint minutes = seconds % 3600 / 60;
  guint secs = seconds % 60;

  /* The two largest units: "1 h 5 min", "2 min 10 s", "45 s". */
  if (hours > 0 && minutes > 0)
    /* Translators: a duration in hours and minutes */
    return g_strdup_printf (_("%u h %u min"), hours, minutes);
  if (hours > 0)
    /* Translators: a duration in hours */
    return g_strdup_printf (_("%u h"), hours);
  if (minutes > 0 && secs > 0)
    /* Translators: a duration in minutes and seconds */
    return g_strdup_printf (_("%u min %u s"), minutes, secs);
  if (minutes > 0)
    /* Translators: a duration in minutes */
    return g_strdup_printf (_("%u min"), minutes);
  /* Translators: a duration in seconds */
  return g_strdup_printf (_("%u s"), secs);
}

static gboolean
rounds_to_now (gint64 usec)
{
  return usec < G_USEC_PER_SEC / 2;
}

char *
tether_graph_format_ago (gint64 usec)
{
  g_autofree char *duration = NULL;

  if (rounds_to_now (usec))
    /* Translators: the right end of a graph's time axis */
    return g_strdup (_("now"));

  duration = tether_graph_format_duration (usec);
  /* Translators: the left end of a graph's time axis, e.g. "5 min ago" */
  return g_strdup_printf (_("%s ago"), duration);
}

char *
tether_graph_format_offset (gint64 usec)
{
  g_autofree char *duration = NULL;

  if (rounds_to_now (usec))
    return g_strdup (_("now"));

  duration = tether_graph_format_duration (usec);
  /* Translators: a time before the newest sample, e.g. "−2 min 10 s"
   * (with a minus sign, U+2212) */
  return g_strdup_printf (_("−%s"), duration);
}

/* A faint line every step seconds back from the right edge: at most six. */
static guint
time_grid_step (guint span)
{
  static const guint steps[] = { 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
                                 3600, 7200, 10800, 21600, 43200, 86400 };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (span / steps[i] <= 6)
      return steps[i];

  return span / 6;
}

/* ---- the view ----------------------------------------------------------- */

static int
compare_steps (const void *a,
               const void *b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* How long after the newest sample the history counts as stopped. */
static gint64
stale_after (TetherHistory *history)
{
  guint length = tether_history_get_length (history);
  gint64 steps[RECENT_STEPS];
  gint64 median;
  guint n;

  if (length < 2)
    return UNKNOWN_STALE_USEC;

  n = MIN (length - 1, RECENT_STEPS);
  for (guint i = 0; i < n; i++)
    steps[i] = tether_history_get (history, length - 1 - i)->time
             - tether_history_get (history, length - 2 - i)->time;

  qsort (steps, n, sizeof (gint64), compare_steps);
  median = steps[(n - 1) / 2];

  return MAX (GAP_FACTOR * median, MIN_STALE_USEC);
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
      view->last = last->time;
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
      view->visible = MIN (lo, view->end - 1);
      view->first = lo > 0 ? lo - 1 : 0;
      view->current = tether_sample_get_value (last, self->field);
      tether_history_get_range (self->history, self->field, view->left,
                                NULL, &view->peak);
      view->has_data = TRUE;
      view->live = self->live;
    }

  view->axis_max = tether_graph_axis_max (self->field, view->peak);
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

/* The sample inside the span nearest to time. */
static guint
find_nearest (const GraphView *view,
              gint64           time)
{
  guint lo = view->visible;
  guint hi = view->end;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (tether_history_get (view->history, mid)->time < time)
        lo = mid + 1;
      else
        hi = mid;
    }

  if (lo >= view->end)
    return view->end - 1;
  if (lo > view->visible &&
      time - tether_history_get (view->history, lo - 1)->time <
      tether_history_get (view->history, lo)->time - time)
    return lo - 1;
  return lo;
}

/* "−2 min 10 s: 12.3 %" for the sample nearest to offset µs before the
 * newest; NULL without data. */
static char *
format_readout (TetherGraph     *self,
                const GraphView *view,
                gint64           offset,
                guint           *index)
{
  const TetherSample *sample;
  g_autofree char *when = NULL;
  g_autofree char *value = NULL;
  gint64 max_step;
  guint i;

  if (!view->has_data || offset < 0)
    return NULL;

  offset = MIN (offset, view->span_us);
  i = find_nearest (view, view->last - offset);
  sample = tether_history_get (view->history, i);
  if (index != NULL)
    *index = i;

  if (rounds_to_now (view->last - sample->time) && !view->live)
    /* Translators: the newest sample of a graph once sampling stopped */
    when = g_strdup (_("last sample"));
  else
    when = tether_graph_format_offset (view->last - sample->time);

  /* Between two runs of samples (sampling stopped, then started again)
   * there is nothing to read. */
  max_step = compute_max_step (self, view);
  if (ABS (sample->time - (view->last - offset)) > max_step / 2)
    /* Translators: the graph's read-out where no samples were taken */
    value = g_strdup (_("no data"));
  else
    value = format_value (self->field, tether_sample_get_value (sample, self->field));

  /* Translators: the graph's read-out, e.g. "−2 min 10 s: 12.3 %" */
  return g_strdup_printf (_("%s: %s"), when, value);
}

/* ---- drawing -------------------------------------------------------------- */

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
  /* Values above the axis are drawn at the top, not over the labels. */
  cairo_rectangle (cr, plot->origin.x, plot->origin.y - LINE_WIDTH,
                   plot->size.width, plot->size.height + 2 * LINE_WIDTH);
  cairo_clip (cr);

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

/* Small text with digits of one width, so labels do not jitter. */
static PangoLayout *
create_label_layout (TetherGraph *self)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
  PangoAttrList *attrs = pango_attr_list_new ();

  pango_attr_list_insert (attrs, pango_attr_scale_new (PANGO_SCALE_SMALL));
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum"));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);

  return layout;
}

static void
measure_text (PangoLayout *layout,
              const char  *text,
              int         *width,
              int         *height)
{
  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, width, height);
}

static void
snapshot_text (GtkSnapshot   *snapshot,
               PangoLayout   *layout,
               const char    *text,
               double         x,
               double         y,
               const GdkRGBA *color)
{
  pango_layout_set_text (layout, text, -1);
  gtk_snapshot_save (snapshot);
  /* Whole pixels keep the text crisp. */
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT ((int) (x + 0.5), (int) (y + 0.5)));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
get_colors (TetherGraph *self,
            GdkRGBA     *line,
            GdkRGBA     *text)
{
  GtkWidget *parent = gtk_widget_get_parent (GTK_WIDGET (self));

  /* Our own CSS color is the line, so the app's stylesheet can tint it
   * per field; the grid and labels keep the surroundings' foreground. */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), line);
  if (parent != NULL)
    gtk_style_context_get_color (gtk_widget_get_style_context (parent), text);
  else
    *text = *line;
}

static void
snapshot_cursor (TetherGraph           *self,
                 GtkSnapshot           *snapshot,
                 PangoLayout           *layout,
                 const GraphView       *view,
                 const graphene_rect_t *plot,
                 const GdkRGBA         *line_color,
                 const GdkRGBA         *text_color)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  const TetherSample *sample;
  g_autofree char *text = NULL;
  GdkRGBA line = *text_color;
  GdkRGBA border = *text_color;
  GdkRGBA background;
  GskRoundedRect box;
  double x, y, value;
  int text_w, text_h;
  guint index = 0;

  text = format_readout (self, view, self->cursor, &index);
  if (text == NULL)
    return;

  sample = tether_history_get (view->history, index);
  x = plot->origin.x + (double) (sample->time - view->left) / view->span_us * plot->size.width;
  x = CLAMP (x, plot->origin.x, plot->origin.x + plot->size.width - 1);
  value = CLAMP (tether_sample_get_value (sample, self->field), 0.0, view->axis_max);
  y = plot->origin.y + plot->size.height - value / view->axis_max * plot->size.height;

  line.alpha *= CURSOR_ALPHA;
  gtk_snapshot_append_color (snapshot, &line,
                             &GRAPHENE_RECT_INIT ((int) x, plot->origin.y, 1, plot->size.height));

  gsk_rounded_rect_init_from_rect (&box,
                                   &GRAPHENE_RECT_INIT (x - CURSOR_DOT, y - CURSOR_DOT,
                                                        2 * CURSOR_DOT, 2 * CURSOR_DOT),
                                   CURSOR_DOT);
  gtk_snapshot_push_rounded_clip (snapshot, &box);
  gtk_snapshot_append_color (snapshot, line_color, &box.bounds);
  gtk_snapshot_pop (snapshot);

  /* The read-out beside the line, on whichever side it fits, over the
   * window's background so the series under it does not show through. */
  measure_text (layout, text, &text_w, &text_h);
  {
    double w = text_w + 2 * LABEL_GAP;
    double h = text_h + 2;
    double bx = x + LABEL_GAP;

    if (bx + w > plot->origin.x + plot->size.width)
      bx = MAX (plot->origin.x, x - LABEL_GAP - w);

    if (!gtk_style_context_lookup_color (context, "window_bg_color", &background))
      background = (GdkRGBA) { 1 - text_color->red, 1 - text_color->green, 1 - text_color->blue, 1 };
    background.alpha = 0.9;
    border.alpha *= GRID_ALPHA * 2;

    gsk_rounded_rect_init_from_rect (&box, &GRAPHENE_RECT_INIT (bx, plot->origin.y + 1, w, h), 4);
    gtk_snapshot_push_rounded_clip (snapshot, &box);
    gtk_snapshot_append_color (snapshot, &background, &box.bounds);
    gtk_snapshot_pop (snapshot);
    gtk_snapshot_append_border (snapshot, &box,
                                (float[4]) { 1, 1, 1, 1 },
                                (GdkRGBA[4]) { border, border, border, border });
    snapshot_text (snapshot, layout, text, bx + LABEL_GAP, plot->origin.y + 2, text_color);
  }
}

/* Ticks at zero, half way and the top of the axis; the time from the span
 * ago to now along the bottom, a faint line every minute or so. */
static void
snapshot_full (TetherGraph     *self,
               GtkSnapshot     *snapshot,
               const GraphView *view,
               const GdkRGBA   *line_color,
               const GdkRGBA   *text_color)
{
  g_autoptr(PangoLayout) layout = create_label_layout (self);
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  char *ticks[3];
  int tick_w[3];
  int text_h = 0;
  int gutter = 0;
  GdkRGBA grid = *text_color;
  GdkRGBA label = *text_color;
  graphene_rect_t plot;

  grid.alpha *= GRID_ALPHA;
  label.alpha *= LABEL_ALPHA;

  for (guint i = 0; i < 3; i++)
    {
      ticks[i] = tether_graph_format_tick (self->field, view->axis_max * i / 2, view->axis_max);
      measure_text (layout, ticks[i], &tick_w[i], &text_h);
      gutter = MAX (gutter, tick_w[i] + LABEL_GAP);
    }

  /* Half a line above for the top tick's label, one line below for the
   * time axis, one pixel for the grid line at zero. */
  plot = GRAPHENE_RECT_INIT (gutter, text_h / 2,
                             MAX (0, width - gutter),
                             MAX (0, height - text_h / 2 - text_h - 2 - 1));
  if (plot.size.width < 32 || plot.size.height < 8)
    {
      /* Too small for words: the plot alone. */
      plot = GRAPHENE_RECT_INIT (0, 0, width, MAX (0, height - 1));
      gutter = -1;
    }
  self->plot = plot;

  for (guint i = 0; i <= 2; i++)
    {
      /* Whole pixels keep the lines crisp. */
      int y = (int) (plot.origin.y + plot.size.height * (2 - i) / 2.0);

      gtk_snapshot_append_color (snapshot, &grid,
                                 &GRAPHENE_RECT_INIT (plot.origin.x, y, plot.size.width, 1));
      if (gutter > 0)
        snapshot_text (snapshot, layout, ticks[i],
                       gutter - LABEL_GAP - tick_w[i], y - text_h / 2, &label);
    }

  if (gutter > 0)
    {
      guint step = time_grid_step (self->span);
      GdkRGBA time_grid = *text_color;
      g_autofree char *left_text = NULL;
      const char *right_text;
      int left_w, right_w, h;
      double baseline_y = plot.origin.y + plot.size.height + 2;

      time_grid.alpha *= TIME_GRID_ALPHA;
      for (guint t = step; t < self->span; t += step)
        {
          int x = (int) (plot.origin.x + plot.size.width * (1.0 - (double) t / self->span));

          gtk_snapshot_append_color (snapshot, &time_grid,
                                     &GRAPHENE_RECT_INIT (x, plot.origin.y, 1, plot.size.height));
        }

      /* Once sampling stopped the right edge is the last sample, not now. */
      if (view->live || !view->has_data)
        {
          left_text = tether_graph_format_ago (view->span_us);
          right_text = _("now");
        }
      else
        {
          left_text = tether_graph_format_offset (view->span_us);
          right_text = _("last sample");
        }

      measure_text (layout, right_text, &right_w, &h);
      measure_text (layout, left_text, &left_w, &h);
      snapshot_text (snapshot, layout, right_text,
                     plot.origin.x + plot.size.width - right_w, baseline_y, &label);
      if (left_w + right_w + 2 * LABEL_GAP <= plot.size.width)
        snapshot_text (snapshot, layout, left_text, plot.origin.x, baseline_y, &label);
    }

  for (guint i = 0; i < 3; i++)
    g_free (ticks[i]);

  snapshot_series (self, snapshot, view, &plot, line_color);
  if (self->cursor >= 0)
    snapshot_cursor (self, snapshot, layout, view, &plot, line_color, text_color);
}

/* "CPU 1.2 %", "CPU —". */
static char *
format_compact_label (TetherGraph     *self,
                      const GraphView *view,
                      double           value)
{
  g_autofree char *text = view->live ? format_value (self->field, value) : g_strdup ("—");

  /* Translators: a sparkline's label, e.g. "CPU 1.2 %" */
  return g_strdup_printf (C_("sparkline", "%s %s"), field_name (self->field), text);
}

/* Wide enough for any value, so the line does not move with the text. */
static int
compact_label_width (TetherGraph *self,
                     PangoLayout *layout)
{
  GraphView wide = { .live = TRUE };
  g_autofree char *text = format_compact_label (self, &wide,
                                                self->field == TETHER_HISTORY_RSS
                                                ? 888.8 * MIB : 888.8);
  int w, h;

  measure_text (layout, text, &w, &h);
  return w + LABEL_GAP;
}

static void
snapshot_compact (TetherGraph     *self,
                  GtkSnapshot     *snapshot,
                  const GraphView *view,
                  const GdkRGBA   *line_color,
                  const GdkRGBA   *text_color)
{
  g_autoptr(PangoLayout) layout = create_label_layout (self);
  g_autofree char *text = format_compact_label (self, view, view->current);
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  int label_w = compact_label_width (self, layout);
  GdkRGBA label = *text_color;
  int w, h;

  label.alpha *= LABEL_ALPHA;
  if (label_w + 24 > width)
    label_w = 0;
  else
    {
      measure_text (layout, text, &w, &h);
      snapshot_text (snapshot, layout, text, 0, (height - h) / 2.0, &label);
    }

  /* Inset so a line at zero or at the top is not cut in half. */
  self->plot = GRAPHENE_RECT_INIT (label_w, COMPACT_LINE_WIDTH,
                                   MAX (0, width - label_w),
                                   MAX (0, height - 2 * COMPACT_LINE_WIDTH));
  snapshot_series (self, snapshot, view, &self->plot, line_color);
}

static void
tether_graph_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  TetherGraph *self = TETHER_GRAPH (widget);
  GdkRGBA line_color;
  GdkRGBA text_color;
  GraphView view;

  if (gtk_widget_get_width (widget) <= 0 || gtk_widget_get_height (widget) <= 0)
    return;

  get_colors (self, &line_color, &text_color);
  compute_view (self, &view);

  if (self->compact)
    snapshot_compact (self, snapshot, &view, &line_color, &text_color);
  else
    snapshot_full (self, snapshot, &view, &line_color, &text_color);
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
  g_autoptr(PangoLayout) layout = create_label_layout (self);

  if (self->compact)
    {
      int w, h;

      measure_text (layout, "0", &w, &h);
      if (orientation == GTK_ORIENTATION_HORIZONTAL)
        {
          int label_w = compact_label_width (self, layout);

          *minimum = 24;
          *natural = label_w + COMPACT_PLOT_WIDTH;
        }
      else
        {
          *minimum = 12;
          *natural = MAX (24, h);
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
          *minimum = MIN_HEIGHT;
          *natural = NATURAL_HEIGHT;
        }
    }
}

/* ---- what is said about it -------------------------------------------------- */

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
      g_autofree char *now = NULL;
      g_autofree char *peak = format_value (self->field, view.peak);
      g_autofree char *span = format_span (self->span);
      g_autofree char *top = tether_graph_format_tick (self->field, view.axis_max, view.axis_max);
      g_autofree char *summary = NULL;
      g_autofree char *readout = format_readout (self, &view, self->cursor, NULL);

      if (view.live)
        {
          g_autofree char *current = format_value (self->field, view.current);

          /* Translators: the newest value, e.g. "CPU 12.3 %" */
          now = g_strdup_printf (C_("a11y", "%s %s"), name, current);
        }
      else
        /* Translators: a graph whose samples stopped, e.g. "CPU not running" */
        now = g_strdup_printf (_("%s not running"), name);

      /* Translators: "CPU 12.3 %, peak 80.1 % over 5 minutes, axis 0 to 100 %" */
      summary = g_strdup_printf (_("%s, peak %s over %s, axis 0 to %s"), now, peak, span, top);

      if (self->field == TETHER_HISTORY_CPU)
        {
          char *with_scale;

          /* Translators: the summary above, then what the CPU axis counts */
          with_scale = g_strdup_printf (_("%s, 100 %% is one core"), summary);
          g_free (summary);
          summary = with_scale;
        }

      if (readout != NULL)
        /* Translators: the summary, then the cursor's read-out,
         * e.g. "…; cursor −2 min 10 s: 12.3 %" */
        description = g_strdup_printf (_("%s; cursor %s"), summary, readout);
      else
        description = g_steal_pointer (&summary);
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

void
tether_graph_set_axis_text (TetherGraph *self,
                            const char  *text)
{
  g_return_if_fail (TETHER_IS_GRAPH (self));

  set_text (self, &self->axis_text, g_strdup (text != NULL ? text : ""), PROP_AXIS_TEXT);
}

/* The header's value: "—" unless samples are coming in. */
static void
update_texts (TetherGraph *self)
{
  GraphView view;

  compute_view (self, &view);
  set_text (self, &self->current_text,
            view.live ? format_value (self->field, view.current) : g_strdup ("—"),
            PROP_CURRENT_TEXT);
  set_text (self, &self->readout_text,
            format_readout (self, &view, self->cursor, NULL) ?: g_strdup (""),
            PROP_READOUT_TEXT);
}

static void refresh (TetherGraph *self);

static gboolean
on_stale_timeout (gpointer user_data)
{
  TetherGraph *self = user_data;

  self->stale_source = 0;
  refresh (self);

  return G_SOURCE_REMOVE;
}

/* Live while the newest sample is fresh; a timer notices when it is not. */
static void
update_live (TetherGraph *self)
{
  const TetherSample *last = self->history != NULL ? tether_history_get_last (self->history) : NULL;
  gboolean live = FALSE;

  g_clear_handle_id (&self->stale_source, g_source_remove);

  if (last != NULL)
    {
      gint64 deadline = last->time + stale_after (self->history);
      gint64 now = g_get_monotonic_time ();

      live = now <= deadline;
      if (live)
        self->stale_source = g_timeout_add ((deadline - now) / 1000 + 1, on_stale_timeout, self);
    }

  if (self->live != live)
    {
      self->live = live;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIVE]);
    }
}

static void
refresh (TetherGraph *self)
{
  update_live (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_texts (self);
  queue_accessible_update (self);
}

/* ---- the cursor --------------------------------------------------------- */

static void
set_cursor (TetherGraph *self,
            gint64       offset,
            gboolean     from_pointer)
{
  offset = offset < 0 ? -1 : offset;
  self->cursor_from_pointer = from_pointer && offset >= 0;
  if (self->cursor == offset)
    return;

  self->cursor = offset;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_texts (self);
  /* A key press deserves an answer at once; a moving pointer one a
   * second. */
  if (from_pointer)
    queue_accessible_update (self);
  else
    update_accessible (self);
}

/* µs before the newest sample at x, or -1 outside the plot. */
static gint64
offset_at (TetherGraph *self,
           double       x)
{
  const graphene_rect_t *plot = &self->plot;

  if (plot->size.width <= 0 || x < plot->origin.x || x > plot->origin.x + plot->size.width)
    return -1;

  return (gint64) ((plot->origin.x + plot->size.width - x) / plot->size.width
                   * self->span * G_USEC_PER_SEC);
}

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           TetherGraph              *self)
{
  gint64 offset = offset_at (self, x);

  if (offset >= 0)
    set_cursor (self, offset, TRUE);
  else if (self->cursor_from_pointer)
    set_cursor (self, -1, TRUE);
}

static void
on_leave (GtkEventControllerMotion *controller,
          TetherGraph              *self)
{
  if (self->cursor_from_pointer)
    set_cursor (self, -1, TRUE);
}

static void
on_focus_leave (GtkEventControllerFocus *controller,
                TetherGraph             *self)
{
  if (!self->cursor_from_pointer)
    set_cursor (self, -1, FALSE);
}

static gboolean
on_query_tooltip (GtkWidget   *widget,
                  int          x,
                  int          y,
                  gboolean     keyboard,
                  GtkTooltip  *tooltip,
                  TetherGraph *self)
{
  g_autofree char *text = NULL;
  GraphView view;

  compute_view (self, &view);
  text = format_readout (self, &view, keyboard ? 0 : offset_at (self, x), NULL);
  if (text == NULL)
    return FALSE;

  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

typedef enum
{
  MOVE_OLDER,
  MOVE_NEWER,
  MOVE_PAGE_OLDER,
  MOVE_PAGE_NEWER,
  MOVE_OLDEST,
  MOVE_NEWEST,
} CursorMove;

/* The keys move the cursor from sample to sample, a tenth of the span at
 * a time, or to either end; the first press shows the newest sample. */
static void
move_cursor (TetherGraph *self,
             CursorMove   move)
{
  GraphView view;
  guint index;

  compute_view (self, &view);
  if (!view.has_data)
    return;

  index = self->cursor >= 0 ? find_nearest (&view, view.last - self->cursor) : view.end - 1;
  if (self->cursor >= 0 || move == MOVE_OLDEST)
    switch (move)
      {
      case MOVE_OLDER:
        index = index > view.visible ? index - 1 : index;
        break;
      case MOVE_NEWER:
        index = MIN (index + 1, view.end - 1);
        break;
      case MOVE_PAGE_OLDER:
      case MOVE_PAGE_NEWER:
        {
          gint64 step = view.span_us / 10 * (move == MOVE_PAGE_OLDER ? -1 : 1);
          gint64 target = tether_history_get (view.history, index)->time + step;

          index = find_nearest (&view, CLAMP (target, view.left, view.last));
        }
        break;
      case MOVE_OLDEST:
        index = view.visible;
        break;
      case MOVE_NEWEST:
        index = view.end - 1;
        break;
      default:
        g_assert_not_reached ();
      }

  set_cursor (self, view.last - tether_history_get (view.history, index)->time, FALSE);
}

static void
cursor_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  static const struct { const char *name; CursorMove move; } moves[] = {
    { "graph.older", MOVE_OLDER },
    { "graph.newer", MOVE_NEWER },
    { "graph.page-older", MOVE_PAGE_OLDER },
    { "graph.page-newer", MOVE_PAGE_NEWER },
    { "graph.oldest", MOVE_OLDEST },
    { "graph.newest", MOVE_NEWEST },
  };

  for (guint i = 0; i < G_N_ELEMENTS (moves); i++)
    if (g_str_equal (action_name, moves[i].name))
      move_cursor (TETHER_GRAPH (widget), moves[i].move);
}

/* Escape hides the cursor, and only then is it ours. */
static gboolean
on_escape (GtkWidget *widget,
           GVariant  *args,
           gpointer   user_data)
{
  TetherGraph *self = TETHER_GRAPH (widget);

  if (self->cursor < 0)
    return FALSE;

  set_cursor (self, -1, FALSE);
  return TRUE;
}

/* ---- the object --------------------------------------------------------- */

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
 * so are what follows from them: style classes, the axis note, and how
 * the read-out is reached (a sparkline is too small to point at samples
 * with the keyboard: it has a tooltip). */
static void
tether_graph_constructed (GObject *object)
{
  TetherGraph *self = TETHER_GRAPH (object);
  GtkWidget *widget = GTK_WIDGET (self);

  G_OBJECT_CLASS (tether_graph_parent_class)->constructed (object);

  gtk_widget_add_css_class (widget, self->field == TETHER_HISTORY_RSS ? "memory" : "cpu");

  if (self->field == TETHER_HISTORY_CPU)
    {
      g_free (self->axis_text);
      /* Translators: what the CPU graph's axis counts */
      self->axis_text = g_strdup (_("100 % = one core"));
    }

  if (self->compact)
    {
      gtk_widget_add_css_class (widget, "compact");
      gtk_widget_set_has_tooltip (widget, TRUE);
      g_signal_connect (widget, "query-tooltip", G_CALLBACK (on_query_tooltip), self);
    }
  else
    {
      GtkEventController *controller = gtk_event_controller_motion_new ();

      g_signal_connect (controller, "enter", G_CALLBACK (on_motion), self);
      g_signal_connect (controller, "motion", G_CALLBACK (on_motion), self);
      g_signal_connect (controller, "leave", G_CALLBACK (on_leave), self);
      gtk_widget_add_controller (widget, controller);

      controller = gtk_event_controller_focus_new ();
      g_signal_connect (controller, "leave", G_CALLBACK (on_focus_leave), self);
      gtk_widget_add_controller (widget, controller);

      gtk_widget_set_focusable (widget, TRUE);
    }

  update_texts (self);
}

static void
tether_graph_dispose (GObject *object)
{
  TetherGraph *self = TETHER_GRAPH (object);

  g_clear_handle_id (&self->a11y_source, g_source_remove);
  g_clear_handle_id (&self->stale_source, g_source_remove);
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
  g_free (self->readout_text);
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

    case PROP_LIVE:
      g_value_set_boolean (value, self->live);
      break;

    case PROP_READOUT_TEXT:
      g_value_set_string (value, self->readout_text);
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
          refresh (self);
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
  static const struct { guint key; GdkModifierType mods; const char *action; } keys[] = {
    { GDK_KEY_Left, 0, "graph.older" },
    { GDK_KEY_KP_Left, 0, "graph.older" },
    { GDK_KEY_Right, 0, "graph.newer" },
    { GDK_KEY_KP_Right, 0, "graph.newer" },
    { GDK_KEY_Page_Up, 0, "graph.page-older" },
    { GDK_KEY_KP_Page_Up, 0, "graph.page-older" },
    { GDK_KEY_Left, GDK_CONTROL_MASK, "graph.page-older" },
    { GDK_KEY_Page_Down, 0, "graph.page-newer" },
    { GDK_KEY_KP_Page_Down, 0, "graph.page-newer" },
    { GDK_KEY_Right, GDK_CONTROL_MASK, "graph.page-newer" },
    { GDK_KEY_Home, 0, "graph.oldest" },
    { GDK_KEY_KP_Home, 0, "graph.oldest" },
    { GDK_KEY_End, 0, "graph.newest" },
    { GDK_KEY_KP_End, 0, "graph.newest" },
  };

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

  /* The newest value, e.g. "12.3 %" or "56.0 MiB"; "—" unless live. */
  properties[PROP_CURRENT_TEXT] =
    g_param_spec_string ("current-text", NULL, NULL,
                         "—",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* What the y axis counts where its ticks cannot say it: "100 % = one
   * core" for CPU; for memory what the window sets (the measure). */
  properties[PROP_AXIS_TEXT] =
    g_param_spec_string ("axis-text", NULL, NULL,
                         "",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* Samples are arriving: the newest is younger than three intervals. */
  properties[PROP_LIVE] =
    g_param_spec_boolean ("live", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* The cursor's read-out, "−2 min 10 s: 12.3 %"; "" without a cursor. */
  properties[PROP_READOUT_TEXT] =
    g_param_spec_string ("readout-text", NULL, NULL,
                         "",
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "graph.older", NULL, cursor_action);
  gtk_widget_class_install_action (widget_class, "graph.newer", NULL, cursor_action);
  gtk_widget_class_install_action (widget_class, "graph.page-older", NULL, cursor_action);
  gtk_widget_class_install_action (widget_class, "graph.page-newer", NULL, cursor_action);
  gtk_widget_class_install_action (widget_class, "graph.oldest", NULL, cursor_action);
  gtk_widget_class_install_action (widget_class, "graph.newest", NULL, cursor_action);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    gtk_widget_class_add_binding_action (widget_class, keys[i].key, keys[i].mods,
                                         keys[i].action, NULL);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Escape, 0, on_escape, NULL);

  gtk_widget_class_set_css_name (widget_class, "tethergraph");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
tether_graph_init (TetherGraph *self)
{
  self->field = TETHER_HISTORY_CPU;
  self->span = DEFAULT_SPAN;
  self->steps = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->current_text = g_strdup ("—");
  self->axis_text = g_strdup ("");
  self->readout_text = g_strdup ("");
  self->cursor = -1;
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
                                                     G_CALLBACK (refresh),
                                                     self, G_CONNECT_SWAPPED);

  /* A cursor on another process's samples would mean nothing. */
  self->cursor = -1;
  refresh (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HISTORY]);
}

gboolean
tether_graph_get_live (TetherGraph *self)
{
  g_return_val_if_fail (TETHER_IS_GRAPH (self), FALSE);

  return self->live;
}

const char *
tether_graph_get_readout_text (TetherGraph *self)
{
  g_return_val_if_fail (TETHER_IS_GRAPH (self), NULL);

  return self->readout_text;
}

void
tether_graph_set_cursor (TetherGraph *self,
                         gint64       offset)
{
  g_return_if_fail (TETHER_IS_GRAPH (self));

  set_cursor (self, offset, FALSE);
}
