/* tether-sampler-private.h: knobs for tests and benchmarks only
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-sampler.h"

G_BEGIN_DECLS

/* How many /proc/PID/stat fds the sampler may keep open (default: half the
 * fd limit). Processes beyond it are read by path each tick, their identity
 * checked by start time (10 ms resolution: a pid reused within one clock
 * tick of the old process's start would be missed). Applies to processes seen after the call. */
void tether_sampler_set_fd_budget (TetherSampler *self,
                                   guint          budget);
guint tether_sampler_get_n_fds    (TetherSampler *self);

/* One whole tick now, with these members, on this thread, in one go
 * (benchmarks measure the reading itself this way). */
void  tether_sampler_tick_with_members (TetherSampler *self,
                                        GArray        *members,
                                        pid_t          main_pid);

G_END_DECLS
