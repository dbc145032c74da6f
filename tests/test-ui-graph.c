/* test-ui-graph.c: the graph widget says what it shows
 *
 * The whole-tree CPU and memory graphs and the selected process's
 * sparkline (TetherGraph). What a person reads off them is checked here:
 * the y axis scales to the data in nice steps with units (a 0.2 % server
 * gets a 0.5 % axis, a tree on one and a half cores 200 %), the time axis
 * and the cursor's read-out say when ("5 min ago", "−2 min 10 s: 12.3 %"),
 * the keys move the cursor, the header's value turns to "—" once samples
 * stop, and the accessible description carries the values, the range and
 * the read-out. Runs in a real window (tests/run-with-display.sh: Xvfb)
 * with GTK's test accessibility backend, and renders the graph once with
 * the cursor shown. TETHER_GRAPH_PNG=FILE keeps that picture.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gtk/gtk.h>

#include "tether-graph.h"

#define MIB ((double) (1 << 20))
#define GIB (1024.0 * MIB)
#define SEC ((gint64) G_USEC_PER_SEC)

/* n samples one second apart, the newest at newest (µs, monotonic); cpu
 * and memory from the callers' values. */
static TetherHistory *
make_history (guint   n,
              gint64  newest,
              double  cpu,
              guint64 memory)
{
  TetherHistory *history = tether_history_new (n);

  for (guint i = 0; i < n; i++)
    {
      TetherSample sample = { newest - (gint64) (n - 1 - i) * SEC, cpu + i * 0.001, memory };

      tether_history_push (history, &sample);
    }

  return history;
}

static void
iterate_until (gboolean (*done) (gpointer),
               gpointer   data,
               guint      timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!done (data) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10 * 1000);
}

static void
test_cpu_axis (void)
{
  static const struct { double peak, top; } cases[] = {
    { 0.0, 0.5 }, { 0.2, 0.5 }, { 0.5, 0.5 }, { 0.6, 1 }, { 1.5, 2 }, { 3, 5 },
    { 7, 10 }, { 20, 25 }, { 30, 50 }, { 80, 100 }, { 100.5, 100 }, { 150, 200 },
    { 250, 300 }, { 399, 400 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("peak %g %%", cases[i].peak);
      g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_CPU, cases[i].peak), ==, cases[i].top);
    }

  /* The ticks a 0.2 % server sees: 0, 0.25 %, 0.5 %. */
  {
    g_autofree char *zero = tether_graph_format_tick (TETHER_HISTORY_CPU, 0, 0.5);
    g_autofree char *half = tether_graph_format_tick (TETHER_HISTORY_CPU, 0.25, 0.5);
    g_autofree char *top = tether_graph_format_tick (TETHER_HISTORY_CPU, 0.5, 0.5);
    g_autofree char *mid25 = tether_graph_format_tick (TETHER_HISTORY_CPU, 12.5, 25);
    g_autofree char *two_cores = tether_graph_format_tick (TETHER_HISTORY_CPU, 200, 200);

    g_assert_cmpstr (zero, ==, "0");
    g_assert_cmpstr (half, ==, "0.25 %");
    g_assert_cmpstr (top, ==, "0.5 %");
    g_assert_cmpstr (mid25, ==, "12.5 %");
    g_assert_cmpstr (two_cores, ==, "200 %");
  }
}

