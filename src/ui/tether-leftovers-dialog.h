/* tether-leftovers-dialog.h: what an earlier run left behind, before a start
 *
 * Lists the leftovers tether-leftovers.h found (each by program and pid,
 * with its command line, age and why it counts) and asks whether to end
 * them and start, or not to start. Responses: "cancel" and "end"
 * (destructive: the profile's stop signal, then SIGKILL). Ending and
 * starting are the application's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-profile.h"

G_BEGIN_DECLS

#define TETHER_TYPE_LEFTOVERS_DIALOG (tether_leftovers_dialog_get_type ())

G_DECLARE_FINAL_TYPE (TetherLeftoversDialog, tether_leftovers_dialog, TETHER, LEFTOVERS_DIALOG, AdwMessageDialog)

/* leftovers: TetherLeftover, as tether_leftovers_find_finish gave them. */
GtkWidget *tether_leftovers_dialog_new (GtkWindow     *parent,
                                        TetherProfile *profile,
                                        GPtrArray     *leftovers);

G_END_DECLS
