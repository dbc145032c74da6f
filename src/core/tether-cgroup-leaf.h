/* tether-cgroup-leaf.h: the cgroup v2 leaf a backend tree lives in
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _TetherCgroupLeaf TetherCgroupLeaf;

/* Creates tether-<our pid>-<n> under Tether's own cgroup, or under
 * $TETHER_CGROUP_PARENT; first kills and removes the leaves of Tethers
 * that died together with their shim. Fails (and nothing is created) when
 * there is no cgroup v2 hierarchy or no permission to move processes. */
TetherCgroupLeaf *tether_cgroup_leaf_new            (GError           **error);
void              tether_cgroup_leaf_free           (TetherCgroupLeaf  *leaf);

/* Absolute path, and the path inside the cgroup2 hierarchy (as in
 * /proc/PID/cgroup). */
const char       *tether_cgroup_leaf_get_path       (TetherCgroupLeaf  *leaf);
const char       *tether_cgroup_leaf_get_relative_path (TetherCgroupLeaf *leaf);

/* cpu.stat usage_usec: every process that ever ran in the leaf. Reads only
 * a descriptor opened when the leaf was made and closed when it is freed:
 * any thread may call it in between. */
gboolean          tether_cgroup_leaf_read_cpu_usage (TetherCgroupLeaf  *leaf,
                                                     guint64           *usec);
/* memory.current, from the sampler's worker; FALSE without the memory
 * controller. */
gboolean          tether_cgroup_leaf_read_memory    (TetherCgroupLeaf  *leaf,
                                                     guint64           *bytes);
/* cgroup.kill: what is in the leaf now and what forks meanwhile. */
gboolean          tether_cgroup_leaf_kill           (TetherCgroupLeaf  *leaf);

/* Completes once cgroup.events says "populated 0" (the last task has
 * left), or with G_IO_ERROR_TIMED_OUT. Event-driven: the events file is
 * polled, never re-read on a timer. */
void              tether_cgroup_leaf_wait_empty_async  (TetherCgroupLeaf    *leaf,
                                                        guint                timeout_ms,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean          tether_cgroup_leaf_wait_empty_finish (GAsyncResult        *result,
                                                        GError             **error);

/* rmdir; TRUE when it is gone. */
gboolean          tether_cgroup_leaf_remove         (TetherCgroupLeaf  *leaf);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherCgroupLeaf, tether_cgroup_leaf_free)

G_END_DECLS
