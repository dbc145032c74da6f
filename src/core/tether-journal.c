/* tether-journal.c: the crash-safe journal of checkpoints and events
 *
 * Every file operation runs in one thread of the journal's own (a
 * GThreadPool of one, fed from a queue), in the order asked: appends never
 * interleave, the appends waiting share one fdatasync, and the main loop
 * never waits on the disk. What the main loop keeps (the
 * entries) changes only when an operation's result comes back to it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-journal.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-enums.h"
#include "tether-error.h"
#include "tether-json.h"
#include "tether-procfs.h"

/* Compaction starts once the file holds this many more checkpoints than
 * it keeps: a rewrite per 1000 appends, not per append. */
#define COMPACT_SLACK TETHER_JOURNAL_KEEP
/* Appends written with one sync at most. */
#define MAX_BATCH 256

typedef enum
{
  OP_LOAD,
  OP_APPEND,
} OpKind;

typedef struct
{
  OpKind kind;
  TetherJournalEntry *entry;   /* OP_APPEND */
  GPtrArray *loaded;           /* OP_LOAD result: TetherJournalEntry */
  char *message;               /* OP_LOAD result */
  guint n_corrupt;
} Op;

struct _TetherJournal
{
  GObject parent_instance;

  char *path;
  GThreadPool *thread;
  GAsyncQueue *queue;          /* GTask, in the order asked */

  /* The thread's own. */
  int fd;
  guint n_checkpoints_on_disk;

  /* The main loop's. */
  gboolean loaded;
  GPtrArray *entries;          /* TetherJournalEntry, oldest first */
  char *load_message;
  guint n_corrupt;
};

G_DEFINE_FINAL_TYPE (TetherJournal, tether_journal, G_TYPE_OBJECT)

/* ---- entries ---------------------------------------------------------------- */

TetherJournalEntry *
tether_journal_entry_new (TetherJournalKind  kind,
                          const char        *id,
                          const char        *label,
                          const char        *outcome,
                          pid_t              pid)
{
  TetherJournalEntry *entry = g_new0 (TetherJournalEntry, 1);

  entry->kind = kind;
  entry->id = g_strdup (id);
  entry->label = g_strdup (label);
  entry->outcome = g_strdup (outcome);
  entry->time = g_get_real_time ();
  entry->pid = pid;
  return entry;
}

TetherJournalEntry *
tether_journal_entry_copy (const TetherJournalEntry *entry)
{
  TetherJournalEntry *copy = g_memdup2 (entry, sizeof *entry);

  copy->id = g_strdup (entry->id);
  copy->label = g_strdup (entry->label);
  copy->outcome = g_strdup (entry->outcome);
  return copy;
}

void
tether_journal_entry_free (TetherJournalEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->id);
  g_free (entry->label);
  g_free (entry->outcome);
  g_free (entry);
}

const char *
tether_journal_kind_to_string (TetherJournalKind kind)
{
  return tether_enum_to_nick (TETHER_TYPE_JOURNAL_KIND, kind);
}

static void
add_string_member (JsonObject *object,
                   const char *name,
                   const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, name, value);
}

char *
tether_journal_entry_to_line (const TetherJournalEntry *entry)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "kind", tether_journal_kind_to_string (entry->kind));
  add_string_member (object, "id", entry->id);
  add_string_member (object, "label", entry->label);
  add_string_member (object, "outcome", entry->outcome);
  json_object_set_int_member (object, "time", entry->time);
  if (entry->pid > 0)
    json_object_set_int_member (object, "pid", entry->pid);
  json_node_set_object (root, object);
  return tether_json_to_string (root, FALSE);
}

static gboolean
read_optional_string (JsonObject  *object,
                      const char  *name,
                      char       **out)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

