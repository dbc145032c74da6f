/* tetherctl-unix.c: what tetherctl does its own way on Linux
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tetherctl.h"

#include "tether-error.h"
#include "tether-runtime-dir.h"

guint
tetherctl_watch_signal (int          sig,
                        GSourceFunc  func,
                        gpointer     user_data)
{
  return g_unix_signal_add (sig, func, user_data);
}

int
tetherctl_terminal_columns (void)
{
  struct winsize ws;

  if (isatty (STDOUT_FILENO) && ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return G_MAXINT; /* a pipe or a file: never cut lines */
}

/* The control sockets of live supervisors, sorted. Only a directory that
 * is ours is looked in, and the sockets of supervisors that were killed
 * outright are swept (and do not count). */
GPtrArray *
tetherctl_list_live_endpoints (char   **dir_out,
                               GError **error)
{
  g_autofree char *dir = tether_runtime_dir_path ();
  g_autoptr(GDir) d = NULL;
  g_autoptr(GError) local_error = NULL;
  GPtrArray *found;
  const char *name;

  if (!tether_runtime_dir_verify (dir, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                     _("No Tether supervisor is running (no control socket in %s)"), dir);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  tether_runtime_dir_sweep (dir);

  found = g_ptr_array_new_with_free_func (g_free);
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;

      if (!g_str_has_suffix (name, ".sock"))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (tether_runtime_dir_socket_is_alive (path))
        g_ptr_array_add (found, g_steal_pointer (&path));
    }
  g_ptr_array_sort (found, (GCompareFunc) g_strcmp0);
  if (dir_out != NULL)
    *dir_out = g_steal_pointer (&dir);
  return found;
}
