/* tether-owner-protocol.h: the line protocol's pieces both helpers share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "tether-owner.h"

G_BEGIN_DECLS

/* A space, then text percent-encoded: every byte below 0x21, '%' and 0x7f
 * as %XX; an empty text is "%". */
void         tether_owner_protocol_append_field (GString       *line,
                                                 const char    *text);
/* The reverse (a new string). */
char        *tether_owner_protocol_decode_field (const char    *field);
gboolean     tether_owner_protocol_parse_uint   (const char    *text,
                                                 guint64        max,
                                                 guint64       *out);
/* The verb that asks for op ("members", "signal-all", ...). */
const char  *tether_owner_protocol_verb         (TetherOwnerOp  op);
/* What op does, for error messages ("signal process 12"). */
char        *tether_owner_protocol_describe     (TetherOwnerOp  op,
                                                 pid_t          pid);

G_END_DECLS
