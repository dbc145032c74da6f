/* tether-log-win32.c: the log's pipes and tee on Windows
 *
 * Anonymous pipes (CreatePipe) of 1 MiB, no end inheritable: tether-job.exe
 * gets its own duplicates of the write ends and gives its children
 * inheritable copies (tether-owner-win32.c, src/win32/PROTOCOL.md). An
 * anonymous pipe cannot be waited on, so the thread asks PeekNamedPipe how
 * much waits in each -- the measure FIONREAD gives on Linux -- reads what
 * is there without blocking, and between empty looks sleeps on its stop
 * event, a little longer each time (1 ms after output, at most 20 ms when
 * idle): a line is seen within 20 ms and an idle log wakes 50 times a
 * second.
 *
 * A tee (tetherctl run's console or pipe) cannot be made non-blocking
 * without changing the caller's handle, so each has a thread that writes
 * what the log thread left in a buffer of its own; what does not fit is
 * what the tee cannot take.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-log-private.h"

#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <string.h>

#define PIPE_SIZE (1 << 20)
#define IDLE_WAIT_MAX_MS 20
#define TEE_BUFFER (256 * 1024)
/* How long closing a tee waits for what it still holds to be written. */
#define TEE_CLOSE_WAIT_USEC (1000 * 1000)

struct _TetherLogPipes
{
  HANDLE read_handles[2];
  int write_fds[2];          /* C runtime descriptors over the write ends */
  HANDLE stop;               /* a manual-reset event */
  DWORD idle_wait_ms;
  GSource *notify_source;
};

struct _TetherLogTee
{
  HANDLE handle;
  GThread *thread;
  GMutex lock;
  GCond cond;
  GByteArray *queue;         /* at most TEE_BUFFER bytes */
  gboolean writing;          /* the thread holds bytes taken from queue */
  gboolean closing;
  gboolean broken;
  gint refs;                 /* the log's and the thread's */
};

TetherLogPipes *
tether_log_pipes_new (int      write_fds[2],
                      gsize    high_water[2],
                      GError **error)
{
  TetherLogPipes *pipes = g_new0 (TetherLogPipes, 1);

  pipes->write_fds[0] = pipes->write_fds[1] = -1;
  pipes->idle_wait_ms = 1;
  pipes->stop = CreateEventW (NULL, TRUE, FALSE, NULL);
  for (guint i = 0; i < 2 && pipes->stop != NULL; i++)
    {
      HANDLE write_handle = NULL;
      DWORD in_size = 0;

      if (!CreatePipe (&pipes->read_handles[i], &write_handle, NULL, PIPE_SIZE))
        break;
      pipes->write_fds[i] = _open_osfhandle ((intptr_t) write_handle, _O_WRONLY | _O_BINARY);
      if (pipes->write_fds[i] < 0)
        {
          CloseHandle (write_handle);
          break;
        }
      /* What the pipe really holds (the size asked for is a hint). */
      if (!GetNamedPipeInfo (pipes->read_handles[i], NULL, NULL, &in_size, NULL) || in_size == 0)
        in_size = PIPE_SIZE;
      high_water[i] = (gsize) in_size / 4 * 3;
    }
  if (pipes->stop == NULL || pipes->write_fds[0] < 0 || pipes->write_fds[1] < 0)
    {
      g_autofree char *message = g_win32_error_message ((int) GetLastError ());

      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, message);
      tether_log_pipes_free (pipes);
      return NULL;
    }
  write_fds[0] = pipes->write_fds[0];
  write_fds[1] = pipes->write_fds[1];
  return pipes;
}

static gsize
waiting_in (TetherLogPipes  *pipes,
            TetherLogStream  stream)
{
  DWORD available = 0;

  if (!PeekNamedPipe (pipes->read_handles[stream], NULL, 0, NULL, &available, NULL))
    return 0;
  return available;
}

guint
tether_log_pipes_wait (TetherLogPipes *pipes)
{
  for (;;)
    {
      guint ready = 0;

      if (WaitForSingleObject (pipes->stop, 0) == WAIT_OBJECT_0)
        return 0;
      for (guint s = 0; s < 2; s++)
        if (waiting_in (pipes, (TetherLogStream) s) > 0)
          ready |= 1u << s;
      if (ready != 0)
        {
          pipes->idle_wait_ms = 1;
          return ready;
        }
      if (WaitForSingleObject (pipes->stop, pipes->idle_wait_ms) == WAIT_OBJECT_0)
        return 0;
      pipes->idle_wait_ms = MIN (pipes->idle_wait_ms * 2, IDLE_WAIT_MAX_MS);
    }
}

gssize
tether_log_pipes_read (TetherLogPipes  *pipes,
                       TetherLogStream  stream,
                       char            *buffer,
                       gsize            size,
                       gsize           *pending)
{
  gsize waiting = waiting_in (pipes, stream);
  DWORD n = 0;

  *pending = 0;
  /* Never more than waits: ReadFile would block for the rest. */
  if (waiting == 0 || !ReadFile (pipes->read_handles[stream], buffer, (DWORD) MIN (waiting, size), &n, NULL))
    return 0;
  *pending = waiting_in (pipes, stream);
  return n;
}

void
tether_log_pipes_stop (TetherLogPipes *pipes)
{
  SetEvent (pipes->stop);
}

