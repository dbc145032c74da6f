/* test-owner-client.c: TetherOwnerClient against a helper the test plays
 *
 * The helper here is the test itself, on the other end of a loopback TCP
 * connection (which both platforms have): it reads the requests the client
 * writes and answers with whatever lines a case needs -- replies in one
 * burst or split mid-line, malformed ones, none at all, a line too long,
 * or it hangs up with requests in flight.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "tether-error.h"
#include "tether-owner-client.h"
#include "tether-owner-private.h"
#include "test-bare-owner.h"

#define PROTOCOL_VERSION 2
#define HELPER_NAME "test-helper"
/* The client's limit on a line it reads (tether-owner-client.c). */
#define MAX_INPUT_LINE (64 * 1024 * 1024)

typedef struct
{
  TetherOwner *owner;
  TetherOwnerClient *client;
  GSocketConnection *helper;    /* the test's end */
  GSource *helper_source;
  GString *heard;               /* what the client wrote, not yet taken */
  GPtrArray *results;           /* GAsyncResult, in the order they came */
  GArray *exits;                /* pid, code pairs (gint64) */
  GArray *spawned;              /* int */
  guint n_listed;
  guint n_emptied;
  gboolean gone;
  gboolean let_go;
} Fixture;

static gboolean
on_helper_readable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Fixture *f = user_data;
  char buf[4096];
  gssize n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, NULL);

  if (n > 0)
    g_string_append_len (f->heard, buf, n);
  return n > 0 || n < 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
on_spawned (TetherOwnerClient *client,
            int                pid,
            Fixture           *f)
{
  g_array_append_val (f->spawned, pid);
}

static void
on_listed (TetherOwnerClient *client,
           GArray            *members,
           gint64             asked_usec,
           Fixture           *f)
{
  f->n_listed++;
}

static void
on_exited (TetherOwnerClient *client,
           int                pid,
           gint64             code,
           Fixture           *f)
{
  gint64 pair[2] = { pid, code };

  g_array_append_vals (f->exits, pair, 2);
}

static void
on_emptied (TetherOwnerClient *client,
            Fixture           *f)
{
  f->n_emptied++;
}

static void
on_gone (TetherOwnerClient *client,
         gboolean           let_go,
         Fixture           *f)
{
  f->gone = TRUE;
  f->let_go = let_go;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GSocketClient) connector = g_socket_client_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketConnection) ours = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  g_socket_client_set_enable_proxy (connector, FALSE);
  ours = g_socket_client_connect (connector, G_SOCKET_CONNECTABLE (bound), NULL, &error);
  g_assert_no_error (error);
  f->helper = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);

  f->heard = g_string_new (NULL);
  f->results = g_ptr_array_new_with_free_func (g_object_unref);
  f->exits = g_array_new (FALSE, FALSE, sizeof (gint64));
  f->spawned = g_array_new (FALSE, FALSE, sizeof (int));
  f->helper_source = g_socket_create_source (g_socket_connection_get_socket (f->helper), G_IO_IN, NULL);
  g_source_set_callback (f->helper_source, G_SOURCE_FUNC (on_helper_readable), f, NULL);
  g_source_attach (f->helper_source, NULL);

  f->owner = g_object_new (TEST_TYPE_BARE_OWNER, NULL);
  f->client = tether_owner_client_new (f->owner, HELPER_NAME, PROTOCOL_VERSION);
  g_signal_connect (f->client, "spawned", G_CALLBACK (on_spawned), f);
  g_signal_connect (f->client, "listed", G_CALLBACK (on_listed), f);
  g_signal_connect (f->client, "exited", G_CALLBACK (on_exited), f);
  g_signal_connect (f->client, "emptied", G_CALLBACK (on_emptied), f);
  g_signal_connect (f->client, "gone", G_CALLBACK (on_gone), f);
  tether_owner_client_start (f->client, G_IO_STREAM (ours), NULL, NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  /* The client holds the owner until the helper is gone. */
  if (!f->gone)
    {
      g_io_stream_close (G_IO_STREAM (f->helper), NULL, NULL);
      while (!f->gone)
        g_main_context_iteration (NULL, TRUE);
    }
  g_signal_handlers_disconnect_by_data (f->client, f);
  g_clear_object (&f->client);
  g_clear_object (&f->owner);
  g_source_destroy (f->helper_source);
  g_source_unref (f->helper_source);
  g_clear_object (&f->helper);
  g_string_free (f->heard, TRUE);
  g_ptr_array_unref (f->results);
  g_array_unref (f->exits);
  g_array_unref (f->spawned);
  /* What a hang-up left to finish (cancelled reads and writes). */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- the helper's side ---------------------------------------------------- */

static void
helper_say (Fixture    *f,
            const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (f->helper)),
                             text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

/* The next line the client wrote, without its '\n'. */
static char *
helper_hear (Fixture *f)
{
  char *nl;
  char *line;

  while ((nl = memchr (f->heard->str, '\n', f->heard->len)) == NULL)
    g_main_context_iteration (NULL, TRUE);
  line = g_strndup (f->heard->str, (gsize) (nl - f->heard->str));
  g_string_erase (f->heard, 0, nl - f->heard->str + 1);
  return line;
}

/* ---- the client's side ---------------------------------------------------- */

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->results, g_object_ref (result));
}

