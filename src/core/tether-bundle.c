/* tether-bundle.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-bundle.h"

#include <glib/gi18n-lib.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <sys/utsname.h>
#endif

#include "tether-control.h"
#include "tether-json.h"

struct _TetherBundle
{
  GObject parent_instance;

  char *created;                               /* ISO 8601 */
  JsonObject *versions;
  JsonNode *sections[TETHER_N_BUNDLE_SECTIONS]; /* NULL: not collected */
  char *profile_text;                          /* NULL: not read */
};

G_DEFINE_FINAL_TYPE (TetherBundle, tether_bundle, G_TYPE_OBJECT)

/* The control method behind each section, and what it is called in the
 * document. */
static const struct
{
  const char *name;
  const char *method;
} sections[TETHER_N_BUNDLE_SECTIONS] = {
  [TETHER_BUNDLE_STATUS] = { "status", "status" },
  [TETHER_BUNDLE_DIAGNOSIS] = { "diagnosis", "diagnose" },
  [TETHER_BUNDLE_TREE] = { "tree", "tree" },
  [TETHER_BUNDLE_LOG] = { "log", "logs" },
  [TETHER_BUNDLE_HISTORY] = { "history", "history" },
};

static void
tether_bundle_finalize (GObject *object)
{
  TetherBundle *self = TETHER_BUNDLE (object);

  g_free (self->created);
  json_object_unref (self->versions);
  for (guint i = 0; i < TETHER_N_BUNDLE_SECTIONS; i++)
    g_clear_pointer (&self->sections[i], json_node_unref);
  g_free (self->profile_text);

  G_OBJECT_CLASS (tether_bundle_parent_class)->finalize (object);
}

static void
tether_bundle_class_init (TetherBundleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_bundle_finalize;
}

static void
tether_bundle_init (TetherBundle *self)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *glib = g_strdup_printf ("%u.%u.%u", glib_major_version, glib_minor_version,
                                           glib_micro_version);
#ifdef G_OS_UNIX
  struct utsname uts;
#endif

  self->created = g_date_time_format_iso8601 (now);
  self->versions = json_object_new ();
  json_object_set_string_member (self->versions, "tether", PACKAGE_VERSION);
  json_object_set_string_member (self->versions, "glib", glib);
  /* Built against: json-glib has no run-time version to ask. */
  json_object_set_string_member (self->versions, "json-glib", JSON_VERSION_S);
#ifdef G_OS_UNIX
  if (uname (&uts) == 0)
    {
      g_autofree char *kernel = g_strdup_printf ("%s %s %s", uts.sysname, uts.release, uts.machine);
      json_object_set_string_member (self->versions, "kernel", kernel);
    }
#else
  {
    g_autofree char *os = g_get_os_info (G_OS_INFO_KEY_PRETTY_NAME);

    if (os != NULL)
      json_object_set_string_member (self->versions, "kernel", os);
  }
#endif
}

TetherBundle *
tether_bundle_new (void)
{
  return g_object_new (TETHER_TYPE_BUNDLE, NULL);
}

void
tether_bundle_add_version (TetherBundle *self,
                           const char   *component,
                           const char   *version)
{
  g_return_if_fail (TETHER_IS_BUNDLE (self));
  g_return_if_fail (component != NULL && version != NULL);

  json_object_set_string_member (self->versions, component, version);
}

const char *
tether_bundle_section_name (TetherBundleSection section)
{
  g_return_val_if_fail (section < TETHER_N_BUNDLE_SECTIONS, NULL);
  return sections[section].name;
}

JsonNode *
tether_bundle_section_request (TetherBundleSection section)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (section < TETHER_N_BUNDLE_SECTIONS, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, sections[section].method);
  if (section == TETHER_BUNDLE_LOG)
    {
      json_builder_set_member_name (b, "lines");
      json_builder_add_int_value (b, TETHER_BUNDLE_LOG_LINES);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
error_node (const char *message)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "error", message);
  json_node_take_object (node, object);
  return node;
}