static void
test_memory_axis (void)
{
  g_autofree char *half_mib = NULL;
  g_autofree char *mid = NULL;
  g_autofree char *half_gib = NULL;
  g_autofree char *one_gib = NULL;

  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 0), ==, MIB);
  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 100 * 1024), ==, MIB);
  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 96 * MIB), ==, 100 * MIB);
  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 300 * MIB), ==, 500 * MIB);
  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 700 * MIB), ==, GIB);
  g_assert_cmpfloat (tether_graph_axis_max (TETHER_HISTORY_RSS, 3 * GIB), ==, 5 * GIB);

  half_mib = tether_graph_format_tick (TETHER_HISTORY_RSS, MIB / 2, MIB);
  mid = tether_graph_format_tick (TETHER_HISTORY_RSS, 250 * MIB, 500 * MIB);
  half_gib = tether_graph_format_tick (TETHER_HISTORY_RSS, GIB / 2, GIB);
  one_gib = tether_graph_format_tick (TETHER_HISTORY_RSS, GIB, GIB);
  g_assert_cmpstr (half_mib, ==, "0.5 MiB");
  g_assert_cmpstr (mid, ==, "250 MiB");
  g_assert_cmpstr (half_gib, ==, "0.5 GiB");
  g_assert_cmpstr (one_gib, ==, "1 GiB");
}

static void
test_time_labels (void)
{
  static const struct { gint64 usec; const char *ago, *offset; } cases[] = {
    { 0, "now", "now" },
    { 400 * 1000, "now", "now" },
    { 45 * SEC, "45 s ago", "−45 s" },
    { 60 * SEC, "1 min ago", "−1 min" },
    { 90 * SEC, "1 min 30 s ago", "−1 min 30 s" },
    { 130 * SEC, "2 min 10 s ago", "−2 min 10 s" },
    { 300 * SEC, "5 min ago", "−5 min" },
    { 3600 * SEC, "1 h ago", "−1 h" },
    { 3900 * SEC, "1 h 5 min ago", "−1 h 5 min" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *ago = tether_graph_format_ago (cases[i].usec);
      g_autofree char *offset = tether_graph_format_offset (cases[i].usec);

      g_assert_cmpstr (ago, ==, cases[i].ago);
      g_assert_cmpstr (offset, ==, cases[i].offset);
    }
}

static void
test_readout (void)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(TetherHistory) history = make_history (300, now, 12.3, 0);
  TetherGraph *graph = g_object_ref_sink (g_object_new (TETHER_TYPE_GRAPH, NULL));

  tether_graph_set_history (graph, history);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "");

  /* The sample 130 s before the newest: 12.3 + 169 × 0.001. */
  tether_graph_set_cursor (graph, 130 * SEC);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−2 min 10 s: 12.5 %");
  /* Pointing between samples reads the nearest. */
  tether_graph_set_cursor (graph, 130 * SEC + 400 * 1000);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−2 min 10 s: 12.5 %");

  tether_graph_set_cursor (graph, -1);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "");

  /* The keys: the first press shows the newest sample, then one by one. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (graph), "graph.older", NULL));
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "now: 12.6 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.older", NULL);
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.older", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−2 s: 12.6 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.newer", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−1 s: 12.6 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.page-older", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−31 s: 12.6 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.oldest", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−4 min 59 s: 12.3 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.older", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−4 min 59 s: 12.3 %");
  gtk_widget_activate_action (GTK_WIDGET (graph), "graph.newest", NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "now: 12.6 %");

  /* A new history has nothing under the old cursor. */
  tether_graph_set_history (graph, NULL);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "");

  g_object_unref (graph);
}

static void
test_readout_gap (void)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(TetherHistory) history = tether_history_new (100);
  TetherGraph *graph = g_object_ref_sink (g_object_new (TETHER_TYPE_GRAPH,
                                                        "field", TETHER_HISTORY_RSS,
                                                        NULL));

  /* Ten samples, a minute of nothing (the backend was stopped), ten more. */
  for (int i = 0; i < 20; i++)
    {
      gint64 back = i < 10 ? 79 - i : 19 - i;
      TetherSample sample = { now - back * SEC, 0, (guint64) (56 * MIB) };

      tether_history_push (history, &sample);
    }
  tether_graph_set_history (graph, history);

  tether_graph_set_cursor (graph, 5 * SEC);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−5 s: 56.0\u00a0MiB");
  tether_graph_set_cursor (graph, 40 * SEC);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "−1 min 10 s: no data");

  g_object_unref (graph);
}

