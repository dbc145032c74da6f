/* tether-owner.h: ownership of a backend's whole process tree
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum
{
  TETHER_OWNER_AUTO,    /* cgroup when a leaf can be created, else reaper */
  TETHER_OWNER_CGROUP,  /* a cgroup v2 leaf, the backend placed in it before exec */
  TETHER_OWNER_REAPER,  /* tether-shim as child subreaper, members by ancestry */
} TetherOwnerKind;

#define TETHER_TYPE_OWNER (tether_owner_get_type ())

G_DECLARE_FINAL_TYPE (TetherOwner, tether_owner, TETHER, OWNER, GObject)

/* One owner runs one backend tree, from spawn until "empty". Signals:
 *   "main-exited" (int pid, int wait_status): the first process exited
 *   "empty" (): the tree has no process left; emitted once, last
 */
TetherOwner     *tether_owner_new              (TetherOwnerKind       kind);

const char      *tether_owner_kind_to_string   (TetherOwnerKind       kind);
gboolean         tether_owner_kind_from_string (const char           *str,
                                                TetherOwnerKind      *kind);
/* $TETHER_OWNER (auto, cgroup, reaper), or AUTO. */
TetherOwnerKind  tether_owner_kind_from_env    (void);

/* Where an uninstalled or installed tether-shim lives ($TETHER_SHIM wins). */
char            *tether_owner_find_shim        (GError              **error);

void             tether_owner_spawn_async      (TetherOwner          *self,
                                                const char * const   *argv,
                                                const char * const   *envp,
                                                const char           *cwd,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
pid_t            tether_owner_spawn_finish     (TetherOwner          *self,
                                                GAsyncResult         *result,
                                                GError              **error);

/* The kind actually in use (AUTO is resolved by spawn). */
TetherOwnerKind  tether_owner_get_kind         (TetherOwner          *self);
pid_t            tether_owner_get_main_pid     (TetherOwner          *self);
pid_t            tether_owner_get_shim_pid     (TetherOwner          *self);
/* The leaf cgroup's absolute path, or NULL in reaper mode. */
const char      *tether_owner_get_cgroup_path  (TetherOwner          *self);
gboolean         tether_owner_is_running       (TetherOwner          *self);

/* TRUE when pid is, right now, a member of the tree. Cheap: /proc only. */
gboolean         tether_owner_is_member        (TetherOwner          *self,
                                                pid_t                 pid);
/* Every member, sorted by pid. */
GArray          *tether_owner_list_members     (TetherOwner          *self,
                                                GError              **error);

/* The verbs below return how many processes they reached. */
gboolean         tether_owner_signal           (TetherOwner          *self,
                                                pid_t                 pid,
                                                int                   sig,
                                                GError              **error);
gboolean         tether_owner_signal_all       (TetherOwner          *self,
                                                int                   sig,
                                                guint                *n_signalled,
                                                GError              **error);
gboolean         tether_owner_signal_subtree   (TetherOwner          *self,
                                                pid_t                 pid,
                                                int                   sig,
                                                guint                *n_signalled,
                                                GError              **error);
gboolean         tether_owner_kill_subtree     (TetherOwner          *self,
                                                pid_t                 pid,
                                                guint                *n_killed,
                                                GError              **error);
gboolean         tether_owner_freeze           (TetherOwner          *self,
                                                guint                *n_frozen,
                                                GError              **error);
gboolean         tether_owner_thaw             (TetherOwner          *self,
                                                guint                *n_thawed,
                                                GError              **error);
gboolean         tether_owner_kill_all         (TetherOwner          *self,
                                                guint                *n_killed,
                                                GError              **error);

/* Closes the control socket: the shim kills and reaps the tree by itself. */
void             tether_owner_abandon          (TetherOwner          *self);

G_END_DECLS