TetherJournalEntry *
tether_journal_entry_from_line (const char  *line,
                                gsize        length,
                                GError     **error)
{
  g_autoptr(TetherJsonDocument) document = NULL;
  g_autoptr(GError) local_error = NULL;
  TetherJournalEntry *entry;
  JsonObject *object;
  JsonNode *node;
  int kind;

  if (length > TETHER_JOURNAL_MAX_LINE)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("a line of %zu bytes (at most %d)"), (size_t) length, TETHER_JOURNAL_MAX_LINE);
      return NULL;
    }
  document = tether_json_parse (line, (gssize) length, 2, &local_error);
  if (document == NULL)
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, local_error->message);
      return NULL;
    }
  node = tether_json_document_get_root (document);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("not a JSON object"));
      return NULL;
    }
  object = json_node_get_object (node);

  node = json_object_get_member (object, "kind");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
      !tether_enum_from_nick (TETHER_TYPE_JOURNAL_KIND, json_node_get_string (node), &kind))
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("no known “kind”"));
      return NULL;
    }

  entry = g_new0 (TetherJournalEntry, 1);
  entry->kind = kind;
  node = json_object_get_member (object, "time");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    entry->time = json_node_get_int (node);
  node = json_object_get_member (object, "pid");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64 &&
      json_node_get_int (node) > 0 && json_node_get_int (node) <= G_MAXINT32)
    entry->pid = (pid_t) json_node_get_int (node);
  if (!read_optional_string (object, "id", &entry->id) ||
      !read_optional_string (object, "label", &entry->label) ||
      !read_optional_string (object, "outcome", &entry->outcome) ||
      entry->time <= 0 ||
      (entry->kind == TETHER_JOURNAL_CHECKPOINT && entry->id == NULL))
    {
      tether_journal_entry_free (entry);
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("fields of the wrong type, or missing"));
      return NULL;
    }
  return entry;
}

/* ---- the thread ---------------------------------------------------------- */

static void
op_free (Op *op)
{
  tether_journal_entry_free (op->entry);
  g_clear_pointer (&op->loaded, g_ptr_array_unref);
  g_free (op->message);
  g_free (op);
}

static gboolean
fsync_directory (const char  *path,
                 GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0 || fsync (fd) < 0)
    {
      saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Could not sync %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static gboolean
ensure_open (TetherJournal  *self,
             GError        **error)
{
  g_autofree char *dir = NULL;
  gboolean created;
  int saved;

  if (self->fd >= 0)
    return TRUE;

  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Could not create %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  created = !g_file_test (self->path, G_FILE_TEST_EXISTS);
  self->fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (self->fd < 0)
    {
      saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Could not open the journal %s: %s"), self->path, g_strerror (saved));
      return FALSE;
    }
  /* A new file's name is on disk only once its directory is. */
  return !created || fsync_directory (self->path, error);
}

/* Reads every line. A last line without its newline is torn: dropped, and
 * the file cut back before it. */
static void
do_load (TetherJournal *self,
         Op            *op)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) message = g_string_new (NULL);
  gsize length = 0;
  gsize good_end = 0;
  const char *p;
  const char *end;

  op->loaded = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_journal_entry_free);
  if (!g_file_get_contents (self->path, &contents, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        op->message = g_strdup_printf (_("Could not read the journal: %s"), error->message);
      return;
    }

  p = contents;
  end = contents + length;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));
      TetherJournalEntry *entry;

      if (nl == NULL)
        {
          g_string_append_printf (message, _("dropped a torn last line of %zu bytes (a crash while writing)"),
                                  (size_t) (end - p));
          break;
        }
      good_end = (gsize) (nl + 1 - contents);
      if (nl > p)
        {
          entry = tether_journal_entry_from_line (p, (gsize) (nl - p), NULL);
          if (entry != NULL)
            {
              if (entry->kind == TETHER_JOURNAL_CHECKPOINT)
                self->n_checkpoints_on_disk++;
              g_ptr_array_add (op->loaded, entry);
            }
          else
            op->n_corrupt++;
        }
      p = nl + 1;
    }

  if (good_end < length)
    {
      /* The next append must not be glued to the torn bytes. */
      if (truncate (self->path, (off_t) good_end) < 0)
        g_string_append_printf (message, _("; could not cut it off: %s"), g_strerror (errno));
    }
  if (op->n_corrupt > 0)
    g_string_append_printf (message,
                            ngettext ("%sskipped %u corrupt line", "%sskipped %u corrupt lines", op->n_corrupt),
                            message->len > 0 ? "; " : "", op->n_corrupt);
  if (message->len > 0)
    op->message = g_string_free (g_steal_pointer (&message), FALSE);
}

/* Keeps the newest TETHER_JOURNAL_KEEP checkpoints and every other event
 * among as many of the newest lines: temporary file, fsync, rename, fsync
 * of the directory. A failure leaves the journal as it was. */
