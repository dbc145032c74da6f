/* tether-window.h: the main window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-application.h"

G_BEGIN_DECLS

#define TETHER_TYPE_WINDOW (tether_window_get_type ())

G_DECLARE_FINAL_TYPE (TetherWindow, tether_window, TETHER, WINDOW, AdwApplicationWindow)

TetherWindow *tether_window_new           (TetherApplication *application);
void          tether_window_toast         (TetherWindow      *self,
                                           const char        *title,
                                           const char        *body);
/* The same, but a toast of the same tag still shown or waiting goes
 * first: news that come in bursts (workers) show the newest, not a queue.
 * A NULL tag is tether_window_toast. */
void          tether_window_toast_replace (TetherWindow      *self,
                                           const char        *tag,
                                           const char        *title,
                                           const char        *body);
/* A dialog for what needs reading and an answer (a profile that does not
 * open, with its file:line:column), where a toast would vanish. */
void          tether_window_show_error    (TetherWindow      *self,
                                           const char        *title,
                                           const char        *body);

G_END_DECLS
