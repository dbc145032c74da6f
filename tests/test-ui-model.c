/* test-ui-model.c: the process tree model, without a display
 *
 * TetherProcessTree is what the window's GtkColumnView shows. These tests
 * drive it from a real sampler on real process trees (tether-test-tree
 * under both ownership backends) and check what people rely on: rows stay
 * the same objects across refreshes (so expansion, scroll position and
 * selection stay put), a collapsed row stays collapsed, and when the
 * selected process dies the selection goes away instead of jumping to
 * another process. GtkTreeListModel, GtkSortListModel and GtkSingleSelection
 * are plain list models: no display is needed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <signal.h>
#include <sys/resource.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "tether-process-tree.h"
#include "test-util.h"
#include "test-util-mainloop.h"

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *pidfile;
  TetherOwner *owner;
  TetherSampler *sampler;
  TetherProcessTree *tree;
  guint n_items_changed;   /* emissions of items-changed on the tree list model */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->kind = *(const TetherOwnerKind *) data;
  f->marker = test_util_marker ();
  f->pidfile = test_util_pidfile (f->marker);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->tree);
  g_clear_object (&f->sampler);
  test_util_release_tree (&f->owner, f->marker, f->pidfile);
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Fixture    *f)
{
  f->n_items_changed++;
}

/* 10 s interval: ticks happen by hand (test_util_sampler_refresh), the timer
 * stays out of the way. */
#define start_tree(f, mode, ...) \
  start_tree_owned (f, test_util_spawn_tree ((f)->kind, (f)->marker, (f)->pidfile, mode, __VA_ARGS__))

static void
start_tree_owned (Fixture     *f,
                  TetherOwner *owner)
{
  f->owner = owner;
  f->sampler = tether_sampler_new ();
  tether_sampler_set_interval (f->sampler, 10000);
  tether_sampler_set_owner (f->sampler, f->owner);
  f->tree = tether_process_tree_new ();
  tether_process_tree_set_sampler (f->tree, f->sampler);
  g_signal_connect (tether_process_tree_get_model (f->tree), "items-changed",
                    G_CALLBACK (on_items_changed), f);
  /* The first tick (members come from the owner on the main loop). */
  while (tether_sampler_get_n_ticks (f->sampler) == 0)
    g_main_context_iteration (NULL, TRUE);
}

static TetherProcessItem *
row_item (GListModel *model,
          guint       position)
{
  g_autoptr(GtkTreeListRow) row = g_list_model_get_item (model, position);

  g_assert_nonnull (row);
  /* The model's own reference keeps the item alive. */
  g_object_unref (gtk_tree_list_row_get_item (row));
  return TETHER_PROCESS_ITEM (gtk_tree_list_row_get_item (row));
}

static guint
n_role (Fixture    *f,
        const char *role)
{
  g_autoptr(GArray) pids = test_util_read_role (f->pidfile, role);

  return pids->len;
}

/* Sends SIGUSR1 to the spawner and waits until its new child is written. */
static void
spawn_late (Fixture *f,
            pid_t    main_pid)
{
  guint before = n_role (f, "late");

  g_assert_cmpint (kill (main_pid, SIGUSR1), ==, 0);
  while (n_role (f, "late") <= before)
    g_usleep (1000);
}

/* The row of pid, or GTK_INVALID_LIST_POSITION. */
static guint
find_row (GListModel *model,
          pid_t       pid)
{
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      TetherProcessItem *item = row_item (model, i);

      if (tether_process_item_get_pid (item) == pid)
        return i;
    }
  return GTK_INVALID_LIST_POSITION;
}

/* Every item sits in the store of its parent's item (or the roots), and
 * the rows are exactly the sampler's members. */
