/* tetherctl.h: what tetherctl's commands share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "tetherctl: message" on stderr, escaped for the terminal (error texts
 * can quote what a backend or a peer said). */
void     tetherctl_print_error    (const char *message);
/* 0 means "not given"; else 0.1 to 10 s, or a message and FALSE. */
gboolean tetherctl_check_interval (double      interval_s);

/* tetherctl run: supervises the profile in the foreground. */
int      tetherctl_run            (const char *profile_path,
                                   gboolean    json,
                                   const char *owner,
                                   double      interval_s,
                                   gboolean    kill_leftovers);

G_END_DECLS
