/* tether-log.c: the backend's output, kept
 *
 * The thread owns the pipes' read ends, the partial lines, the file and the
 * tee; the ring is shared under the mutex. The main loop only copies lines
 * out of the ring and hears "lines-added". The pipes, the thread's waits
 * on them and the tee's writes are the platform's (tether-log-private.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-log-private.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-win32-compat.h"

/* Windows' C runtime would turn each \n of the file into \r\n. */
#ifndef O_BINARY
#define O_BINARY 0
#endif

#define READ_CHUNK 65536
/* How long a writer may be kept waiting on a nearly full pipe before its
 * lines are dropped: a burst the pipe can hold loses nothing. */
#define DROP_AFTER_USEC (100 * 1000)

struct _TetherLog
{
  GObject parent_instance;

  char *path;
  guint capacity;
  guint64 max_bytes;
  guint keep;

  TetherLogPipes *pipes;     /* the read ends are the thread's */
  int write_fds[2];          /* given to spawns */
  GThread *thread;
  GSource *notify_source;    /* on the creator's main context */

  GMutex lock;               /* the fields below */
  GQueue ring;               /* TetherLogLine, oldest first */
  guint64 last_seq;
  char *file_error;
  gboolean notify_pending;

  GMutex tee_lock;           /* held while a tee is written or replaced */
  TetherLogTee *tees[2];

  /* The thread's alone. */
  GString *partial[2];
  gsize high_water[2];       /* bytes waiting in a pipe that start dropping */
  gint64 behind_since[2];    /* since when high_water bytes have kept waiting, or 0 */
  gboolean dropping[2];      /* a writer outruns the thread: lines are counted, not kept */
  gboolean skip_partial[2];  /* dropping began inside a line: its end is dropped too */
  guint64 dropped[2];        /* lines dropped since the last marker */
  guint64 tee_dropped[2];    /* lines the tee could not take since its last marker */
  gint64 read_time;          /* when the bytes being cut were read */
  char stamp[40];            /* read_time for the file: "2026-12-01T19:52:00.123Z" */
  int file_fd;
  guint64 file_size;
};

enum {
  LINES_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TetherLog, tether_log, G_TYPE_OBJECT)

void
tether_log_line_free (TetherLogLine *line)
{
  if (line == NULL)
    return;
  g_free (line->text);
  g_free (line);
}

const char *
tether_log_stream_to_string (TetherLogStream stream)
{
  return stream == TETHER_LOG_STDERR ? "stderr" : "stdout";
}

/* ---- the thread ---------------------------------------------------------- */

static void
set_file_error (TetherLog  *self,
                const char *what,
                int         saved)
{
  g_mutex_lock (&self->lock);
  if (self->file_error == NULL)
    self->file_error = g_strdup_printf (_("Could not %s %s: %s"), what, self->path, g_strerror (saved));
  g_mutex_unlock (&self->lock);
}

static void
open_file (TetherLog *self)
{
  g_autofree char *dir = NULL;
  struct stat st;

  if (self->path == NULL || self->file_fd >= 0)
    return;
  dir = g_path_get_dirname (self->path);
  g_mkdir_with_parents (dir, 0700);
  self->file_fd = g_open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_BINARY, 0600);
  if (self->file_fd < 0)
    {
      set_file_error (self, _("open"), errno);
      return;
    }
  self->file_size = fstat (self->file_fd, &st) == 0 ? (guint64) st.st_size : 0;
}

/* backend.log → backend.log.1 → ... → backend.log.keep (the oldest goes). */
static void
rotate (TetherLog *self)
{
  close (self->file_fd);
  self->file_fd = -1;
  for (guint i = self->keep; i > 0; i--)
    {
      g_autofree char *from = i == 1 ? g_strdup (self->path) : g_strdup_printf ("%s.%u", self->path, i - 1);
      g_autofree char *to = g_strdup_printf ("%s.%u", self->path, i);
      g_rename (from, to);
    }
  if (self->keep == 0)
    g_unlink (self->path);
  open_file (self);
}

/* On the main context: no reference crosses from the thread, so the log
 * can go whenever its owner lets go. */
static gboolean
on_notified (gpointer user_data)
{
  TetherLog *self = user_data;

  g_mutex_lock (&self->lock);
  self->notify_pending = FALSE;
  g_mutex_unlock (&self->lock);
  g_signal_emit (self, signals[LINES_ADDED], 0);
  return G_SOURCE_CONTINUE;
}

