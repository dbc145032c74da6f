/* tether-runtime-dir.h: the private directory control sockets live in
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* $XDG_RUNTIME_DIR/tether (GLib's fallback when the variable is unset).
 * Only the path: nothing is created or checked. */
char    *tether_runtime_dir_path   (void);

/* The same directory, created 0700 when missing and then verified: a real
 * directory (not a symbolic link), owned by this user, and closed to group
 * and others. Anything else is refused with a message naming the
 * directory, since another user who can write there could answer for a
 * supervisor, or squat its socket. */
char    *tether_runtime_dir_ensure (GError **error);

/* Verifies an existing directory by the same rules, without creating it.
 * FALSE with G_IO_ERROR_NOT_FOUND when it does not exist. */
gboolean tether_runtime_dir_verify (const char  *path,
                                    GError     **error);

/* Removes the sockets in dir that nobody listens on any more (a
 * supervisor that was SIGKILLed leaves its socket behind): a connect that
 * is refused proves the socket dead. Only this user's sockets are touched.
 * Returns how many were removed. */
guint    tether_runtime_dir_sweep  (const char  *dir);

/* TRUE when a stream socket at path accepts connections. */
gboolean tether_runtime_dir_socket_is_alive (const char *path);

G_END_DECLS
