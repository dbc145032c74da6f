/* tether-process-tree.c: the sampler's members as a live GtkTreeListModel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

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
  char *stop_marker;        /* what every row says during a stop, or NULL */
  TetherPool *pool;
  GSignalGroup *pool_signals;
  GHashTable *workers;      /* pids of the rows marked as workers */

  /* Flat mode: every item in one store, as rows without children, so a
   * sort ranks every process against every other. */
  GListStore *all;
  GtkTreeListModel *flat_model;
  gboolean flat;

  /* The view's chain (create_selection): rows → search → sort → selection. */
  GtkFilterListModel *filtered;
  GtkCustomFilter *filter;
  GtkSingleSelection *selection;  /* weak */
  char *search;             /* casefolded, NULL when not searching */
  GHashTable *visible;      /* items shown while searching: matches and, in the tree, their ancestors */
  guint n_matches;
};

G_DEFINE_FINAL_TYPE (TetherProcessTree, tether_process_tree, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SAMPLER,
  PROP_POOL,
  PROP_REAL_TIME,
  PROP_FLAT,
  PROP_SEARCH,
  PROP_N_MATCHES,
  PROP_STOP_MARKER,
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
  {
    g_autoptr(GPtrArray) items = g_ptr_array_new ();

    for (guint i = 0; i < new_entries->len; i++)
      g_ptr_array_add (items, ((Entry *) g_ptr_array_index (new_entries, i))->item);
    g_list_store_splice (self->all, g_list_model_get_n_items (G_LIST_MODEL (self->all)), 0,
                         items->pdata, items->len);
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
  if (gone->len > 0)
    remove_from_container (self->all, doomed);
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

/* ---- subtree totals ---------------------------------------------------- */

/* Post-order over the rows: each item gets its own figures plus its
 * descendants', and adds them to its parent's. */
static void
sum_subtrees (GListModel *store,
              double     *cpu_percent,
              guint64    *memory_bytes)
{
  guint n = g_list_model_get_n_items (store);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TetherProcessItem) item = g_list_model_get_item (store, i);
      TetherProcess *process = tether_process_item_get_process (item);
      double cpu = tether_process_get_cpu_percent (process);
      guint64 memory = tether_process_get_memory_bytes (process, NULL);

      sum_subtrees (G_LIST_MODEL (tether_process_item_get_children (item)), &cpu, &memory);
      tether_process_item_set_subtree_totals (item, cpu, memory);
      *cpu_percent += cpu;
      *memory_bytes += memory;
    }
}

static void
update_subtree_totals (TetherProcessTree *self)
{
  double cpu = 0;
  guint64 memory = 0;

  sum_subtrees (G_LIST_MODEL (self->roots), &cpu, &memory);
}

/* ---- search ------------------------------------------------------------ */

/* text inside haystack with no letter or digit right before or after it:
 * "8080" finds "--port 8080" and ":8080", not a hex marker's digits. */
static gboolean
contains_token (const char *haystack,
                const char *text)
{
  gsize len = strlen (text);

  for (const char *at = strstr (haystack, text); at != NULL; at = strstr (at + 1, text))
    if ((at == haystack || !g_ascii_isalnum (at[-1])) && !g_ascii_isalnum (at[len]))
      return TRUE;
  return FALSE;
}

static gboolean
is_number (const char *text)
{
  for (const char *c = text; *c != '\0'; c++)
    if (!g_ascii_isdigit (*c))
      return FALSE;
  return TRUE;
}

/* A number is a pid (its beginning) or a whole number in the command
 * line; other text anywhere in the name or the command line, in any
 * case. */
static gboolean
item_matches (TetherProcessItem *item,
              const char        *search)
{
  const char *cmdline = tether_process_item_get_cmdline (item);

  if (is_number (search))
    {
      char pid[16];

      g_snprintf (pid, sizeof pid, "%d", tether_process_item_get_pid (item));
      return g_str_has_prefix (pid, search) || (cmdline != NULL && contains_token (cmdline, search));
    }
  {
    g_autofree char *name = g_utf8_casefold (tether_process_item_get_name (item), -1);
    g_autofree char *line = cmdline != NULL ? g_utf8_casefold (cmdline, -1) : NULL;

    return strstr (name, search) != NULL || (line != NULL && strstr (line, search) != NULL);
  }
}

