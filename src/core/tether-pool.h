/* tether-pool.h: a prefork worker pool (managed and signals modes)
 *
 * Managed: Tether is the master. It binds the listening socket once per
 * start (tether_pool_open) and keeps it across resizes, recycles and
 * automatic restarts, so the port is never dropped. Each worker is a member
 * of the owned tree that inherits the socket by the systemd socket
 * activation protocol (fd 3, LISTEN_FDS=1, LISTEN_FDNAMES=listen,
 * LISTEN_PID its own pid) and may speak sd_notify: READY=1, WATCHDOG=1 (a
 * heartbeat: WATCHDOG_USEC is the profile's limits.heartbeat_timeout) and
 * X_TETHER_REQUESTS=<n>. The pool grows and shrinks to its target, replaces
 * workers that end, and recycles workers that pass a limit; every worker it
 * lets go of goes through the stop ladder (the stop signal to its subtree,
 * SIGTERM, then a forced kill), so requests in flight finish.
 *
 * Signals: the backend is its own master (gunicorn). A resize sends
 * SIGTTIN or SIGTTOU to the main process once per worker of difference;
 * the workers are the main process's children (those whose command line
 * matches pool.worker_match, when the profile gives one), counted from the
 * sampler's tree.
 *
 * The pool belongs to a TetherSupervisor, which tells it when a run begins
 * and ends; resize and recycle reach it through the supervisor's verbs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "tether-notify.h"
#include "tether-owner.h"
#include "tether-profile.h"
#include "tether-sampler.h"

G_BEGIN_DECLS

/* Why a worker was let go of. */
typedef enum
{
  TETHER_WORKER_REASON_NONE,
  TETHER_WORKER_REASON_RESIZE,       /* fewer workers were asked for */
  TETHER_WORKER_REASON_RECYCLE,      /* a rolling recycle replaced it */
  TETHER_WORKER_REASON_HEARTBEAT,    /* it stopped sending WATCHDOG=1 */
  TETHER_WORKER_REASON_MEMORY_SOFT,  /* RSS over limits.memory_soft_mb: recycled */
  TETHER_WORKER_REASON_MEMORY_HARD,  /* RSS over limits.memory_hard_mb: killed */
  TETHER_WORKER_REASON_CPU,          /* CPU time over limits.cpu_seconds */
  TETHER_WORKER_REASON_REQUESTS,     /* X_TETHER_REQUESTS= reached limits.requests */
  TETHER_WORKER_REASON_EXITED,       /* it ended on its own */
  TETHER_WORKER_REASON_SPAWN_FAILED, /* it could not be started */
  TETHER_WORKER_REASON_NOT_READY,    /* no READY=1 within start_timeout */
  TETHER_N_WORKER_REASONS /*< skip >*/
} TetherWorkerReason;

typedef enum
{
  TETHER_WORKER_STARTING,  /* spawned, not READY=1 yet */
  TETHER_WORKER_READY,
  TETHER_WORKER_RETIRING,  /* on its way out through the ladder */
} TetherWorkerState;

/* One line of the pool's history. */
typedef struct
{
  gint64 time;                /* g_get_real_time () */
  pid_t pid;                  /* 0: the worker never got one */
  guint slot;                 /* 1-based */
  TetherWorkerReason reason;
  char *detail;               /* "RSS 530 MB over the 512 MB limit", or NULL */
} TetherPoolEvent;

/* A worker, as tether_pool_lookup_worker tells it (signals mode: slot is
 * its place among the master's workers by pid, the rest is not known). */
typedef struct
{
  pid_t pid;
  guint slot;                 /* 1-based, reused by the worker's replacement */
  guint generation;           /* workers the slot had before this one */
  TetherWorkerState state;
  TetherWorkerReason reason;  /* RETIRING: why; else why its predecessor went */
  guint64 requests;           /* as last reported */
} TetherWorkerInfo;

#define TETHER_TYPE_POOL (tether_pool_get_type ())

G_DECLARE_FINAL_TYPE (TetherPool, tether_pool, TETHER, POOL, GObject)

TetherPool     *tether_pool_new              (TetherProfile       *profile,
                                              TetherSampler       *sampler);

TetherPoolMode  tether_pool_get_mode         (TetherPool          *self);
guint           tether_pool_get_target       (TetherPool          *self);
/* Managed: workers READY=1 (alive, for "ready": "spawn") and not retiring.
 * Signals: the main process's worker children as last sampled. */
guint           tether_pool_get_actual       (TetherPool          *self);
/* Why actual is not target, said plainly ("3 of 5 workers: the server did
 * not retire workers on SIGTTOU"), or NULL. */
const char     *tether_pool_get_problem      (TetherPool          *self);
/* Events, oldest first (the last 256). */
GPtrArray      *tether_pool_get_events       (TetherPool          *self);
/* Workers let go of for this reason since the pool was made. */
guint           tether_pool_get_count        (TetherPool          *self,
                                              TetherWorkerReason   reason);
gboolean        tether_pool_lookup_worker    (TetherPool          *self,
                                              pid_t                pid,
                                              TetherWorkerInfo    *info);
/* Bound address, e.g. "127.0.0.1:8080", while the socket is open. */
const char     *tether_pool_get_address      (TetherPool          *self);

/* ---- for the supervisor ---- */

/* Managed: binds the listening socket unless it is open already. An error
 * names the address and, when it can be found, the process holding it. */
gboolean        tether_pool_open             (TetherPool          *self,
                                              GError             **error);
void            tether_pool_close            (TetherPool          *self);
/* A run begins in owner's tree. Managed: template gives the workers' cwd,
 * environment and stdio (its argv and fds are the pool's own); the tree is
 * held while the pool runs. Signals: main_pid is the master. */
void            tether_pool_begin            (TetherPool               *self,
                                              TetherOwner              *owner,
                                              const TetherSpawnRequest *template,
                                              pid_t                     main_pid);
void            tether_pool_set_main_pid     (TetherPool          *self,
                                              pid_t                main_pid);
/* The run ends (a stop began, or the tree is gone): nothing is replaced
 * any more, the hold on the tree is released, resizes under way fail. */
void            tether_pool_end              (TetherPool          *self,
                                              const char          *why);
gboolean        tether_pool_is_running       (TetherPool          *self);
/* Workers whose spawn has not been answered yet. */
guint           tether_pool_get_n_spawning   (TetherPool          *self);
/* TRUE when the sender is a worker: the message was the pool's. */
gboolean        tether_pool_handle_notify    (TetherPool                *self,
                                              const TetherNotifyMessage *msg);

/* Completes when actual == target and no worker is retiring any more, or
 * fails (TETHER_ERROR_TIMED_OUT) after pool.resize_timeout with what was
 * reached. A resize during a resize is merged: both complete together. */
void            tether_pool_resize_async     (TetherPool          *self,
                                              guint                n,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
/* Managed: replaces every worker, one at a time, each only once its
 * replacement is ready, so capacity never drops below target. */
void            tether_pool_recycle_async    (TetherPool          *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean        tether_pool_verb_finish      (TetherPool          *self,
                                              GAsyncResult        *result,
                                              GError             **error);

const char     *tether_worker_reason_to_string (TetherWorkerReason reason);
/* For people: "memory over the soft limit". */
const char     *tether_worker_reason_to_label  (TetherWorkerReason reason);
const char     *tether_worker_state_to_string  (TetherWorkerState  state);

G_END_DECLS
