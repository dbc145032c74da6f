/* tether-log-unix.c: the log's pipes and tee on Linux
 *
 * Pipes enlarged to 1 MiB (a burst waits in the kernel, not in the
 * backend), poll() on both and on a wake pipe, FIONREAD for what still
 * waits; the thread's "new lines" is a byte on a pipe the main context
 * watches.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-log-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-procfs.h"

struct _TetherLogPipes
{
  int write_fds[2];          /* given to spawns */
  int read_fds[2];           /* the thread's */
  int wake_fds[2];           /* the thread's stop: a byte, or EOF */
  int notify_fds[2];         /* a byte from the thread: new lines */
  GSourceFunc notify_func;
  gpointer notify_data;
};

struct _TetherLogTee
{
  int fd;
};

TetherLogPipes *
tether_log_pipes_new (int      write_fds[2],
                      gsize    high_water[2],
                      GError **error)
{
  TetherLogPipes *pipes = g_new0 (TetherLogPipes, 1);
  int out[2] = { -1, -1 }, err[2] = { -1, -1 };

  pipes->wake_fds[0] = pipes->wake_fds[1] = -1;
  pipes->notify_fds[0] = pipes->notify_fds[1] = -1;
  if (!g_unix_open_pipe (out, FD_CLOEXEC, error) || !g_unix_open_pipe (err, FD_CLOEXEC, error) ||
      !g_unix_open_pipe (pipes->wake_fds, FD_CLOEXEC, error) ||
      !g_unix_open_pipe (pipes->notify_fds, FD_CLOEXEC, error))
    {
      for (guint i = 0; i < 2; i++)
        {
          if (out[i] >= 0)
            close (out[i]);
          if (err[i] >= 0)
            close (err[i]);
          if (pipes->wake_fds[i] >= 0)
            close (pipes->wake_fds[i]);
        }
      g_free (pipes);
      return NULL;
    }
  /* Bigger pipes: a burst waits in the kernel, not in the backend. Lines
   * are dropped once three quarters of a pipe wait. */
  fcntl (out[1], F_SETPIPE_SZ, 1 << 20);
  fcntl (err[1], F_SETPIPE_SZ, 1 << 20);
  for (guint i = 0; i < 2; i++)
    {
      int size = fcntl (i == 0 ? out[1] : err[1], F_GETPIPE_SZ);

      high_water[i] = (gsize) (size > 0 ? size : 65536) / 4 * 3;
    }
  pipes->read_fds[0] = out[0];
  pipes->read_fds[1] = err[0];
  pipes->write_fds[0] = out[1];
  pipes->write_fds[1] = err[1];
  write_fds[0] = out[1];
  write_fds[1] = err[1];
  g_unix_set_fd_nonblocking (pipes->notify_fds[0], TRUE, NULL);
  return pipes;
}

guint
tether_log_pipes_wait (TetherLogPipes *pipes)
{
  for (;;)
    {
      struct pollfd fds[3] = {
        { .fd = pipes->read_fds[0], .events = POLLIN },
        { .fd = pipes->read_fds[1], .events = POLLIN },
        { .fd = pipes->wake_fds[0], .events = POLLIN },
      };

      if (poll (fds, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return 0;
        }
      if (fds[2].revents != 0)
        return 0;
      return (fds[0].revents != 0 ? 1u << TETHER_LOG_STDOUT : 0) |
             (fds[1].revents != 0 ? 1u << TETHER_LOG_STDERR : 0);
    }
}

gssize
tether_log_pipes_read (TetherLogPipes  *pipes,
                       TetherLogStream  stream,
                       char            *buffer,
                       gsize            size,
                       gsize           *pending)
{
  ssize_t n = read (pipes->read_fds[stream], buffer, size);
  int waiting = 0;

  if (n > 0 && ioctl (pipes->read_fds[stream], FIONREAD, &waiting) < 0)
    waiting = 0;
  *pending = (gsize) MAX (waiting, 0);
  return n;
}

void
tether_log_pipes_stop (TetherLogPipes *pipes)
{
  /* EOF on the wake pipe. */
  close (pipes->wake_fds[1]);
  pipes->wake_fds[1] = -1;
}

void
tether_log_pipes_free (TetherLogPipes *pipes)
{
  for (guint i = 0; i < 2; i++)
    {
      close (pipes->read_fds[i]);
      close (pipes->write_fds[i]);
      close (pipes->notify_fds[i]);
      if (pipes->wake_fds[i] >= 0)
        close (pipes->wake_fds[i]);
    }
  g_free (pipes);
}

static gboolean
on_notify_fd (int          fd,
              GIOCondition condition,
              gpointer     user_data)
{
  TetherLogPipes *pipes = user_data;
  char drain[64];

  while (read (fd, drain, sizeof drain) > 0)
    ;
  return pipes->notify_func (pipes->notify_data);
}

GSource *
tether_log_pipes_notify_source_new (TetherLogPipes *pipes,
                                    GSourceFunc     func,
                                    gpointer        user_data)
{
  GSource *source = g_unix_fd_source_new (pipes->notify_fds[0], G_IO_IN);

  pipes->notify_func = func;
  pipes->notify_data = user_data;
  g_source_set_callback (source, G_SOURCE_FUNC (on_notify_fd), pipes, NULL);
  return source;
}

void
tether_log_pipes_notify (TetherLogPipes *pipes)
{
  tether_write_all (pipes->notify_fds[1], "", 1);
}

/* A terminal or a pipe is reopened: a description of the tee's own can be
 * non-blocking without changing the caller's (shared with the shell). A
 * file keeps the caller's description, whose offset it shares (and never
 * blocks for long); a socket cannot be reopened. */
TetherLogTee *
tether_log_tee_open (int fd)
{
  TetherLogTee *tee = g_new0 (TetherLogTee, 1);
  struct stat st;

  tee->fd = -1;
  if (fstat (fd, &st) == 0 && (S_ISCHR (st.st_mode) || S_ISFIFO (st.st_mode)))
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", fd);

      tee->fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    }
  if (tee->fd < 0)
    tee->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  return tee;
}

gssize
tether_log_tee_write (TetherLogTee *tee,
                      const char   *data,
                      gsize         length)
{
  ssize_t n;

  do
    n = write (tee->fd, data, length);
  while (n < 0 && errno == EINTR);
  return n;
}

void
tether_log_tee_close (TetherLogTee *tee)
{
  if (tee->fd >= 0)
    close (tee->fd);
  g_free (tee);
}

int
tether_log_file_write (int         fd,
                       const char *data,
                       gsize       length)
{
  return tether_write_all (fd, data, length);
}