static gboolean
filter_row (gpointer row,
            gpointer user_data)
{
  TetherProcessTree *self = user_data;
  g_autoptr(TetherProcessItem) item = gtk_tree_list_row_get_item (row);

  return g_hash_table_contains (self->visible, item);
}

static void
set_n_matches (TetherProcessTree *self,
               guint              n_matches)
{
  if (self->n_matches == n_matches)
    return;
  self->n_matches = n_matches;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_MATCHES]);
}

/* Who is shown while searching: the matches and, in the tree, every
 * ancestor of one, so a match is seen where it lives. */
static void
refresh_search (TetherProcessTree *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n_matches = 0;

  g_hash_table_remove_all (self->visible);
  if (self->search == NULL)
    {
      set_n_matches (self, 0);
      if (self->filtered != NULL)
        gtk_filter_list_model_set_filter (self->filtered, NULL);
      return;
    }

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      TetherProcessItem *item = entry->item;

      if (!item_matches (item, self->search))
        continue;
      n_matches++;
      g_hash_table_add (self->visible, item);
      while (!self->flat && item != NULL)
        {
          Entry *parent = g_hash_table_lookup (self->entries,
                                               GINT_TO_POINTER (tether_process_item_get_parent (item)));

          item = parent != NULL && parent->item != item ? parent->item : NULL;
          if (item == NULL || g_hash_table_contains (self->visible, item))
            break;
          g_hash_table_add (self->visible, item);
        }
    }
  set_n_matches (self, n_matches);
  if (self->filtered != NULL)
    {
      if (gtk_filter_list_model_get_filter (self->filtered) == NULL)
        gtk_filter_list_model_set_filter (self->filtered, GTK_FILTER (self->filter));
      else
        gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
    }
}

void
tether_process_tree_set_search (TetherProcessTree *self,
                                const char        *text)
{
  g_autofree char *search = NULL;

  g_return_if_fail (TETHER_IS_PROCESS_TREE (self));

  if (text != NULL)
    {
      g_autofree char *stripped = g_strstrip (g_strdup (text));

      if (stripped[0] != '\0')
        search = g_utf8_casefold (stripped, -1);
    }
  if (g_strcmp0 (search, self->search) == 0)
    return;
  g_free (self->search);
  self->search = g_steal_pointer (&search);
  refresh_search (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEARCH]);
}

const char *
tether_process_tree_get_search (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return self->search;
}

guint
tether_process_tree_get_n_matches (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), 0);
  return self->n_matches;
}

/* ---- flat or tree ------------------------------------------------------ */

static guint
find_position (GListModel        *rows,
               TetherProcessItem *item)
{
  guint n = g_list_model_get_n_items (rows);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (rows, i);
      g_autoptr(GObject) row_item = gtk_tree_list_row_get_item (row);

      if (row_item == (GObject *) item)
        return i;
    }
  return GTK_INVALID_LIST_POSITION;
}

void
tether_process_tree_set_flat (TetherProcessTree *self,
                              gboolean           flat)
{
  g_autoptr(TetherProcessItem) selected = NULL;

  g_return_if_fail (TETHER_IS_PROCESS_TREE (self));

  flat = !!flat;
  if (self->flat == flat)
    return;
  self->flat = flat;

  /* The same process stays selected in the other view. */
  if (self->selection != NULL && gtk_single_selection_get_selected_item (self->selection) != NULL)
    selected = gtk_tree_list_row_get_item (gtk_single_selection_get_selected_item (self->selection));
  if (self->filtered != NULL)
    gtk_filter_list_model_set_model (self->filtered,
                                     G_LIST_MODEL (flat ? self->flat_model : self->model));
  if (self->search != NULL)
    refresh_search (self);
  if (selected != NULL)
    gtk_single_selection_set_selected (self->selection,
                                       find_position (G_LIST_MODEL (self->selection), selected));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAT]);
}

gboolean
tether_process_tree_get_flat (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), FALSE);
  return self->flat;
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
  if (added->len > 0 || removed->len > 0 || changed->len > 0)
    update_subtree_totals (self);
  if (self->search != NULL)
    refresh_search (self);

  set_real_time (self, tether_sampler_get_totals (sampler)->real_time);
  g_signal_emit (self, signals[UPDATED], 0,
                 added->len > 0 || removed->len > 0 || changed->len > 0);
}