static void
assert_structure (Fixture *f)
{
  g_autoptr(GPtrArray) processes = tether_sampler_get_processes (f->sampler);

  g_assert_cmpuint (tether_process_tree_get_n_items (f->tree), ==, processes->len);
  for (guint i = 0; i < processes->len; i++)
    {
      TetherProcess *p = g_ptr_array_index (processes, i);
      TetherProcessItem *item = tether_process_tree_lookup (f->tree, tether_process_get_pid (p));
      TetherProcessItem *parent = tether_process_tree_lookup (f->tree, tether_process_get_parent (p));
      GListStore *container = parent != NULL ? tether_process_item_get_children (parent)
                                             : G_LIST_STORE (tether_process_tree_get_roots (f->tree));
      guint position;

      g_assert_nonnull (item);
      g_assert_true (tether_process_item_get_process (item) == p);
      g_assert_true (g_list_store_find (container, item, &position));
    }
}

/* 100 refreshes of a 31-process tree: the same item objects, the same row
 * objects, not one items-changed. */
static void
test_same_items (Fixture       *f,
                 gconstpointer  data)
{
  GListModel *rows;
  g_autoptr(GPtrArray) processes = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) row_objects = g_ptr_array_new_with_free_func (g_object_unref);

  start_tree (f, "tree", "30", NULL);
  rows = G_LIST_MODEL (tether_process_tree_get_model (f->tree));
  g_assert_cmpuint (tether_process_tree_get_n_items (f->tree), ==, 31);
  /* Autoexpanded: every process is a row, the main process the only root. */
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 31);
  g_assert_cmpuint (g_list_model_get_n_items (tether_process_tree_get_roots (f->tree)), ==, 1);
  assert_structure (f);

  processes = tether_sampler_get_processes (f->sampler);
  for (guint i = 0; i < processes->len; i++)
    g_ptr_array_add (items, g_object_ref (tether_process_tree_lookup (f->tree,
                       tether_process_get_pid (g_ptr_array_index (processes, i)))));
  for (guint i = 0; i < g_list_model_get_n_items (rows); i++)
    g_ptr_array_add (row_objects, g_list_model_get_item (rows, i));

  f->n_items_changed = 0;
  for (guint tick = 0; tick < 100; tick++)
    {
      test_util_sampler_refresh (f->sampler);
      for (guint i = 0; i < processes->len; i++)
        g_assert_true (tether_process_tree_lookup (f->tree,
                         tether_process_get_pid (g_ptr_array_index (processes, i)))
                       == g_ptr_array_index (items, i));
    }
  g_assert_cmpuint (f->n_items_changed, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 31);
  for (guint i = 0; i < row_objects->len; i++)
    {
      g_autoptr(GObject) row = g_list_model_get_item (rows, i);
      g_assert_true (row == g_ptr_array_index (row_objects, i));
    }
  assert_structure (f);
}

/* A collapsed row stays collapsed through refreshes, and while children
 * are born under it; an expanded one stays expanded. */
static void
test_expansion (Fixture       *f,
                gconstpointer  data)
{
  GListModel *rows;
  g_autoptr(GtkTreeListRow) main_row = NULL;
  pid_t main_pid, late;

  start_tree (f, "spawner", NULL);
  rows = G_LIST_MODEL (tether_process_tree_get_model (f->tree));
  main_pid = test_util_wait_role (f->pidfile, "main", 1);

  spawn_late (f, main_pid);
  spawn_late (f, main_pid);
  test_util_sampler_refresh (f->sampler);
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 3);
  assert_structure (f);

  main_row = g_list_model_get_item (rows, 0);
  g_assert_true (gtk_tree_list_row_get_expanded (main_row));
  gtk_tree_list_row_set_expanded (main_row, FALSE);
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 1);

  for (guint tick = 0; tick < 100; tick++)
    test_util_sampler_refresh (f->sampler);
  g_assert_false (gtk_tree_list_row_get_expanded (main_row));
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 1);

  /* A child born under the collapsed row: in its store, not shown. */
  spawn_late (f, main_pid);
  {
    g_autoptr(GArray) lates = test_util_read_role (f->pidfile, "late");
    late = g_array_index (lates, pid_t, lates->len - 1);
  }
  test_util_sampler_refresh (f->sampler);
  g_assert_nonnull (tether_process_tree_lookup (f->tree, late));
  g_assert_false (gtk_tree_list_row_get_expanded (main_row));
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 1);
  g_assert_true (g_list_model_get_item (rows, 0) == (gpointer) main_row);
  g_object_unref (main_row);  /* the ref g_list_model_get_item took */

  gtk_tree_list_row_set_expanded (main_row, TRUE);
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 4);
  for (guint tick = 0; tick < 100; tick++)
    test_util_sampler_refresh (f->sampler);
  g_assert_true (gtk_tree_list_row_get_expanded (main_row));
  g_assert_cmpuint (g_list_model_get_n_items (rows), ==, 4);
  g_assert_cmpuint (find_row (rows, late), !=, GTK_INVALID_LIST_POSITION);
}

