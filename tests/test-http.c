/* test-http.c: the building blocks of rollback method "http"
 *
 * tether_http_post_json against a real HTTP server in this process
 * (SoupServer on 127.0.0.1), a port that accepts and never answers, and
 * one that refuses; and freeze-except, the shim verb that stops a whole
 * tree but the process the rollback talks to, on real trees in both
 * ownership kinds.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#include "tether-error.h"
#include "tether-http.h"
#include "tether-owner.h"
#include "test-util.h"

#define BIG_BODY (200 * 1024)

static SoupServer *server;
static char *base_url;      /* http://127.0.0.1:PORT */
static GSocket *silent;     /* listens, never accepts: no answer ever */
static GSocket *refusing;   /* bound, not listening: connections refused */

/* ---- the server ---------------------------------------------------------- */

static void
on_request (SoupServer        *soup_server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *request = soup_server_message_get_request_body (msg);
  const char *type = soup_message_headers_get_content_type (headers, NULL);

  if (!g_str_equal (soup_server_message_get_method (msg), SOUP_METHOD_POST) ||
      g_strcmp0 (type, "application/json") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      return;
    }

  if (g_str_equal (path, "/rollback"))
    {
      /* What came, back. */
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                        request->data, (gsize) request->length);
    }
  else if (g_str_equal (path, "/fail"))
    {
      /* An escape sequence, a newline, and more than the error shows. */
      GString *body = g_string_new ("oops\033[2J\nbroken: ");

      for (guint i = 0; i < 300; i++)
        g_string_append_c (body, 'x');
      g_string_append_c (body, '\n');
      soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE,
                                        body->str, body->len);
      g_string_free (body, FALSE);
    }
  else if (g_str_equal (path, "/big"))
    {
      char *body = g_malloc (BIG_BODY);

      memset (body, 'b', BIG_BODY);
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE, body, BIG_BODY);
    }
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

static GSocket *
loopback_socket (gboolean listen)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;
  GSocket *socket;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any_port, FALSE, &error));
  g_assert_no_error (error);
  if (listen)
    {
      g_assert_true (g_socket_listen (socket, &error));
      g_assert_no_error (error);
    }
  return socket;
}

static guint
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static void
start_servers (void)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, on_request, NULL, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  base_url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  silent = loopback_socket (TRUE);
  refusing = loopback_socket (FALSE);
}

/* ---- posting ------------------------------------------------------------- */

static JsonNode *
rollback_body (void)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "checkpoint");
  json_builder_add_string_value (builder, "20");
  json_builder_set_member_name (builder, "reason");
  json_builder_add_string_value (builder, "a bad block “é”");
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Posts and waits; returns what finish said. */
static gboolean
post (const char    *url,
      double         timeout_s,
      GCancellable  *cancellable,
      guint         *status,
      char         **reply_body,
      GError       **error)
{
  g_autoptr(JsonNode) body = rollback_body ();
  TestUtilAwait await = { 0 };

  tether_http_post_json_async (url, body, timeout_s, cancellable, test_util_await_cb, &await);
  return tether_http_post_json_finish (test_util_await (&await), status, reply_body, error);
}

