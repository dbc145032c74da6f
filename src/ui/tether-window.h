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
/* A toast; it replaces the one shown, if any (news show the newest, not
 * a queue). */
void          tether_window_toast         (TetherWindow      *self,
                                           const char        *title,
                                           const char        *body);
/* A dialog for what needs reading and an answer (a profile that does not
 * open, with its file:line:column), where a toast would vanish. */
void          tether_window_show_error    (TetherWindow      *self,
                                           const char        *title,
                                           const char        *body);

G_END_DECLS
