/* tether-owner-client.c: the client side of the helpers' line protocol
 *
 * Every request is a line with an id, answered by a GTask when the reply
 * line arrives on the main loop, or failed when the helper does not answer
 * in time. Lines are written one at a time, in order, and read by one
 * asynchronous read after another: nothing here waits in poll() or read()
 * on the main thread. The helper answers in the order it reads, so the
 * reply sought is the oldest request's; a reply to a request that timed
 * out finds none and is dropped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner-client.h"

#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>

#include "tether-error.h"
#include "tether-owner-private.h"
#include "tether-owner-protocol.h"
#include "tether-procfs.h"
#include "tether-shim-protocol.h"

#define DEFAULT_TIMEOUT_MS 15000
/* The longest line the helper may send: a member list of a million
 * processes still fits. */
#define MAX_INPUT_LINE (64 * 1024 * 1024)
/* Both helpers send Linux errno numbers; 3 is ESRCH, not a member. */
#define HELPER_ESRCH 3

#define REQUEST_SPAWN ((TetherOwnerOp) -1)

typedef struct
{
  guint id;
  TetherOwnerOp op;      /* or REQUEST_SPAWN */
  pid_t pid;
  gboolean is_main;
  char *what;            /* for messages: "start “python3”", "list the members" */
  gint64 deadline;
  gint64 sent_boottime;  /* µs after boot */
  GTask *task;
} Request;

typedef struct
{
  GBytes *data;
  gsize offset;
  GSocketControlMessage *fds;  /* sent with the first byte */
} Outgoing;

struct _TetherOwnerClient
{
  GObject parent_instance;

  TetherOwner *owner;    /* owns this client */
  gboolean holds_owner;  /* a reference too, from start until gone */
  char *helper_name;
  char *helper_path;
  guint protocol_version;
  guint timeout_ms;

  GIOStream *stream;
  GSubprocess *helper;
  GCancellable *cancellable;
  char chunk[16384];
  GString *inbuf;
  gsize in_scanned;      /* inbuf holds no '\n' before this */
  GQueue outq;           /* Outgoing, not yet begun */
  Outgoing *sending;     /* the one being written */
  GQueue requests;       /* Request, oldest first */
  guint next_id;
  GSource *deadline_source;

  gboolean started;
  gboolean connected;    /* requests can be sent */
  gboolean greeted;
  gboolean read_done;    /* the stream reached its end (or we hung up) */
  gboolean exited;
  gboolean gone;         /* both */
  gboolean let_go;       /* the owner hung up first */
};

enum {
  SPAWNED,
  LISTED,
  EXITED,
  EMPTIED,
  GONE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TetherOwnerClient, tether_owner_client, G_TYPE_OBJECT)

static void flush_output (TetherOwnerClient *self);

/* ---- requests ------------------------------------------------------------ */

static void
request_free (Request *request)
{
  g_clear_object (&request->task);
  g_free (request->what);
  g_free (request);
}

static void
fail_request (Request *request,
              GError  *error)
{
  GTask *task = g_steal_pointer (&request->task);

  g_task_return_error (task, error);
  g_object_unref (task);
  request_free (request);
}

static void
outgoing_free (Outgoing *out)
{
  g_clear_object (&out->fds);
  g_bytes_unref (out->data);
  g_free (out);
}

/* Fails them outside the table: a failed task's callback may ask again. */
static void
fail_requests (TetherOwnerClient *self,
               GPtrArray         *requests,
               const char        *reason)
{
  g_object_ref (self);
  for (guint i = 0; i < requests->len; i++)
    {
      Request *request = g_ptr_array_index (requests, i);

      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_OWNER,
                                          _("Could not %s: %s"), request->what, reason));
    }
  g_object_unref (self);
}

