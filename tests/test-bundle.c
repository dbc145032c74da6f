/* test-bundle.c: the support bundle's document, its file, and a bundle of a
 * real supervisor made in this process (tetherctl's, through the socket,
 * is test-cli's)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tether-bundle.h"
#include "tether-control.h"
#include "tether-error.h"
#include "test-util.h"

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return node;
}

/* Sections in their order whatever order they came in, an error or "not
 * collected" where there was no reply, the profile as UTF-8 text. */
static void
test_document (void)
{
  g_autoptr(TetherBundle) bundle = tether_bundle_new ();
  g_autoptr(JsonNode) status = parse ("{\"state\": \"running\", \"profile\": \"/somewhere/p.json\"}");
  g_autoptr(JsonNode) log = parse ("{\"lines\": [{\"seq\": 1, \"text\": \"hello\"}]}");
  g_autoptr(GError) diagnose_error = g_error_new_literal (TETHER_ERROR, TETHER_ERROR_FAILED, "no /proc here");
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GList) members = NULL;
  static const char * const order[] = { "format", "created", "versions", "status", "profile",
                                        "diagnosis", "tree", "log", "history" };
  JsonObject *document, *versions;
  GList *l;
  guint i;

  g_assert_null (tether_bundle_get_profile_path (bundle));
  /* Out of order, as replies may come. */
  tether_bundle_set_section (bundle, TETHER_BUNDLE_LOG, log, NULL);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_DIAGNOSIS, NULL, diagnose_error);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_STATUS, status, NULL);
  g_assert_cmpstr (tether_bundle_get_profile_path (bundle), ==, "/somewhere/p.json");
  tether_bundle_set_profile_text (bundle, "{\"name\": \"caf\xe9\"}");
  tether_bundle_add_version (bundle, "gtk", "4.8.3");

  text = tether_bundle_to_string (bundle);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  root = parse (text);
  document = json_node_get_object (root);
  members = json_object_get_members (document);
  for (l = members, i = 0; l != NULL; l = l->next, i++)
    {
      g_assert_cmpuint (i, <, G_N_ELEMENTS (order));
      g_assert_cmpstr (l->data, ==, order[i]);
    }
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (order));

  g_assert_cmpstr (json_object_get_string_member (document, "format"), ==, TETHER_BUNDLE_FORMAT);
  versions = json_object_get_object_member (document, "versions");
  g_assert_cmpstr (json_object_get_string_member (versions, "tether"), ==, PACKAGE_VERSION);
  g_assert_cmpstr (json_object_get_string_member (versions, "gtk"), ==, "4.8.3");
  g_assert_true (json_object_has_member (versions, "glib"));
  g_assert_true (json_object_has_member (versions, "kernel"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (document, "status"), "state"),
                   ==, "running");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (document, "diagnosis"), "error"),
                   ==, "no /proc here");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (document, "tree"), "error"),
                   ==, "Not collected");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_object_get_object_member (document, "log"),
                                                                         "lines")), ==, 1);
  /* The byte that is not UTF-8 replaced, the rest kept. */
  g_assert_true (g_str_has_prefix (json_object_get_string_member (document, "profile"), "{\"name\": \"caf"));

  tether_bundle_set_profile_text (bundle, NULL);
  g_clear_pointer (&text, g_free);
  text = tether_bundle_to_string (bundle);
  g_clear_pointer (&root, json_node_unref);
  root = parse (text);
  g_assert_true (json_object_get_null_member (json_node_get_object (root), "profile"));
}

/* tetherctl sends these: the control server must take every one. */
static void
test_section_requests (void)
{
  for (TetherBundleSection s = 0; s < TETHER_N_BUNDLE_SECTIONS; s++)
    {
      g_autoptr(JsonNode) request = tether_bundle_section_request (s);
      g_autofree char *line = json_to_string (request, FALSE);
      g_autoptr(GError) error = NULL;
      TetherControlRequest parsed;

      g_assert_true (tether_control_parse_request (line, strlen (line), &parsed, &error));
      g_assert_no_error (error);
      if (s == TETHER_BUNDLE_LOG)
        g_assert_cmpuint (parsed.lines, ==, TETHER_BUNDLE_LOG_LINES);
    }
  g_assert_cmpstr (tether_bundle_section_name (TETHER_BUNDLE_DIAGNOSIS), ==, "diagnosis");
}

/* 0600 even over a file that was readable by all, whole, and an error
 * that names the problem when it cannot be written. */
