/* tether-control.h: the control socket tetherctl and other clients speak to
 *
 * A unix stream socket (0600, in a 0700 directory) at
 * $XDG_RUNTIME_DIR/tether/<profile-id>.sock. Each request is one JSON object
 * on one line, {"method": "status"} or {"method": "kill-subtree", "pid": 42};
 * each reply is one JSON object on one line, {"ok": true, "result": {...}}
 * or {"ok": false, "error": "..."}. Methods: status, tree, start, stop, kill,
 * restart, stop-subtree, kill-subtree. stop/kill/restart reply when done.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "tether-supervisor.h"

G_BEGIN_DECLS

#define TETHER_TYPE_CONTROL (tether_control_get_type ())

G_DECLARE_FINAL_TYPE (TetherControl, tether_control, TETHER, CONTROL, GObject)

/* socket_path NULL: tether_control_default_socket_path (profile). */
TetherControl *tether_control_new                 (TetherSupervisor  *supervisor,
                                                   const char        *socket_path,
                                                   GError           **error);
const char    *tether_control_get_socket_path     (TetherControl     *self);

char          *tether_control_runtime_dir         (void);
char          *tether_control_default_socket_path (TetherProfile     *profile);

/* The JSON documents the methods return, shared with in-process callers. */
JsonNode      *tether_control_status_json         (TetherSupervisor  *supervisor);
JsonNode      *tether_control_tree_json           (TetherSupervisor  *supervisor);
JsonNode      *tether_control_stop_report_json    (const TetherStopReport *report);

/* Client side: one request, one reply (synchronous, with a timeout in s). */
JsonNode      *tether_control_call                (const char        *socket_path,
                                                   JsonNode          *request,
                                                   guint              timeout_seconds,
                                                   GError           **error);

G_END_DECLS