/* The window's stack: rows sorted among siblings, a single selection with
 * autoselect off. The selected process dies: no selection, and nothing
 * else selected; re-sorting keeps a selection on its process. */
static void
test_selection (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GtkSortListModel) sorted = NULL;
  g_autoptr(GtkSingleSelection) selection = NULL;
  GtkNumericSorter *by_pid;
  g_autoptr(GtkSorter) row_sorter = NULL;
  g_autoptr(GArray) lates = NULL;
  g_autoptr(TetherProcessItem) victim_item = NULL;
  pid_t main_pid, victim, keeper;
  guint position;

  start_tree (f, "spawner", NULL);
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  for (guint i = 0; i < 3; i++)
    spawn_late (f, main_pid);
  test_util_sampler_refresh (f->sampler);
  lates = test_util_read_role (f->pidfile, "late");
  victim = g_array_index (lates, pid_t, 1);  /* the middle one: neighbours on both sides */
  keeper = g_array_index (lates, pid_t, 2);

  by_pid = gtk_numeric_sorter_new (gtk_property_expression_new (TETHER_TYPE_PROCESS_ITEM, NULL, "pid"));
  gtk_numeric_sorter_set_sort_order (by_pid, GTK_SORT_DESCENDING);
  selection = tether_process_tree_create_selection (f->tree, GTK_SORTER (by_pid), &row_sorter);
  g_object_unref (by_pid);
  sorted = g_object_ref (GTK_SORT_LIST_MODEL (gtk_single_selection_get_model (selection)));
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, GTK_INVALID_LIST_POSITION);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 4);

  /* Siblings sorted by pid, descending, under their parent. */
  g_assert_cmpuint (find_row (G_LIST_MODEL (sorted), main_pid), ==, 0);
  g_assert_cmpuint (find_row (G_LIST_MODEL (sorted), keeper), ==, 1);

  /* Re-sorting (the window does it after every tick with changes) keeps
   * the selection on the same process. */
  position = find_row (G_LIST_MODEL (sorted), keeper);
  gtk_single_selection_set_selected (selection, position);
  gtk_numeric_sorter_set_sort_order (by_pid, GTK_SORT_ASCENDING);
  gtk_sorter_changed (row_sorter, GTK_SORTER_CHANGE_DIFFERENT);
  g_assert_cmpuint (find_row (G_LIST_MODEL (sorted), keeper), ==, 3);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, 3);
  for (guint tick = 0; tick < 20; tick++)
    {
      test_util_sampler_refresh (f->sampler);
      gtk_sorter_changed (row_sorter, GTK_SORTER_CHANGE_DIFFERENT);
    }
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==,
                    find_row (G_LIST_MODEL (sorted), keeper));

  /* Select the victim, kill it: the selection goes, and stays gone. */
  position = find_row (G_LIST_MODEL (sorted), victim);
  gtk_single_selection_set_selected (selection, position);
  victim_item = g_object_ref (row_item (G_LIST_MODEL (selection), position));
  g_assert_cmpint (kill (victim, SIGKILL), ==, 0);
  test_util_wait_reaped (victim);
  test_util_sampler_refresh (f->sampler);

  g_assert_null (tether_process_tree_lookup (f->tree, victim));
  g_assert_false (tether_process_is_alive (tether_process_item_get_process (victim_item)));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 3);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, GTK_INVALID_LIST_POSITION);
  g_assert_null (gtk_single_selection_get_selected_item (selection));
  for (guint i = 0; i < 3; i++)
    g_assert_false (gtk_selection_model_is_selected (GTK_SELECTION_MODEL (selection), i));
  for (guint tick = 0; tick < 10; tick++)
    test_util_sampler_refresh (f->sampler);
  g_assert_cmpuint (gtk_single_selection_get_selected (selection), ==, GTK_INVALID_LIST_POSITION);
  assert_structure (f);
}

