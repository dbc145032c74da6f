/* tetherctl-win32.c: what tetherctl does its own way on Windows
 *
 * Quitting: a console program gets Ctrl+C, Ctrl+Break and the console's
 * closing as calls to a handler on a thread of their own; the handler
 * only raises a flag and wakes the main loop, where a source hands it to
 * the same callback the Linux build's signal sources call.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <windows.h>

#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>

#include "tetherctl.h"

#include "tether-control.h"
#include "tether-error.h"
#include "tether-win32-compat.h"

/* Raised by the console handler, taken by the sources. */
static volatile gint interrupted;   /* Ctrl+C */
static volatile gint terminated;    /* Ctrl+Break, the console closing, logoff, shutdown */
static gboolean handler_installed;

static BOOL WINAPI
on_console_event (DWORD event)
{
  if (event == CTRL_C_EVENT)
    g_atomic_int_set (&interrupted, 1);
  else
    g_atomic_int_set (&terminated, 1);
  g_main_context_wakeup (NULL);
  /* Handled: closing the console still ends the process after the
   * handler returns (after about 5 s), time enough for a forced stop. */
  return TRUE;
}

typedef struct
{
  GSource source;
  volatile gint *flag;
} ConsoleSource;

static gboolean
console_source_check (GSource *source)
{
  return g_atomic_int_get (((ConsoleSource *) source)->flag) != 0;
}

static gboolean
console_source_prepare (GSource *source,
                        int     *timeout)
{
  /* The wakeup is what usually ends the wait; a short timeout covers a
   * wakeup that came just before the loop went to sleep. */
  *timeout = 100;
  return console_source_check (source);
}

static gboolean
console_source_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  g_atomic_int_set (((ConsoleSource *) source)->flag, 0);
  return callback (user_data);
}

static GSourceFuncs console_source_funcs = {
  console_source_prepare,
  console_source_check,
  console_source_dispatch,
  NULL, NULL, NULL,
};

guint
tetherctl_watch_signal (int          sig,
                        GSourceFunc  func,
                        gpointer     user_data)
{
  GSource *source;
  guint id;

  if (!handler_installed)
    {
      SetConsoleCtrlHandler (on_console_event, TRUE);
      handler_installed = TRUE;
    }
  source = g_source_new (&console_source_funcs, sizeof (ConsoleSource));
  /* SIGHUP has no console event: a source that never fires. */
  ((ConsoleSource *) source)->flag = sig == SIGINT ? &interrupted
                                   : sig == SIGTERM ? &terminated
                                   : g_new0 (gint, 1);
  g_source_set_callback (source, func, user_data, NULL);
  g_source_set_static_name (source, "[tetherctl] console events");
  id = g_source_attach (source, NULL);
  g_source_unref (source);
  return id;
}

int
tetherctl_terminal_columns (void)
{
  CONSOLE_SCREEN_BUFFER_INFO info;
  HANDLE out = GetStdHandle (STD_OUTPUT_HANDLE);

  if (out != INVALID_HANDLE_VALUE && GetConsoleScreenBufferInfo (out, &info))
    return info.srWindow.Right - info.srWindow.Left + 1;
  return G_MAXINT; /* a pipe or a file: never cut lines */
}

/* The endpoint files in the user's local application data folder whose
 * supervisor answers. Files of supervisors that were killed outright stay
 * (another could be starting and about to listen): they are not counted. */
GPtrArray *
tetherctl_list_live_endpoints (char   **dir_out,
                               GError **error)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "tether", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *found;
  const char *name;

  if (d == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("No Tether supervisor is running (no control endpoint in %s)"), dir);
      return NULL;
    }
  found = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(JsonNode) request = NULL;
      g_autoptr(JsonNode) reply = NULL;
      JsonObject *object;

      if (!g_str_has_suffix (name, ".endpoint"))
        continue;
      path = g_build_filename (dir, name, NULL);
      object = json_object_new ();
      json_object_set_string_member (object, "method", "status");
      request = json_node_init_object (json_node_alloc (), object);
      json_object_unref (object);
      reply = tether_control_call (path, request, 2, NULL);
      if (reply != NULL)
        g_ptr_array_add (found, g_steal_pointer (&path));
    }
  g_ptr_array_sort (found, (GCompareFunc) g_strcmp0);
  if (dir_out != NULL)
    *dir_out = g_steal_pointer (&dir);
  return found;
}