void
tether_owner_client_hang_up (TetherOwnerClient *self,
                             const char        *reason)
{
  g_autoptr(GPtrArray) pending = g_ptr_array_new ();
  Request *request;

  g_return_if_fail (TETHER_IS_OWNER_CLIENT (self));

  if (self->connected)
    {
      /* The reads and writes in flight end with G_IO_ERROR_CANCELLED; a
       * stream they still hold is closed when they do. */
      self->connected = FALSE;
      g_cancellable_cancel (self->cancellable);
      g_io_stream_close (self->stream, NULL, NULL);
    }
  g_queue_clear_full (&self->outq, (GDestroyNotify) outgoing_free);
  if (self->deadline_source != NULL)
    {
      g_source_destroy (self->deadline_source);
      g_clear_pointer (&self->deadline_source, g_source_unref);
    }

  while ((request = g_queue_pop_head (&self->requests)) != NULL)
    g_ptr_array_add (pending, request);
  fail_requests (self, pending, reason);
}

static gboolean on_deadline (gpointer user_data);

static void
arm_deadline (TetherOwnerClient *self)
{
  Request *oldest = g_queue_peek_head (&self->requests);
  gint64 wait_usec;

  if (oldest == NULL || self->deadline_source != NULL)
    return;
  wait_usec = MAX (oldest->deadline - g_get_monotonic_time (), 0);
  self->deadline_source = g_timeout_source_new ((guint) ((wait_usec + 999) / 1000));
  g_source_set_callback (self->deadline_source, on_deadline, self, NULL);
  g_source_set_static_name (self->deadline_source, "[tether] helper deadlines");
  g_source_attach (self->deadline_source, g_main_context_get_thread_default ());
}

static gboolean
on_deadline (gpointer user_data)
{
  TetherOwnerClient *self = user_data;
  g_autoptr(GPtrArray) expired = g_ptr_array_new ();
  g_autofree char *detail = NULL;
  gint64 now = g_get_monotonic_time ();
  Request *request;

  g_clear_pointer (&self->deadline_source, g_source_unref);

  /* All wait as long: the oldest expires first. A late reply finds no
   * request and is dropped. */
  while ((request = g_queue_peek_head (&self->requests)) != NULL && request->deadline <= now)
    g_ptr_array_add (expired, g_queue_pop_head (&self->requests));

  detail = g_strdup_printf (_("%s did not answer within %d s"), self->helper_name, (int) (self->timeout_ms / 1000));
  g_object_ref (self);
  fail_requests (self, expired, detail);
  if (self->connected)
    arm_deadline (self);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static void
send_request (TetherOwnerClient     *self,
              Request               *request,
              GString               *body,
              GSocketControlMessage *fds)
{
  g_autoptr(GString) line = NULL;
  Outgoing *out;

  if (!self->connected)
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: the backend is not running"),
                                          request->what));
      return;
    }

  request->id = ++self->next_id;
  request->deadline = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
  request->sent_boottime = tether_procfs_boottime_usec ();
  line = g_string_new (NULL);
  g_string_printf (line, "%u %s\n", request->id, body->str);

  /* The helper reads no longer line (a spawn's arguments and environment). */
  if (line->len > TETHER_SHIM_MAX_LINE)
    {
      fail_request (request, g_error_new (TETHER_ERROR,
                                          request->op == REQUEST_SPAWN ? TETHER_ERROR_SPAWN : TETHER_ERROR_OWNER,
                                          _("Could not %s: the request is %zu bytes long, "
                                            "and %s reads at most %d"),
                                          request->what, (size_t) line->len,
                                          self->helper_name, TETHER_SHIM_MAX_LINE));
      return;
    }
  if (fds != NULL && !G_IS_SOCKET_CONNECTION (self->stream))
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_SPAWN,
                                          _("Could not %s: descriptors cannot be passed to %s"),
                                          request->what, self->helper_name));
      return;
    }

  out = g_new0 (Outgoing, 1);
  out->data = g_string_free_to_bytes (g_steal_pointer (&line));
  out->fds = fds != NULL ? g_object_ref (fds) : NULL;
  g_queue_push_tail (&self->outq, out);
  g_queue_push_tail (&self->requests, request);
  arm_deadline (self);
  flush_output (self);
}

/* ---- writing ------------------------------------------------------------- */

