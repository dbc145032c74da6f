/* tether-unsupported-win32.c: the Linux-only parts, as Windows answers them
 *
 * The supervisor and the control server are built for Windows unchanged;
 * what they ask of parts that exist only on Linux is answered here, each
 * plainly "not on Windows":
 *
 *   notify (tether-notify.c)   sd_notify needs an AF_UNIX datagram socket
 *                              and the sender's credentials: no NOTIFY_SOCKET
 *                              is given, so no READY=, STATUS= or checkpoints
 *   journal (tether-journal.c) no checkpoints arrive, so none are kept:
 *                              rollback has nothing to roll back to
 *   pool (tether-pool.c)       socket passing (LISTEN_FDS) has no equivalent;
 *                              a profile with a pool is refused on Windows
 *   http (tether-http.c)       no libsoup in the Windows build: health
 *                              probes and rollback "http" are refused
 *   pidfile, diagnose          read /proc
 *
 * tether-profile.c refuses, on Windows, the profile fields that would need
 * them (tether_profile_check_platform), so none of these is reached by a
 * profile that loaded.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "tether-diagnose.h"
#include "tether-enum-types.h"
#include "tether-enums.h"
#include "tether-error.h"
#include "tether-http.h"
#include "tether-journal.h"
#include "tether-notify.h"
#include "tether-pidfile.h"
#include "tether-pool.h"

static void
return_not_on_windows (gpointer             source,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data,
                       gpointer             tag,
                       const char          *what)
{
  g_autoptr(GTask) task = g_task_new (source, NULL, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED,
                           _("%s is not available on Windows"), what);
}

/* ---- notify --------------------------------------------------------------- */

struct _TetherNotify
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (TetherNotify, tether_notify, G_TYPE_OBJECT)

static void
tether_notify_class_init (TetherNotifyClass *klass)
{
  /* Never emitted here; the supervisor connects to it. */
  g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, g_cclosure_marshal_VOID__POINTER, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
tether_notify_init (TetherNotify *self)
{
}

gboolean
tether_checkpoint_id_is_valid (const char *id)
{
  gsize length = strlen (id);

  if (length == 0 || length > TETHER_CHECKPOINT_ID_MAX_LENGTH)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("._:-", *p) == NULL)
      return FALSE;
  return TRUE;
}

TetherNotify *
tether_notify_new (GError **error)
{
  return g_object_new (TETHER_TYPE_NOTIFY, NULL);
}

/* NULL: the backend gets no NOTIFY_SOCKET. */
const char *
tether_notify_get_socket_path (TetherNotify *self)
{
  return NULL;
}

void
tether_notify_set_sender_filter (TetherNotify             *self,
                                 TetherNotifySenderFilter  filter,
                                 gpointer                  user_data,
                                 GDestroyNotify            destroy)
{
  if (destroy != NULL)
    destroy (user_data);
}

guint tether_notify_get_n_dropped (TetherNotify *self) { return 0; }
guint tether_notify_get_n_malformed (TetherNotify *self) { return 0; }
guint tether_notify_get_n_rate_limited (TetherNotify *self) { return 0; }

/* ---- journal -------------------------------------------------------------- */

struct _TetherJournal
{
  GObject parent_instance;
  GPtrArray *entries;  /* always empty */
};

G_DEFINE_FINAL_TYPE (TetherJournal, tether_journal, G_TYPE_OBJECT)

static void
tether_journal_finalize (GObject *object)
{
  g_ptr_array_unref (TETHER_JOURNAL (object)->entries);
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
  self->entries = g_ptr_array_new ();
}

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

void
tether_journal_entry_free (TetherJournalEntry *entry)
{
  g_free (entry->id);
  g_free (entry->label);
  g_free (entry->outcome);
  g_free (entry);
}

const char *
tether_journal_kind_to_string (TetherJournalKind kind)
{
  switch (kind)
    {
    case TETHER_JOURNAL_CHECKPOINT: return "checkpoint";
    case TETHER_JOURNAL_ROLLBACK: return "rollback";
    case TETHER_JOURNAL_RESIZE: return "resize";
    case TETHER_JOURNAL_FORCED_STOP: return "forced-stop";
    default: return "?";
    }
}

TetherJournal *
tether_journal_new (const char *path)
{
  return g_object_new (TETHER_TYPE_JOURNAL, NULL);
}

char *
tether_journal_default_path (const char *profile_id)
{
  return NULL;
}

const char *tether_journal_get_path (TetherJournal *self) { return NULL; }
gboolean tether_journal_is_loaded (TetherJournal *self) { return TRUE; }
const char *tether_journal_get_load_message (TetherJournal *self) { return NULL; }
GPtrArray *tether_journal_get_entries (TetherJournal *self) { return self->entries; }
const TetherJournalEntry *tether_journal_get_last_checkpoint (TetherJournal *self) { return NULL; }

