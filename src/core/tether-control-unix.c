/* tether-control-unix.c: the control server's unix socket
 *
 * A stream socket, 0600, in the private 0700 runtime directory
 * (tether-runtime-dir.h): $XDG_RUNTIME_DIR/tether/<profile-id>.sock. Only
 * the user reaches it, and both ends check the other's uid anyway
 * (SO_PEERCRED): a client must be this user, and so must the server a
 * client talks to.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-control-private.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-runtime-dir.h"

/* Pauses between attempts to accept once descriptors run out. */
#define ACCEPT_BACKOFF_MIN_MS 100
#define ACCEPT_BACKOFF_MAX_MS 2000

/* Connections accepted in one wakeup: a flood of them cannot keep the
 * main loop from everything else; the rest wait for the next iteration. */
#define ACCEPT_MAX_PER_WAKEUP 64

struct _TetherControlTransport
{
  TetherControl *control;  /* owns the transport */
  char *path;
  int listen_fd;
  guint listen_watch;
  guint accept_retry;
  guint accept_backoff_ms;
};

static char *
socket_path_in (const char    *dir,
                TetherProfile *profile)
{
  g_autofree char *name = g_strconcat (profile->id, ".sock", NULL);
  return g_build_filename (dir, name, NULL);
}

char *
tether_control_default_socket_path (TetherProfile *profile)
{
  g_autofree char *dir = tether_runtime_dir_path ();
  return socket_path_in (dir, profile);
}

/* ---- the listening socket ---------------------------------------------- */

static gboolean on_listen_ready (int fd, GIOCondition condition, gpointer user_data);

static gboolean
on_accept_retry (gpointer user_data)
{
  TetherControlTransport *self = user_data;

  self->accept_retry = 0;
  self->listen_watch = g_unix_fd_add (self->listen_fd, G_IO_IN, on_listen_ready, self);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors (or memory): the pending connection stays in the
 * backlog and accept() would fail again at once. Look again later,
 * backing off, instead of spinning on it. */
static void
pause_accepting (TetherControlTransport *self,
                 int            err)
{
  if (self->accept_backoff_ms == 0)
    g_message (_("Cannot accept control connections (%s); trying again shortly"),
               g_strerror (err));
  self->accept_backoff_ms = self->accept_backoff_ms == 0
    ? ACCEPT_BACKOFF_MIN_MS
    : MIN (self->accept_backoff_ms * 2, ACCEPT_BACKOFF_MAX_MS);
  self->listen_watch = 0;
  self->accept_retry = g_timeout_add (self->accept_backoff_ms, on_accept_retry, self);
}

static void
refuse (int         fd,
        const char *message)
{
  g_autoptr(GBytes) line = tether_control_reply_line_new (NULL, message);
  gconstpointer data;
  gsize length;

  /* Best effort: a fresh socket's buffer takes one short line. */
  data = g_bytes_get_data (line, &length);
  if (send (fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    g_debug ("Could not tell a refused client why: %s", g_strerror (errno));
  close (fd);
}

static void
accept_client (TetherControlTransport *self,
               int            fd)
{
  struct ucred cred;
  socklen_t len = sizeof cred;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;

  /* The socket is 0600 in a private directory; check the peer anyway. */
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid ())
    {
      close (fd);
      return;
    }

  if (tether_control_is_full (self->control))
    {
      g_autofree char *text = g_strdup_printf (_("Too many control connections (%u); try again later"),
                                               self->control->max_clients);
      refuse (fd, text);
      return;
    }

  socket = g_socket_new_from_fd (fd, NULL);
  if (socket == NULL)
    {
      close (fd);
      return;
    }

  connection = g_socket_connection_factory_create_connection (socket);
  tether_control_add_client (self->control, connection);
}

static gboolean
on_listen_ready (int           fd,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  TetherControlTransport *self = user_data;

  for (guint i = 0; i < ACCEPT_MAX_PER_WAKEUP; i++)
    {
      int client_fd = accept4 (fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

      if (client_fd >= 0)
        {
          self->accept_backoff_ms = 0;
          accept_client (self, client_fd);
          continue;
        }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return G_SOURCE_CONTINUE;

      pause_accepting (self, errno);
      return G_SOURCE_REMOVE;
    }

  return G_SOURCE_CONTINUE;
}

static gboolean
listen_at (TetherControlTransport  *self,
           GError                 **error)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd;

  if (strlen (self->path) >= sizeof address.sun_path)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("The socket path %s is too long for a unix socket"), self->path);
      return FALSE;
    }
  strcpy (address.sun_path, self->path);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 ||
      bind (fd, (struct sockaddr *) &address, sizeof address) < 0 ||
      chmod (self->path, 0600) < 0 ||
      listen (fd, 128) < 0)
    {
      int saved = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot listen on %s: %s"), self->path, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }

  self->listen_fd = fd;
  self->listen_watch = g_unix_fd_add (fd, G_IO_IN, on_listen_ready, self);
  return TRUE;
}