static void
clear (TetherProcessTree *self)
{
  g_list_store_remove_all (self->roots);
  g_list_store_remove_all (self->all);
  g_hash_table_remove_all (self->visible);
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
      update_subtree_totals (self);
      set_real_time (self, tether_sampler_get_totals (sampler)->real_time);
      self->updated_id = g_signal_connect (sampler, "updated",
                                           G_CALLBACK (on_sampler_updated), self);
    }
  if (sampler == NULL)
    set_real_time (self, 0);
  refresh_search (self);
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

void
tether_process_tree_set_stop_marker (TetherProcessTree *self,
                                     const char        *marker)
{
  g_return_if_fail (TETHER_IS_PROCESS_TREE (self));

  if (g_strcmp0 (self->stop_marker, marker) == 0)
    return;
  g_free (self->stop_marker);
  self->stop_marker = g_strdup (marker);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_MARKER]);
}

const char *
tether_process_tree_get_stop_marker (TetherProcessTree *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_TREE (self), NULL);
  return self->stop_marker;
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

  g_return_val_if_fail (self->filtered == NULL, NULL);

  rows_sorter = gtk_tree_list_row_sorter_new (sorter != NULL ? g_object_ref (sorter) : NULL);
  if (row_sorter != NULL)
    *row_sorter = g_object_ref (GTK_SORTER (rows_sorter));
  /* No filter until a search: every row passes at no cost. */
  self->filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->flat ? self->flat_model
                                                                                      : self->model)),
                                              NULL);
  g_object_add_weak_pointer (G_OBJECT (self->filtered), (gpointer *) &self->filtered);
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (self->filtered), GTK_SORTER (rows_sorter));
  selection = gtk_single_selection_new (G_LIST_MODEL (sorted));
  self->selection = selection;
  g_object_add_weak_pointer (G_OBJECT (selection), (gpointer *) &self->selection);
  refresh_search (self);
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

static GListModel *
no_children_model (gpointer item,
                   gpointer user_data)
{
  return NULL;
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
    case PROP_FLAT:
      g_value_set_boolean (value, self->flat);
      break;
    case PROP_SEARCH:
      g_value_set_string (value, self->search);
      break;
    case PROP_N_MATCHES:
      g_value_set_uint (value, self->n_matches);
      break;
    case PROP_STOP_MARKER:
      g_value_set_string (value, self->stop_marker);
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
    case PROP_FLAT:
      tether_process_tree_set_flat (self, g_value_get_boolean (value));
      break;
    case PROP_SEARCH:
      tether_process_tree_set_search (self, g_value_get_string (value));
      break;
    case PROP_STOP_MARKER:
      tether_process_tree_set_stop_marker (self, g_value_get_string (value));
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
  if (self->filtered != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->filtered), (gpointer *) &self->filtered);
      gtk_filter_list_model_set_filter (self->filtered, NULL);
      self->filtered = NULL;
    }
  if (self->selection != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->selection), (gpointer *) &self->selection);
      self->selection = NULL;
    }
  if (self->filter != NULL)
    gtk_custom_filter_set_filter_func (self->filter, NULL, NULL, NULL);
  g_clear_object (&self->filter);
  g_clear_object (&self->model);
  g_clear_object (&self->flat_model);

  G_OBJECT_CLASS (tether_process_tree_parent_class)->dispose (object);
}

static void
tether_process_tree_finalize (GObject *object)
{
  TetherProcessTree *self = TETHER_PROCESS_TREE (object);

  g_clear_object (&self->roots);
  g_clear_object (&self->all);
  g_clear_pointer (&self->search, g_free);
  g_clear_pointer (&self->stop_marker, g_free);
  g_clear_pointer (&self->visible, g_hash_table_unref);
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
  properties[PROP_FLAT] =
    g_param_spec_boolean ("flat", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SEARCH] =
    g_param_spec_string ("search", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_MATCHES] =
    g_param_spec_uint ("n-matches", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STOP_MARKER] =
    g_param_spec_string ("stop-marker", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
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
  self->all = g_list_store_new (TETHER_TYPE_PROCESS_ITEM);
  /* Rows without children: each is a row of its own, sorted with all. */
  self->flat_model = gtk_tree_list_model_new (g_object_ref (G_LIST_MODEL (self->all)),
                                              FALSE, FALSE, no_children_model, NULL, NULL);
  self->visible = g_hash_table_new (NULL, NULL);
  self->filter = gtk_custom_filter_new (filter_row, self, NULL);
}

TetherProcessTree *
tether_process_tree_new (void)
{
  return g_object_new (TETHER_TYPE_PROCESS_TREE, NULL);
}
