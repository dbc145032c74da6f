/* tether-bar.h: a message with its buttons beside it, or below it when narrow
 *
 * Two children, as declared in a .ui file: the content (an icon and
 * labels), then the actions (a box of buttons). From BREAKPOINT_WIDTH on
 * (tether-bar.c) the actions sit at the end of the content's row, at their
 * natural width; below it they go under the content, where their halign
 * places them. GTK 4.8 and libadwaita 1.2 have no breakpoints nor
 * AdwBanner; this is the part of one that Tether needs. CSS node
 * "tetherbar"; the accessible role and label are the .ui file's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define TETHER_TYPE_BAR (tether_bar_get_type ())

G_DECLARE_FINAL_TYPE (TetherBar, tether_bar, TETHER, BAR, GtkWidget)

G_END_DECLS