TetherControlTransport *
tether_control_transport_listen (TetherControl  *control,
                                 const char     *socket_path,
                                 TetherProfile  *profile,
                                 GError        **error)
{
  TetherControlTransport *self = g_new0 (TetherControlTransport, 1);
  g_autofree char *dir = NULL;

  self->control = control;
  self->listen_fd = -1;

  if (socket_path == NULL)
    {
      dir = tether_runtime_dir_ensure (error);
      if (dir == NULL)
        goto fail;
      self->path = socket_path_in (dir, profile);
    }
  else
    {
      self->path = g_strdup (socket_path);
      dir = g_path_get_dirname (socket_path);
      if (!tether_runtime_dir_verify (dir, error))
        goto fail;
    }

  /* Sockets of supervisors that were killed outright pile up otherwise. */
  tether_runtime_dir_sweep (dir);

  if (g_file_test (self->path, G_FILE_TEST_EXISTS))
    {
      if (tether_runtime_dir_socket_is_alive (self->path))
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                       _("Another Tether already supervises this profile (control socket %s)"),
                       self->path);
          goto fail;
        }
      g_unlink (self->path);
    }

  if (!listen_at (self, error))
    goto fail;
  return self;

fail:
  g_free (self->path);
  g_free (self);
  return NULL;
}

const char *
tether_control_transport_get_path (TetherControlTransport *self)
{
  return self->path;
}

void
tether_control_transport_free (TetherControlTransport *self)
{
  g_clear_handle_id (&self->listen_watch, g_source_remove);
  g_clear_handle_id (&self->accept_retry, g_source_remove);
  if (self->listen_fd >= 0)
    {
      close (self->listen_fd);
      g_unlink (self->path);
    }
  g_free (self->path);
  g_free (self);
}

/* The socket's directory and SO_PEERCRED keep other users out. */
gboolean
tether_control_transport_wants_token (TetherControlTransport *self)
{
  return FALSE;
}

gboolean
tether_control_transport_check_token (TetherControlTransport *self,
                                      const char             *line)
{
  return TRUE;
}

GBytes *
tether_control_transport_get_answer (TetherControlTransport *self)
{
  return NULL;
}

/* ---- client ------------------------------------------------------------ */

GSocketConnection *
tether_control_transport_connect (const char  *socket_path,
                                  guint        timeout_seconds,
                                  GError     **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GCredentials) creds = NULL;
  uid_t server_uid;

  g_socket_client_set_timeout (client, timeout_seconds);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, error);
  if (connection == NULL)
    {
      g_prefix_error (error, _("Cannot reach a Tether supervisor at %s: "), socket_path);
      return NULL;
    }
  g_socket_set_timeout (g_socket_connection_get_socket (connection), timeout_seconds);

  /* Whoever answers must be us: another user's process at this path
   * could claim a stop that never happened. */
  creds = g_socket_get_credentials (g_socket_connection_get_socket (connection), error);
  if (creds == NULL)
    return NULL;
  server_uid = g_credentials_get_unix_user (creds, NULL);
  if (server_uid != getuid ())
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The control socket %s is served by user %u, not by you; not talking to it"),
                   socket_path, (guint) server_uid);
      return NULL;
    }
  return g_steal_pointer (&connection);
}