static void
stamp_now (TetherLog *self)
{
  gint64 now = g_get_real_time ();
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *text = NULL;

  if (now / 1000 == self->read_time / 1000)
    return;
  self->read_time = now;
  when = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  text = when != NULL ? g_date_time_format (when, "%Y-%m-%dT%H:%M:%S") : g_strdup ("?");
  g_snprintf (self->stamp, sizeof self->stamp, "%s.%03dZ", text, (int) (now % G_USEC_PER_SEC / 1000));
}

/* One whole line of stream (without its newline). */
static void
add_line (TetherLog       *self,
          TetherLogStream  stream,
          const char      *text,
          gsize            length,
          guint64          dropped,
          GString         *file_batch)
{
  TetherLogLine *line = g_new0 (TetherLogLine, 1);

  /* The lines of one read were read at one moment. */
  line->time = self->read_time;
  line->stream = stream;
  line->dropped = dropped;
  line->text = g_utf8_make_valid (text, (gssize) length);

  g_mutex_lock (&self->lock);
  line->seq = ++self->last_seq;
  g_queue_push_tail (&self->ring, line);
  while (self->ring.length > self->capacity)
    tether_log_line_free (g_queue_pop_head (&self->ring));
  g_mutex_unlock (&self->lock);

  /* "2026-12-01T19:52:00.123Z stderr text": readable without Tether. */
  g_string_append (file_batch, self->stamp);
  g_string_append_c (file_batch, ' ');
  g_string_append (file_batch, tether_log_stream_to_string (stream));
  g_string_append_c (file_batch, ' ');
  g_string_append (file_batch, line->text);
  g_string_append_c (file_batch, '\n');
}

static void
take_bytes (TetherLog       *self,
            TetherLogStream  stream,
            const char      *data,
            gsize            length,
            GString         *file_batch)
{
  GString *partial = self->partial[stream];

  while (length > 0)
    {
      const char *nl = memchr (data, '\n', length);
      gsize piece = nl != NULL ? (gsize) (nl - data) : length;

      /* A line too long is cut: the rest follows as more lines. */
      while (partial->len + piece > TETHER_LOG_MAX_LINE)
        {
          gsize room = TETHER_LOG_MAX_LINE - partial->len;

          g_string_append_len (partial, data, (gssize) room);
          add_line (self, stream, partial->str, partial->len, 0, file_batch);
          g_string_truncate (partial, 0);
          data += room;
          length -= room;
          piece -= room;
        }
      g_string_append_len (partial, data, (gssize) piece);
      if (nl == NULL)
        return;
      add_line (self, stream, partial->str, partial->len, 0, file_batch);
      g_string_truncate (partial, 0);
      data += piece + 1;
      length -= piece + 1;
    }
}

static char *
dropped_text (guint64 n)
{
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "… %" PRIu64 " line dropped: the backend wrote faster than Tether could keep it",
                                       "… %" PRIu64 " lines dropped: the backend wrote faster than Tether could keep them",
                                       n), (uint64_t) n);
}

/* While a writer outruns the thread, its lines are only counted: counting
 * newlines keeps up with any writer, so the writer is never held up for
 * long. The partial line is dropped with them. */
static void
drop_bytes (TetherLog       *self,
            TetherLogStream  stream,
            const char      *data,
            gsize            length,
            GString         *file_batch)
{
  const char *end = data + length;
  const char *last = NULL;

  for (const char *p = data; (p = memchr (p, '\n', (gsize) (end - p))) != NULL; p++)
    {
      self->dropped[stream]++;
      last = p;
    }
  if (last == NULL)
    {
      /* Still inside one line: it is dropped whole. */
      if (self->partial[stream]->len > 0 || length > 0)
        self->skip_partial[stream] = TRUE;
      g_string_truncate (self->partial[stream], 0);
      return;
    }
  g_string_truncate (self->partial[stream], 0);
  self->skip_partial[stream] = FALSE;
  take_bytes (self, stream, last + 1, (gsize) (end - last - 1), file_batch);
}

/* Dropping ends: the partial line begun while dropping is dropped up to
 * its newline, then a marker line says how many. */
static void
end_dropping (TetherLog       *self,
              TetherLogStream  stream,
              const char     **data,
              gsize           *length,
              GString         *file_batch)
{
  g_autofree char *text = NULL;

  if (self->skip_partial[stream])
    {
      const char *nl = memchr (*data, '\n', *length);

      if (nl == NULL)
        {
          *length = 0;
          return; /* the line goes on: still dropping it */
        }
      self->dropped[stream]++;
      *length -= (gsize) (nl + 1 - *data);
      *data = nl + 1;
      self->skip_partial[stream] = FALSE;
    }
  self->dropping[stream] = FALSE;
  if (self->dropped[stream] == 0)
    return;
  text = dropped_text (self->dropped[stream]);
  add_line (self, stream, text, strlen (text), self->dropped[stream], file_batch);
  self->dropped[stream] = 0;
}

