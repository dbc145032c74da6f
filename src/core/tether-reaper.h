/* tether-reaper.h: Tether as a child subreaper
 *
 * tether-shim is the subreaper of every backend tree. If it is killed from
 * outside (SIGKILL), its orphans would go to init in reaper mode, out of
 * reach. Once tether_reaper_install () has run, they come to this process
 * instead, and the shim's owner ends them (tether_reaper_end_orphans_async).
 *
 * A subreaper is also the parent of any orphan below it, including those
 * of programs it launched itself (GLib's g_spawn_async double-forks), so it
 * must reap them: every 2 s, off the main loop, a child of this process
 * that has been a zombie for two scans in a row is reaped. That never
 * steals a child GLib watches: GLib reaps its own as soon as the main loop
 * runs, long before two scans.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes this process a child subreaper and starts reaping adopted zombies
 * on the main context of the calling thread. Idempotent. */
gboolean  tether_reaper_install            (GError             **error);
gboolean  tether_reaper_is_installed       (void);

/* The live children of this process (every thread's), as pids. */
GArray   *tether_reaper_list_children      (void);

/* Ends what a killed shim left to this process: of this process's
 * children, those that started at or after since_usec (µs after boot, the
 * shim's start) and are in spawned, or in known (a member listing taken at
 * known_at_usec, µs after boot: a pid in it that started later was
 * reused), or have TETHER_TREE=tag in their environment (what joined the
 * shim after the listing), with every descendant of theirs. They are stopped with
 * SIGSTOP in sweeps until none is left running, then killed with SIGKILL
 * and reaped, in a thread; gives up after timeout_ms. Returns how many
 * processes it ended. */
void      tether_reaper_end_orphans_async  (GArray              *spawned,
                                            GArray              *known,
                                            gint64               known_at_usec,
                                            gint64               since_usec,
                                            const char          *tag,
                                            guint                timeout_ms,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gssize    tether_reaper_end_orphans_finish (GAsyncResult        *result,
                                            GError             **error);

G_END_DECLS