static void
lose_connection (TetherOwnerClient *self,
                 GError            *error)
{
  g_autofree char *reason = g_strdup_printf (_("the connection to %s broke (%s)"),
                                             self->helper_name, error->message);

  tether_owner_client_hang_up (self, reason);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherOwnerClient) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean written = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);

  g_clear_pointer (&self->sending, outgoing_free);
  if (!self->connected)
    {
      /* Hung up while this was being written: the stream could not be
       * closed then. */
      g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
      return;
    }
  if (!written)
    {
      lose_connection (self, error);
      return;
    }
  flush_output (self);
}

static gboolean
on_socket_writable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  TetherOwnerClient *self = user_data;
  Outgoing *out = g_steal_pointer (&self->sending);

  /* Back to the head of the queue: flush_output tries it again. */
  if (self->connected)
    g_queue_push_head (&self->outq, out);
  else
    outgoing_free (out);
  flush_output (self);
  return G_SOURCE_REMOVE;
}

/* Descriptors go as ancillary data with the line's first byte (SCM_RIGHTS
 * on Linux). FALSE while this waits for the socket to take more. */
static gboolean
send_with_fds (TetherOwnerClient *self,
               Outgoing          *out)
{
  GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->stream));
  g_autoptr(GError) error = NULL;
  GOutputVector vector;
  gsize sent = 0;
  GPollableReturn status;

  vector.buffer = g_bytes_get_data (out->data, &vector.size);
  status = g_socket_send_message_with_timeout (socket, NULL, &vector, 1, &out->fds, 1,
                                               G_SOCKET_MSG_NONE, 0, &sent, NULL, &error);
  if (status == G_POLLABLE_RETURN_WOULD_BLOCK)
    {
      GSource *source = g_socket_create_source (socket, G_IO_OUT, self->cancellable);

      self->sending = out;
      g_source_set_callback (source, G_SOURCE_FUNC (on_socket_writable), g_object_ref (self), g_object_unref);
      g_source_attach (source, g_main_context_get_thread_default ());
      g_source_unref (source);
      return FALSE;
    }
  if (status != G_POLLABLE_RETURN_OK)
    {
      outgoing_free (out);
      lose_connection (self, error);
      return FALSE;
    }
  /* Sent; the descriptors went with the first byte, ours can go. */
  g_clear_object (&out->fds);
  out->offset = sent;
  return TRUE;
}

/* The lines queued behind out go with it in one write, up to one that
 * carries descriptors. */
static void
take_following_lines (TetherOwnerClient *self,
                      Outgoing          *out)
{
  g_autoptr(GByteArray) batch = NULL;
  Outgoing *next;

  while ((next = g_queue_peek_head (&self->outq)) != NULL && next->fds == NULL)
    {
      if (batch == NULL)
        batch = g_bytes_unref_to_array (g_steal_pointer (&out->data));
      g_byte_array_append (batch, g_bytes_get_data (next->data, NULL), g_bytes_get_size (next->data));
      outgoing_free (g_queue_pop_head (&self->outq));
    }
  if (batch != NULL)
    out->data = g_byte_array_free_to_bytes (g_steal_pointer (&batch));
}

/* One write at a time, in order: the helper answers in the order it reads. */
static void
flush_output (TetherOwnerClient *self)
{
  Outgoing *out;
  gsize size;
  const char *data;

  while (self->connected && self->sending == NULL && (out = g_queue_pop_head (&self->outq)) != NULL)
    {
      if (out->fds != NULL && !send_with_fds (self, out))
        return;
      if (out->offset == 0)
        take_following_lines (self, out);
      data = g_bytes_get_data (out->data, &size);
      if (out->offset == size)
        {
          outgoing_free (out);
          continue;
        }
      self->sending = out;
      g_output_stream_write_all_async (g_io_stream_get_output_stream (self->stream),
                                       data + out->offset, size - out->offset, G_PRIORITY_DEFAULT,
                                       self->cancellable, on_written, g_object_ref (self));
    }
}

/* ---- replies and events --------------------------------------------------- */

static void
return_malformed (TetherOwnerClient *self,
                  GTask             *task,
                  Request           *request)
{
  g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                           _("Could not %s: %s said something malformed"),
                           request->what, self->helper_name);
}

