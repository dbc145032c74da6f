/* tether-http.h: one JSON POST to a backend's own endpoint
 *
 * What rollback method "http" needs: send a JSON body, learn the status,
 * keep (a bounded part of) what came back, give up after a deadline, and
 * say plainly what went wrong. Asynchronous; nothing waits on the main
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The most of a reply's body that is kept; the rest is not read. */
#define TETHER_HTTP_MAX_REPLY_BODY (64 * 1024)

/* POSTs body (as application/json) to url, an http:// or https:// URL,
 * and completes once the reply's body was read, or after timeout_s
 * seconds in all (0 or less: no deadline). Redirects are followed as
 * libsoup does; no proxy is used (the endpoint is the backend's own).
 * Completes in the thread-default main context of the call. */
void     tether_http_post_json_async  (const char           *url,
                                       JsonNode             *body,
                                       double                timeout_s,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);

/* TRUE for a 2xx status. status and reply_body (both optional) are set
 * whenever an answer came, 2xx or not: the status, and the body's first
 * TETHER_HTTP_MAX_REPLY_BODY bytes as received, NUL-terminated (free it);
 * else 0 and NULL. Errors, in TETHER_ERROR unless said otherwise:
 *   TETHER_ERROR_FAILED: "URL answered 500 Internal Server Error: BODY"
 *     (its first 200 bytes, made safe to show)
 *   TETHER_ERROR_TIMED_OUT: "URL did not answer within N s"
 *   TETHER_ERROR_INVALID: url is no http(s) URL
 *   a G_IO_ERROR or G_RESOLVER_ERROR with GIO's code:
 *     "Could not connect to URL: Connection refused", or
 *     "Could not post to URL: …" when the exchange broke off
 *   G_IO_ERROR_CANCELLED: the caller's cancellable was cancelled. */
/* A GET (a health probe), with the same outcomes; finish it with
 * tether_http_post_json_finish. */
void     tether_http_get_async        (const char           *url,
                                       double                timeout_s,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);

gboolean tether_http_post_json_finish (GAsyncResult         *result,
                                       guint                *status,
                                       char                **reply_body,
                                       GError              **error);

G_END_DECLS
