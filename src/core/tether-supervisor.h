/* tether-supervisor.h: the lifecycle state machine, the one entry point
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "tether-enum-types.h"
#include "tether-journal.h"
#include "tether-log.h"
#include "tether-owner.h"
#include "tether-pool.h"
#include "tether-profile.h"
#include "tether-sampler.h"

G_BEGIN_DECLS

typedef enum
{
  TETHER_STATE_STOPPED,
  TETHER_STATE_STARTING,
  TETHER_STATE_RUNNING,
  TETHER_STATE_NOT_RESPONDING,
  TETHER_STATE_STOPPING,
  TETHER_STATE_KILLING,
  TETHER_STATE_FAILED,
  TETHER_STATE_FROZEN,
} TetherState;

/* The step of the stop ladder under way. */
typedef enum
{
  TETHER_PHASE_NONE,
  TETHER_PHASE_GRACEFUL,  /* stop signal to the main process */
  TETHER_PHASE_TERM,      /* SIGTERM to every member */
  TETHER_PHASE_KILL,      /* freeze and kill */
  TETHER_N_PHASES /*< skip >*/
} TetherPhase;

typedef struct
{
  guint ended[TETHER_N_PHASES]; /* processes each step ended; [NONE] = exited before */
  gboolean forced;              /* the kill step ran */
  gboolean escalated;           /* a step's deadline passed: the backend did not stop in time */
  double elapsed;               /* seconds from the stop request to the empty tree */
} TetherStopReport;

/* How long a rollback took, in seconds from the request. */
typedef struct
{
  double to_frozen;    /* every member suspended */
  double to_stopped;   /* the tree empty */
  double to_running;   /* RUNNING again at the checkpoint */
} TetherRollbackReport;

typedef struct
{
  char *id;
  char *label;        /* may be NULL */
  gint64 time;        /* g_get_real_time () when it arrived */
} TetherCheckpoint;

#define TETHER_TYPE_SUPERVISOR (tether_supervisor_get_type ())

G_DECLARE_FINAL_TYPE (TetherSupervisor, tether_supervisor, TETHER, SUPERVISOR, GObject)

TetherSupervisor *tether_supervisor_new                (TetherProfile        *profile,
                                                        TetherOwnerKind       owner_kind);

TetherProfile    *tether_supervisor_get_profile        (TetherSupervisor     *self);
TetherState       tether_supervisor_get_state          (TetherSupervisor     *self);
TetherPhase       tether_supervisor_get_phase          (TetherSupervisor     *self);
/* Monotonic time (µs) at which the current phase escalates, or 0. */
gint64            tether_supervisor_get_phase_deadline (TetherSupervisor     *self);
const char       *tether_supervisor_get_status_text    (TetherSupervisor     *self);
/* When (g_get_real_time) it stopped responding, 0 unless NOT_RESPONDING;
 * the message says why (health probes, the watchdog). */
gint64            tether_supervisor_get_unresponsive_since (TetherSupervisor *self);
/* Why the backend is STOPPED or FAILED ("exited with status 3"), or NULL. */
const char       *tether_supervisor_get_message        (TetherSupervisor     *self);
pid_t             tether_supervisor_get_main_pid       (TetherSupervisor     *self);
TetherOwner      *tether_supervisor_get_owner          (TetherSupervisor     *self);
/* Samples the running tree (CPU, memory, parent links); lives as long as
 * the supervisor, across restarts, so its history is continuous. */
TetherSampler    *tether_supervisor_get_sampler        (TetherSupervisor     *self);
TetherOwnerKind   tether_supervisor_get_owner_kind     (TetherSupervisor     *self);
const char       *tether_supervisor_get_notify_socket  (TetherSupervisor     *self);
const TetherStopReport *tether_supervisor_get_last_stop_report (TetherSupervisor *self);
/* Checkpoints reported by the backend and on disk in its journal (this
 * run's and earlier runs'), oldest first (the newest 1000). */
GPtrArray        *tether_supervisor_get_checkpoints    (TetherSupervisor     *self);
/* TRUE while the backend runs, starts, waits for an automatic restart, or
 * is between the stop and the start of a restart or a rollback. */
gboolean          tether_supervisor_is_active          (TetherSupervisor     *self);
guint             tether_supervisor_get_n_restarts     (TetherSupervisor     *self);

/* Where the backend's stdout and stderr are copied from its next start on,
 * besides the log (the descriptors are copied); -1, -1: nowhere else. */
void              tether_supervisor_set_stdio          (TetherSupervisor     *self,
                                                        int                   stdout_fd,
                                                        int                   stderr_fd);

