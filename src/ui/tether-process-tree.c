/* tether-process-tree.c: the sampler's members as a live GtkTreeListModel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "tether-process-tree.h"

typedef struct
{
  TetherProcessItem *item;  /* owned */
  /* The store the item is in, a parent's children or the roots; a ref, as
   * the parent may go first (its orphans move in the same tick). */
  GListStore *container;
} Entry;

struct _TetherProcessTree
{
  GObject parent_instance;

  TetherSampler *sampler;
  gulong updated_id;
  GListStore *roots;
  GtkTreeListModel *model;
  GHashTable *entries;      /* pid → Entry */
  gint64 real_time;
  TetherPool *pool;
  GSignalGroup *pool_signals;
  GHashTable *workers;      /* pids of the rows marked as workers */
};

G_DEFINE_FINAL_TYPE (TetherProcessTree, tether_process_tree, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SAMPLER,
  PROP_POOL,
  PROP_REAL_TIME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  UPDATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  tether_process_item_set_tree (entry->item, NULL);
  g_object_unref (entry->item);
  g_clear_object (&entry->container);
  g_free (entry);
}

static GListStore *
container_for (TetherProcessTree *self,
               TetherProcess     *process)
{
  Entry *parent = g_hash_table_lookup (self->entries,
                                       GINT_TO_POINTER (tether_process_get_parent (process)));

  return parent != NULL ? tether_process_item_get_children (parent->item) : self->roots;
}

/* Appends each new item to its container, one splice per container so the
 * first tick of a 1000-process tree is one items-changed per parent, not
 * one per process. */
static void
add_processes (TetherProcessTree *self,
               GPtrArray         *processes)
{
  g_autoptr(GHashTable) batches = g_hash_table_new_full (NULL, NULL, NULL,
                                                         (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  GPtrArray *new_entries = g_ptr_array_new ();

  /* Every item first, so that a parent added in the same tick is found
   * whatever the order of the array. */
  for (guint i = 0; i < processes->len; i++)
    {
      TetherProcess *process = g_ptr_array_index (processes, i);
      Entry *entry = g_new0 (Entry, 1);

      entry->item = tether_process_item_new (process);
      tether_process_item_set_tree (entry->item, self);
      g_hash_table_replace (self->entries,
                            GINT_TO_POINTER (tether_process_get_pid (process)), entry);
      g_ptr_array_add (new_entries, entry);
    }

  for (guint i = 0; i < new_entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (new_entries, i);
      GPtrArray *batch;

      entry->container = g_object_ref (container_for (self, tether_process_item_get_process (entry->item)));
      batch = g_hash_table_lookup (batches, entry->container);
      if (batch == NULL)
        {
          batch = g_ptr_array_new ();
          g_hash_table_insert (batches, entry->container, batch);
          g_ptr_array_add (order, entry->container);
        }
      g_ptr_array_add (batch, entry->item);
    }
  g_ptr_array_unref (new_entries);

  /* Parents' stores before children's, so a row's children exist by the
   * time an autoexpanding model looks at it. */
  for (guint i = 0; i < order->len; i++)
    {
      GListStore *container = g_ptr_array_index (order, i);
      GPtrArray *batch = g_hash_table_lookup (batches, container);

      g_list_store_splice (container, g_list_model_get_n_items (G_LIST_MODEL (container)), 0,
                           batch->pdata, batch->len);
    }
}

/* Removes the given items from container, walking backwards so indices of
 * the rows still to visit do not shift, a run of neighbours at a time: one
 * items-changed per run, not per row (a whole tree ending is one run per
 * store), which every model above pays for. */
static void
remove_from_container (GListStore *container,
                       GHashTable *doomed)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (container));
  guint end = n;  /* one past the run being collected */

  for (guint i = n; i > 0; i--)
    {
      g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (container), i - 1);

      if (g_hash_table_contains (doomed, item))
        continue;
      if (end > i)
        g_list_store_splice (container, i, end - i, NULL, 0);
      end = i - 1;
    }
  if (end > 0)
    g_list_store_splice (container, 0, end, NULL, 0);
}