static void
test_save (void)
{
  g_autoptr(TetherBundle) bundle = tether_bundle_new ();
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "saved-bundle.json", NULL);
  g_autofree char *bad_path = g_build_filename (test_util_tmpdir (), "no-such-dir", "b.json", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) bad = g_file_new_for_path (bad_path);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(JsonNode) root = NULL;
  TestUtilAwait a = { 0 };
  struct stat st;
  gsize length = 0;

  g_assert_true (g_file_set_contents_full (path, "old contents, longer than nothing", -1,
                                           G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  tether_bundle_save_async (bundle, file, NULL, test_util_await_cb, &a);
  g_assert_true (tether_bundle_save_finish (bundle, test_util_await (&a), &length, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  expected = tether_bundle_to_string (bundle);
  /* Only "created" could differ, and it is set once. */
  g_assert_cmpstr (contents, ==, expected);
  g_assert_cmpuint (length, ==, strlen (contents));
  root = parse (contents);

  tether_bundle_save_async (bundle, bad, NULL, test_util_await_cb, &a);
  g_assert_false (tether_bundle_save_finish (bundle, test_util_await (&a), NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "no-such-dir"));
  g_unlink (path);
}

/* ---- a real supervisor -------------------------------------------------- */

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *profile_path;
  TetherProfile *profile;
  TetherSupervisor *supervisor;
} Fixture;

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->kind = *(const TetherOwnerKind *) data;
  fx->marker = test_util_marker ();
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  test_util_end_supervisor (&fx->supervisor);
  g_clear_pointer (&fx->profile, tether_profile_unref);
  if (fx->profile_path != NULL)
    g_unlink (fx->profile_path);
  g_free (fx->profile_path);
  test_util_kill_marked (fx->marker);
  g_free (fx->marker);
}

static guint
n_array (JsonObject *object,
         const char *member)
{
  JsonArray *array = json_object_get_array_member (object, member);

  g_assert_nonnull (array);
  return json_array_get_length (array);
}

/* Every section from memory and /proc, as the socket would answer: the
 * main process and its two children diagnosed, the line it printed, the
 * profile file. */
static void
test_collect (Fixture       *fx,
              gconstpointer  data)
{
  /* A line, then the helper's main process and two children (each with
   * the marker in its argv). */
  const char *argv[] = { "/bin/sh", "-c", "echo hello-from-the-bundle; exec \"$0\" \"$1\" children 2",
                         test_util_tree_helper (), fx->marker, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherBundle) bundle = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *document, *status, *diagnosis, *tree, *log;
  TestUtilAwait a = { 0 };
  gint64 deadline;
  gboolean printed = FALSE;

  fx->profile_path = test_util_write_profile (NULL, argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  g_assert_true (test_util_start_supervisor (fx->supervisor, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (test_util_count_marked (fx->marker) < 3 ||
         tether_log_get_last_seq (tether_supervisor_get_log (fx->supervisor)) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }

  tether_bundle_collect_async (fx->supervisor, NULL, test_util_await_cb, &a);
  bundle = tether_bundle_collect_finish (test_util_await (&a), &error);
  g_assert_no_error (error);
  g_assert_nonnull (bundle);
  text = tether_bundle_to_string (bundle);
  root = parse (text);
  document = json_node_get_object (root);

  status = json_object_get_object_member (document, "status");
  g_assert_cmpstr (json_object_get_string_member (status, "state"), ==, "running");
  g_assert_cmpstr (json_object_get_string_member (status, "owner"), ==,
                   tether_owner_kind_to_string (fx->kind));
  g_assert_nonnull (strstr (json_object_get_string_member (document, "profile"), fx->marker));

  tree = json_object_get_object_member (document, "tree");
  diagnosis = json_object_get_object_member (document, "diagnosis");
  g_assert_cmpuint (n_array (tree, "processes"), ==, 3);
  g_assert_cmpuint (n_array (diagnosis, "processes"), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *p = json_array_get_object_element (json_object_get_array_member (diagnosis, "processes"), i);

      g_assert_true (json_object_has_member (p, "wchan"));
      g_assert_true (json_object_has_member (p, "state_label"));
    }
  /* The cgroup's own files only where there is one. */
  g_assert_cmpint (json_object_get_null_member (diagnosis, "cgroup"), ==, fx->kind != TETHER_OWNER_CGROUP);

  log = json_object_get_object_member (document, "log");
  for (guint i = 0; i < n_array (log, "lines"); i++)
    {
      JsonObject *line = json_array_get_object_element (json_object_get_array_member (log, "lines"), i);
      printed |= g_strcmp0 (json_object_get_string_member (line, "text"), "hello-from-the-bundle") == 0;
    }
  g_assert_true (printed);
  g_assert_true (json_object_has_member (json_object_get_object_member (document, "history"), "events"));

  /* Cancelled: said so, no bundle. */
  g_cancellable_cancel (cancellable);
  tether_bundle_collect_async (fx->supervisor, cancellable, test_util_await_cb, &a);
  g_assert_null (tether_bundle_collect_finish (test_util_await (&a), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/bundle/document", test_document);
  g_test_add_func ("/bundle/section-requests", test_section_requests);
  g_test_add_func ("/bundle/save", test_save);
  test_util_add_for_kinds ("/bundle", "collect", sizeof (Fixture), setup, test_collect, teardown);

  return g_test_run ();
}