static GTask *
new_task (Fixture *f)
{
  return g_task_new (f->owner, NULL, on_done, f);
}

static void
wait_for_results (Fixture *f,
                  guint    n)
{
  while (f->results->len < n)
    g_main_context_iteration (NULL, TRUE);
}

static TetherOwnerReply *
take_reply (Fixture  *f,
            guint     i,
            GError  **error)
{
  return g_task_propagate_pointer (G_TASK (g_ptr_array_index (f->results, i)), error);
}

/* Greets and spawns pid 100, so the owner's tree runs: verbs need it. */
static void
start_tree (Fixture *f)
{
  const char *argv[] = { "/bin/prog", "an arg", NULL };
  const char *envp[] = { "A=b c", NULL };
  TetherSpawnRequest spawn = { .argv = argv, .cwd = "/tmp", .is_main = TRUE };
  g_autofree char *line = NULL;
  g_autoptr(GError) error = NULL;
  guint i = f->results->len;

  helper_say (f, "hello 2 1 test\n");
  tether_owner_client_spawn (f->client, new_task (f), &spawn, "-", envp, NULL);
  line = helper_hear (f);
  g_assert_cmpstr (line, ==, "1 spawn - /tmp 2 /bin/prog an%20arg 1 A=b%20c");
  helper_say (f, "1 ok 100\n");
  wait_for_results (f, i + 1);
  g_assert_cmpint (g_task_propagate_int (G_TASK (g_ptr_array_index (f->results, i)), &error), ==, 100);
  g_assert_no_error (error);
  g_assert_cmpint (tether_owner_get_main_pid (f->owner), ==, 100);
  g_assert_true (tether_owner_is_running (f->owner));
  g_assert_cmpuint (f->spawned->len, ==, 1);
}

/* ---- the cases ------------------------------------------------------------ */

/* Requests go out before any is answered; the answers come back in one
 * burst and split mid-line, with events between them. */
static void
test_pipelined (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *l2 = NULL, *l3 = NULL, *l4 = NULL, *l5 = NULL;
  TetherOwnerReply *reply;

  start_tree (f);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_MEMBERS, 0, 0);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_SIGNAL, 101, 15);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_TERMINATE_ALL, 0, 0);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_WATCH, 102, 0);
  l2 = helper_hear (f);
  l3 = helper_hear (f);
  l4 = helper_hear (f);
  l5 = helper_hear (f);
  g_assert_cmpstr (l2, ==, "2 members");
  g_assert_cmpstr (l3, ==, "3 signal 101 15");
  g_assert_cmpstr (l4, ==, "4 signal-all 15");
  g_assert_cmpstr (l5, ==, "5 watch 102");
  g_assert_cmpuint (f->results->len, ==, 1);

  helper_say (f, "2 ok 3 100 101 102\nexit 101 15\r\n3 ok 1 3\n4 ok 2");
  wait_for_results (f, 3);
  helper_say (f, " 3\nempty\n5 ok\n");
  wait_for_results (f, 5);

  reply = take_reply (f, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reply->members->len, ==, 3);
  g_assert_cmpint (g_array_index (reply->members, pid_t, 2), ==, 102);
  g_assert_cmpuint (reply->count.n_members, ==, 3);
  tether_owner_reply_free (reply);
  g_assert_cmpuint (f->n_listed, ==, 1);

  reply = take_reply (f, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reply->count.n_reached, ==, 1);
  g_assert_cmpuint (reply->count.n_members, ==, 3);
  tether_owner_reply_free (reply);

  reply = take_reply (f, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reply->count.n_reached, ==, 2);
  g_assert_cmpuint (reply->count.n_members, ==, 3);
  tether_owner_reply_free (reply);

  reply = take_reply (f, 4, &error);
  g_assert_no_error (error);
  tether_owner_reply_free (reply);

  /* The \r of the exit event is not part of its code. */
  g_assert_cmpuint (f->exits->len, ==, 2);
  g_assert_cmpint (g_array_index (f->exits, gint64, 0), ==, 101);
  g_assert_cmpint (g_array_index (f->exits, gint64, 1), ==, 15);
  g_assert_cmpuint (f->n_emptied, ==, 1);
  g_assert_false (f->gone);
}