static void
compact (TetherJournal *self)
{
  g_autofree char *contents = NULL;
  g_autofree char *tmp = g_strconcat (self->path, ".tmp", NULL);
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) kept = g_string_new (NULL);
  guint n_lines, start, n_checkpoints = 0;
  int fd;

  if (!g_file_get_contents (self->path, &contents, NULL, NULL))
    return;
  lines = g_strsplit (contents, "\n", -1);
  n_lines = g_strv_length (lines);

  /* From the end back, as far as the newest KEEP checkpoints go. */
  for (start = n_lines; start > 0; start--)
    if (strstr (lines[start - 1], "\"kind\":\"checkpoint\"") != NULL && ++n_checkpoints > TETHER_JOURNAL_KEEP)
      break;
  for (guint i = start; i < n_lines; i++)
    if (*lines[i] != '\0')
      g_string_append_printf (kept, "%s\n", lines[i]);

  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  if (tether_write_all (fd, kept->str, kept->len) < 0 || fsync (fd) < 0 || close (fd) < 0 ||
      rename (tmp, self->path) < 0)
    {
      g_unlink (tmp);
      return;
    }
  fsync_directory (self->path, NULL);
  close (self->fd);
  self->fd = -1;
  self->n_checkpoints_on_disk = MIN (n_checkpoints, TETHER_JOURNAL_KEEP);
}

static void
return_op (GTask  *task,
           GError *error)
{
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Writes the lines of a run of appends, then one fdatasync for all of them
 * (a group commit: a flood of checkpoints costs one sync per batch, and
 * the queue cannot grow faster than the disk). Each completes only after
 * the sync. */
static void
write_batch (TetherJournal *self,
             GPtrArray     *batch)
{
  g_autoptr(GString) lines = g_string_new (NULL);
  GError *error = NULL;
  guint n_checkpoints = 0;

  for (guint i = 0; i < batch->len; i++)
    {
      Op *op = g_task_get_task_data (g_ptr_array_index (batch, i));
      g_autofree char *line = tether_journal_entry_to_line (op->entry);

      g_string_append (lines, line);
      g_string_append_c (lines, '\n');
      n_checkpoints += op->entry->kind == TETHER_JOURNAL_CHECKPOINT;
    }

  if (ensure_open (self, &error))
    {
      int err = tether_write_all (self->fd, lines->str, lines->len);

      if (err == 0 && fdatasync (self->fd) < 0)
        err = -errno;
      if (err < 0)
        {
          g_set_error (&error, TETHER_ERROR, TETHER_ERROR_FAILED,
                       _("Could not write the journal %s: %s"), self->path, g_strerror (-err));
          /* A partial line is torn: the next load drops it. */
          close (self->fd);
          self->fd = -1;
        }
      else if ((self->n_checkpoints_on_disk += n_checkpoints) > TETHER_JOURNAL_KEEP + COMPACT_SLACK)
        compact (self);
    }

  for (guint i = 0; i < batch->len; i++)
    return_op (g_ptr_array_index (batch, i), error != NULL ? g_error_copy (error) : NULL);
  g_clear_error (&error);
  g_ptr_array_set_size (batch, 0);
}

/* The thread: every operation queued so far, in order. A job may find the
 * queue empty (an earlier job took its operation along). */
static void
run_ops (gpointer data,
         gpointer user_data)
{
  g_autoptr(GTask) token = data;   /* keeps the journal alive meanwhile */
  TetherJournal *self = g_task_get_source_object (token);
  g_autoptr(GPtrArray) batch = g_ptr_array_new ();
  GTask *task;

  while ((task = g_async_queue_try_pop (self->queue)) != NULL)
    {
      Op *op = g_task_get_task_data (task);

      if (op->kind == OP_APPEND)
        {
          g_ptr_array_add (batch, task);
          if (batch->len < MAX_BATCH)
            continue;
          write_batch (self, batch);
          continue;
        }
      if (batch->len > 0)
        write_batch (self, batch);
      do_load (self, op);
      return_op (task, NULL);
    }
  if (batch->len > 0)
    write_batch (self, batch);
}

/* ---- the main loop's side ------------------------------------------------- */

static void
trim_entries (TetherJournal *self)
{
  guint n_checkpoints = 0;

  for (guint i = self->entries->len; i > 0; i--)
    {
      TetherJournalEntry *entry = g_ptr_array_index (self->entries, i - 1);

      if (entry->kind == TETHER_JOURNAL_CHECKPOINT && ++n_checkpoints > TETHER_JOURNAL_KEEP)
        {
          g_ptr_array_remove_range (self->entries, 0, i);
          return;
        }
    }
}

static void
push (TetherJournal       *self,
      Op                  *op,
      GCancellable        *cancellable,
      GAsyncReadyCallback  callback,
      gpointer             user_data,
      gpointer             source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  g_async_queue_push (self->queue, task);
  g_thread_pool_push (self->thread, g_object_ref (task), NULL);
}

void
tether_journal_load_async (TetherJournal       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  Op *op = g_new0 (Op, 1);

  g_return_if_fail (TETHER_IS_JOURNAL (self));

  op->kind = OP_LOAD;
  push (self, op, cancellable, callback, user_data, tether_journal_load_async);
}

gboolean
tether_journal_load_finish (TetherJournal  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  Op *op;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  op = g_task_get_task_data (G_TASK (result));
  if (!self->loaded)
    {
      /* What was appended meanwhile comes after what was on disk. */
      g_ptr_array_extend_and_steal (op->loaded, g_steal_pointer (&self->entries));
      self->entries = g_steal_pointer (&op->loaded);
      self->loaded = TRUE;
      self->n_corrupt = op->n_corrupt;
      g_free (self->load_message);
      self->load_message = g_steal_pointer (&op->message);
      trim_entries (self);
    }
  return TRUE;
}

gboolean
tether_journal_is_loaded (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), FALSE);
  return self->loaded;
}