static void
remove_processes (TetherProcessTree *self,
                  GPtrArray         *processes)
{
  g_autoptr(GHashTable) doomed = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) containers = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) orphaned = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (entry_free);
  GHashTableIter iter;
  gpointer container;

  for (guint i = 0; i < processes->len; i++)
    {
      TetherProcess *process = g_ptr_array_index (processes, i);
      gpointer pid = GINT_TO_POINTER (tether_process_get_pid (process));
      Entry *entry = g_hash_table_lookup (self->entries, pid);

      /* The same pid may already name a newer process (reuse): only the
       * entry of this very process goes. */
      if (entry == NULL || tether_process_item_get_process (entry->item) != process)
        continue;
      g_hash_table_steal (self->entries, pid);
      g_hash_table_remove (self->workers, pid);
      g_ptr_array_add (gone, entry);
      g_hash_table_add (doomed, entry->item);
      g_hash_table_add (containers, entry->container);
      g_hash_table_add (orphaned, tether_process_item_get_children (entry->item));
    }

  /* The stores that stay first: once a row goes, the stores of its
   * children are out of every model, and emptying them costs nothing. */
  g_hash_table_iter_init (&iter, containers);
  while (g_hash_table_iter_next (&iter, &container, NULL))
    if (!g_hash_table_contains (orphaned, container))
      remove_from_container (container, doomed);
  g_hash_table_iter_init (&iter, containers);
  while (g_hash_table_iter_next (&iter, &container, NULL))
    if (g_hash_table_contains (orphaned, container))
      remove_from_container (container, doomed);
}

/* Reparented rows (the kernel gives a dead process's children to the
 * subreaper) leave their old stores in runs and join their new ones with
 * one splice per store, as add_processes does. */
static void
move_entries (TetherProcessTree *self,
              GPtrArray         *entries)
{
  g_autoptr(GHashTable) moving = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) sources = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) batches = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(GPtrArray) moved = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer container;

  for (guint i = 0; i < entries->len; i++)
    {
      Entry *entry = g_ptr_array_index (entries, i);
      GListStore *target = container_for (self, tether_process_item_get_process (entry->item));
      GPtrArray *batch;

      if (target == entry->container || target == tether_process_item_get_children (entry->item))
        continue;
      g_hash_table_add (moving, entry->item);
      g_hash_table_add (sources, entry->container);
      g_ptr_array_add (moved, entry);
      batch = g_hash_table_lookup (batches, target);
      if (batch == NULL)
        {
          batch = g_ptr_array_new ();
          g_hash_table_insert (batches, target, batch);
          g_ptr_array_add (order, target);
        }
      g_ptr_array_add (batch, entry->item);
    }
  if (moved->len == 0)
    return;

  /* Out of the old stores first (the items stay alive: the entries hold
   * them), then into the new ones. */
  g_hash_table_iter_init (&iter, sources);
  while (g_hash_table_iter_next (&iter, &container, NULL))
    remove_from_container (container, moving);
  for (guint i = 0; i < moved->len; i++)
    {
      Entry *entry = g_ptr_array_index (moved, i);
      g_set_object (&entry->container, container_for (self, tether_process_item_get_process (entry->item)));
    }
  for (guint i = 0; i < order->len; i++)
    {
      GListStore *target = g_ptr_array_index (order, i);
      GPtrArray *batch = g_hash_table_lookup (batches, target);

      g_list_store_splice (target, g_list_model_get_n_items (G_LIST_MODEL (target)), 0,
                           batch->pdata, batch->len);
    }
}

/* ---- pool workers ----------------------------------------------------- */

/* Asks the pool about one row; TRUE when it is a worker. */
static gboolean
refresh_worker (TetherProcessTree *self,
                Entry             *entry)
{
  TetherWorkerInfo info;

  if (self->pool != NULL &&
      tether_pool_lookup_worker (self->pool, tether_process_item_get_pid (entry->item), &info))
    {
      tether_process_item_set_worker (entry->item, &info);
      return TRUE;
    }
  tether_process_item_set_worker (entry->item, NULL);
  return FALSE;
}

static void
mark_worker (TetherProcessTree *self,
             Entry             *entry)
{
  gpointer pid = GINT_TO_POINTER (tether_process_item_get_pid (entry->item));

  if (refresh_worker (self, entry))
    g_hash_table_add (self->workers, pid);
  else
    g_hash_table_remove (self->workers, pid);
}

/* The rows marked already: their state, generation and reason move, and
 * a worker let go of stops being one before its process is gone. */
static void
update_marked_workers (TetherProcessTree *self)
{
  GHashTableIter iter;
  gpointer pid;

  g_hash_table_iter_init (&iter, self->workers);
  while (g_hash_table_iter_next (&iter, &pid, NULL))
    {
      Entry *entry = g_hash_table_lookup (self->entries, pid);

      if (entry == NULL || !refresh_worker (self, entry))
        g_hash_table_iter_remove (&iter);
    }
}

static void
mark_new_workers (TetherProcessTree *self,
                  GPtrArray         *processes)
{
  if (self->pool == NULL)
    return;
  for (guint i = 0; i < processes->len; i++)
    {
      TetherProcess *process = g_ptr_array_index (processes, i);
      Entry *entry = g_hash_table_lookup (self->entries,
                                          GINT_TO_POINTER (tether_process_get_pid (process)));

      if (entry != NULL && tether_process_item_get_process (entry->item) == process)
        mark_worker (self, entry);
    }
}

