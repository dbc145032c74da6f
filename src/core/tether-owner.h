/* tether-owner.h: ownership of a backend's whole process tree
 *
 * An owner runs one tree: it spawns processes into it, knows who is a
 * member, signals, freezes and kills members and only members, and says
 * when the tree is empty. TetherOwner is the interface; a backend is a
 * subclass in a file of its own (tether-owner-shim.c: the Linux shim, with
 * a cgroup leaf or as a plain subreaper; tether-owner-win32.c: a Windows
 * job object held by tether-job.exe; both talk to their helper through
 * one TetherOwnerClient, tether-owner-client.c). The
 * stop ladder asks for steps -- stop the main process, terminate all, kill
 * all -- and each backend maps them to what its platform has.
 *
 * Every verb is asynchronous: nothing here ever waits on the main thread.
 *
 * Signals:
 *   "member-exited" (int pid, int wait_status): a spawned process or a
 *       watched one ended; wait_status is -1 when it was not the owner's
 *       to reap (a watched grandchild reaped by its own parent)
 *   "main-exited" (int pid, int wait_status): the same, for the main process
 *   "empty" (): the tree has no process left; emitted once, last
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
  TETHER_OWNER_JOB,     /* Windows: a job object held by tether-job.exe */
} TetherOwnerKind;

/* What a spawn asks for. */
typedef struct
{
  const char * const *argv;
  const char * const *envp;    /* the whole environment; NULL: Tether's own */
  const char *cwd;             /* NULL: Tether's */
  const int *fds;              /* given to the child as 3, 4, ... (copies are sent) */
  guint n_fds;
  gboolean listen_pid;         /* LISTEN_PID set to the child's own pid */
  gboolean is_main;            /* the backend's main process */
  gboolean redirect_stdio;     /* stdout_fd and stderr_fd below, else Tether's */
  int stdout_fd;
  int stderr_fd;
  gboolean console_ctrl_c;     /* Windows: stop with CTRL_C, not CTRL_BREAK */
} TetherSpawnRequest;

/* What a verb reached. */
typedef struct
{
  guint n_reached;             /* processes the verb acted on */
  guint n_members;             /* members when it ran */
} TetherOwnerCount;

/* The verbs a backend implements (run_async). */
typedef enum
{
  TETHER_OWNER_OP_MEMBERS,
  TETHER_OWNER_OP_WATCH,           /* pid: report its exit */
  TETHER_OWNER_OP_STOP_MAIN,       /* pid, sig: the polite request to the main process */
  TETHER_OWNER_OP_SIGNAL,          /* pid, sig */
  TETHER_OWNER_OP_TERMINATE_ALL,   /* sig (SIGTERM unless asked) to every member */
  TETHER_OWNER_OP_SIGNAL_SUBTREE,  /* pid, sig */
  TETHER_OWNER_OP_KILL_SUBTREE,    /* pid */
  TETHER_OWNER_OP_FREEZE,
  TETHER_OWNER_OP_THAW,
  TETHER_OWNER_OP_KILL_ALL,
  TETHER_OWNER_OP_TOP_LEVEL,       /* members with no member for a parent */
  TETHER_OWNER_OP_FREEZE_EXCEPT,   /* pid: every member but pid */
} TetherOwnerOp;

#define TETHER_TYPE_OWNER (tether_owner_get_type ())

G_DECLARE_DERIVABLE_TYPE (TetherOwner, tether_owner, TETHER, OWNER, GObject)

struct _TetherOwnerClass
{
  GObjectClass parent_class;

  /* The first spawn sets the tree up. */
  void       (*spawn_async)        (TetherOwner               *self,
                                    const TetherSpawnRequest  *request,
                                    GCancellable              *cancellable,
                                    GAsyncReadyCallback        callback,
                                    gpointer                   user_data);
  /* Completes a GTask whose pointer is a TetherOwnerReply (see
   * tether-owner-private.h). */
  void       (*run_async)          (TetherOwner               *self,
                                    TetherOwnerOp              op,
                                    pid_t                      pid,
                                    int                        sig,
                                    GCancellable              *cancellable,
                                    GAsyncReadyCallback        callback,
                                    gpointer                   user_data);
  /* Cheap, synchronous: may be asked per notification datagram. */
  gboolean   (*is_member)          (TetherOwner               *self,
                                    pid_t                      pid);
  /* Whole-tree CPU time (µs), counting processes that already exited;
   * FALSE where the backend cannot tell. Called from the sampler's worker
   * thread (with a reference held): it may touch nothing that changes. */
  gboolean   (*get_tree_cpu_usage) (TetherOwner               *self,
                                    guint64                   *usec);
  const char *(*get_location)      (TetherOwner               *self);
  void       (*abandon)            (TetherOwner               *self);
  /* Whole-tree memory charged to it (bytes: a cgroup's memory.current,
   * page cache and kernel memory included, shared pages once); FALSE
   * where the backend cannot tell. From the sampler's worker thread, like
   * get_tree_cpu_usage. */
  gboolean   (*get_tree_memory)    (TetherOwner               *self,
                                    guint64                   *bytes);

