/* tether-bar.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "tether-bar.h"

/* Narrower than this (the content box, inside the CSS padding), the
 * actions go below the content: a 360 px window keeps its text on one or
 * two lines instead of a column a few words wide. */
#define BREAKPOINT_WIDTH 560
#define COLUMN_SPACING   12
#define ROW_SPACING      6

struct _TetherBar
{
  GtkWidget parent_instance;
};

static void tether_bar_buildable_init (GtkBuildableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherBar, tether_bar, GTK_TYPE_WIDGET,
                               G_IMPLEMENT_INTERFACE (GTK_TYPE_BUILDABLE, tether_bar_buildable_init))

static GtkBuildableIface *parent_buildable_iface;

static gboolean
get_children (TetherBar  *self,
              GtkWidget **content,
              GtkWidget **actions)
{
  *content = gtk_widget_get_first_child (GTK_WIDGET (self));
  *actions = *content != NULL ? gtk_widget_get_next_sibling (*content) : NULL;
  return *actions != NULL;
}

static gboolean
is_wide (int width)
{
  return width < 0 || width >= BREAKPOINT_WIDTH;
}

/* Wide: the actions at their natural width where the content's minimum
 * leaves room for it, the content the rest. */
static void
split_width (GtkWidget *content,
             GtkWidget *actions,
             int        width,
             int       *c_width,
             int       *a_width)
{
  int c_min, a_min, a_nat;

  gtk_widget_measure (content, GTK_ORIENTATION_HORIZONTAL, -1, &c_min, NULL, NULL, NULL);
  gtk_widget_measure (actions, GTK_ORIENTATION_HORIZONTAL, -1, &a_min, &a_nat, NULL, NULL);
  *a_width = CLAMP (width - c_min - COLUMN_SPACING, a_min, a_nat);
  *c_width = MAX (width - *a_width - COLUMN_SPACING, 0);
}

static void
tether_bar_measure (GtkWidget      *widget,
                    GtkOrientation  orientation,
                    int             for_size,
                    int            *minimum,
                    int            *natural,
                    int            *minimum_baseline,
                    int            *natural_baseline)
{
  GtkWidget *content, *actions;
  int c_min, c_nat, a_min, a_nat;

  *minimum = *natural = 0;
  if (!get_children (TETHER_BAR (widget), &content, &actions))
    {
      if (content != NULL)
        gtk_widget_measure (content, orientation, for_size, minimum, natural, NULL, NULL);
      return;
    }

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      gtk_widget_measure (content, orientation, -1, &c_min, &c_nat, NULL, NULL);
      gtk_widget_measure (actions, orientation, -1, &a_min, &a_nat, NULL, NULL);
      *minimum = MAX (c_min, a_min);
      *natural = c_nat + COLUMN_SPACING + a_nat;
      return;
    }

  if (is_wide (for_size))
    {
      int c_width = -1, a_width = -1;

      if (for_size >= 0)
        split_width (content, actions, for_size, &c_width, &a_width);
      gtk_widget_measure (content, orientation, c_width, &c_min, &c_nat, NULL, NULL);
      gtk_widget_measure (actions, orientation, a_width, &a_min, &a_nat, NULL, NULL);
      *minimum = MAX (c_min, a_min);
      *natural = MAX (c_nat, a_nat);
    }
  else
    {
      gtk_widget_measure (content, orientation, for_size, &c_min, &c_nat, NULL, NULL);
      gtk_widget_measure (actions, orientation, for_size, &a_min, &a_nat, NULL, NULL);
      *minimum = c_min + ROW_SPACING + a_min;
      *natural = c_nat + ROW_SPACING + a_nat;
    }
}

static GtkSizeRequestMode
tether_bar_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
tether_bar_size_allocate (GtkWidget *widget,
                          int        width,
                          int        height,
                          int        baseline)
{
  GtkWidget *content, *actions;

  if (!get_children (TETHER_BAR (widget), &content, &actions))
    {
      if (content != NULL)
        gtk_widget_allocate (content, width, height, -1, NULL);
      return;
    }

  if (is_wide (width))
    {
      int c_width, a_width;

      split_width (content, actions, width, &c_width, &a_width);
      gtk_widget_size_allocate (content, &(GtkAllocation) { 0, 0, c_width, height }, -1);
      gtk_widget_size_allocate (actions, &(GtkAllocation) { width - a_width, 0, a_width, height }, -1);
    }
  else
    {
      int c_height;

      gtk_widget_measure (content, GTK_ORIENTATION_VERTICAL, width, &c_height, NULL, NULL, NULL);
      gtk_widget_size_allocate (content, &(GtkAllocation) { 0, 0, width, c_height }, -1);
      gtk_widget_size_allocate (actions,
                                &(GtkAllocation) { 0, c_height + ROW_SPACING, width,
                                                   MAX (height - c_height - ROW_SPACING, 0) },
                                -1);
    }
}

static void
tether_bar_add_child (GtkBuildable *buildable,
                      GtkBuilder   *builder,
                      GObject      *child,
                      const char   *type)
{
  if (GTK_IS_WIDGET (child))
    gtk_widget_set_parent (GTK_WIDGET (child), GTK_WIDGET (buildable));
  else
    parent_buildable_iface->add_child (buildable, builder, child, type);
}

static void
tether_bar_buildable_init (GtkBuildableIface *iface)
{
  parent_buildable_iface = g_type_interface_peek_parent (iface);
  iface->add_child = tether_bar_add_child;
}

static void
tether_bar_dispose (GObject *object)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (tether_bar_parent_class)->dispose (object);
}

static void
tether_bar_class_init (TetherBarClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_bar_dispose;
  widget_class->measure = tether_bar_measure;
  widget_class->get_request_mode = tether_bar_get_request_mode;
  widget_class->size_allocate = tether_bar_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "tetherbar");
}

static void
tether_bar_init (TetherBar *self)
{
}
