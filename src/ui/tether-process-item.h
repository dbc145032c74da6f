/* tether-process-item.h: one row of the process tree
 *
 * A GObject face of a TetherProcess for list models and expression
 * bindings. The item for a pid lives as long as that process: each tick
 * updates its properties in place (notifying only what changed), so rows,
 * expansion and selection stay attached to it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "tether-pool.h"
#include "tether-sampler.h"

G_BEGIN_DECLS

#define TETHER_TYPE_PROCESS_ITEM (tether_process_item_get_type ())

G_DECLARE_FINAL_TYPE (TetherProcessItem, tether_process_item, TETHER, PROCESS_ITEM, GObject)

typedef struct _TetherProcessTree TetherProcessTree;

TetherProcessItem *tether_process_item_new           (TetherProcess     *process);
TetherProcess     *tether_process_item_get_process   (TetherProcessItem *self);
int                tether_process_item_get_pid       (TetherProcessItem *self);
int                tether_process_item_get_parent    (TetherProcessItem *self);
const char        *tether_process_item_get_name      (TetherProcessItem *self);
const char        *tether_process_item_get_cmdline   (TetherProcessItem *self);
double             tether_process_item_get_cpu_percent (TetherProcessItem *self);
guint64            tether_process_item_get_memory_bytes (TetherProcessItem *self);
guint              tether_process_item_get_threads   (TetherProcessItem *self);
gint64             tether_process_item_get_started_at (TetherProcessItem *self);
/* The children rows (TetherProcessItem), owned by this item. Never NULL,
 * even for a leaf, so a row can grow children later. */
GListStore        *tether_process_item_get_children  (TetherProcessItem *self);
/* Whether the children store holds any row ("has-children" notifies only
 * when that flips). */
gboolean           tether_process_item_get_has_children (TetherProcessItem *self);
/* The tree the item is in, NULL once its process left it: what a cell
 * follows for the tree's clock ("real-time"). Set by the tree only. */
TetherProcessTree *tether_process_item_get_tree      (TetherProcessItem *self);
void               tether_process_item_set_tree      (TetherProcessItem *self,
                                                      TetherProcessTree *tree);
/* What the worker pool says of this process: info, or NULL when it is not
 * one of its workers. Notifies worker-slot, worker-settled (FALSE while
 * the worker starts or retires), role-text and worker-text only when they
 * change. Set by the tree only. */
void               tether_process_item_set_worker    (TetherProcessItem      *self,
                                                      const TetherWorkerInfo *info);
/* The worker's slot (1-based), 0 when the process is not a pool worker. */
guint              tether_process_item_get_worker_slot (TetherProcessItem *self);
/* "worker 3", or NULL when not a worker. */
const char        *tether_process_item_get_role_text (TetherProcessItem *self);
/* "worker 3 · recycled 2× · last: memory over the soft limit", or NULL. */
const char        *tether_process_item_get_worker_text (TetherProcessItem *self);
/* CPU and RSS of the process with all its descendants (set by the tree
 * after each tick; notified only when they change). */
void               tether_process_item_set_subtree_totals (TetherProcessItem *self,
                                                           double             cpu_percent,
                                                           guint64            memory_bytes);
double             tether_process_item_get_subtree_cpu_percent (TetherProcessItem *self);
guint64            tether_process_item_get_subtree_memory_bytes (TetherProcessItem *self);
/* Re-reads the process after a tick that changed it, notifying only the
 * properties whose shown value changed. */
void               tether_process_item_update        (TetherProcessItem *self,
                                                      TetherProcessChanges changes);
/* "1 h 02 min", "3 min", "12 s". Uptime is not an item property: it moves
 * every second for every process, so the view formats it for the rows it
 * shows, from started-at (which sorts) and the tree's "real-time". */
char              *tether_format_uptime              (gint64             seconds);
/* "Running", "Sleeping", ... for a proc(5) state letter */
const char        *tether_process_state_to_label     (char               state);

G_END_DECLS