/* A malformed reply fails its own request, and only that one; a line with
 * no id is passed over. */
static void
test_malformed (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
  TetherOwnerReply *reply;

  start_tree (f);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_SIGNAL, 101, 15);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_KILL_SUBTREE, 7, 0);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_KILL_ALL, 0, 0);
  g_free (helper_hear (f));
  g_free (helper_hear (f));
  g_free (helper_hear (f));

  helper_say (f, "2 maybe\n99999999999999999999 ok\n3 error 3 no%20such%20process\n4 ok 5 5\n");
  wait_for_results (f, 4);

  g_assert_null (take_reply (f, 1, &e1));
  g_assert_error (e1, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (e1->message, HELPER_NAME " said something malformed"));
  g_assert_null (take_reply (f, 2, &e2));
  g_assert_error (e2, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER);
  reply = take_reply (f, 3, &e3);
  g_assert_no_error (e3);
  g_assert_cmpuint (reply->count.n_reached, ==, 5);
  tether_owner_reply_free (reply);
  g_assert_true (tether_owner_client_is_connected (f->client));
}

/* The helper hangs up with requests in flight: each fails at once, with
 * why, and nothing more can be asked. */
static void
test_helper_dies (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;

  start_tree (f);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_FREEZE, 0, 0);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_MEMBERS, 0, 0);
  g_free (helper_hear (f));
  g_free (helper_hear (f));
  g_io_stream_close (G_IO_STREAM (f->helper), NULL, NULL);
  wait_for_results (f, 3);

  g_assert_true (f->gone);
  g_assert_false (f->let_go);
  g_assert_false (tether_owner_client_is_connected (f->client));
  g_assert_null (take_reply (f, 1, &e1));
  g_assert_error (e1, TETHER_ERROR, TETHER_ERROR_OWNER);
  g_assert_cmpstr (e1->message, ==, "Could not freeze the backend: " HELPER_NAME " exited");
  g_assert_null (take_reply (f, 2, &e2));
  g_assert_error (e2, TETHER_ERROR, TETHER_ERROR_OWNER);

  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_KILL_ALL, 0, 0);
  wait_for_results (f, 4);
  g_assert_null (take_reply (f, 3, &e3));
  g_assert_error (e3, TETHER_ERROR, TETHER_ERROR_BUSY);
}

/* A request not answered in time fails; its late reply is dropped, and
 * the next request is answered as usual. */
static void
test_deadline (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) e1 = NULL, e2 = NULL;
  gint64 sent;
  TetherOwnerReply *reply;

  tether_owner_client_set_timeout (f->client, 200);
  start_tree (f);
  sent = g_get_monotonic_time ();
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_THAW, 0, 0);
  g_free (helper_hear (f));
  wait_for_results (f, 2);
  g_assert_cmpint (g_get_monotonic_time () - sent, >=, 200 * 1000);
  g_assert_null (take_reply (f, 1, &e1));
  g_assert_error (e1, TETHER_ERROR, TETHER_ERROR_OWNER);
  g_assert_nonnull (strstr (e1->message, HELPER_NAME " did not answer"));

  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_KILL_ALL, 0, 0);
  g_free (helper_hear (f));
  helper_say (f, "2 ok 9 9\n3 ok 4 4\n");
  wait_for_results (f, 3);
  reply = take_reply (f, 2, &e2);
  g_assert_no_error (e2);
  g_assert_cmpuint (reply->count.n_reached, ==, 4);
  tether_owner_reply_free (reply);
  g_assert_true (tether_owner_client_is_connected (f->client));
}

static void
on_timed_out_ask_again (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->results, g_object_ref (result));
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_MEMBERS, 0, 0);
}

/* A request's failure asks again: one deadline source stays, for the new
 * request, and letting go removes it (a second one started from the
 * callback used to keep running, and fired after its owner was gone). */