/* The backend's main process dies: its double-forked escapee moves to the
 * top level as the same object (a move, not a new row). */
static void
test_move (Fixture       *f,
           gconstpointer  data)
{
  TetherProcessItem *item;
  pid_t main_pid, escapee;
  guint position;

  start_tree (f, "double-fork", "stay", NULL);
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  escapee = test_util_wait_role (f->pidfile, "grandchild", 1);
  test_util_sampler_refresh (f->sampler);
  item = tether_process_tree_lookup (f->tree, escapee);
  g_assert_nonnull (item);
  g_assert_true (g_list_store_find (tether_process_item_get_children (
                   tether_process_tree_lookup (f->tree, main_pid)), item, &position));

  g_assert_cmpint (kill (main_pid, SIGKILL), ==, 0);
  test_util_wait_reaped (main_pid);
  test_util_sampler_refresh (f->sampler);
  g_assert_null (tether_process_tree_lookup (f->tree, main_pid));
  g_assert_true (tether_process_tree_lookup (f->tree, escapee) == item);
  g_assert_cmpint (tether_process_item_get_parent (item), ==, 0);
  g_assert_true (g_list_store_find (G_LIST_STORE (tether_process_tree_get_roots (f->tree)),
                                    item, &position));
  assert_structure (f);

  /* The last member dies: the model empties. */
  g_assert_cmpint (kill (escapee, SIGKILL), ==, 0);
  test_util_wait_reaped (escapee);
  test_util_sampler_refresh (f->sampler);
  g_assert_cmpuint (tether_process_tree_get_n_items (f->tree), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (tether_process_tree_get_model (f->tree))), ==, 0);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              guint      *count)
{
  (*count)++;
}

/* What the window's cells bind to besides the process's own values:
 * "has-children" (the expander arrow) flips only between none and some;
 * the tree's "real-time" (uptime cells) is one notification per tick; an
 * item names its tree until its process leaves it. */
static void
test_cell_properties (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(TetherProcessItem) late_item = NULL;
  TetherProcessItem *main_item;
  guint has_children_notifies = 0;
  guint real_time_notifies = 0;
  pid_t main_pid, first, second;

  start_tree (f, "spawner", NULL);
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  test_util_sampler_refresh (f->sampler);
  main_item = tether_process_tree_lookup (f->tree, main_pid);
  g_assert_nonnull (main_item);
  g_assert_false (tether_process_item_get_has_children (main_item));
  g_assert_true (tether_process_item_get_tree (main_item) == f->tree);
  g_assert_cmpint (tether_process_tree_get_real_time (f->tree), ==,
                   tether_sampler_get_totals (f->sampler)->real_time);
  g_signal_connect (main_item, "notify::has-children", G_CALLBACK (count_notify),
                    &has_children_notifies);
  g_signal_connect (f->tree, "notify::real-time", G_CALLBACK (count_notify),
                    &real_time_notifies);

  spawn_late (f, main_pid);
  spawn_late (f, main_pid);
  {
    g_autoptr(GArray) lates = test_util_read_role (f->pidfile, "late");
    first = g_array_index (lates, pid_t, 0);
    second = g_array_index (lates, pid_t, 1);
  }
  test_util_sampler_refresh (f->sampler);
  g_assert_true (tether_process_item_get_has_children (main_item));
  g_assert_cmpuint (has_children_notifies, ==, 1);
  g_assert_cmpuint (real_time_notifies, ==, 1);
  g_assert_cmpint (tether_process_tree_get_real_time (f->tree), ==,
                   tether_sampler_get_totals (f->sampler)->real_time);

  for (guint tick = 0; tick < 10; tick++)
    {
      g_usleep (1000);  /* a tick a millisecond later than the one before */
      test_util_sampler_refresh (f->sampler);
    }
  g_assert_cmpuint (real_time_notifies, ==, 11);
  g_assert_cmpuint (has_children_notifies, ==, 1);

  /* One of two children dies: still a parent. The other: a leaf again. */
  late_item = g_object_ref (tether_process_tree_lookup (f->tree, first));
  g_assert_cmpint (kill (first, SIGKILL), ==, 0);
  test_util_wait_reaped (first);
  test_util_sampler_refresh (f->sampler);
  g_assert_true (tether_process_item_get_has_children (main_item));
  g_assert_cmpuint (has_children_notifies, ==, 1);
  g_assert_null (tether_process_item_get_tree (late_item));

  g_assert_cmpint (kill (second, SIGKILL), ==, 0);
  test_util_wait_reaped (second);
  test_util_sampler_refresh (f->sampler);
  g_assert_false (tether_process_item_get_has_children (main_item));
  g_assert_cmpuint (has_children_notifies, ==, 2);

  g_signal_handlers_disconnect_by_func (main_item, count_notify, &has_children_notifies);
  tether_process_tree_set_sampler (f->tree, NULL);
  g_assert_cmpint (tether_process_tree_get_real_time (f->tree), ==, 0);
  g_assert_null (tether_process_tree_lookup (f->tree, main_pid));
}

