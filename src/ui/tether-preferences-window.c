/* tether-preferences-window.c: refresh interval, graph span, confirmations
 *
 * Every row is bound to its GSettings key: a change applies at once (the
 * sampler and graphs follow the settings), nothing to save.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-preferences-window.h"

/* The key holds milliseconds; people think in seconds. */
static gboolean
ms_to_seconds (GValue   *value,
               GVariant *variant,
               gpointer  user_data)
{
  g_value_set_double (value, g_variant_get_uint32 (variant) / 1000.0);
  return TRUE;
}

static GVariant *
seconds_to_ms (const GValue       *value,
               const GVariantType *expected_type,
               gpointer            user_data)
{
  return g_variant_new_uint32 ((guint32) (g_value_get_double (value) * 1000.0 + 0.5));
}

static GtkWidget *
spin_row (const char *title,
          const char *subtitle,
          double      min,
          double      max,
          double      step,
          guint       digits,
          GtkWidget **spin_out)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *spin = gtk_spin_button_new_with_range (min, max, step);

  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (spin), digits);
  gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
  /* Also labels the spin button (accessible name = the row's title). */
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), spin);
  *spin_out = spin;
  return row;
}

/* A switch row bound to a boolean key. */
static GtkWidget *
switch_row (GSettings  *settings,
            const char *key,
            const char *title,
            const char *subtitle)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();

  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  g_settings_bind (settings, key, toggle, "active", G_SETTINGS_BIND_DEFAULT);
  return row;
}

GtkWindow *
tether_preferences_window_new (GSettings *settings)
{
  GtkWidget *window = adw_preferences_window_new ();
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *monitor = adw_preferences_group_new ();
  GtkWidget *safety = adw_preferences_group_new ();
  GtkWidget *row, *spin;

  gtk_window_set_modal (GTK_WINDOW (window), TRUE);
  adw_preferences_window_set_search_enabled (ADW_PREFERENCES_WINDOW (window), FALSE);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (monitor), _("Monitoring"));
  row = spin_row (_("Refresh Interval"), _("Seconds between two samples of the process tree"),
                  0.1, 10, 0.1, 1, &spin);
  g_settings_bind_with_mapping (settings, "refresh-interval", spin, "value", G_SETTINGS_BIND_DEFAULT,
                                ms_to_seconds, seconds_to_ms, NULL, NULL);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (monitor), row);

  row = spin_row (_("Graph Span"), _("Seconds of CPU and memory history the graphs show"),
                  30, 3600, 30, 0, &spin);
  g_settings_bind (settings, "graph-span", spin, "value", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (monitor), row);

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (safety), _("Safety"));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (safety),
                             switch_row (settings, "confirm-force-stop", _("Confirm Before Force Stop"),
                                         _("Ask before killing the whole tree or a subtree")));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (safety),
                             switch_row (settings, "confirm-restart", _("Confirm Before Restart"),
                                         _("Ask before restarting a backend that is running")));

  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (monitor));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (safety));
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (window), ADW_PREFERENCES_PAGE (page));
  return GTK_WINDOW (window);
}