static void
test_post_ok (void)
{
  g_autofree char *url = g_strdup_printf ("%s/rollback", base_url);
  g_autoptr(JsonNode) sent = rollback_body ();
  g_autofree char *expected = json_to_string (sent, FALSE);
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_assert_true (post (url, 10, NULL, &status, &reply, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (reply, ==, expected);

  /* Both out values are optional. */
  g_assert_true (post (url, 10, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_post_500 (void)
{
  g_autofree char *url = g_strdup_printf ("%s/fail", base_url);
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GString) shown = g_string_new ("oops?[2J?broken: ");
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_assert_false (post (url, 10, NULL, &status, &reply, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_FAILED);
  /* The status and the body are there on failure too. */
  g_assert_cmpuint (status, ==, 500);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "oops\033[2J\n"));

  /* The first 200 bytes, controls made '?', cut with an ellipsis. */
  while (shown->len < 200 - strlen ("…"))
    g_string_append_c (shown, 'x');
  expected = g_strdup_printf ("%s answered 500 Internal Server Error: %s…", url, shown->str);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_post_404_no_body (void)
{
  g_autofree char *url = g_strdup_printf ("%s/elsewhere", base_url);
  g_autofree char *expected = g_strdup_printf ("%s answered 404 Not Found", url);
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_assert_false (post (url, 10, NULL, &status, &reply, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpuint (status, ==, 404);
  g_assert_cmpstr (reply, ==, "");
}

/* A large reply is cut: at most 64 KiB kept, the rest never read. */
static void
test_post_big_reply (void)
{
  g_autofree char *url = g_strdup_printf ("%s/big", base_url);
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  g_assert_true (post (url, 10, NULL, &status, &reply, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (strlen (reply), ==, TETHER_HTTP_MAX_REPLY_BODY);
  g_assert_cmpint (reply[0], ==, 'b');
}

static void
test_post_timeout (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/rollback", socket_port (silent));
  g_autofree char *expected = g_strdup_printf ("%s did not answer within 0.5 s", url);
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  guint status = 1;

  g_assert_false (post (url, 0.5, NULL, &status, &reply, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpuint (status, ==, 0);
  g_assert_null (reply);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 450 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

static gboolean
cancel_soon (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* The caller's cancellable ends it at once, as a cancellation. */
static void
test_post_cancelled (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/rollback", socket_port (silent));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_timeout_add (100, cancel_soon, cancellable);
  g_assert_false (post (url, 10, cancellable, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

static void
test_post_refused (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/rollback", socket_port (refusing));
  g_autofree char *expected = g_strdup_printf ("Could not connect to %s: Connection refused", url);
  g_autoptr(GError) error = NULL;
  guint status = 1;

  g_assert_false (post (url, 10, NULL, &status, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpuint (status, ==, 0);
}

static void
test_post_bad_url (void)
{
  const char *urls[] = { "ftp://127.0.0.1/rollback", "not a url", "" };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (post (urls[i], 10, NULL, NULL, NULL, &error));
      g_assert_error (error, TETHER_ERROR, TETHER_ERROR_INVALID);
    }
}

/* ---- freeze-except ------------------------------------------------------- */

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *pidfile;
  TetherOwner *owner;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->kind = *(const TetherOwnerKind *) data;
  f->marker = test_util_marker ();
  f->pidfile = test_util_pidfile (f->marker);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  test_util_release_tree (&f->owner, f->marker, f->pidfile);
}

/* main and its three children, main first. */
static GArray *
spawn_family (Fixture *f)
{
  g_autoptr(GArray) children = NULL;
  GArray *family = g_array_new (FALSE, FALSE, sizeof (pid_t));
  pid_t main_pid;

  f->owner = test_util_spawn_tree (f->kind, f->marker, f->pidfile, "children", "3", NULL);
  main_pid = test_util_wait_role (f->pidfile, "main", 10);
  g_array_append_val (family, main_pid);
  children = test_util_read_role (f->pidfile, "child");
  g_assert_cmpuint (children->len, ==, 3);
  g_array_append_vals (family, children->data, children->len);
  return family;
}

static gboolean
is_stopped (pid_t pid)
{
  char state = test_util_proc_state (pid);

  g_assert_cmpint (state, !=, 0);
  return state == 'T' || state == 't';
}

/* Every one stopped but keep (0: none kept; -1: none stopped). */
static void
assert_stopped_but (GArray *family,
                    pid_t   keep)
{
  for (guint i = 0; i < family->len; i++)
    {
      pid_t pid = g_array_index (family, pid_t, i);

      if (keep < 0 || pid == keep)
        g_assert_false (is_stopped (pid));
      else
        g_assert_true (is_stopped (pid));
    }
}

static void
freeze_except (Fixture          *f,
               pid_t             keep,
               TetherOwnerCount *count)
{
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };

  tether_owner_freeze_except_async (f->owner, keep, NULL, test_util_await_cb, &await);
  g_assert_true (tether_owner_verb_finish (f->owner, test_util_await (&await), count, &error));
  g_assert_no_error (error);
}

static void
thaw (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };

  tether_owner_thaw_async (f->owner, NULL, test_util_await_cb, &await);
  g_assert_true (tether_owner_verb_finish (f->owner, test_util_await (&await), NULL, &error));
  g_assert_no_error (error);
}

/* The leaf is thawed (cgroup mode): what freeze-except leaves kept runs. */
static void
assert_leaf_thawed (Fixture *f)
{
  g_autofree char *events_path = NULL;
  g_autofree char *events = NULL;

  if (f->kind != TETHER_OWNER_CGROUP)
    return;
  events_path = g_build_filename (tether_owner_get_location (f->owner), "cgroup.events", NULL);
  g_assert_true (g_file_get_contents (events_path, &events, NULL, NULL));
  g_assert_nonnull (strstr (events, "frozen 0"));
}

/* Stops all but one member, in both kinds; thaw continues them all. */
static void
test_freeze_except (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GArray) family = spawn_family (f);
  pid_t keep = g_array_index (family, pid_t, 2);
  TetherOwnerCount count = { 0 };

  freeze_except (f, keep, &count);
  g_assert_cmpuint (count.n_reached, ==, 3);
  g_assert_cmpuint (count.n_members, ==, 4);
  assert_stopped_but (family, keep);
  assert_leaf_thawed (f);

  thaw (f);
  assert_stopped_but (family, -1);

  /* The main process can be the one kept: its children stop. */
  keep = g_array_index (family, pid_t, 0);
  freeze_except (f, keep, &count);
  g_assert_cmpuint (count.n_reached, ==, 3);
  assert_stopped_but (family, keep);
  thaw (f);
  assert_stopped_but (family, -1);
}

/* After a whole-tree freeze (cgroup.freeze in cgroup mode, a sweep in
 * reaper mode), freeze-except leaves the kept one running and the rest
 * stopped, without waiting out the sweep's deadline; thaw undoes both. */
static void
test_freeze_except_after_freeze (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GArray) family = spawn_family (f);
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };
  TetherOwnerCount count = { 0 };
  pid_t keep = g_array_index (family, pid_t, 1);
  gint64 start;

  tether_owner_freeze_async (f->owner, NULL, test_util_await_cb, &await);
  g_assert_true (tether_owner_verb_finish (f->owner, test_util_await (&await), NULL, &error));
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  freeze_except (f, keep, &count);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (count.n_reached, ==, 3);
  assert_stopped_but (family, keep);
  assert_leaf_thawed (f);

  /* A second one moves the exception. */
  keep = g_array_index (family, pid_t, 3);
  freeze_except (f, keep, &count);
  assert_stopped_but (family, keep);

  /* A whole-tree freeze on top, then one thaw for all of it. */
  tether_owner_freeze_async (f->owner, NULL, test_util_await_cb, &await);
  g_assert_true (tether_owner_verb_finish (f->owner, test_util_await (&await), NULL, &error));
  g_assert_no_error (error);
  thaw (f);
  assert_stopped_but (family, -1);
  assert_leaf_thawed (f);
}

/* A pid that is not a member is refused, and nothing is stopped. */
static void
test_freeze_except_not_member (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GArray) family = spawn_family (f);
  g_autoptr(GError) error = NULL;
  TestUtilAwait await = { 0 };

  tether_owner_freeze_except_async (f->owner, getpid (), NULL, test_util_await_cb, &await);
  g_assert_false (tether_owner_verb_finish (f->owner, test_util_await (&await), NULL, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER);
  assert_stopped_but (family, -1);
}

int
main (int    argc,
      char **argv)
{
  test_util_init ();
  g_test_init (&argc, &argv, NULL);
  start_servers ();

  g_test_add_func ("/http/ok", test_post_ok);
  g_test_add_func ("/http/500", test_post_500);
  g_test_add_func ("/http/404-no-body", test_post_404_no_body);
  g_test_add_func ("/http/big-reply", test_post_big_reply);
  g_test_add_func ("/http/timeout", test_post_timeout);
  g_test_add_func ("/http/cancelled", test_post_cancelled);
  g_test_add_func ("/http/refused", test_post_refused);
  g_test_add_func ("/http/bad-url", test_post_bad_url);
  test_util_add_for_kinds ("/owner", "freeze-except", sizeof (Fixture),
                           fixture_setup, test_freeze_except, fixture_teardown);
  test_util_add_for_kinds ("/owner", "freeze-except-after-freeze", sizeof (Fixture),
                           fixture_setup, test_freeze_except_after_freeze, fixture_teardown);
  test_util_add_for_kinds ("/owner", "freeze-except-not-member", sizeof (Fixture),
                           fixture_setup, test_freeze_except_not_member, fixture_teardown);

  return g_test_run ();
}
