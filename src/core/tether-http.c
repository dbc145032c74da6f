/* tether-http.c: one JSON POST to a backend's own endpoint (libsoup 3)
 *
 * A session per request: requests are rare (a rollback), and a session of
 * its own leaves nothing shared between main contexts. The deadline is a
 * timer that cancels the request's own cancellable, so it covers the
 * whole exchange (connecting, sending, waiting, reading the body), which
 * libsoup's per-read timeout does not.
 *
 * The body is read through its stream, up to TETHER_HTTP_MAX_REPLY_BODY.
 * The stream is then closed asynchronously with a cancelled cancellable:
 * closing it any other way would read (a synchronous close: blocking the
 * main loop) what is left of a body that may never end.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-http.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tether-error.h"
#include "tether-text.h"

/* Of a failed request's body, what its error shows. */
#define MAX_SHOWN_BODY 200
#define READ_CHUNK 16384

typedef struct
{
  char *url;
  double timeout_s;
  SoupSession *session;
  SoupMessage *message;
  GInputStream *stream;      /* the reply's body, once its head came */
  GCancellable *cancellable; /* ours: the caller's cancels it, so does the deadline */
  GCancellable *caller_cancellable;
  gulong cancelled_id;
  GSource *deadline;
  gboolean timed_out;
  gboolean answered;
  guint status;
  GByteArray *body;
  GError *error;             /* kept while the stream closes */
} Post;

static gboolean
unref_later (gpointer object)
{
  g_object_unref (object);
  return G_SOURCE_REMOVE;
}

static void
post_free (Post *post)
{
  if (post->deadline != NULL)
    {
      g_source_destroy (post->deadline);
      g_source_unref (post->deadline);
    }
  if (post->cancelled_id != 0)
    g_cancellable_disconnect (post->caller_cancellable, post->cancelled_id);
  g_clear_object (&post->caller_cancellable);
  g_clear_object (&post->stream);
  /* The task can end inside one of the session's own callbacks (a read,
   * a cancelled send): the session and its message go once that has
   * unwound, not under its feet. */
  if (post->message != NULL)
    g_idle_add_full (G_PRIORITY_LOW, unref_later, g_steal_pointer (&post->message), NULL);
  if (post->session != NULL)
    g_idle_add_full (G_PRIORITY_LOW, unref_later, g_steal_pointer (&post->session), NULL);
  g_clear_object (&post->cancellable);
  g_byte_array_unref (post->body);
  g_clear_error (&post->error);
  g_free (post->url);
  g_free (post);
}

static void
on_caller_cancelled (GCancellable *caller_cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_deadline (gpointer user_data)
{
  Post *post = user_data;

  post->timed_out = TRUE;
  g_clear_pointer (&post->deadline, g_source_unref);
  g_cancellable_cancel (post->cancellable);
  return G_SOURCE_REMOVE;
}

/* What a failure of libsoup or GIO means, said with the URL. */
static GError *
describe_error (Post   *post,
                GError *error)
{
  GError *described;

  if (post->timed_out)
    described = g_error_new (TETHER_ERROR, TETHER_ERROR_TIMED_OUT,
                             _("%s did not answer within %g s"), post->url, post->timeout_s);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return error;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    described = g_error_new (error->domain, error->code, _("Could not connect to %s: %s"),
                             post->url, g_strerror (ECONNREFUSED));
  else if (!post->answered &&
           (error->domain == G_RESOLVER_ERROR ||
            g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND) ||
            g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
            g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE)))
    described = g_error_new (error->domain, error->code, _("Could not connect to %s: %s"),
                             post->url, error->message);
  else
    described = g_error_new (error->domain, error->code, _("Could not post to %s: %s"),
                             post->url, error->message);
  g_error_free (error);
  return described;
}

/* The end, with post->error or the status deciding. */
static void
complete (GTask *task)
{
  Post *post = g_task_get_task_data (task);
  g_autofree char *shown = NULL;
  const char *phrase;

  if (post->deadline != NULL)
    {
      g_source_destroy (post->deadline);
      g_clear_pointer (&post->deadline, g_source_unref);
    }

  if (post->error != NULL)
    {
      g_task_return_error (task, describe_error (post, g_steal_pointer (&post->error)));
      g_object_unref (task);
      return;
    }
  if (SOUP_STATUS_IS_SUCCESSFUL (post->status))
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  phrase = soup_message_get_reason_phrase (post->message);
  if (phrase == NULL || *phrase == '\0')
    phrase = soup_status_get_phrase (post->status);
  if (phrase == NULL)
    phrase = "";

  /* The server's words, cut and made safe: it may send anything. */
  shown = post->body->len > 0
          ? g_utf8_make_valid ((const char *) post->body->data, MIN (post->body->len, MAX_SHOWN_BODY + 4))
          : g_strdup ("");
  g_strstrip (shown);
  tether_text_sanitize_in_place (shown, MAX_SHOWN_BODY);
  if (*shown != '\0')
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED,
                             _("%s answered %u %s: %s"), post->url, post->status, phrase, shown);
  else
    g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED,
                             _("%s answered %u %s"), post->url, post->status, phrase);
  g_object_unref (task);
}

