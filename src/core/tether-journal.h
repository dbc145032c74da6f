/* tether-journal.h: the crash-safe journal of checkpoints and events
 *
 * One JSON object per line in $XDG_STATE_HOME/tether/<profile-id>/
 * journal.jsonl. An append is written and fdatasync'ed in the journal's own
 * thread, one at a time and in order, so it completes only once the line
 * is on disk: a checkpoint is acknowledged then, and never before. Loading
 * drops a torn last line (a crash mid-write) and cuts the file back to the
 * last whole line, so the next append starts clean; a corrupt line
 * elsewhere is skipped and counted. Compaction keeps the newest
 * TETHER_JOURNAL_KEEP checkpoints: a temporary file, fsync, rename, fsync of
 * the directory.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define TETHER_JOURNAL_KEEP      1000   /* checkpoints kept by compaction */
#define TETHER_JOURNAL_MAX_LINE  4096   /* longer lines are corrupt */

typedef enum
{
  TETHER_JOURNAL_CHECKPOINT,   /* the backend reported one */
  TETHER_JOURNAL_ROLLBACK,     /* a rollback: id, and its outcome */
  TETHER_JOURNAL_RESIZE,       /* a pool resize: detail says to what */
  TETHER_JOURNAL_FORCED_STOP,  /* a stop that used force */
} TetherJournalKind;

typedef struct
{
  TetherJournalKind kind;
  char *id;          /* checkpoint id (checkpoint, rollback), or NULL */
  char *label;       /* checkpoint label, or what happened, or NULL */
  char *outcome;     /* "ok", or the error; NULL for checkpoints */
  gint64 time;       /* g_get_real_time () */
  pid_t pid;         /* the sender of a checkpoint, else 0 */
} TetherJournalEntry;

TetherJournalEntry *tether_journal_entry_new  (TetherJournalKind         kind,
                                               const char               *id,
                                               const char               *label,
                                               const char               *outcome,
                                               pid_t                     pid);
TetherJournalEntry *tether_journal_entry_copy (const TetherJournalEntry *entry);
void                tether_journal_entry_free (TetherJournalEntry       *entry);

const char *tether_journal_kind_to_string (TetherJournalKind kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherJournalEntry, tether_journal_entry_free)

#define TETHER_TYPE_JOURNAL (tether_journal_get_type ())

G_DECLARE_FINAL_TYPE (TetherJournal, tether_journal, TETHER, JOURNAL, GObject)

/* The journal at path (its directory is created 0700 when needed). */
TetherJournal *tether_journal_new               (const char           *path);
/* $XDG_STATE_HOME/tether/<profile_id>/journal.jsonl */
char          *tether_journal_default_path      (const char           *profile_id);
const char    *tether_journal_get_path          (TetherJournal        *self);

/* Reads the journal (in its thread); the entries, oldest first, are then
 * those of tether_journal_get_entries. A missing file is an empty journal.
 * Torn and corrupt lines are no error: tether_journal_get_load_message
 * says what was dropped. */
void           tether_journal_load_async        (TetherJournal        *self,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
gboolean       tether_journal_load_finish       (TetherJournal        *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);
gboolean       tether_journal_is_loaded         (TetherJournal        *self);
/* "Dropped a torn last line (a crash while writing); skipped 2 corrupt
 * lines", or NULL. */
const char    *tether_journal_get_load_message  (TetherJournal        *self);
guint          tether_journal_get_n_corrupt     (TetherJournal        *self);

/* Every entry written (or loaded), oldest first; only appends that
 * reached the disk are in it. Owned by the journal. */
GPtrArray     *tether_journal_get_entries       (TetherJournal        *self);
/* The newest checkpoint entry, or NULL. */
const TetherJournalEntry *tether_journal_get_last_checkpoint (TetherJournal *self);

/* Appends a copy of entry; completes once it is on disk (fdatasync). */
void           tether_journal_append_async      (TetherJournal             *self,
                                                 const TetherJournalEntry  *entry,
                                                 GCancellable              *cancellable,
                                                 GAsyncReadyCallback        callback,
                                                 gpointer                   user_data);
gboolean       tether_journal_append_finish     (TetherJournal        *self,
                                                 GAsyncResult         *result,
                                                 GError              **error);

/* One entry as its journal line (no newline), and back; for tests and
 * tetherctl. */
char               *tether_journal_entry_to_line   (const TetherJournalEntry *entry);
TetherJournalEntry *tether_journal_entry_from_line (const char               *line,
                                                    gsize                     length,
                                                    GError                  **error);

G_END_DECLS
