/* tether-control-win32.c: the control server on loopback TCP (Windows)
 *
 * Why TCP and not a named pipe: GIO has no named pipe server in GLib 2.74
 * (GWin32NamedPipeListener never left libgio's private code), and the
 * control server is written against GSocketConnection streams, which a
 * GSocketService on loopback gives unchanged -- the same JSON lines, the
 * same client handling as the unix socket.
 *
 * Access control: the server binds 127.0.0.1 on a port the system picks,
 * so only this machine can connect -- but every local user could, so the
 * port alone lets no one in. The server writes the port and two random
 * 256-bit secrets to an endpoint file in the user's local application data
 * folder (%LOCALAPPDATA%\tether\<profile-id>.endpoint), created with a
 * DACL that grants access to the user alone (no inherited entries). A
 * client's first line must be the first secret (compared in constant
 * time), or the server hangs up without reading more; the server then
 * answers with the second, which the client checks before it sends a
 * request: a process that took the port after the supervisor died cannot
 * pose as it. Wine stores such ACLs but does not enforce them (there the
 * file is as private as the Unix permissions of the wine prefix).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-control-private.h"

#include <windows.h>
#include <aclapi.h>
#include <bcrypt.h>
#include <sddl.h>

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tether-error.h"

#define SECRET_BYTES 32
#define ENDPOINT_MAGIC "tether-control-tcp 1"

struct _TetherControlTransport
{
  TetherControl *control;  /* owns the transport */
  char *path;              /* the endpoint file */
  GSocketService *service;
  char *client_token;      /* what a client must send first */
  char *server_token;      /* what the server answers with */
  char *contents;          /* the endpoint file as written */
};

static char *
endpoint_dir (void)
{
  /* CSIDL_LOCAL_APPDATA on Windows: the user's, not roamed. */
  return g_build_filename (g_get_user_data_dir (), "tether", NULL);
}

char *
tether_control_default_socket_path (TetherProfile *profile)
{
  g_autofree char *dir = endpoint_dir ();
  g_autofree char *name = g_strconcat (profile->id, ".endpoint", NULL);

  return g_build_filename (dir, name, NULL);
}

static char *
random_token (GError **error)
{
  guchar bytes[SECRET_BYTES];
  NTSTATUS status = BCryptGenRandom (NULL, bytes, sizeof bytes, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
  GString *hex;

  if (status < 0)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot make a secret for the control connection (BCryptGenRandom: 0x%lx)"),
                   (unsigned long) status);
      return NULL;
    }
  hex = g_string_sized_new (2 * SECRET_BYTES);
  for (guint i = 0; i < SECRET_BYTES; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  SecureZeroMemory (bytes, sizeof bytes);
  return g_string_free (hex, FALSE);
}

/* "D:P(A;;FA;;;<the user's SID>)": full access for the user, nobody else,
 * nothing inherited from the folder. */
static PSECURITY_DESCRIPTOR
user_only_descriptor (void)
{
  HANDLE token = NULL;
  DWORD size = 0;
  g_autofree TOKEN_USER *user = NULL;
  LPWSTR sid = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  g_autofree wchar_t *sddl = NULL;

  if (!OpenProcessToken (GetCurrentProcess (), TOKEN_QUERY, &token))
    return NULL;
  GetTokenInformation (token, TokenUser, NULL, 0, &size);
  user = g_malloc (size);
  if (GetTokenInformation (token, TokenUser, user, size, &size) &&
      ConvertSidToStringSidW (user->User.Sid, &sid))
    {
      g_autofree char *sid_utf8 = g_utf16_to_utf8 ((gunichar2 *) sid, -1, NULL, NULL, NULL);
      g_autofree char *text = g_strconcat ("D:P(A;;FA;;;", sid_utf8, ")", NULL);

      sddl = (wchar_t *) g_utf8_to_utf16 (text, -1, NULL, NULL, NULL);
      if (!ConvertStringSecurityDescriptorToSecurityDescriptorW (sddl, SDDL_REVISION_1, &sd, NULL))
        sd = NULL;
      LocalFree (sid);
    }
  CloseHandle (token);
  return sd;
}

/* Creates the file anew (an old one's DACL is not trusted), readable by
 * the user alone, with contents. */