  gpointer padding[7];
};

/* The backend for this platform, resolving AUTO when spawning. */
TetherOwner     *tether_owner_new              (TetherOwnerKind       kind);

const char      *tether_owner_kind_to_string   (TetherOwnerKind       kind);
gboolean         tether_owner_kind_from_string (const char           *str,
                                                TetherOwnerKind      *kind);
/* $TETHER_OWNER (auto, cgroup, reaper), or AUTO. */
TetherOwnerKind  tether_owner_kind_from_env    (void);
/* TRUE inside a Flatpak sandbox, where AUTO means the subreaper shim. */
gboolean         tether_owner_in_flatpak       (void);

void             tether_owner_spawn_async      (TetherOwner               *self,
                                                const TetherSpawnRequest  *request,
                                                GCancellable              *cancellable,
                                                GAsyncReadyCallback        callback,
                                                gpointer                   user_data);
pid_t            tether_owner_spawn_finish     (TetherOwner               *self,
                                                GAsyncResult              *result,
                                                GError                   **error);

/* The kind actually in use (AUTO until the first spawn resolves it). */
TetherOwnerKind  tether_owner_get_kind         (TetherOwner          *self);
pid_t            tether_owner_get_main_pid     (TetherOwner          *self);
/* MAINPID=: from now on this member's exit is the main process's. */
void             tether_owner_set_main_pid     (TetherOwner          *self,
                                                pid_t                 pid);
/* TRUE from the first successful spawn until "empty". */
gboolean         tether_owner_is_running       (TetherOwner          *self);
/* Members as of the last verb or member list that said (0 before). */
guint            tether_owner_get_n_members    (TetherOwner          *self);
/* Where the tree lives, for people: a cgroup's path, or NULL. */
const char      *tether_owner_get_location     (TetherOwner          *self);

gboolean         tether_owner_is_member        (TetherOwner          *self,
                                                pid_t                 pid);
/* TRUE for a member whose exit was reported in the last two seconds: what
 * it said just before exiting (MAINPID=, READY=1) still counts. */
gboolean         tether_owner_was_member       (TetherOwner          *self,
                                                pid_t                 pid);
gboolean         tether_owner_get_tree_cpu_usage (TetherOwner        *self,
                                                  guint64            *usec);
gboolean         tether_owner_get_tree_memory    (TetherOwner        *self,
                                                  guint64            *bytes);

/* Every member, sorted by pid. */
void             tether_owner_list_members_async  (TetherOwner          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
GArray          *tether_owner_list_members_finish (TetherOwner          *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* The members at the top of the tree: the main process and whatever was
 * orphaned to the tree's root (a daemon its launcher left). Finish with
 * tether_owner_list_members_finish. */
void             tether_owner_list_top_level_async (TetherOwner         *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);

/* The verbs; each finishes with tether_owner_verb_finish. A pid that is
 * not a member is TETHER_ERROR_NOT_MEMBER. */
void             tether_owner_stop_main_async     (TetherOwner          *self,
                                                   pid_t                 pid,
                                                   int                   sig,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void             tether_owner_signal_async        (TetherOwner          *self,
                                                   pid_t                 pid,
                                                   int                   sig,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void             tether_owner_terminate_all_async (TetherOwner          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* The same with another signal (a pool's graceful step). */
void             tether_owner_signal_all_async    (TetherOwner          *self,
                                                   int                   sig,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void             tether_owner_signal_subtree_async (TetherOwner         *self,
                                                    pid_t                pid,
                                                    int                  sig,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
void             tether_owner_kill_subtree_async  (TetherOwner          *self,
                                                   pid_t                 pid,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* Completes once every member is frozen (or thawed). */
void             tether_owner_freeze_async        (TetherOwner          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* Freezes every member but pid itself (its parent and descendants are
 * frozen too), which keeps running -- also if an earlier freeze had frozen
 * it: what an HTTP rollback talks to while the rest holds still. A signal
 * sweep on every kind; tether_owner_thaw_async undoes it. */
void             tether_owner_freeze_except_async (TetherOwner          *self,
                                                   pid_t                 pid,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void             tether_owner_thaw_async          (TetherOwner          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
void             tether_owner_kill_all_async      (TetherOwner          *self,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
gboolean         tether_owner_verb_finish         (TetherOwner          *self,
                                                   GAsyncResult         *result,
                                                   TetherOwnerCount     *count,
                                                   GError              **error);

/* While the tree is held, its having no process left for a moment is not
 * its end: more is about to be spawned into it (a worker pool between a
 * crash and the replacement). "empty" is then emitted when the last hold
 * is released, unless a spawn came in between. */
void             tether_owner_hold             (TetherOwner          *self);
void             tether_owner_release          (TetherOwner          *self);

/* Lets go of the tree: it is killed without waiting (the shim sees its
 * socket close). Dropping references does not do this: an owner whose
 * shim runs is kept alive by the wait for the shim's exit. */
void             tether_owner_abandon          (TetherOwner          *self);

G_END_DECLS