static void
test_deadline_ask_again (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) e1 = NULL, e2 = NULL;

  tether_owner_client_set_timeout (f->client, 200);
  start_tree (f);
  tether_owner_client_run (f->client, g_task_new (f->owner, NULL, on_timed_out_ask_again, f),
                           TETHER_OWNER_OP_MEMBERS, 0, 0);
  g_free (helper_hear (f));
  wait_for_results (f, 2);
  g_assert_nonnull (g_main_context_find_source_by_funcs_user_data (NULL, &g_timeout_funcs, f->client));
  g_free (helper_hear (f));

  tether_owner_client_let_go (f->client);
  wait_for_results (f, 3);
  g_assert_null (g_main_context_find_source_by_funcs_user_data (NULL, &g_timeout_funcs, f->client));
  g_assert_null (take_reply (f, 1, &e1));
  g_assert_nonnull (strstr (e1->message, HELPER_NAME " did not answer"));
  g_assert_null (take_reply (f, 2, &e2));
  g_assert_cmpstr (e2->message, ==, "Could not list the backend’s processes: Tether let go of the backend");
  while (!f->gone)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (f->let_go);
}

static void
on_long_line_written (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  gboolean *done = user_data;

  /* The client hangs up before it has read it all. */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  *done = TRUE;
}

/* A line longer than the client reads ends the connection. */
static void
test_long_line (Fixture       *f,
                gconstpointer  data)
{
  gsize size = MAX_INPUT_LINE + 2;
  g_autofree char *line = g_malloc (size);
  g_autoptr(GError) error = NULL;
  gboolean written = FALSE;

  /* Reading 64 MiB may take longer than a reply may (under wine). */
  tether_owner_client_set_timeout (f->client, 300 * 1000);
  start_tree (f);
  tether_owner_client_run (f->client, new_task (f), TETHER_OWNER_OP_MEMBERS, 0, 0);
  g_free (helper_hear (f));

  memset (line, 'x', size - 1);
  line[size - 1] = '\n';
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (f->helper)),
                                   line, size, G_PRIORITY_DEFAULT, NULL, on_long_line_written, &written);
  wait_for_results (f, 2);
  g_assert_false (tether_owner_client_is_connected (f->client));
  g_assert_null (take_reply (f, 1, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_OWNER);
  g_assert_cmpstr (error->message, ==,
                   "Could not list the backend’s processes: " HELPER_NAME " sent more than it may");
  while (!written)
    g_main_context_iteration (NULL, TRUE);
}

/* A helper of another version is hung up on. */
static void
test_wrong_version (Fixture       *f,
                    gconstpointer  data)
{
  const char *argv[] = { "prog", NULL };
  const char *envp[] = { NULL };
  TetherSpawnRequest spawn = { .argv = argv, .cwd = "/" };
  g_autoptr(GError) error = NULL;

  tether_owner_client_spawn (f->client, new_task (f), &spawn, "-", envp, NULL);
  g_free (helper_hear (f));
  helper_say (f, "hello 1 1 test\n");
  wait_for_results (f, 1);
  g_assert_cmpint (g_task_propagate_int (G_TASK (g_ptr_array_index (f->results, 0)), &error), ==, -1);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_OWNER);
  g_assert_nonnull (strstr (error->message, "speaks protocol version 1"));
  g_assert_false (tether_owner_client_is_connected (f->client));
  g_assert_false (tether_owner_is_running (f->owner));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/owner-client/pipelined", Fixture, NULL, fixture_set_up, test_pipelined, fixture_tear_down);
  g_test_add ("/owner-client/malformed", Fixture, NULL, fixture_set_up, test_malformed, fixture_tear_down);
  g_test_add ("/owner-client/helper-dies", Fixture, NULL, fixture_set_up, test_helper_dies, fixture_tear_down);
  g_test_add ("/owner-client/deadline", Fixture, NULL, fixture_set_up, test_deadline, fixture_tear_down);
  g_test_add ("/owner-client/deadline-ask-again", Fixture, NULL, fixture_set_up, test_deadline_ask_again, fixture_tear_down);
  g_test_add ("/owner-client/long-line", Fixture, NULL, fixture_set_up, test_long_line, fixture_tear_down);
  g_test_add ("/owner-client/wrong-version", Fixture, NULL, fixture_set_up, test_wrong_version, fixture_tear_down);

  return g_test_run ();
}