/* The optional columns (user, parent PID, nice) and the stop marker:
 * a renice notifies "nice" of that row; the marker is one property of the
 * tree that every row follows. */
static void
test_optional_columns (Fixture       *f,
                       gconstpointer  data)
{
  TetherProcessItem *main_item;
  pid_t main_pid;
  guint nice_notifies = 0, marker_notifies = 0;
  g_autofree char *user = NULL;
  int ppid = 0, nice = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  start_tree (f, "spawner", NULL);
  main_pid = test_util_wait_role (f->pidfile, "main", 1);
  test_util_sampler_refresh (f->sampler);
  main_item = tether_process_tree_lookup (f->tree, main_pid);
  g_assert_nonnull (main_item);
  g_object_get (main_item, "user", &user, "ppid", &ppid, "nice", &nice, NULL);
  g_assert_cmpstr (user, ==, g_get_user_name ());
  g_assert_cmpint (ppid, ==, tether_process_get_ppid (tether_process_item_get_process (main_item)));
  g_assert_cmpint (ppid, >, 0);
  g_assert_cmpint (nice, ==, getpriority (PRIO_PROCESS, 0));

  g_signal_connect (main_item, "notify::nice", G_CALLBACK (count_notify), &nice_notifies);
  g_assert_cmpint (setpriority (PRIO_PROCESS, main_pid, 12), ==, 0);
  while (nice_notifies == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      test_util_sampler_refresh (f->sampler);
    }
  g_object_get (main_item, "nice", &nice, NULL);
  g_assert_cmpint (nice, ==, 12);
  test_util_sampler_refresh (f->sampler);
  g_assert_cmpuint (nice_notifies, ==, 1);
  g_signal_handlers_disconnect_by_func (main_item, count_notify, &nice_notifies);

  g_assert_null (tether_process_tree_get_stop_marker (f->tree));
  g_signal_connect (f->tree, "notify::stop-marker", G_CALLBACK (count_notify), &marker_notifies);
  tether_process_tree_set_stop_marker (f->tree, "Still running after SIGTERM");
  tether_process_tree_set_stop_marker (f->tree, "Still running after SIGTERM");
  g_assert_cmpuint (marker_notifies, ==, 1);
  tether_process_tree_set_stop_marker (f->tree, NULL);
  g_assert_cmpuint (marker_notifies, ==, 2);
  g_assert_null (tether_process_tree_get_stop_marker (f->tree));
  g_signal_handlers_disconnect_by_func (f->tree, count_notify, &marker_notifies);
}

/* Texts shown in cells: notified only when they change. */
static int
compare_cpu_then_pid (gconstpointer a,
                      gconstpointer b,
                      gpointer      user_data)
{
  TetherProcess *x = tether_process_item_get_process ((TetherProcessItem *) a);
  TetherProcess *y = tether_process_item_get_process ((TetherProcessItem *) b);
  double cx = tether_process_get_cpu_percent (x), cy = tether_process_get_cpu_percent (y);

  if (cx != cy)
    return cx > cy ? -1 : 1;
  return tether_process_get_pid (x) - tether_process_get_pid (y);
}