static gboolean
write_private_file (const char  *path,
                    const char  *contents,
                    GError     **error)
{
  g_autofree wchar_t *wpath = (wchar_t *) g_utf8_to_utf16 (path, -1, NULL, NULL, NULL);
  SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, FALSE };
  HANDLE file;
  DWORD written = 0;
  gboolean ok;
  DWORD err;

  sa.lpSecurityDescriptor = user_only_descriptor ();
  if (sa.lpSecurityDescriptor == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot make %s private to this user (Win32 error %lu)"),
                   path, (unsigned long) GetLastError ());
      return FALSE;
    }
  DeleteFileW (wpath);
  file = CreateFileW (wpath, GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
  err = GetLastError ();
  LocalFree (sa.lpSecurityDescriptor);
  if (file == INVALID_HANDLE_VALUE)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot create %s (Win32 error %lu)"), path, (unsigned long) err);
      return FALSE;
    }
  ok = WriteFile (file, contents, (DWORD) strlen (contents), &written, NULL) &&
       written == strlen (contents);
  err = GetLastError ();
  CloseHandle (file);
  if (!ok)
    {
      DeleteFileW (wpath);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot write %s (Win32 error %lu)"), path, (unsigned long) err);
    }
  return ok;
}

typedef struct
{
  guint16 port;
  char *client_token;
  char *server_token;
} Endpoint;

static void
endpoint_clear (Endpoint *endpoint)
{
  g_clear_pointer (&endpoint->client_token, g_free);
  g_clear_pointer (&endpoint->server_token, g_free);
}

/* "tether-control-tcp 1\nPORT CLIENT-TOKEN SERVER-TOKEN\n" */
static gboolean
read_endpoint (const char  *path,
               Endpoint    *endpoint,
               GError     **error)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) words = NULL;
  guint64 port;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  lines = g_strsplit (contents, "\n", 3);
  if (lines[0] == NULL || !g_str_equal (lines[0], ENDPOINT_MAGIC) || lines[1] == NULL)
    goto malformed;
  words = g_strsplit (lines[1], " ", 4);
  if (g_strv_length (words) != 3 ||
      !g_ascii_string_to_unsigned (words[0], 10, 1, G_MAXUINT16, &port, NULL) ||
      strlen (words[1]) != 2 * SECRET_BYTES || strlen (words[2]) != 2 * SECRET_BYTES)
    goto malformed;
  endpoint->port = (guint16) port;
  endpoint->client_token = g_strdup (words[1]);
  endpoint->server_token = g_strdup (words[2]);
  return TRUE;

malformed:
  g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
               _("%s is not a Tether control endpoint"), path);
  return FALSE;
}

static gboolean
same_secret (const char *a,
             const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  guchar diff = la != lb;

  /* Constant time over the expected secret's length. */
  for (gsize i = 0; i < lb; i++)
    diff |= (guchar) (b[i] ^ (i < la ? a[i] : 0));
  return diff == 0;
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  TetherControlTransport *self = user_data;

  if (tether_control_is_full (self->control))
    {
      g_autofree char *text = g_strdup_printf (_("Too many control connections (%u); try again later"),
                                               self->control->max_clients);
      g_autoptr(GBytes) line = tether_control_reply_line_new (NULL, text);
      gsize length;
      gconstpointer data = g_bytes_get_data (line, &length);

      /* Best effort, like the unix socket's: a fresh socket takes a line. */
      g_socket_set_blocking (g_socket_connection_get_socket (connection), FALSE);
      g_socket_send (g_socket_connection_get_socket (connection), data, length, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  tether_control_add_client (self->control, connection);
  return TRUE;
}

/* Someone answers at the endpoint the file names. */
static gboolean
endpoint_is_alive (const char *path)
{
  Endpoint endpoint = { 0 };
  g_autoptr(GSocketConnection) connection = NULL;

  if (!read_endpoint (path, &endpoint, NULL))
    return FALSE;
  connection = tether_control_transport_connect (path, 2, NULL);
  endpoint_clear (&endpoint);
  return connection != NULL;
}

TetherControlTransport *
tether_control_transport_listen (TetherControl  *control,
                                 const char     *path,
                                 TetherProfile  *profile,
                                 GError        **error)
{
  TetherControlTransport *self = g_new0 (TetherControlTransport, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *dir = NULL;

  self->control = control;
  self->path = path != NULL ? g_strdup (path) : tether_control_default_socket_path (profile);
  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot create %s: %s"), dir, g_strerror (saved));
      goto fail;
    }
  if (g_file_test (self->path, G_FILE_TEST_EXISTS) && endpoint_is_alive (self->path))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                   _("Another Tether already supervises this profile (control endpoint %s)"),
                   self->path);
      goto fail;
    }

  self->client_token = random_token (error);
  if (self->client_token == NULL)
    goto fail;
  self->server_token = random_token (error);
  if (self->server_token == NULL)
    goto fail;

  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, error))
    {
      g_prefix_error (error, _("Cannot listen on 127.0.0.1: "));
      goto fail;
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);

  self->contents = g_strdup_printf ("%s\n%u %s %s\n", ENDPOINT_MAGIC,
                                    (guint) g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)),
                                    self->client_token, self->server_token);
  if (!write_private_file (self->path, self->contents, error))
    goto fail;
  g_socket_service_start (self->service);
  return self;