static void
return_error_reply (TetherOwnerClient  *self,
                    GTask              *task,
                    Request            *request,
                    char              **words)
{
  guint64 err = 0;
  g_autofree char *text = words[2] != NULL && words[3] != NULL
    ? tether_owner_protocol_decode_field (words[3]) : g_strdup ("?");
  const char *detail = text;

  tether_owner_protocol_parse_uint (words[2], G_MAXINT, &err);
#ifndef G_OS_WIN32
  /* The shim's numbers are this system's. (The Windows helper's are
   * Linux's, not the C runtime's: its text says more.) */
  if (err != 0)
    detail = g_strerror ((int) err);
#endif
  if (request->op == REQUEST_SPAWN)
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                             _("Could not %s: %s"), request->what, detail);
  else if (err == HELPER_ESRCH && request->pid > 0)
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                             _("Process %d is not part of the backend’s tree"), (int) request->pid);
  else
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_OWNER,
                             _("Could not %s: %s"), request->what, text);
}

static TetherOwnerReply *
parse_reply (TetherOwnerClient  *self,
             Request            *request,
             char              **words)
{
  TetherOwnerReply *reply = tether_owner_reply_new ();
  guint64 a = 0, b = 0;

  if (request->op == TETHER_OWNER_OP_MEMBERS || request->op == TETHER_OWNER_OP_TOP_LEVEL)
    {
      guint n_words = g_strv_length (words);

      reply->members = g_array_sized_new (FALSE, FALSE, sizeof (pid_t), n_words);
      for (guint i = 3; i < n_words; i++)
        {
          guint64 pid;

          if (tether_owner_protocol_parse_uint (words[i], G_MAXINT, &pid))
            g_array_append_val (reply->members, (pid_t) { (pid_t) pid });
        }
      reply->count.n_reached = reply->members->len;
      reply->count.n_members = request->op == TETHER_OWNER_OP_MEMBERS
        ? reply->members->len : tether_owner_get_n_members (self->owner);
      if (request->op == TETHER_OWNER_OP_MEMBERS)
        g_signal_emit (self, signals[LISTED], 0, reply->members, (gint64) request->sent_boottime);
    }
  else if (request->op != TETHER_OWNER_OP_WATCH)
    {
      tether_owner_protocol_parse_uint (words[2], G_MAXUINT, &a);
      tether_owner_protocol_parse_uint (words[2] != NULL ? words[3] : NULL, G_MAXUINT, &b);
      reply->count.n_reached = (guint) a;
      reply->count.n_members = (guint) b;
    }
  else
    reply->count.n_members = tether_owner_get_n_members (self->owner);
  return reply;
}

static void
complete_request (TetherOwnerClient  *self,
                  Request            *request,
                  char              **words)
{
  g_autoptr(GTask) task = g_steal_pointer (&request->task);
  guint64 pid = 0;

  if (g_str_equal (words[1], "error"))
    return_error_reply (self, task, request, words);
  else if (!g_str_equal (words[1], "ok"))
    return_malformed (self, task, request);
  else if (request->op != REQUEST_SPAWN)
    g_task_return_pointer (task, parse_reply (self, request, words),
                           (GDestroyNotify) tether_owner_reply_free);
  else if (!tether_owner_protocol_parse_uint (words[2], G_MAXINT, &pid) || pid == 0)
    return_malformed (self, task, request);
  else
    {
      /* Now, before any later line: an exit right behind this reply
       * must find the main pid set. */
      tether_owner_spawned (self->owner, (pid_t) pid, request->is_main);
      g_signal_emit (self, signals[SPAWNED], 0, (int) pid);
      g_task_return_int (task, (gssize) pid);
    }
}

