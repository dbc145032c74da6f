/* tether-supervisor-private.h: for tests only
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-supervisor.h"

G_BEGIN_DECLS

typedef TetherOwner *(*TetherOwnerFactory) (TetherOwnerKind kind,
                                            gpointer        user_data);

/* Where the supervisor gets each run's owner (default: tether_owner_new).
 * Tests drive the ladder through a fake owner this way, for the cases real
 * processes cannot be made to reach on demand. */
void tether_supervisor_set_owner_factory (TetherSupervisor   *self,
                                          TetherOwnerFactory  factory,
                                          gpointer            user_data);

G_END_DECLS