const char *
tether_journal_get_load_message (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), NULL);
  return self->load_message;
}

guint
tether_journal_get_n_corrupt (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), 0);
  return self->n_corrupt;
}

void
tether_journal_append_async (TetherJournal            *self,
                             const TetherJournalEntry *entry,
                             GCancellable             *cancellable,
                             GAsyncReadyCallback       callback,
                             gpointer                  user_data)
{
  Op *op = g_new0 (Op, 1);

  g_return_if_fail (TETHER_IS_JOURNAL (self));
  g_return_if_fail (entry != NULL);

  op->kind = OP_APPEND;
  op->entry = tether_journal_entry_copy (entry);
  push (self, op, cancellable, callback, user_data, tether_journal_append_async);
}

gboolean
tether_journal_append_finish (TetherJournal  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  Op *op;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  /* On disk: now it is an entry. Finishing twice adds nothing. */
  op = g_task_get_task_data (G_TASK (result));
  if (op->entry != NULL)
    {
      g_ptr_array_add (self->entries, g_steal_pointer (&op->entry));
      trim_entries (self);
    }
  return TRUE;
}

GPtrArray *
tether_journal_get_entries (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), NULL);
  return self->entries;
}

const TetherJournalEntry *
tether_journal_get_last_checkpoint (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), NULL);

  for (guint i = self->entries->len; i > 0; i--)
    {
      TetherJournalEntry *entry = g_ptr_array_index (self->entries, i - 1);
      if (entry->kind == TETHER_JOURNAL_CHECKPOINT)
        return entry;
    }
  return NULL;
}

const char *
tether_journal_get_path (TetherJournal *self)
{
  g_return_val_if_fail (TETHER_IS_JOURNAL (self), NULL);
  return self->path;
}

char *
tether_journal_default_path (const char *profile_id)
{
  return g_build_filename (g_get_user_state_dir (), "tether", profile_id, "journal.jsonl", NULL);
}

/* ---- GObject ---------------------------------------------------------------- */

static void
tether_journal_finalize (GObject *object)
{
  TetherJournal *self = TETHER_JOURNAL (object);

  /* Every task holds a reference: nothing is queued any more. The last one
   * may be dropped by the journal's own thread, which must not wait for
   * itself. */
  g_thread_pool_free (self->thread, FALSE, FALSE);
  g_async_queue_unref (self->queue);
  if (self->fd >= 0)
    close (self->fd);
  g_ptr_array_unref (self->entries);
  g_free (self->load_message);
  g_free (self->path);

  G_OBJECT_CLASS (tether_journal_parent_class)->finalize (object);
}

static void
tether_journal_class_init (TetherJournalClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_journal_finalize;
}

static void
tether_journal_init (TetherJournal *self)
{
  self->fd = -1;
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_journal_entry_free);
  /* One thread, so operations run one at a time, in order. */
  self->thread = g_thread_pool_new (run_ops, NULL, 1, FALSE, NULL);
  self->queue = g_async_queue_new ();
}

TetherJournal *
tether_journal_new (const char *path)
{
  TetherJournal *self;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (TETHER_TYPE_JOURNAL, NULL);
  self->path = g_strdup (path);
  return self;
}