void
tether_log_pipes_free (TetherLogPipes *pipes)
{
  for (guint i = 0; i < 2; i++)
    {
      if (pipes->read_handles[i] != NULL)
        CloseHandle (pipes->read_handles[i]);
      if (pipes->write_fds[i] >= 0)
        close (pipes->write_fds[i]);
    }
  if (pipes->stop != NULL)
    CloseHandle (pipes->stop);
  g_clear_pointer (&pipes->notify_source, g_source_unref);
  g_free (pipes);
}

/* The thread's poke makes the source ready (g_source_set_ready_time takes
 * the context's lock and wakes it); dispatching unreadies it. */
static gboolean
notify_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs notify_source_funcs = {
  NULL, NULL, notify_dispatch, NULL, NULL, NULL,
};

GSource *
tether_log_pipes_notify_source_new (TetherLogPipes *pipes,
                                    GSourceFunc     func,
                                    gpointer        user_data)
{
  GSource *source = g_source_new (&notify_source_funcs, sizeof (GSource));

  g_source_set_callback (source, func, user_data, NULL);
  pipes->notify_source = g_source_ref (source);
  return source;
}

void
tether_log_pipes_notify (TetherLogPipes *pipes)
{
  g_source_set_ready_time (pipes->notify_source, 0);
}

/* ---- the tee -------------------------------------------------------------- */

static void
tee_unref (TetherLogTee *tee)
{
  if (!g_atomic_int_dec_and_test (&tee->refs))
    return;
  if (tee->handle != NULL)
    CloseHandle (tee->handle);
  g_byte_array_unref (tee->queue);
  g_mutex_clear (&tee->lock);
  g_cond_clear (&tee->cond);
  g_free (tee);
}

/* Writes until the tee is closed and emptied: a console or pipe that
 * never takes the bytes holds only this thread, never the log. */
static gpointer
run_tee (gpointer data)
{
  TetherLogTee *tee = data;
  g_autofree char *chunk = g_malloc (TEE_BUFFER);

  g_mutex_lock (&tee->lock);
  for (;;)
    {
      guint length;
      gsize done = 0;

      while (tee->queue->len == 0 && !tee->closing)
        g_cond_wait (&tee->cond, &tee->lock);
      /* Closed and emptied (a broken tee takes nothing more). */
      if (tee->queue->len == 0)
        break;
      length = tee->queue->len;
      memcpy (chunk, tee->queue->data, length);
      g_byte_array_set_size (tee->queue, 0);
      tee->writing = TRUE;
      g_mutex_unlock (&tee->lock);
      while (done < length)
        {
          DWORD n = 0;

          if (!WriteFile (tee->handle, chunk + done, (DWORD) (length - done), &n, NULL) || n == 0)
            break;
          done += n;
        }
      g_mutex_lock (&tee->lock);
      tee->writing = FALSE;
      if (done < length)
        tee->broken = TRUE;
      g_cond_broadcast (&tee->cond);
    }
  g_mutex_unlock (&tee->lock);
  tee_unref (tee);
  return NULL;
}

TetherLogTee *
tether_log_tee_open (int fd)
{
  TetherLogTee *tee = g_new0 (TetherLogTee, 1);
  HANDLE handle = (HANDLE) _get_osfhandle (fd);

  g_mutex_init (&tee->lock);
  g_cond_init (&tee->cond);
  tee->refs = 1;
  tee->queue = g_byte_array_sized_new (TEE_BUFFER);
  if (handle == INVALID_HANDLE_VALUE ||
      !DuplicateHandle (GetCurrentProcess (), handle, GetCurrentProcess (), &tee->handle, 0, FALSE,
                        DUPLICATE_SAME_ACCESS))
    {
      tee->handle = NULL;
      tee->broken = TRUE;
      return tee;
    }
  tee->refs = 2;
  tee->thread = g_thread_new ("tether-log-tee", run_tee, tee);
  return tee;
}

gssize
tether_log_tee_write (TetherLogTee *tee,
                      const char   *data,
                      gsize         length)
{
  gsize taken;

  g_mutex_lock (&tee->lock);
  if (tee->broken)
    {
      g_mutex_unlock (&tee->lock);
      return -1;
    }
  taken = MIN (length, TEE_BUFFER - tee->queue->len);
  g_byte_array_append (tee->queue, (const guint8 *) data, (guint) taken);
  g_cond_broadcast (&tee->cond);
  g_mutex_unlock (&tee->lock);
  return (gssize) taken;
}

/* What the tee holds is still written: waited for a moment (the last
 * lines of a backend that ended, before tetherctl run exits), then left
 * to the tee's thread. */
void
tether_log_tee_close (TetherLogTee *tee)
{
  gint64 deadline = g_get_monotonic_time () + TEE_CLOSE_WAIT_USEC;

  g_mutex_lock (&tee->lock);
  tee->closing = TRUE;
  g_cond_broadcast (&tee->cond);
  while (tee->thread != NULL && !tee->broken && (tee->queue->len > 0 || tee->writing) &&
         g_cond_wait_until (&tee->cond, &tee->lock, deadline))
    ;
  g_mutex_unlock (&tee->lock);
  g_clear_pointer (&tee->thread, g_thread_unref);
  tee_unref (tee);
}

/* Through the C runtime, which moves to the end before each write of a
 * descriptor opened with O_APPEND (WriteFile on its handle would not). */
int
tether_log_file_write (int         fd,
                       const char *data,
                       gsize       length)
{
  while (length > 0)
    {
      int n = _write (fd, data, (unsigned int) MIN (length, 1u << 30));

      if (n <= 0)
        return n < 0 ? -errno : -EIO;
      data += n;
      length -= (gsize) n;
    }
  return 0;
}
