/* tether-process-details.h: why is this process stuck? The diagnosis of one
 * member, kept fresh
 *
 * Shows tether-diagnose's snapshot of a member (state, with D flagged as
 * may-not-die; wchan; the system call; CPU time and RSS, and their last
 * minute from the sampler; start time; open files; threads; listening
 * sockets; the kernel stack when readable), read
 * in a thread and read again every TETHER_PROCESS_DETAILS_REFRESH_MS after
 * the previous one is in, while the widget is mapped: never two at once,
 * never on the main loop. Text is selectable; a label only changes when
 * its text does, so a selection survives refreshes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-supervisor.h"

G_BEGIN_DECLS

#define TETHER_PROCESS_DETAILS_REFRESH_MS 2000

#define TETHER_TYPE_PROCESS_DETAILS (tether_process_details_get_type ())

G_DECLARE_FINAL_TYPE (TetherProcessDetails, tether_process_details, TETHER, PROCESS_DETAILS, AdwBin)

/* pid, a member of supervisor's tree, called name (what the tree shows;
 * NULL: the kernel's name); 0 (or no supervisor): nothing, and no more
 * reading. */
void tether_process_details_set_process (TetherProcessDetails *self,
                                         TetherSupervisor     *supervisor,
                                         int                   pid,
                                         const char           *name);
int  tether_process_details_get_pid     (TetherProcessDetails *self);

G_END_DECLS
