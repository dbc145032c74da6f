/* tether-control-private.h: between the control server and its transport
 *
 * tether-control.c speaks the JSON lines; a transport file per platform
 * says where clients find the server and who may talk to it:
 * tether-control-unix.c, a unix socket checked with SO_PEERCRED;
 * tether-control-win32.c, loopback TCP with a secret token in a file only
 * the user can read. A transport hands each accepted connection to
 * tether_control_add_client.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-control.h"

G_BEGIN_DECLS

typedef struct _TetherControlTransport TetherControlTransport;

struct _TetherControl
{
  GObject parent_instance;

  TetherSupervisor *supervisor;
  char *socket_path;        /* where clients find the server (tether_control_get_socket_path) */
  TetherControlTransport *transport;

  GPtrArray *clients;       /* of Client*, each holding one reference */
  guint max_clients;
  guint idle_timeout_ms;
};

/* ---- in tether-control.c, for the transports ---- */

gboolean  tether_control_is_full        (TetherControl     *self);
void      tether_control_add_client     (TetherControl     *self,
                                         GSocketConnection *connection);
/* {"ok":false,"error":...} or a result, as one line (newline included). */
GBytes   *tether_control_reply_line_new (JsonNode          *result,
                                         const char        *error_message);

/* ---- in the platform's transport file ---- */

/* Listens at path (NULL: the profile's default place). */
TetherControlTransport *tether_control_transport_listen      (TetherControl          *control,
                                                              const char             *path,
                                                              TetherProfile          *profile,
                                                              GError                **error);
const char             *tether_control_transport_get_path    (TetherControlTransport *transport);
/* Stops listening and removes what clients find the server by. */
void                    tether_control_transport_free        (TetherControlTransport *transport);
/* Whether a client's first line must be the transport's token. */
gboolean                tether_control_transport_wants_token (TetherControlTransport *transport);
gboolean                tether_control_transport_check_token (TetherControlTransport *transport,
                                                              const char             *line);
/* What the server sends a client that gave the right token (a new
 * reference), or NULL. */
GBytes                 *tether_control_transport_get_answer  (TetherControlTransport *transport);
/* Client side: a connection to the server at path, already checked to be
 * this user's (and past the token, where there is one). */
GSocketConnection      *tether_control_transport_connect     (const char             *path,
                                                              guint                   timeout_seconds,
                                                              GError                **error);

G_END_DECLS
