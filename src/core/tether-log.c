/* tether-log.c: the backend's output, kept
 *
 * The thread owns the pipes' read ends, the partial lines, the file and the
 * tee; the ring is shared under the mutex. The main loop only copies lines
 * out of the ring and hears "lines-added".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-procfs.h"

#define READ_CHUNK 65536

struct _TetherLog
{
  GObject parent_instance;

  char *path;
  guint capacity;
  guint64 max_bytes;
  guint keep;

  int write_fds[2];          /* given to spawns */
  int read_fds[2];           /* the thread's */
  int wake_fds[2];           /* the thread's stop: a byte, or EOF */
  GThread *thread;
  int notify_fds[2];         /* a byte from the thread: new lines */
  GSource *notify_source;    /* on the creator's main context */

  GMutex lock;               /* the fields below */
  GQueue ring;               /* TetherLogLine, oldest first */
  guint64 last_seq;
  int tee_fds[2];
  char *file_error;
  gboolean notify_pending;

  /* The thread's alone. */
  GString *partial[2];
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
  self->file_fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
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
on_notified (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  TetherLog *self = user_data;
  char drain[64];

  while (read (fd, drain, sizeof drain) > 0)
    ;
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
          GString         *file_batch)
{
  TetherLogLine *line = g_new0 (TetherLogLine, 1);

  /* The lines of one read were read at one moment. */
  line->time = self->read_time;
  line->stream = stream;
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
          add_line (self, stream, partial->str, partial->len, file_batch);
          g_string_truncate (partial, 0);
          data += room;
          length -= room;
          piece -= room;
        }
      g_string_append_len (partial, data, (gssize) piece);
      if (nl == NULL)
        return;
      add_line (self, stream, partial->str, partial->len, file_batch);
      g_string_truncate (partial, 0);
      data += piece + 1;
      length -= piece + 1;
    }
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
      struct pollfd fds[3] = {
        { .fd = self->read_fds[0], .events = POLLIN },
        { .fd = self->read_fds[1], .events = POLLIN },
        { .fd = self->wake_fds[0], .events = POLLIN },
      };
      gboolean any = FALSE;
      gboolean full = FALSE;

      if (poll (fds, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[2].revents != 0)
        break;

      for (guint s = 0; s < 2; s++)
        {
          ssize_t n;
          int tee;

          if (fds[s].revents == 0)
            continue;
          n = read (self->read_fds[s], buffer, READ_CHUNK);
          if (n <= 0)
            continue;
          any = TRUE;
          stamp_now (self);
          full = full || n == READ_CHUNK;
          take_bytes (self, (TetherLogStream) s, buffer, (gsize) n, file_batch);

          g_mutex_lock (&self->lock);
          tee = self->tee_fds[s];
          g_mutex_unlock (&self->lock);
          if (tee >= 0)
            tether_write_all (tee, buffer, (gsize) n);
        }
      if (!any)
        continue;

      if (file_batch->len > 0 && self->file_fd >= 0)
        {
          int err = tether_write_all (self->file_fd, file_batch->str, file_batch->len);

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
          tether_write_all (self->notify_fds[1], "", 1);
        }
      g_mutex_unlock (&self->lock);

      /* Drained: let a busy writer fill the pipe a little before the next
       * read, rather than be woken for every line (the pipe holds 1 MiB). */
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
  int out[2] = { -1, -1 }, err[2] = { -1, -1 };

  g_return_val_if_fail (TETHER_IS_LOG (self), FALSE);

  if (self->thread != NULL)
    return TRUE;
  if (!g_unix_open_pipe (out, FD_CLOEXEC, error) || !g_unix_open_pipe (err, FD_CLOEXEC, error) ||
      !g_unix_open_pipe (self->wake_fds, FD_CLOEXEC, error) ||
      !g_unix_open_pipe (self->notify_fds, FD_CLOEXEC, error))
    {
      for (guint i = 0; i < 2; i++)
        {
          if (out[i] >= 0)
            close (out[i]);
          if (err[i] >= 0)
            close (err[i]);
        }
      g_prefix_error (error, _("Could not make pipes for the backend’s output: "));
      return FALSE;
    }
  /* Bigger pipes: a burst waits in the kernel, not in the backend. */
  fcntl (out[1], F_SETPIPE_SZ, 1 << 20);
  fcntl (err[1], F_SETPIPE_SZ, 1 << 20);
  self->read_fds[0] = out[0];
  self->read_fds[1] = err[0];
  self->write_fds[0] = out[1];
  self->write_fds[1] = err[1];
  g_unix_set_fd_nonblocking (self->notify_fds[0], TRUE, NULL);
  self->notify_source = g_unix_fd_source_new (self->notify_fds[0], G_IO_IN);
  g_source_set_callback (self->notify_source, G_SOURCE_FUNC (on_notified), self, NULL);
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

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < 2; i++)
    {
      if (self->tee_fds[i] >= 0)
        close (self->tee_fds[i]);
      self->tee_fds[i] = fds[i] >= 0 ? fcntl (fds[i], F_DUPFD_CLOEXEC, 3) : -1;
    }
  g_mutex_unlock (&self->lock);
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
      close (self->wake_fds[1]);
      g_thread_join (self->thread);
      close (self->wake_fds[0]);
      g_source_destroy (self->notify_source);
      g_source_unref (self->notify_source);
      for (guint i = 0; i < 2; i++)
        {
          close (self->read_fds[i]);
          close (self->write_fds[i]);
          close (self->notify_fds[i]);
        }
    }
  for (guint i = 0; i < 2; i++)
    {
      if (self->tee_fds[i] >= 0)
        close (self->tee_fds[i]);
      g_string_free (self->partial[i], TRUE);
    }
  if (self->file_fd >= 0)
    close (self->file_fd);
  g_queue_clear_full (&self->ring, (GDestroyNotify) tether_log_line_free);
  g_mutex_clear (&self->lock);
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
  g_queue_init (&self->ring);
  self->write_fds[0] = self->write_fds[1] = -1;
  self->read_fds[0] = self->read_fds[1] = -1;
  self->tee_fds[0] = self->tee_fds[1] = -1;
  self->notify_fds[0] = self->notify_fds[1] = -1;
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