static gboolean
graph_not_live (gpointer data)
{
  return !tether_graph_get_live (data);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
test_live (void)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(TetherHistory) old = make_history (60, now - 120 * SEC, 30, 0);
  g_autoptr(TetherHistory) fresh = tether_history_new (10);
  TetherGraph *graph = g_object_ref_sink (g_object_new (TETHER_TYPE_GRAPH, NULL));
  g_autofree char *current = NULL;
  g_autofree char *axis = NULL;
  guint live_notified = 0;

  /* Nothing yet: nothing runs. */
  g_object_get (graph, "current-text", &current, "axis-text", &axis, NULL);
  g_assert_cmpstr (current, ==, "—");
  g_assert_cmpstr (axis, ==, "100 % = one core");
  g_assert_false (tether_graph_get_live (graph));

  /* Samples that stopped two minutes ago: the backend is not running. */
  tether_graph_set_history (graph, old);
  g_clear_pointer (&current, g_free);
  g_object_get (graph, "current-text", &current, NULL);
  g_assert_cmpstr (current, ==, "—");
  g_assert_false (tether_graph_get_live (graph));
  tether_graph_set_cursor (graph, 0);
  g_assert_cmpstr (tether_graph_get_readout_text (graph), ==, "last sample: 30.1 %");

  /* Samples every 100 ms up to now: live, until they stop (2 s, the
   * least a hiccup of the main loop is forgiven). */
  for (int i = 9; i >= 0; i--)
    {
      TetherSample sample = { g_get_monotonic_time () - i * 100 * 1000, 12.3, 0 };

      tether_history_push (fresh, &sample);
    }
  tether_graph_set_history (graph, fresh);
  g_signal_connect (graph, "notify::live", G_CALLBACK (on_notify), &live_notified);
  g_assert_true (tether_graph_get_live (graph));
  g_clear_pointer (&current, g_free);
  g_object_get (graph, "current-text", &current, NULL);
  g_assert_cmpstr (current, ==, "12.3 %");

  iterate_until (graph_not_live, graph, 5000);
  g_assert_false (tether_graph_get_live (graph));
  g_assert_cmpuint (live_notified, ==, 1);
  g_clear_pointer (&current, g_free);
  g_object_get (graph, "current-text", &current, NULL);
  g_assert_cmpstr (current, ==, "—");

  g_object_unref (graph);
}

/* The description is what a screen reader says after the name. */
static void
assert_description (GtkWidget  *widget,
                    const char *expected)
{
  g_autofree char *actual = gtk_test_accessible_check_property (GTK_ACCESSIBLE (widget),
                                                                GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                                                expected);

  if (actual != NULL)
    g_error ("description '%s', expected '%s'", actual, expected);
}

static gboolean
widget_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
timed_out (gpointer data)
{
  return g_get_monotonic_time () >= *(gint64 *) data;
}

/* Renders widget the way GTK would and counts the mostly opaque pure red
 * pixels. */
static guint
count_red_pixels (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderer) renderer = gsk_cairo_renderer_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  g_autofree guchar *data = NULL;
  const char *png = g_getenv ("TETHER_GRAPH_PNG");
  guint n = 0;

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  g_assert_true (gsk_renderer_realize (renderer, NULL, &error));
  g_assert_no_error (error);
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gsk_renderer_unrealize (renderer);

  if (png != NULL)
    gdk_texture_save_to_png (texture, png);

  data = g_malloc (width * height * 4);
  gdk_texture_download (texture, data, width * 4);
  for (int i = 0; i < width * height; i++)
    {
      /* Cairo's ARGB32 (B, G, R, A here), premultiplied. */
      guchar *p = data + 4 * i;

      if (p[3] > 128 && p[2] + 8 >= p[3] && p[1] < 8 && p[0] < 8)
        n++;
    }

  return n;
}

