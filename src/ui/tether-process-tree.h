/* tether-process-tree.h: the sampler's members as a live GtkTreeListModel
 *
 * A pid → item table; each item owns the GListStore of its children. Every
 * tick is applied in place from the sampler's diff ("updated"): new rows are
 * spliced into their parent's store, gone rows removed, moved rows (a parent
 * died, the orphan now hangs under the main process) moved, and the rest
 * only get property notifications. Nothing is rebuilt, so expansion, scroll
 * position and selection stay on their process; a selection model with
 * autoselect off then loses the selection when the selected process dies,
 * never moving it to a neighbour.
 *
 * With a worker pool, the rows of its workers say so (an item's
 * worker-slot, role-text and worker-text): the pool is asked about new
 * rows, and about the rows already marked on each tick and when its count
 * changes, so a tick of a 1000-row tree costs a lookup per worker and per
 * new row, not per row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "tether-pool.h"
#include "tether-process-item.h"
#include "tether-sampler.h"

G_BEGIN_DECLS

#define TETHER_TYPE_PROCESS_TREE (tether_process_tree_get_type ())

G_DECLARE_FINAL_TYPE (TetherProcessTree, tether_process_tree, TETHER, PROCESS_TREE, GObject)

TetherProcessTree *tether_process_tree_new           (void);
/* Follows sampler's ticks; NULL empties the tree. */
void               tether_process_tree_set_sampler   (TetherProcessTree *self,
                                                      TetherSampler     *sampler);
TetherSampler     *tether_process_tree_get_sampler   (TetherProcessTree *self);
/* The pool whose workers are marked (the same supervisor's), or NULL. */
void               tether_process_tree_set_pool      (TetherProcessTree *self,
                                                      TetherPool        *pool);
TetherPool        *tether_process_tree_get_pool      (TetherProcessTree *self);
/* Wall-clock µs of the last tick applied (g_get_real_time's clock, as an
 * item's started-at), 0 without a sampler. The view's uptime cells follow
 * this one property: a tick notifies one object, however many rows. */
gint64             tether_process_tree_get_real_time (TetherProcessTree *self);
/* During a stop countdown, what every row still there says ("Still
 * running after SIGTERM"): a process that has not exited by then is
 * one that ignores or outlasts the signal. NULL when no stop is under
 * way. Rows follow this one property, as they follow real-time. */
void               tether_process_tree_set_stop_marker (TetherProcessTree *self,
                                                        const char        *marker);
const char        *tether_process_tree_get_stop_marker (TetherProcessTree *self);
/* Top-level rows: the main process, and members whose parent is gone. */
GListModel        *tether_process_tree_get_roots     (TetherProcessTree *self);
/* The rows as a tree (items are GtkTreeListRow of TetherProcessItem). */
GtkTreeListModel  *tether_process_tree_get_model     (TetherProcessTree *self);
/* What the window shows: rows sorted among siblings by sorter (children
 * stay under their parent), in a single selection that never selects by
 * itself, so a dead row's selection never moves to a neighbour. The row
 * sorter is returned for gtk_sorter_changed after ticks that changed
 * values. */
GtkSingleSelection *tether_process_tree_create_selection (TetherProcessTree  *self,
                                                          GtkSorter          *sorter,
                                                          GtkSorter         **row_sorter);
/* Flat: every process a row of its own, sorted against all the others
 * (the hot process on top); else the tree, where siblings are sorted and
 * a branch ranks by its subtree totals (the item's subtree-* properties).
 * The selected process stays selected across a switch. */
void               tether_process_tree_set_flat      (TetherProcessTree *self,
                                                      gboolean           flat);
gboolean           tether_process_tree_get_flat      (TetherProcessTree *self);
/* Shows only the processes whose name, pid or command line holds text
 * (case-insensitive; a number is a pid's beginning or a whole number in
 * the command line) and, in the tree, their ancestors; NULL or blank
 * shows every row. n-matches counts the processes that match. */
void               tether_process_tree_set_search    (TetherProcessTree *self,
                                                      const char        *text);
const char        *tether_process_tree_get_search    (TetherProcessTree *self);
guint              tether_process_tree_get_n_matches (TetherProcessTree *self);
TetherProcessItem *tether_process_tree_lookup        (TetherProcessTree *self,
                                                      int                pid);
guint              tether_process_tree_get_n_items   (TetherProcessTree *self);

G_END_DECLS