static void
handle_event (TetherOwnerClient  *self,
              char              **words)
{
  guint64 pid = 0, version = 0;
  gint64 code = 0;

  if (g_str_equal (words[0], "hello"))
    {
      if (!tether_owner_protocol_parse_uint (words[1], G_MAXUINT, &version) || version != self->protocol_version)
        {
          g_autofree char *reason =
            g_strdup_printf (_("%s speaks protocol version %s; this Tether needs version %d "
                               "(is it from another installation?)"),
                             self->helper_path, words[1] != NULL ? words[1] : "?", (int) self->protocol_version);
          tether_owner_client_hang_up (self, reason);
          return;
        }
      self->greeted = TRUE;
    }
  else if (g_str_equal (words[0], "exit") &&
           tether_owner_protocol_parse_uint (words[1], G_MAXINT, &pid) && words[2] != NULL &&
           g_ascii_string_to_signed (words[2], 10, -1, G_MAXUINT32, &code, NULL))
    g_signal_emit (self, signals[EXITED], 0, (int) pid, code);
  else if (g_str_equal (words[0], "empty"))
    {
      g_signal_emit (self, signals[EMPTIED], 0);
      tether_owner_tree_emptied (self->owner);
    }
  else
    g_message ("%s sent an unknown event: %.80s", self->helper_name, words[0]);
}

static Request *
take_request (TetherOwnerClient *self,
              guint              id)
{
  for (GList *l = self->requests.head; l != NULL; l = l->next)
    {
      Request *request = l->data;

      if (request->id == id)
        {
          g_queue_delete_link (&self->requests, l);
          return request;
        }
    }
  return NULL;
}

static void
handle_line (TetherOwnerClient *self,
             char              *line)
{
  g_auto(GStrv) words = NULL;
  Request *request;
  guint64 id;

  g_strchomp (line);  /* a \r before the \n */
  words = g_strsplit (line, " ", -1);
  if (words[0] == NULL || words[0][0] == '\0')
    return;
  if (!g_ascii_isdigit (words[0][0]))
    {
      handle_event (self, words);
      return;
    }
  if (!tether_owner_protocol_parse_uint (words[0], G_MAXUINT, &id) || words[1] == NULL)
    {
      g_message ("%s sent a malformed reply: %.80s", self->helper_name, line);
      return;
    }
  request = take_request (self, (guint) id);
  if (request == NULL)
    {
      g_debug ("A late reply to request %u (it timed out)", (guint) id);
      return;
    }
  complete_request (self, request, words);
  request_free (request);
}

/* FALSE when a line is longer than the helper may send. */
static gboolean
process_input (TetherOwnerClient *self)
{
  char *nl;
  gsize pos = 0;
  gsize from = self->in_scanned;
  gboolean fits = TRUE;

  g_object_ref (self);
  while ((nl = memchr (self->inbuf->str + from, '\n', self->inbuf->len - from)) != NULL)
    {
      gsize end = (gsize) (nl - self->inbuf->str);
      g_autofree char *line = NULL;

      if (end - pos > MAX_INPUT_LINE)
        {
          fits = FALSE;
          break;
        }
      line = g_strndup (self->inbuf->str + pos, end - pos);
      pos = from = end + 1;
      handle_line (self, line);
    }
  if (self->inbuf->len - pos > MAX_INPUT_LINE)
    fits = FALSE;
  /* Once, not per line: erasing each line moved all that followed it. */
  g_string_erase (self->inbuf, 0, (gssize) pos);
  self->in_scanned = self->inbuf->len;
  g_object_unref (self);
  return fits;
}

/* ---- reading, and the helper's life -------------------------------------- */

/* Once the helper has exited and everything it wrote was read. */
static void
maybe_gone (TetherOwnerClient *self)
{
  g_autofree char *reason = NULL;

  if (!self->read_done || !self->exited || self->gone)
    return;
  self->gone = TRUE;
  reason = self->greeted
    ? g_strdup_printf (_("%s exited"), self->helper_name)
    : g_strdup_printf (_("%s exited without greeting (is it from another installation?)"), self->helper_name);
  g_object_ref (self);
  tether_owner_client_hang_up (self, reason);
  g_signal_emit (self, signals[GONE], 0, self->let_go);
  if (self->holds_owner)
    {
      self->holds_owner = FALSE;
      g_object_unref (self->owner);
    }
  g_object_unref (self);
}

static void read_more (TetherOwnerClient *self);

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(TetherOwnerClient) self = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n > 0 && self->connected)
    {
      g_string_append_len (self->inbuf, self->chunk, n);
      if (!process_input (self))
        {
          g_autofree char *reason = g_strdup_printf (_("%s sent more than it may"), self->helper_name);

          tether_owner_client_hang_up (self, reason);
        }
      if (self->connected)
        {
          read_more (self);
          return;
        }
    }
  /* End of file, or we hung up: nothing more will be read. */
  if (!self->connected)
    g_input_stream_close (G_INPUT_STREAM (source), NULL, NULL);
  self->read_done = TRUE;
  maybe_gone (self);
}

