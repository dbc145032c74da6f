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

/* What differs between platforms (tetherctl-unix.c, tetherctl-win32.c). */

/* Calls func on the main loop when the process is asked to quit: sig is
 * SIGINT, SIGTERM or SIGHUP (on Windows: SIGINT for Ctrl+C, SIGTERM for
 * Ctrl+Break and closing the console, SIGHUP never). A source id. */
guint      tetherctl_watch_signal        (int          sig,
                                          GSourceFunc  func,
                                          gpointer     user_data);
/* The terminal's width, or G_MAXINT when stdout is not a terminal. */
int        tetherctl_terminal_columns    (void);
/* Where the control endpoints of live supervisors are looked for, and
 * those that answer, sorted (sweeping stale ones where that is safe). */
GPtrArray *tetherctl_list_live_endpoints (char       **dir_out,
                                          GError     **error);

G_END_DECLS
