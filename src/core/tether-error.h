/* tether-error.h: the error domain every Tether API reports with
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TETHER_ERROR (tether_error_quark ())

typedef enum
{
  TETHER_ERROR_FAILED,
  TETHER_ERROR_PROFILE,        /* a profile is malformed or invalid */
  TETHER_ERROR_NOT_FOUND,      /* an executable, file or socket is missing */
  TETHER_ERROR_NOT_MEMBER,     /* a PID is not (or no longer) part of the owned tree */
  TETHER_ERROR_BUSY,           /* the verb does not apply in the current state */
  TETHER_ERROR_OWNER,          /* tree ownership could not be set up or failed */
  TETHER_ERROR_SPAWN,          /* the backend could not be started */
  TETHER_ERROR_PROTOCOL,       /* a peer (shim, control client) said something malformed */
  TETHER_ERROR_INVALID,        /* a value asked for is out of range (a pool size) */
  TETHER_ERROR_TIMED_OUT,      /* a verb did not reach its goal in time */
} TetherError;

GQuark tether_error_quark (void);

G_END_DECLS