static void
on_closed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  /* Cancelled on purpose (see the top): a closed stream either way. */
  g_input_stream_close_finish (G_INPUT_STREAM (source), result, NULL);
  complete (user_data);
}

/* Closes the body's stream without reading on, then completes. */
static void
finish (GTask  *task,
        GError *error)
{
  Post *post = g_task_get_task_data (task);
  g_autoptr(GCancellable) at_once = NULL;

  if (post->error == NULL)
    post->error = error;
  else if (error != NULL)
    g_error_free (error);

  if (post->stream == NULL || g_input_stream_is_closed (post->stream))
    {
      complete (task);
      return;
    }
  at_once = g_cancellable_new ();
  g_cancellable_cancel (at_once);
  g_input_stream_close_async (post->stream, g_task_get_priority (task), at_once, on_closed, task);
}

static void read_more (GTask *task);

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Post *post = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL)
    {
      finish (task, error);
      return;
    }
  size = g_bytes_get_size (bytes);
  if (size == 0)
    {
      finish (task, NULL);
      return;
    }
  g_byte_array_append (post->body, g_bytes_get_data (bytes, NULL), (guint) size);
  read_more (task);
}

static void
read_more (GTask *task)
{
  Post *post = g_task_get_task_data (task);

  if (post->body->len >= TETHER_HTTP_MAX_REPLY_BODY)
    {
      finish (task, NULL);
      return;
    }
  g_input_stream_read_bytes_async (post->stream,
                                   MIN (READ_CHUNK, TETHER_HTTP_MAX_REPLY_BODY - post->body->len),
                                   g_task_get_priority (task), post->cancellable, on_read, task);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GTask *task = user_data;
  Post *post = g_task_get_task_data (task);
  GError *error = NULL;

  post->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (post->stream == NULL)
    {
      finish (task, error);
      return;
    }
  post->answered = TRUE;
  post->status = soup_message_get_status (post->message);
  read_more (task);
}

/* body NULL: a GET. */
static void
request_async (const char          *url,
               JsonNode            *body,
               double               timeout_s,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task;
  Post *post;
  g_autofree char *json = NULL;
  g_autofree char *user_agent = NULL;
  g_autoptr(GBytes) request_body = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  gsize json_len;

  g_return_if_fail (url != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, request_async);
  g_task_set_name (task, body != NULL ? "[tether] http post" : "[tether] http get");
  post = g_new0 (Post, 1);
  post->url = g_strdup (url);
  post->timeout_s = timeout_s;
  post->body = g_byte_array_new ();
  g_task_set_task_data (task, post, (GDestroyNotify) post_free);

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (scheme == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_INVALID,
                               _("“%s” is not an http:// or https:// URL"), url);
      g_object_unref (task);
      return;
    }
  post->message = soup_message_new_from_uri (body != NULL ? SOUP_METHOD_POST : SOUP_METHOD_GET, uri);

  if (body != NULL)
    {
      json = json_to_string (body, FALSE);
      json_len = strlen (json);
      request_body = g_bytes_new_take (g_steal_pointer (&json), json_len);
      soup_message_set_request_body_from_bytes (post->message, "application/json", request_body);
    }
  soup_message_headers_replace (soup_message_get_request_headers (post->message),
                                "Accept", "application/json");

  user_agent = g_strdup_printf ("Tether/%s", PACKAGE_VERSION);
  post->session = soup_session_new_with_options ("user-agent", user_agent, NULL);
  soup_session_set_proxy_resolver (post->session, NULL);

  post->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      post->caller_cancellable = g_object_ref (cancellable);
      post->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                  post->cancellable, NULL);
    }
  if (timeout_s > 0)
    {
      post->deadline = g_timeout_source_new ((guint) MIN (timeout_s * 1000 + 0.5, (double) G_MAXUINT));
      g_source_set_callback (post->deadline, on_deadline, post, NULL);
      g_source_set_static_name (post->deadline, "[tether] http deadline");
      g_source_attach (post->deadline, g_task_get_context (task));
    }

  soup_session_send_async (post->session, post->message, g_task_get_priority (task),
                           post->cancellable, on_sent, task);
}

void
tether_http_post_json_async (const char          *url,
                             JsonNode            *body,
                             double               timeout_s,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (body != NULL);
  request_async (url, body, timeout_s, cancellable, callback, user_data);
}

void
tether_http_get_async (const char          *url,
                       double               timeout_s,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  request_async (url, NULL, timeout_s, cancellable, callback, user_data);
}

gboolean
tether_http_post_json_finish (GAsyncResult  *result,
                              guint         *status,
                              char         **reply_body,
                              GError       **error)
{
  Post *post;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == request_async, FALSE);

  post = g_task_get_task_data (G_TASK (result));
  if (status != NULL)
    *status = post->answered ? post->status : 0;
  if (reply_body != NULL)
    *reply_body = !post->answered ? NULL
                  : post->body->len > 0 ? g_strndup ((const char *) post->body->data, post->body->len)
                  : g_strdup ("");
  return g_task_propagate_boolean (G_TASK (result), error);
}