static void
test_accessible_and_drawn (void)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(TetherHistory) history = make_history (300, now, 0.1, 0);
  GtkWidget *window = gtk_window_new ();
  GtkWidget *graph = g_object_new (TETHER_TYPE_GRAPH, "history", history, NULL);
  GtkCssProvider *css = gtk_css_provider_new ();
  gint64 deadline;
  guint line;

  gtk_css_provider_load_from_data (css, "tethergraph { color: #ff0000; }", -1);
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_window_set_default_size (GTK_WINDOW (window), 480, 120);
  gtk_window_set_child (GTK_WINDOW (window), graph);
  gtk_window_present (GTK_WINDOW (window));
  iterate_until (widget_mapped, graph, 5000);
  g_assert_true (gtk_widget_get_mapped (graph));

  gtk_test_accessible_assert_role (graph, GTK_ACCESSIBLE_ROLE_IMG);
  assert_description (graph, "CPU 0.4 %, peak 0.4 % over 5 minutes, "
                             "axis 0 to 0.5 %, 100 % is one core");

  /* The keyboard's cursor is said at once. */
  g_assert_true (gtk_widget_get_focusable (graph));
  tether_graph_set_cursor (TETHER_GRAPH (graph), 130 * SEC);
  assert_description (graph, "CPU 0.4 %, peak 0.4 % over 5 minutes, "
                             "axis 0 to 0.5 %, 100 % is one core; "
                             "cursor −2 min 10 s: 0.3 %");

  /* A frame, then the picture: the line is there, in the CSS colour. */
  deadline = g_get_monotonic_time () + 300 * 1000;
  iterate_until (timed_out, &deadline, 1000);
  line = count_red_pixels (graph);
  g_test_message ("%u pixels of the line", line);
  g_assert_cmpuint (line, >, 300);

  gtk_style_context_remove_provider_for_display (gdk_display_get_default (),
                                                 GTK_STYLE_PROVIDER (css));
  g_object_unref (css);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_sparkline (void)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(TetherHistory) history = make_history (30, now, 1.2, 0);
  GtkWidget *graph = g_object_new (TETHER_TYPE_GRAPH, "compact", TRUE, NULL);
  int minimum, natural, plain_natural;
  GtkWidget *plain = g_object_new (TETHER_TYPE_GRAPH, NULL);

  g_object_ref_sink (graph);
  g_object_ref_sink (plain);
  tether_graph_set_history (TETHER_GRAPH (graph), history);

  /* Not a keyboard stop (its read-out is a tooltip); it is wider than the
   * line alone, for its label. */
  g_assert_false (gtk_widget_get_focusable (graph));
  g_assert_true (gtk_widget_get_has_tooltip (graph));
  gtk_widget_measure (graph, GTK_ORIENTATION_HORIZONTAL, -1, &minimum, &natural, NULL, NULL);
  g_assert_cmpint (natural, >, 80 + 20);
  gtk_widget_measure (plain, GTK_ORIENTATION_VERTICAL, -1, &minimum, &plain_natural, NULL, NULL);
  g_assert_cmpint (minimum, >=, 40);

  g_object_unref (plain);
  g_object_unref (graph);
}

int
main (int   argc,
      char *argv[])
{
  /* The test backend keeps accessible properties where the test can read
   * them; C keeps "0.25" from turning into "0,25". */
  g_setenv ("GTK_A11Y", "test", TRUE);
  gtk_disable_setlocale ();
  g_test_init (&argc, &argv, NULL);
  gtk_init ();

  g_test_add_func ("/graph/axis/cpu", test_cpu_axis);
  g_test_add_func ("/graph/axis/memory", test_memory_axis);
  g_test_add_func ("/graph/time-labels", test_time_labels);
  g_test_add_func ("/graph/readout", test_readout);
  g_test_add_func ("/graph/readout-gap", test_readout_gap);
  g_test_add_func ("/graph/live", test_live);
  g_test_add_func ("/graph/accessible-and-drawn", test_accessible_and_drawn);
  g_test_add_func ("/graph/sparkline", test_sparkline);

  return g_test_run ();
}