void
tether_bundle_set_section (TetherBundle        *self,
                           TetherBundleSection  section,
                           JsonNode            *reply,
                           const GError        *error)
{
  g_return_if_fail (TETHER_IS_BUNDLE (self));
  g_return_if_fail (section < TETHER_N_BUNDLE_SECTIONS);
  g_return_if_fail (reply != NULL || error != NULL);

  g_clear_pointer (&self->sections[section], json_node_unref);
  self->sections[section] = reply != NULL ? json_node_ref (reply) : error_node (error->message);
}

JsonNode *
tether_bundle_get_section (TetherBundle        *self,
                           TetherBundleSection  section)
{
  g_return_val_if_fail (TETHER_IS_BUNDLE (self), NULL);
  g_return_val_if_fail (section < TETHER_N_BUNDLE_SECTIONS, NULL);

  return self->sections[section];
}

const char *
tether_bundle_get_profile_path (TetherBundle *self)
{
  JsonNode *status;

  g_return_val_if_fail (TETHER_IS_BUNDLE (self), NULL);

  status = self->sections[TETHER_BUNDLE_STATUS];
  if (status == NULL || !JSON_NODE_HOLDS_OBJECT (status))
    return NULL;
  return json_object_get_string_member_with_default (json_node_get_object (status), "profile", NULL);
}

void
tether_bundle_set_profile_text (TetherBundle *self,
                                const char   *text)
{
  g_return_if_fail (TETHER_IS_BUNDLE (self));

  g_free (self->profile_text);
  /* A file edited since it was loaded may be anything; a JSON string
   * must be UTF-8. */
  self->profile_text = text != NULL ? g_utf8_make_valid (text, -1) : NULL;
}

char *
tether_bundle_to_string (TetherBundle *self)
{
  g_autoptr(JsonObject) document = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

  g_return_val_if_fail (TETHER_IS_BUNDLE (self), NULL);

  json_object_set_string_member (document, "format", TETHER_BUNDLE_FORMAT);
  json_object_set_string_member (document, "created", self->created);
  json_object_set_object_member (document, "versions", json_object_ref (self->versions));
  for (guint i = 0; i < TETHER_N_BUNDLE_SECTIONS; i++)
    {
      json_object_set_member (document, sections[i].name,
                              self->sections[i] != NULL ? json_node_copy (self->sections[i])
                                                        : error_node (_("Not collected")));
      /* The profile right after the status that names it. */
      if (i == TETHER_BUNDLE_STATUS)
        {
          if (self->profile_text != NULL)
            json_object_set_string_member (document, "profile", self->profile_text);
          else
            json_object_set_null_member (document, "profile");
        }
    }
  json_node_set_object (root, document);
  return tether_json_to_string (root, TRUE);
}

/* ---- collecting in this process ----------------------------------------- */

static void
on_profile_loaded (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherBundle *bundle = g_task_get_task_data (task);
  g_autofree char *contents = NULL;

  if (g_file_load_contents_finish (G_FILE (source), result, &contents, NULL, NULL, NULL))
    tether_bundle_set_profile_text (bundle, contents);
  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_return_pointer (task, g_object_ref (bundle), g_object_unref);
}

static void
on_diagnosed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherBundle *bundle = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) diagnosis = tether_control_diagnose_finish (result, &error);
  const char *profile_path;

  if (g_task_return_error_if_cancelled (task))
    return;
  tether_bundle_set_section (bundle, TETHER_BUNDLE_DIAGNOSIS, diagnosis, error);

  /* The profile as written (the supervisor's copy may be older than the
   * file). */
  profile_path = tether_bundle_get_profile_path (bundle);
  if (profile_path == NULL)
    {
      g_task_return_pointer (task, g_object_ref (bundle), g_object_unref);
      return;
    }
  {
    g_autoptr(GFile) file = g_file_new_for_path (profile_path);
    GCancellable *cancellable = g_task_get_cancellable (task);

    g_file_load_contents_async (file, cancellable, on_profile_loaded, g_steal_pointer (&task));
  }
}

/* The sections a supervisor answers from memory, once a fresh sample is
 * in (as the control socket answers status and tree). */
