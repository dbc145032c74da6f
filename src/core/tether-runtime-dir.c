/* tether-runtime-dir.c
 *
 * The rules follow what systemd promises for $XDG_RUNTIME_DIR itself (owned
 * by the user, mode 0700) and what GLib checks before it trusts a runtime
 * directory: a directory that another user created, could write to, or
 * pointed elsewhere with a symbolic link is never used.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-runtime-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tether-error.h"

char *
tether_runtime_dir_path (void)
{
  return g_build_filename (g_get_user_runtime_dir (), "tether", NULL);
}

gboolean
tether_runtime_dir_verify (const char  *path,
                           GError     **error)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot use the runtime directory %s: %s"), path, g_strerror (saved));
      return FALSE;
    }

  if (S_ISLNK (st.st_mode))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("The runtime directory %s is a symbolic link; Tether only uses a "
                     "private directory of its own (remove the link, or point "
                     "XDG_RUNTIME_DIR at a directory only you can use)"), path);
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("The runtime directory %s is not a directory"), path);
      return FALSE;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("The runtime directory %s belongs to user %u, not to you (user %u); "
                     "another user could answer for your supervisors there"),
                   path, (guint) st.st_uid, (guint) geteuid ());
      return FALSE;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("The runtime directory %s can be used by other users (mode %04o); "
                     "it must be private (chmod 700 %s)"),
                   path, (guint) (st.st_mode & 07777), path);
      return FALSE;
    }

  return TRUE;
}

char *
tether_runtime_dir_ensure (GError **error)
{
  g_autofree char *path = tether_runtime_dir_path ();
  g_autofree char *parent = g_path_get_dirname (path);

  /* The parent is $XDG_RUNTIME_DIR (the session made it) or GLib's
   * fallback in the home directory, which may not exist yet. */
  if (g_mkdir_with_parents (parent, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot create the directory %s: %s"), parent, g_strerror (saved));
      return NULL;
    }
  if (mkdir (path, 0700) < 0 && errno != EEXIST)
    {
      int saved = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot create the runtime directory %s: %s"), path, g_strerror (saved));
      return NULL;
    }
  if (!tether_runtime_dir_verify (path, error))
    return NULL;

  return g_steal_pointer (&path);
}

/* 1 alive, 0 nobody listens, -1 cannot tell. Non-blocking, so a listener
 * whose backlog is full counts as alive instead of hanging us. */
static int
probe_socket (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd, r, saved;

  if (strlen (path) >= sizeof address.sun_path)
    return -1;
  strcpy (address.sun_path, path);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  r = connect (fd, (struct sockaddr *) &address, sizeof address);
  saved = errno;
  close (fd);

  if (r == 0 || saved == EAGAIN || saved == EINPROGRESS)
    return 1;
  if (saved == ECONNREFUSED || saved == ENOENT)
    return 0;
  /* EPROTOTYPE: a live socket of another type (an older Tether's
   * notification socket). Alive as far as we can tell. */
  return saved == EPROTOTYPE ? 1 : -1;
}

gboolean
tether_runtime_dir_socket_is_alive (const char *path)
{
  return probe_socket (path) == 1;
}

guint
tether_runtime_dir_sweep (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint removed = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;

      if (!g_str_has_suffix (name, ".sock"))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (lstat (path, &st) < 0 || !S_ISSOCK (st.st_mode) || st.st_uid != geteuid ())
        continue;
      /* A supervisor between its bind() and its listen() refuses too, for
       * an instant: only a socket bound a while ago can be dead. */
      if (g_get_real_time () / G_USEC_PER_SEC - st.st_ctime < 2)
        continue;
      if (probe_socket (path) == 0 && g_unlink (path) == 0)
        {
          g_debug ("Removed the stale socket %s", path);
          removed++;
        }
    }

  return removed;
}