/* Every row once: a pool set on a running tree. */
static void
mark_all_workers (TetherProcessTree *self)
{
  GHashTableIter iter;
  gpointer entry;

  update_marked_workers (self);
  if (self->pool == NULL)
    return;
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &entry))
    mark_worker (self, entry);
}

/* A worker the sampler may have listed before the pool knew its pid. */
static void
on_worker_spawned (TetherPool        *pool,
                   int                pid,
                   TetherProcessTree *self)
{
  Entry *entry = g_hash_table_lookup (self->entries, GINT_TO_POINTER (pid));

  if (entry != NULL)
    mark_worker (self, entry);
}

/* Between ticks: a worker became ready or is retiring. */
static void
on_pool_changed (TetherProcessTree *self)
{
  update_marked_workers (self);
}

static void
set_real_time (TetherProcessTree *self,
               gint64             real_time)
{
  if (self->real_time == real_time)
    return;
  self->real_time = real_time;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REAL_TIME]);
}

static void
on_sampler_updated (TetherSampler     *sampler,
                    GPtrArray         *added,
                    GPtrArray         *removed,
                    GPtrArray         *changed,
                    TetherProcessTree *self)
{
  if (removed->len > 0)
    remove_processes (self, removed);
  if (added->len > 0)
    add_processes (self, added);
  update_marked_workers (self);
  mark_new_workers (self, added);

  {
    g_autoptr(GPtrArray) reparented = g_ptr_array_new ();

    for (guint i = 0; i < changed->len; i++)
      {
        TetherProcess *process = g_ptr_array_index (changed, i);
        Entry *entry = g_hash_table_lookup (self->entries,
                                            GINT_TO_POINTER (tether_process_get_pid (process)));

        if (entry == NULL || tether_process_item_get_process (entry->item) != process)
          continue;
        if (tether_process_get_changes (process) & TETHER_PROCESS_CHANGED_PARENT)
          g_ptr_array_add (reparented, entry);
        tether_process_item_update (entry->item, tether_process_get_changes (process));
      }
    move_entries (self, reparented);
  }

  set_real_time (self, tether_sampler_get_totals (sampler)->real_time);
  g_signal_emit (self, signals[UPDATED], 0,
                 added->len > 0 || removed->len > 0 || changed->len > 0);
}

static void
clear (TetherProcessTree *self)
{
  g_list_store_remove_all (self->roots);
  g_hash_table_remove_all (self->workers);
  g_hash_table_remove_all (self->entries);
}

void
tether_process_tree_set_sampler (TetherProcessTree *self,
                                 TetherSampler     *sampler)
{
  g_return_if_fail (TETHER_IS_PROCESS_TREE (self));
  g_return_if_fail (sampler == NULL || TETHER_IS_SAMPLER (sampler));

  if (self->sampler == sampler)
    return;

  if (self->sampler != NULL)
    g_clear_signal_handler (&self->updated_id, self->sampler);
  clear (self);
  g_set_object (&self->sampler, sampler);

  if (sampler != NULL)
    {
      g_autoptr(GPtrArray) processes = tether_sampler_get_processes (sampler);

      add_processes (self, processes);
      mark_new_workers (self, processes);
      set_real_time (self, tether_sampler_get_totals (sampler)->real_time);
      self->updated_id = g_signal_connect (sampler, "updated",
                                           G_CALLBACK (on_sampler_updated), self);
    }
  if (sampler == NULL)
    set_real_time (self, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SAMPLER]);
}

void
tether_process_tree_set_pool (TetherProcessTree *self,
                              TetherPool        *pool)
{
  g_return_if_fail (TETHER_IS_PROCESS_TREE (self));
  g_return_if_fail (pool == NULL || TETHER_IS_POOL (pool));

  if (!g_set_object (&self->pool, pool))
    return;
  g_signal_group_set_target (self->pool_signals, pool);
  mark_all_workers (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POOL]);
}

TetherPool *
tether_process_tree_get_pool (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return self->pool;
}

gint64
tether_process_tree_get_real_time (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), 0);
  return self->real_time;
}

TetherSampler *
tether_process_tree_get_sampler (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return self->sampler;
}

GListModel *
tether_process_tree_get_roots (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return G_LIST_MODEL (self->roots);
}

GtkTreeListModel *
tether_process_tree_get_model (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return self->model;
}