/* A 1000-process tree ends at once: removing its rows, expanded and sorted
 * as the window shows them, must be as cheap as adding them was -- no
 * main-loop iteration longer than 50 ms of the thread's own time. */
static void
test_remove_1000 (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GtkSorter) sorter = GTK_SORTER (gtk_custom_sorter_new (compare_cpu_then_pid, NULL, NULL));
  g_autoptr(GtkSingleSelection) selection = NULL;
  g_autoptr(GtkSorter) row_sorter = NULL;
  g_autoptr(GError) error = NULL;
  TestMainLoopWatch watch = { 0 };
  TestUtilAwait await = { 0 };
  gint64 t0;

  start_tree (f, "tree", "999", NULL);
  selection = tether_process_tree_create_selection (f->tree, sorter, &row_sorter);
  while (tether_process_tree_get_n_items (f->tree) < 1000)
    test_util_sampler_refresh (f->sampler);
  /* Every row expanded (autoexpand), sorted. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 1000);

  tether_owner_kill_all_async (f->owner, NULL, test_util_await_cb, &await);
  g_assert_true (tether_owner_verb_finish (f->owner, test_util_await (&await), NULL, &error));
  g_assert_no_error (error);

  f->n_items_changed = 0;
  test_main_loop_watch_start (&watch);
  t0 = g_get_monotonic_time ();
  while (tether_process_tree_get_n_items (f->tree) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time () - t0, <, 30 * G_USEC_PER_SEC);
      test_util_sampler_refresh (f->sampler);
    }
  test_main_loop_watch_stop (&watch);
  g_test_message ("%s: 1000 rows removed, worst main-loop iteration %.1f ms of its own (%.1f ms wall), "
                  "%.0f ms in all, %u items-changed", tether_owner_kind_to_string (f->kind),
                  watch.worst_own_usec / 1000.0, watch.worst_usec / 1000.0,
                  (g_get_monotonic_time () - t0) / 1000.0, f->n_items_changed);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (selection)), ==, 0);
  /* Runs of neighbours go at once, the rows under a row that went go with
   * it, reparented rows move in batches: one signal per row and two per
   * move made about 1450 here; batched, 300 to 900 (the deaths and the
   * kernel's reparenting spread over a few ticks). */
  g_assert_cmpuint (f->n_items_changed, <, 1000);
  g_assert_cmpint (watch.worst_own_usec, <, 50 * 1000);
}

static void
test_texts (void)
{
  g_autofree char *s = tether_format_uptime (5);
  g_autofree char *m = tether_format_uptime (125);
  g_autofree char *h = tether_format_uptime (3 * 3600 + 7 * 60);
  g_autofree char *d = tether_format_uptime (2 * 86400 + 5 * 3600);
  g_autofree char *neg = tether_format_uptime (-3);

  g_assert_cmpstr (s, ==, "5 s");
  g_assert_cmpstr (m, ==, "2 min");
  g_assert_cmpstr (h, ==, "3 h 07 min");
  g_assert_cmpstr (d, ==, "2 d 5 h");
  g_assert_cmpstr (neg, ==, "0 s");
  g_assert_cmpstr (tether_process_state_to_label ('S'), ==, "Sleeping");
  g_assert_cmpstr (tether_process_state_to_label ('D'), ==, "Uninterruptible — may not die");
  g_assert_cmpstr (tether_process_state_to_label ('T'), ==, "Paused");
}

int
main (int   argc,
      char *argv[])
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ui-model/texts", test_texts);
#define add(name, func) \
  test_util_add_for_kinds ("/ui-model", name, sizeof (Fixture), fixture_setup, func, fixture_teardown)
  add ("same-items", test_same_items);
  add ("expansion", test_expansion);
  add ("selection", test_selection);
  add ("move", test_move);
  add ("cell-properties", test_cell_properties);
  add ("optional-columns", test_optional_columns);
  add ("remove-1000", test_remove_1000);
#undef add

  return g_test_run ();
}
