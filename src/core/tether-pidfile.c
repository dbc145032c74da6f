/* tether-pidfile.c: reading the pid a daemonizing backend wrote down
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-text.h"

gboolean
tether_pidfile_parse (const char  *path,
                      const char  *contents,
                      gsize        length,
                      pid_t       *pid,
                      GError     **error)
{
  const char *end = memchr (contents, '\n', length);
  gsize line_length = end != NULL ? (gsize) (end - contents) : length;
  g_autofree char *line = g_strndup (contents, line_length);
  gboolean has_nul = memchr (contents, '\0', line_length) != NULL;
  guint64 value = 0;

  g_strstrip (line);
  if (line[0] != '\0' && !has_nul &&
      g_ascii_string_to_unsigned (line, 10, 2, INT_MAX, &value, NULL))
    {
      *pid = (pid_t) value;
      return TRUE;
    }

  if (line[0] == '\0')
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                 _("The pidfile %s is empty"), path);
  else
    {
      /* Whatever the daemon wrote, it is shown, not obeyed. */
      g_autofree char *shown = g_utf8_make_valid (line, -1);

      tether_text_sanitize_in_place (shown, 64);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The pidfile %s says “%s”, not a process id"), path, shown);
    }
  *pid = 0;
  return FALSE;
}

static void
read_in_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  const char *path = task_data;
  char buffer[TETHER_PIDFILE_MAX_BYTES];
  gsize length = 0;
  GError *error = NULL;
  pid_t pid = 0;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                                 _("The pidfile %s does not exist"), path);
      else
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED,
                                 _("Cannot open the pidfile %s: %s"), path, g_strerror (saved));
      return;
    }

  /* A FIFO or a device where the pidfile should be is refused, not waited on. */
  {
    GStatBuf st;

    if (fstat (fd, &st) == 0 && !S_ISREG (st.st_mode))
      {
        close (fd);
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                                 _("The pidfile %s is not a regular file"), path);
        return;
      }
  }

  while (length < sizeof buffer)
    {
      ssize_t n = read (fd, buffer + length, sizeof buffer - length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED,
                                   _("Cannot read the pidfile %s: %s"), path, g_strerror (saved));
          return;
        }
      if (n == 0)
        break;
      length += (gsize) n;
    }
  close (fd);

  if (!tether_pidfile_parse (path, buffer, length, &pid, &error))
    g_task_return_error (task, error);
  else
    g_task_return_int (task, pid);
}

void
tether_pidfile_read_async (const char          *path,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_return_if_fail (path != NULL);

  g_task_set_source_tag (task, tether_pidfile_read_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, read_in_thread);
}

pid_t
tether_pidfile_read_finish (GAsyncResult  *result,
                            GError       **error)
{
  gssize pid;

  g_return_val_if_fail (g_task_is_valid (result, NULL), 0);

  pid = g_task_propagate_int (G_TASK (result), error);
  return pid > 0 ? (pid_t) pid : 0;
}