void
tether_journal_load_async (TetherJournal       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_journal_load_async);
  g_task_return_boolean (task, TRUE);
}

gboolean
tether_journal_load_finish (TetherJournal  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Events (a forced stop) are not kept: there is no journal on Windows. */
void
tether_journal_append_async (TetherJournal             *self,
                             const TetherJournalEntry  *entry,
                             GCancellable              *cancellable,
                             GAsyncReadyCallback        callback,
                             gpointer                   user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_journal_append_async);
  g_task_return_boolean (task, TRUE);
}

gboolean
tether_journal_append_finish (TetherJournal  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- pool: refused by the profile on Windows ------------------------------ */

struct _TetherPool
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (TetherPool, tether_pool, G_TYPE_OBJECT)

static void tether_pool_class_init (TetherPoolClass *klass) { }
static void tether_pool_init (TetherPool *self) { }

TetherPool *
tether_pool_new (TetherProfile *profile,
                 TetherSampler *sampler)
{
  g_return_val_if_reached (NULL);
}

TetherPoolMode tether_pool_get_mode (TetherPool *self) { g_return_val_if_reached (TETHER_POOL_NONE); }
guint tether_pool_get_target (TetherPool *self) { g_return_val_if_reached (0); }
guint tether_pool_get_actual (TetherPool *self) { g_return_val_if_reached (0); }
const char *tether_pool_get_problem (TetherPool *self) { g_return_val_if_reached (NULL); }
GPtrArray *tether_pool_get_events (TetherPool *self) { g_return_val_if_reached (NULL); }
guint tether_pool_get_count (TetherPool *self, TetherWorkerReason reason) { g_return_val_if_reached (0); }
const char *tether_pool_get_address (TetherPool *self) { g_return_val_if_reached (NULL); }
gboolean tether_pool_open (TetherPool *self, GError **error) { g_return_val_if_reached (FALSE); }
void tether_pool_close (TetherPool *self) { g_return_if_reached (); }
void tether_pool_begin (TetherPool *self, TetherOwner *owner, const TetherSpawnRequest *template, pid_t main_pid) { g_return_if_reached (); }
void tether_pool_set_main_pid (TetherPool *self, pid_t main_pid) { g_return_if_reached (); }
void tether_pool_end (TetherPool *self, const char *why) { g_return_if_reached (); }
gboolean tether_pool_is_running (TetherPool *self) { g_return_val_if_reached (FALSE); }
guint tether_pool_get_n_spawning (TetherPool *self) { g_return_val_if_reached (0); }
gboolean tether_pool_handle_notify (TetherPool *self, const TetherNotifyMessage *msg) { g_return_val_if_reached (FALSE); }

const char *
tether_worker_reason_to_string (TetherWorkerReason reason)
{
  return tether_enum_to_nick (TETHER_TYPE_WORKER_REASON, reason);
}

gboolean
tether_pool_lookup_worker (TetherPool       *self,
                           pid_t             pid,
                           TetherWorkerInfo *info)
{
  return FALSE;
}

void
tether_pool_resize_async (TetherPool          *self,
                          guint                n,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  return_not_on_windows (self, callback, user_data, tether_pool_resize_async, _("A worker pool"));
}

void
tether_pool_recycle_async (TetherPool          *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  return_not_on_windows (self, callback, user_data, tether_pool_recycle_async, _("A worker pool"));
}

gboolean
tether_pool_verb_finish (TetherPool    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- http: refused by the profile on Windows ------------------------------ */

void
tether_http_post_json_async (const char          *url,
                             JsonNode            *body,
                             double               timeout_s,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  return_not_on_windows (NULL, callback, user_data, tether_http_post_json_async, _("HTTP"));
}

void
tether_http_get_async (const char          *url,
                       double               timeout_s,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  return_not_on_windows (NULL, callback, user_data, tether_http_get_async, _("HTTP"));
}

gboolean
tether_http_post_json_finish (GAsyncResult  *result,
                              guint         *status,
                              char         **reply_body,
                              GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- pid files and diagnosis ---------------------------------------------- */

void
tether_pidfile_read_async (const char          *path,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  return_not_on_windows (NULL, callback, user_data, tether_pidfile_read_async, _("A pid file"));
}

pid_t
tether_pidfile_read_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_task_propagate_boolean (G_TASK (result), error);
  return 0;
}

JsonNode *
tether_diagnose_process (pid_t    pid,
                         GError **error)
{
  g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
               _("%s is not available on Windows"), _("Diagnosis"));
  return NULL;
}
