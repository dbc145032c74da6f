/* tether-bundle.h: a support bundle, everything support staff ask for first
 *
 * One JSON document a person can read without Tether:
 *
 *   "format"    "tether-support-bundle 1"
 *   "created"   when (ISO 8601)
 *   "versions"  {"tether", "glib", "json-glib", "kernel"} and whatever the
 *               maker adds (the app: "gtk", "libadwaita")
 *   "status"    the control method's reply (the ownership mode is its "owner")
 *   "profile"   the profile file as written (text), or null
 *   "diagnosis" every member's diagnosis and the cgroup's files
 *   "tree"      the members with CPU and memory
 *   "log"       the last TETHER_BUNDLE_LOG_LINES lines of output
 *   "history"   the journal's events
 *
 * Each section is what the control method of that name replies
 * (tether-control.h), or {"error": "..."} saying why it could not be had: a
 * bundle made of a half-broken supervisor is the one most needed. Sections
 * come in the same order whenever they arrive.
 *
 * Two ways to fill one, asking the same questions: from a supervisor in
 * this process (the app), or through a supervisor's control socket
 * (tetherctl).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether-supervisor.h"

G_BEGIN_DECLS

#define TETHER_BUNDLE_FORMAT    "tether-support-bundle 1"
#define TETHER_BUNDLE_LOG_LINES 2000

typedef enum
{
  TETHER_BUNDLE_STATUS,
  TETHER_BUNDLE_DIAGNOSIS,
  TETHER_BUNDLE_TREE,
  TETHER_BUNDLE_LOG,
  TETHER_BUNDLE_HISTORY,
  TETHER_N_BUNDLE_SECTIONS
} TetherBundleSection;

#define TETHER_TYPE_BUNDLE (tether_bundle_get_type ())

G_DECLARE_FINAL_TYPE (TetherBundle, tether_bundle, TETHER, BUNDLE, GObject)

/* Empty sections (each says it was not collected), the versions of what
 * this process runs, created now. */
TetherBundle *tether_bundle_new                  (void);
void          tether_bundle_add_version          (TetherBundle        *self,
                                                  const char          *component,
                                                  const char          *version);

/* The section's name in the document ("diagnosis"), and the control
 * request that fills it ({"method": "logs", "lines": 2000}). */
const char   *tether_bundle_section_name         (TetherBundleSection  section);
JsonNode     *tether_bundle_section_request      (TetherBundleSection  section);

/* reply (not taken), or error when reply is NULL. */
void          tether_bundle_set_section          (TetherBundle        *self,
                                                  TetherBundleSection  section,
                                                  JsonNode            *reply,
                                                  const GError        *error);
JsonNode     *tether_bundle_get_section          (TetherBundle        *self,
                                                  TetherBundleSection  section);
/* Where the status says the profile is, or NULL. */
const char   *tether_bundle_get_profile_path     (TetherBundle        *self);
/* The profile as written; NULL: it could not be read. */
void          tether_bundle_set_profile_text     (TetherBundle        *self,
                                                  const char          *text);

/* The document, indented. */
char         *tether_bundle_to_string            (TetherBundle        *self);

/* Fills every section from supervisor, in this process: a fresh sample,
 * then status, tree, log and history; the diagnosis and the profile file
 * are read in threads (/proc can block), never on the main loop. Fails
 * only when cancelled. */
void          tether_bundle_collect_async        (TetherSupervisor    *supervisor,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
TetherBundle *tether_bundle_collect_finish       (GAsyncResult        *result,
                                                  GError             **error);

/* The same through the control socket at socket_path, each request
 * waiting at most timeout_seconds. Blocks: for tetherctl. */
TetherBundle *tether_bundle_collect_from_socket  (const char          *socket_path,
                                                  guint                timeout_seconds);

/* Writes the document to file, replacing it whole, readable by its owner
 * only (0600: a bundle holds command lines, environment-derived paths and
 * output). length: bytes written. */
gboolean      tether_bundle_save                 (TetherBundle        *self,
                                                  GFile               *file,
                                                  gsize               *length,
                                                  GCancellable        *cancellable,
                                                  GError             **error);
/* The same in a thread. */
void          tether_bundle_save_async           (TetherBundle        *self,
                                                  GFile               *file,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean      tether_bundle_save_finish          (TetherBundle        *self,
                                                  GAsyncResult        *result,
                                                  gsize               *length,
                                                  GError             **error);

G_END_DECLS