GtkSingleSelection *
tether_process_tree_create_selection (TetherProcessTree  *self,
                                      GtkSorter          *sorter,
                                      GtkSorter         **row_sorter)
{
  GtkTreeListRowSorter *rows_sorter;
  GtkSortListModel *sorted;
  GtkSingleSelection *selection;

  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);

  rows_sorter = gtk_tree_list_row_sorter_new (sorter != NULL ? g_object_ref (sorter) : NULL);
  if (row_sorter != NULL)
    *row_sorter = g_object_ref (GTK_SORTER (rows_sorter));
  sorted = gtk_sort_list_model_new (g_object_ref (G_LIST_MODEL (self->model)),
                                    GTK_SORTER (rows_sorter));
  selection = gtk_single_selection_new (G_LIST_MODEL (sorted));
  /* Autoselect would move the selection to a neighbour when the selected
   * process dies (and the next Kill would hit the wrong process). It also
   * selected the first row already, if there was one. */
  gtk_single_selection_set_autoselect (selection, FALSE);
  gtk_single_selection_set_can_unselect (selection, TRUE);
  gtk_single_selection_set_selected (selection, GTK_INVALID_LIST_POSITION);
  return selection;
}

TetherProcessItem *
tether_process_tree_lookup (TetherProcessTree *self,
                            int                pid)
{
  Entry *entry;

  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  entry = g_hash_table_lookup (self->entries, GINT_TO_POINTER (pid));
  return entry != NULL ? entry->item : NULL;
}

guint
tether_process_tree_get_n_items (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), 0);
  return g_hash_table_size (self->entries);
}

/* Always the item's own store, even when empty: a NULL here would make the
 * row unexpandable for good, though the process may fork later. */
static GListModel *
create_children_model (gpointer item,
                       gpointer user_data)
{
  return g_object_ref (G_LIST_MODEL (tether_process_item_get_children (item)));
}

static void
tether_process_tree_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TetherProcessTree *self = TETHER_PROCESS_TREE (object);

  switch (prop_id)
    {
    case PROP_SAMPLER:
      g_value_set_object (value, self->sampler);
      break;
    case PROP_POOL:
      g_value_set_object (value, self->pool);
      break;
    case PROP_REAL_TIME:
      g_value_set_int64 (value, self->real_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_process_tree_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  TetherProcessTree *self = TETHER_PROCESS_TREE (object);

  switch (prop_id)
    {
    case PROP_SAMPLER:
      tether_process_tree_set_sampler (self, g_value_get_object (value));
      break;
    case PROP_POOL:
      tether_process_tree_set_pool (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_process_tree_dispose (GObject *object)
{
  TetherProcessTree *self = TETHER_PROCESS_TREE (object);

  tether_process_tree_set_pool (self, NULL);
  tether_process_tree_set_sampler (self, NULL);
  g_clear_object (&self->pool_signals);
  g_clear_object (&self->model);

  G_OBJECT_CLASS (tether_process_tree_parent_class)->dispose (object);
}

static void
tether_process_tree_finalize (GObject *object)
{
  TetherProcessTree *self = TETHER_PROCESS_TREE (object);

  g_clear_object (&self->roots);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_clear_pointer (&self->workers, g_hash_table_unref);

  G_OBJECT_CLASS (tether_process_tree_parent_class)->finalize (object);
}

static void
tether_process_tree_class_init (TetherProcessTreeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = tether_process_tree_get_property;
  object_class->set_property = tether_process_tree_set_property;
  object_class->dispose = tether_process_tree_dispose;
  object_class->finalize = tether_process_tree_finalize;

  properties[PROP_SAMPLER] =
    g_param_spec_object ("sampler", NULL, NULL, TETHER_TYPE_SAMPLER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_POOL] =
    g_param_spec_object ("pool", NULL, NULL, TETHER_TYPE_POOL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REAL_TIME] =
    g_param_spec_int64 ("real-time", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* After each tick has been applied; the argument says whether any row
   * was added, removed or changed (a sorted view re-sorts then). */
  signals[UPDATED] =
    g_signal_new ("updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
tether_process_tree_init (TetherProcessTree *self)
{
  self->roots = g_list_store_new (TETHER_TYPE_PROCESS_ITEM);
  self->entries = g_hash_table_new_full (NULL, NULL, NULL, entry_free);
  self->workers = g_hash_table_new (NULL, NULL);
  self->pool_signals = g_signal_group_new (TETHER_TYPE_POOL);
  g_signal_group_connect (self->pool_signals, "worker-spawned",
                          G_CALLBACK (on_worker_spawned), self);
  g_signal_group_connect_swapped (self->pool_signals, "notify::actual",
                                  G_CALLBACK (on_pool_changed), self);
  /* Autoexpand: support staff want the whole tree in view; a row someone
   * collapses stays collapsed (only new rows expand). */
  self->model = gtk_tree_list_model_new (g_object_ref (G_LIST_MODEL (self->roots)),
                                         FALSE, TRUE, create_children_model, NULL, NULL);
}

TetherProcessTree *
tether_process_tree_new (void)
{
  return g_object_new (TETHER_TYPE_PROCESS_TREE, NULL);
}