static void
read_more (TetherOwnerClient *self)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (self->stream), self->chunk, sizeof self->chunk,
                             G_PRIORITY_DEFAULT, self->cancellable, on_read, g_object_ref (self));
}

static void
on_helper_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TetherOwnerClient) self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  self->exited = TRUE;
  maybe_gone (self);
}

void
tether_owner_client_start (TetherOwnerClient *self,
                           GIOStream         *stream,
                           GSubprocess       *helper,
                           const char        *helper_path)
{
  g_return_if_fail (TETHER_IS_OWNER_CLIENT (self));
  g_return_if_fail (G_IS_IO_STREAM (stream));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->connected = TRUE;
  self->stream = g_object_ref (stream);
  self->helper_path = g_strdup (helper_path != NULL ? helper_path : self->helper_name);
  self->holds_owner = TRUE;
  g_object_ref (self->owner);
  read_more (self);
  if (helper != NULL)
    {
      self->helper = g_object_ref (helper);
      g_subprocess_wait_async (helper, NULL, on_helper_exited, g_object_ref (self));
    }
  else
    self->exited = TRUE;
}

void
tether_owner_client_let_go (TetherOwnerClient *self)
{
  g_return_if_fail (TETHER_IS_OWNER_CLIENT (self));

  self->let_go = TRUE;
  tether_owner_client_hang_up (self, _("Tether let go of the backend"));
}

gboolean
tether_owner_client_is_connected (TetherOwnerClient *self)
{
  g_return_val_if_fail (TETHER_IS_OWNER_CLIENT (self), FALSE);
  return self->connected;
}

void
tether_owner_client_set_timeout (TetherOwnerClient *self,
                                 guint              timeout_ms)
{
  g_return_if_fail (TETHER_IS_OWNER_CLIENT (self));
  self->timeout_ms = timeout_ms;
}

/* ---- the requests --------------------------------------------------------- */

static Request *
request_new (GTask         *task,
             TetherOwnerOp  op,
             pid_t          pid,
             char          *what)
{
  Request *request = g_new0 (Request, 1);

  request->task = task;
  request->op = op;
  request->pid = pid;
  request->what = what;
  return request;
}

char *
tether_owner_client_describe_spawn (const TetherSpawnRequest *spawn)
{
  g_autofree char *name = g_path_get_basename (spawn->argv[0]);

  return g_strdup_printf (_("start “%s”"), name);
}

static void
append_strv (GString            *line,
             const char * const *strv)
{
  guint n = g_strv_length ((char **) strv);

  g_string_append_printf (line, " %u", n);
  for (guint i = 0; i < n; i++)
    tether_owner_protocol_append_field (line, strv[i]);
}

void
tether_owner_client_spawn (TetherOwnerClient        *self,
                           GTask                    *task,
                           const TetherSpawnRequest *spawn,
                           const char               *head,
                           const char * const       *envp,
                           GSocketControlMessage    *fds)
{
  Request *request = request_new (task, REQUEST_SPAWN, 0, tether_owner_client_describe_spawn (spawn));
  g_autoptr(GString) body = g_string_new ("spawn ");
  g_autofree char *own_cwd = NULL;

  request->is_main = spawn->is_main;
  if (tether_owner_empty_was_emitted (self->owner))
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: this tree has ended"), request->what));
      return;
    }

  if (spawn->cwd == NULL)
    own_cwd = g_get_current_dir ();
  g_string_append (body, head);
  tether_owner_protocol_append_field (body, spawn->cwd != NULL ? spawn->cwd : own_cwd);
  append_strv (body, spawn->argv);
  append_strv (body, envp);
  send_request (self, request, body, fds);
}