fail:
  if (self->service != NULL)
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
  g_free (self->client_token);
  g_free (self->server_token);
  g_free (self->contents);
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
  g_autofree char *contents = NULL;

  g_signal_handlers_disconnect_by_data (self->service, self);
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
  /* Only our own: a newer supervisor may have written its endpoint since. */
  if (g_file_get_contents (self->path, &contents, NULL, NULL) && g_str_equal (contents, self->contents))
    g_unlink (self->path);
  g_free (self->client_token);
  g_free (self->server_token);
  g_free (self->contents);
  g_free (self->path);
  g_free (self);
}

gboolean
tether_control_transport_wants_token (TetherControlTransport *self)
{
  return TRUE;
}

gboolean
tether_control_transport_check_token (TetherControlTransport *self,
                                      const char             *line)
{
  return same_secret (line, self->client_token);
}

GBytes *
tether_control_transport_get_answer (TetherControlTransport *self)
{
  g_autofree char *line = g_strconcat (self->server_token, "\n", NULL);

  return g_bytes_new (line, strlen (line));
}

/* ---- client ------------------------------------------------------------ */

GSocketConnection *
tether_control_transport_connect (const char  *path,
                                  guint        timeout_seconds,
                                  GError     **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autofree char *line = NULL;
  g_autofree char *answer = NULL;
  Endpoint endpoint = { 0 };
  gboolean ok;

  if (!read_endpoint (path, &endpoint, error))
    {
      g_prefix_error (error, _("Cannot reach a Tether supervisor at %s: "), path);
      return NULL;
    }
  address = g_inet_socket_address_new (loopback, endpoint.port);
  g_socket_client_set_timeout (client, timeout_seconds);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, error);
  if (connection == NULL)
    {
      g_prefix_error (error, _("Cannot reach a Tether supervisor at %s: "), path);
      endpoint_clear (&endpoint);
      return NULL;
    }
  g_socket_set_timeout (g_socket_connection_get_socket (connection), timeout_seconds);

  line = g_strconcat (endpoint.client_token, "\n", NULL);
  ok = g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  line, strlen (line), NULL, NULL, error);
  if (ok)
    {
      /* Unbuffered reads of the one answer line: what follows is the
       * reply to the request, read by the caller from the same stream. */
      GInputStream *raw = g_io_stream_get_input_stream (G_IO_STREAM (connection));
      GString *got = g_string_new (NULL);
      char c;
      gssize n;

      while (got->len <= 2 * SECRET_BYTES && (n = g_input_stream_read (raw, &c, 1, NULL, error)) == 1 && c != '\n')
        g_string_append_c (got, c);
      answer = g_string_free (got, FALSE);
      ok = error == NULL || *error == NULL;
      if (ok && !same_secret (answer, endpoint.server_token))
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("Whoever listens at the port %s names is not its supervisor; not talking to it"),
                       path);
          ok = FALSE;
        }
    }
  endpoint_clear (&endpoint);
  if (!ok)
    return NULL;
  return g_steal_pointer (&connection);
}