/* Completes when the backend is RUNNING (or could not get there).
 * Signals besides the properties' notifications:
 *   "checkpoint" (id, label-or-NULL): the backend reported one
 *   "stop-escalated" (TetherPhase next): a ladder step reached its deadline
 *   "stopped" (const TetherStopReport *): a stop finished, whoever asked
 *       for it (a button, tetherctl, D-Bus, a failed start) */
void              tether_supervisor_start              (TetherSupervisor     *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean          tether_supervisor_start_finish       (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* The graceful ladder; completes once the tree is empty. */
void              tether_supervisor_stop               (TetherSupervisor     *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* Skips to the forced step; completes once the tree is empty. */
void              tether_supervisor_kill               (TetherSupervisor     *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* Finishes stop and kill. */
gboolean          tether_supervisor_stop_finish        (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        TetherStopReport     *report,
                                                        GError              **error);

void              tether_supervisor_restart            (TetherSupervisor     *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean          tether_supervisor_restart_finish     (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* SIGTERM (stop) or a freeze-and-kill (kill) for one member and its
 * descendants; finish with tether_supervisor_subtree_finish, which says
 * how many processes were reached. */
void              tether_supervisor_stop_subtree       (TetherSupervisor     *self,
                                                        pid_t                 pid,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
void              tether_supervisor_kill_subtree       (TetherSupervisor     *self,
                                                        pid_t                 pid,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* Any signal to one member (subtree: and its descendants); the same
 * finish. What people may send is tether-signals.h's business. */
void              tether_supervisor_send_signal        (TetherSupervisor     *self,
                                                        pid_t                 pid,
                                                        int                   sig,
                                                        gboolean              subtree,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean          tether_supervisor_subtree_finish     (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        guint                *n_reached,
                                                        GError              **error);

/* The backend's output (every member's stdout and stderr), kept across
 * runs. */
TetherLog        *tether_supervisor_get_log            (TetherSupervisor     *self);
/* The journal: checkpoints, rollbacks, resizes, forced stops. */
TetherJournal    *tether_supervisor_get_journal        (TetherSupervisor     *self);

/* Back to a checkpoint the journal holds (rollback.method "restart"):
 * every member frozen at once (state FROZEN), the stop ladder on the
 * frozen tree, a start with rollback.env set to the checkpoint (and
 * {checkpoint} in command replaced), the outcome journaled. A checkpoint
 * never reported, a backend not running, or a tree that does not freeze
 * within rollback.timeout is an error that leaves the tree as it was. */
void              tether_supervisor_rollback           (TetherSupervisor     *self,
                                                        const char           *checkpoint,
                                                        const char           *reason,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
gboolean          tether_supervisor_rollback_finish    (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        TetherRollbackReport *report,
                                                        GError              **error);

/* The profile's worker pool, or NULL: target, actual, events. */
TetherPool       *tether_supervisor_get_pool           (TetherSupervisor     *self);
/* Grows or shrinks the pool (between pool.min and pool.max); completes
 * once actual == target, or fails after pool.resize_timeout saying what
 * was reached. A resize during a resize is merged. */
void              tether_supervisor_resize             (TetherSupervisor     *self,
                                                        guint                 n_workers,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* Replaces every worker of a managed pool, one at a time, each once its
 * replacement is ready. */
void              tether_supervisor_recycle_workers    (TetherSupervisor     *self,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
/* Finishes resize and recycle_workers. */
gboolean          tether_supervisor_pool_finish        (TetherSupervisor     *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* "Can I?": what the verbs would do now, also as the read-only properties
 * can-start, can-stop, can-kill, can-restart, can-signal and can-resize (notified when
 * they change), so front ends bind to them instead of re-deriving the
 * rules. can_signal_pid adds that pid must be a member. */
gboolean          tether_supervisor_get_can_start      (TetherSupervisor     *self);
gboolean          tether_supervisor_get_can_stop       (TetherSupervisor     *self);
gboolean          tether_supervisor_get_can_kill       (TetherSupervisor     *self);
gboolean          tether_supervisor_get_can_restart    (TetherSupervisor     *self);
gboolean          tether_supervisor_get_can_signal     (TetherSupervisor     *self);
/* A pool to resize, and a running backend. */
gboolean          tether_supervisor_get_can_resize     (TetherSupervisor     *self);
gboolean          tether_supervisor_can_signal_pid     (TetherSupervisor     *self,
                                                        pid_t                 pid);
/* Members as last counted (by the sampler or a verb), 0 when not running. */
guint             tether_supervisor_get_n_members      (TetherSupervisor     *self);

/* The enums' nicks ("not-responding", "graceful") are the one spelling
 * for JSON, CSS classes and tetherctl; labels are for people. */
const char       *tether_state_to_string               (TetherState           state);
const char       *tether_state_to_label                (TetherState           state);
const char       *tether_phase_to_string               (TetherPhase           phase);

G_END_DECLS
