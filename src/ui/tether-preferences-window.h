/* tether-preferences-window.h: refresh interval, graph span, confirmations
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

GtkWindow *tether_preferences_window_new (GSettings *settings);

G_END_DECLS