/* The tee is a copy for a person watching (tetherctl run's terminal): it
 * is written without blocking, and what it cannot take is dropped, then
 * counted on a line of its own, rather than held against the backend. */
static void
write_tee (TetherLog       *self,
           TetherLogStream  stream,
           TetherLogTee    *tee,
           const char      *data,
           gsize            length)
{
  while (length > 0)
    {
      gssize n;

      if (self->tee_dropped[stream] > 0)
        {
          g_autofree char *text = dropped_text (self->tee_dropped[stream]);
          g_autofree char *marker = g_strconcat ("\n", text, "\n", NULL);

          /* All or nothing: a marker cut short would be worse than late. */
          if (tether_log_tee_write (tee, marker, strlen (marker)) != (gssize) strlen (marker))
            break;
          self->tee_dropped[stream] = 0;
        }
      n = tether_log_tee_write (tee, data, length);
      if (n <= 0)
        break;
      data += n;
      length -= (gsize) n;
    }
  if (length == 0)
    return;
  for (const char *p = data, *end = data + length; (p = memchr (p, '\n', (gsize) (end - p))) != NULL; p++)
    self->tee_dropped[stream]++;
}

static gpointer
run_thread (gpointer data)
{
  TetherLog *self = data;
  g_autofree char *buffer = g_malloc (READ_CHUNK);
  g_autoptr(GString) file_batch = g_string_new (NULL);

  open_file (self);
  for (;;)
    {
      guint ready = tether_log_pipes_wait (self->pipes);
      gboolean any = FALSE;
      gboolean full = FALSE;

      if (ready == 0)
        break;

      for (guint s = 0; s < 2; s++)
        {
          gssize n;
          const char *chunk = buffer;
          gsize length;
          gsize pending = 0;

          if ((ready & (1u << s)) == 0)
            continue;
          n = tether_log_pipes_read (self->pipes, (TetherLogStream) s, buffer, READ_CHUNK, &pending);
          if (n <= 0)
            continue;
          any = TRUE;
          stamp_now (self);
          full = full || n == READ_CHUNK;
          length = (gsize) n;

          /* What is still waiting in the pipe says whether the writer is
           * outrunning the thread. */
          if (pending < self->high_water[s])
            self->behind_since[s] = 0;
          else if (self->behind_since[s] == 0)
            self->behind_since[s] = g_get_monotonic_time ();
          if (!self->dropping[s] && self->behind_since[s] != 0 &&
              g_get_monotonic_time () - self->behind_since[s] >= DROP_AFTER_USEC)
            self->dropping[s] = TRUE;
          else if (self->dropping[s] && pending < self->high_water[s] / 8)
            end_dropping (self, (TetherLogStream) s, &chunk, &length, file_batch);

          if (self->dropping[s])
            drop_bytes (self, (TetherLogStream) s, chunk, length, file_batch);
          else
            take_bytes (self, (TetherLogStream) s, chunk, length, file_batch);

          g_mutex_lock (&self->tee_lock);
          if (self->tees[s] != NULL)
            write_tee (self, (TetherLogStream) s, self->tees[s], buffer, (gsize) n);
          g_mutex_unlock (&self->tee_lock);
        }
      if (!any)
        continue;

      if (file_batch->len > 0 && self->file_fd >= 0)
        {
          int err = tether_log_file_write (self->file_fd, file_batch->str, file_batch->len);

          if (err < 0)
            {
              set_file_error (self, _("write"), -err);
              close (self->file_fd);
              self->file_fd = -1;
            }
          else if ((self->file_size += file_batch->len) > self->max_bytes)
            rotate (self);
        }
      g_string_truncate (file_batch, 0);

      g_mutex_lock (&self->lock);
      if (!self->notify_pending)
        {
          self->notify_pending = TRUE;
          tether_log_pipes_notify (self->pipes);
        }
      g_mutex_unlock (&self->lock);

      /* Drained: let a busy writer fill the pipe a little before the next
       * read, rather than be woken for every line (a pipe holds 1 MiB). */
      if (!full)
        g_usleep (1000);
    }
  return NULL;
}

/* ---- the main loop's side ------------------------------------------------- */

gboolean
tether_log_start (TetherLog  *self,
                  GError    **error)
{
  g_return_val_if_fail (TETHER_IS_LOG (self), FALSE);

  if (self->thread != NULL)
    return TRUE;
  self->pipes = tether_log_pipes_new (self->write_fds, self->high_water, error);
  if (self->pipes == NULL)
    {
      g_prefix_error (error, _("Could not make pipes for the backend’s output: "));
      return FALSE;
    }
  self->notify_source = tether_log_pipes_notify_source_new (self->pipes, on_notified, self);
  g_source_set_static_name (self->notify_source, "[tether] log lines");
  g_source_attach (self->notify_source, g_main_context_get_thread_default ());
  self->thread = g_thread_new ("tether-log", run_thread, self);
  return TRUE;
}