void
tether_owner_client_run (TetherOwnerClient *self,
                         GTask             *task,
                         TetherOwnerOp      op,
                         pid_t              pid,
                         int                sig)
{
  Request *request = request_new (task, op, pid, tether_owner_protocol_describe (op, pid));
  g_autoptr(GString) body = g_string_new (tether_owner_protocol_verb (op));

  /* A tree that never was, or has ended, has no members to act on. */
  if (!tether_owner_is_running (self->owner) && (op == TETHER_OWNER_OP_MEMBERS || op == TETHER_OWNER_OP_TOP_LEVEL))
    {
      TetherOwnerReply *reply = tether_owner_reply_new ();

      reply->members = g_array_new (FALSE, FALSE, sizeof (pid_t));
      g_task_return_pointer (request->task, reply, (GDestroyNotify) tether_owner_reply_free);
      request_free (request);
      return;
    }
  /* A watch may come before the spawn's reply is heard (a fast backend's
   * MAINPID=): the helper answers requests in the order they were sent, so
   * it hears the watch once the spawn went through. Without a helper to
   * send it to, send_request refuses it. */
  if (!tether_owner_is_running (self->owner) &&
      (op != TETHER_OWNER_OP_WATCH || tether_owner_empty_was_emitted (self->owner)))
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: the backend is not running"), request->what));
      return;
    }

  switch (op)
    {
    case TETHER_OWNER_OP_WATCH:
    case TETHER_OWNER_OP_KILL_SUBTREE:
    case TETHER_OWNER_OP_FREEZE_EXCEPT:
      g_string_append_printf (body, " %d", (int) pid);
      break;
    case TETHER_OWNER_OP_STOP_MAIN:
    case TETHER_OWNER_OP_SIGNAL:
    case TETHER_OWNER_OP_SIGNAL_SUBTREE:
      g_string_append_printf (body, " %d %d", (int) pid, sig);
      break;
    case TETHER_OWNER_OP_TERMINATE_ALL:
      g_string_append_printf (body, " %d", sig > 0 ? sig : SIGTERM);
      break;
    case TETHER_OWNER_OP_MEMBERS:
    case TETHER_OWNER_OP_FREEZE:
    case TETHER_OWNER_OP_THAW:
    case TETHER_OWNER_OP_KILL_ALL:
    case TETHER_OWNER_OP_TOP_LEVEL:
    default:
      break;
    }
  send_request (self, request, body, NULL);
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_owner_client_finalize (GObject *object)
{
  TetherOwnerClient *self = TETHER_OWNER_CLIENT (object);

  g_queue_clear_full (&self->outq, (GDestroyNotify) outgoing_free);
  g_queue_clear_full (&self->requests, (GDestroyNotify) request_free);
  g_clear_pointer (&self->sending, outgoing_free);
  if (self->deadline_source != NULL)
    g_source_destroy (self->deadline_source);
  g_clear_pointer (&self->deadline_source, g_source_unref);
  g_clear_object (&self->stream);
  g_clear_object (&self->helper);
  g_clear_object (&self->cancellable);
  g_string_free (self->inbuf, TRUE);
  g_free (self->helper_name);
  g_free (self->helper_path);

  G_OBJECT_CLASS (tether_owner_client_parent_class)->finalize (object);
}

static void
tether_owner_client_class_init (TetherOwnerClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_owner_client_finalize;

  signals[SPAWNED] = g_signal_new ("spawned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  signals[LISTED] = g_signal_new ("listed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                  G_TYPE_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_INT64);
  signals[EXITED] = g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT64);
  signals[EMPTIED] = g_signal_new ("emptied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[GONE] = g_signal_new ("gone", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
tether_owner_client_init (TetherOwnerClient *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->cancellable = g_cancellable_new ();
  self->inbuf = g_string_new (NULL);
  g_queue_init (&self->outq);
  g_queue_init (&self->requests);
}

TetherOwnerClient *
tether_owner_client_new (TetherOwner *owner,
                         const char  *helper_name,
                         guint        protocol_version)
{
  TetherOwnerClient *self;

  g_return_val_if_fail (TETHER_IS_OWNER (owner), NULL);

  self = g_object_new (TETHER_TYPE_OWNER_CLIENT, NULL);
  self->owner = owner;
  self->helper_name = g_strdup (helper_name);
  self->protocol_version = protocol_version;
  return self;
}