static void
on_refreshed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherSupervisor *supervisor = g_task_get_source_object (task);
  TetherBundle *bundle = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(JsonNode) tree = NULL;
  g_autoptr(JsonNode) log = NULL;
  g_autoptr(JsonNode) history = NULL;

  /* A failed sample still leaves the last one to report. */
  tether_sampler_refresh_finish (TETHER_SAMPLER (source), result, NULL);
  if (g_task_return_error_if_cancelled (task))
    return;

  status = tether_control_status_json (supervisor);
  tree = tether_control_tree_json (supervisor);
  log = tether_control_logs_json (supervisor, TETHER_BUNDLE_LOG_LINES, 0);
  history = tether_control_history_json (supervisor);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_STATUS, status, NULL);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_TREE, tree, NULL);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_LOG, log, NULL);
  tether_bundle_set_section (bundle, TETHER_BUNDLE_HISTORY, history, NULL);

  tether_control_diagnose_async (supervisor, 0, cancellable, on_diagnosed, g_steal_pointer (&task));
}

void
tether_bundle_collect_async (TetherSupervisor    *supervisor,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_SUPERVISOR (supervisor));

  task = g_task_new (supervisor, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_bundle_collect_async);
  g_task_set_task_data (task, tether_bundle_new (), g_object_unref);
  tether_sampler_refresh_async (tether_supervisor_get_sampler (supervisor), cancellable,
                                on_refreshed, task);
}

TetherBundle *
tether_bundle_collect_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_bundle_collect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- collecting through a control socket -------------------------------- */

TetherBundle *
tether_bundle_collect_from_socket (const char *socket_path,
                                   guint       timeout_seconds)
{
  TetherBundle *bundle = tether_bundle_new ();
  const char *profile_path;

  g_return_val_if_fail (socket_path != NULL, NULL);

  for (TetherBundleSection s = 0; s < TETHER_N_BUNDLE_SECTIONS; s++)
    {
      g_autoptr(JsonNode) request = tether_bundle_section_request (s);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) reply = tether_control_call (socket_path, request, timeout_seconds, &error);

      tether_bundle_set_section (bundle, s, reply, error);
    }

  profile_path = tether_bundle_get_profile_path (bundle);
  if (profile_path != NULL)
    {
      g_autofree char *contents = NULL;

      if (g_file_get_contents (profile_path, &contents, NULL, NULL))
        tether_bundle_set_profile_text (bundle, contents);
    }
  return bundle;
}

/* ---- saving ------------------------------------------------------------- */

gboolean
tether_bundle_save (TetherBundle  *self,
                    GFile         *file,
                    gsize         *length,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autofree char *text = NULL;
  g_autofree char *path = NULL;
  gsize n;
  gboolean ok;

  g_return_val_if_fail (TETHER_IS_BUNDLE (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  text = tether_bundle_to_string (self);
  n = strlen (text);
  path = g_file_get_path (file);
  /* A new file in its place, never one whose mode another program chose:
   * an existing file keeps its mode when written over. */
  if (path != NULL)
    ok = g_file_set_contents_full (path, text, (gssize) n, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  else
    ok = g_file_replace_contents (file, text, n, NULL, FALSE,
                                  G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                  NULL, cancellable, error);
  if (ok && length != NULL)
    *length = n;
  return ok;
}

static void
save_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  gsize length = 0;

  if (tether_bundle_save (source, task_data, &length, cancellable, &error))
    g_task_return_int (task, (gssize) MIN (length, G_MAXSSIZE));
  else
    g_task_return_error (task, error);
}

void
tether_bundle_save_async (TetherBundle        *self,
                          GFile               *file,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_BUNDLE (self));
  g_return_if_fail (G_IS_FILE (file));

  /* The thread only reads the bundle; nothing changes it once collected. */
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_bundle_save_async);
  g_task_set_task_data (task, g_object_ref (file), g_object_unref);
  g_task_run_in_thread (task, save_thread);
}

gboolean
tether_bundle_save_finish (TetherBundle  *self,
                           GAsyncResult  *result,
                           gsize         *length,
                           GError       **error)
{
  gssize n;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (length != NULL)
    *length = (gsize) n;
  return TRUE;
}