int
tether_log_get_stdout_fd (TetherLog *self)
{
  g_return_val_if_fail (TETHER_IS_LOG (self), -1);
  return self->write_fds[0];
}

int
tether_log_get_stderr_fd (TetherLog *self)
{
  g_return_val_if_fail (TETHER_IS_LOG (self), -1);
  return self->write_fds[1];
}

void
tether_log_set_tee (TetherLog *self,
                    int        stdout_fd,
                    int        stderr_fd)
{
  int fds[2] = { stdout_fd, stderr_fd };

  g_return_if_fail (TETHER_IS_LOG (self));

  g_mutex_lock (&self->tee_lock);
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&self->tees[i], tether_log_tee_close);
      self->tees[i] = fds[i] >= 0 ? tether_log_tee_open (fds[i]) : NULL;
    }
  g_mutex_unlock (&self->tee_lock);
}

GPtrArray *
tether_log_get_lines (TetherLog *self,
                      guint      max,
                      guint64    after)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_log_line_free);
  GList *first;
  guint n = 0;

  g_return_val_if_fail (TETHER_IS_LOG (self), lines);

  g_mutex_lock (&self->lock);
  /* Back from the newest to max lines, or to after. */
  for (first = self->ring.tail; first != NULL && n < max; first = first->prev, n++)
    if (((TetherLogLine *) first->data)->seq <= after)
      break;
  for (GList *l = first != NULL ? first->next : self->ring.head; l != NULL; l = l->next)
    {
      TetherLogLine *line = l->data;
      TetherLogLine *copy = g_memdup2 (line, sizeof *line);

      copy->text = g_strdup (line->text);
      g_ptr_array_add (lines, copy);
    }
  g_mutex_unlock (&self->lock);
  return lines;
}

guint64
tether_log_get_last_seq (TetherLog *self)
{
  guint64 seq;

  g_return_val_if_fail (TETHER_IS_LOG (self), 0);
  g_mutex_lock (&self->lock);
  seq = self->last_seq;
  g_mutex_unlock (&self->lock);
  return seq;
}

const char *
tether_log_get_path (TetherLog *self)
{
  g_return_val_if_fail (TETHER_IS_LOG (self), NULL);
  return self->path;
}

char *
tether_log_dup_file_error (TetherLog *self)
{
  char *text;

  g_return_val_if_fail (TETHER_IS_LOG (self), NULL);
  g_mutex_lock (&self->lock);
  text = g_strdup (self->file_error);
  g_mutex_unlock (&self->lock);
  return text;
}

/* ---- GObject ---------------------------------------------------------------- */

static void
tether_log_finalize (GObject *object)
{
  TetherLog *self = TETHER_LOG (object);

  /* The thread holds no reference: stop it and wait. It never waits on
   * the main loop, so this cannot hang. */
  if (self->thread != NULL)
    {
      tether_log_pipes_stop (self->pipes);
      g_thread_join (self->thread);
      g_source_destroy (self->notify_source);
      g_source_unref (self->notify_source);
      tether_log_pipes_free (self->pipes);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&self->tees[i], tether_log_tee_close);
      g_string_free (self->partial[i], TRUE);
    }
  if (self->file_fd >= 0)
    close (self->file_fd);
  g_queue_clear_full (&self->ring, (GDestroyNotify) tether_log_line_free);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->tee_lock);
  g_free (self->file_error);
  g_free (self->path);

  G_OBJECT_CLASS (tether_log_parent_class)->finalize (object);
}

static void
tether_log_class_init (TetherLogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_log_finalize;

  signals[LINES_ADDED] =
    g_signal_new ("lines-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_log_init (TetherLog *self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->tee_lock);
  g_queue_init (&self->ring);
  self->write_fds[0] = self->write_fds[1] = -1;
  self->file_fd = -1;
  self->partial[0] = g_string_new (NULL);
  self->partial[1] = g_string_new (NULL);
}

TetherLog *
tether_log_new (const char *path,
                guint       capacity,
                guint64     max_bytes,
                guint       keep)
{
  TetherLog *self = g_object_new (TETHER_TYPE_LOG, NULL);

  self->path = g_strdup (path);
  self->capacity = MAX (capacity, 1);
  self->max_bytes = MAX (max_bytes, 4096);
  self->keep = keep;
  return self;
}
