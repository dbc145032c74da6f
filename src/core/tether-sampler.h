/* tether-sampler.h: per-process and whole-tree CPU and memory sampling
 *
 * Members come from the owner (cgroup.procs, or the shim in reaper mode),
 * never from a scan of /proc. Each process keeps an fd open on its
 * /proc/PID/stat, read with pread on every tick: once the process is reaped
 * that read fails with ESRCH, so a reused pid is seen as a new process and
 * never mistaken for the old one. The command line is read once (again
 * after an exec changes the name).
 *
 * A tick asks the owner for its members (asynchronously), reads them in a
 * worker thread (/proc can block) and applies the result on the main loop,
 * where only memory work is done.
 *
 * Every tick ends with "updated" (GPtrArray *added, GPtrArray *removed,
 * GPtrArray *changed), arrays of TetherProcess: added sorted parents first,
 * changed holding only processes some shown value of which changed (see
 * tether_process_get_changes), so a view can update its rows in place.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "tether-history.h"
#include "tether-owner.h"
#include "tether-win32-compat.h"

G_BEGIN_DECLS

/* ---- TetherProcess: one member as of the last tick (read-only) ---------- */

typedef struct _TetherProcess TetherProcess;

typedef enum
{
  TETHER_PROCESS_CHANGED_PARENT  = 1 << 0,  /* moved in the tree */
  TETHER_PROCESS_CHANGED_STATE   = 1 << 1,
  TETHER_PROCESS_CHANGED_CPU     = 1 << 2,  /* by 0.1 % or more */
  TETHER_PROCESS_CHANGED_MEMORY  = 1 << 3,
  TETHER_PROCESS_CHANGED_THREADS = 1 << 4,
  TETHER_PROCESS_CHANGED_COMMAND = 1 << 5,  /* name and command line (exec) */
  TETHER_PROCESS_CHANGED_NICE    = 1 << 6,
  TETHER_PROCESS_CHANGED_USER    = 1 << 7,  /* setuid, or an exec of a setuid program */
} TetherProcessChanges;

#define TETHER_TYPE_PROCESS (tether_process_get_type ())

GType                 tether_process_get_type        (void) G_GNUC_CONST;
TetherProcess        *tether_process_ref             (TetherProcess *process);
void                  tether_process_unref           (TetherProcess *process);

pid_t                 tether_process_get_pid         (TetherProcess *process);
pid_t                 tether_process_get_ppid        (TetherProcess *process);
/* The parent in the tree: ppid when that is a member, else the backend's
 * main process (orphans and double-forked escapees hang under it), else 0
 * for a top-level row. */
pid_t                 tether_process_get_parent      (TetherProcess *process);
const char           *tether_process_get_name        (TetherProcess *process);
/* What a person calls it: the program the command line runs (an
 * interpreter's script, tether_text_program_name), else the name. */
const char           *tether_process_get_program     (TetherProcess *process);
/* Arguments joined by spaces, valid UTF-8; NULL when the kernel shows none
 * (a zombie, a kernel thread). */
const char           *tether_process_get_cmdline     (TetherProcess *process);
/* 'R', 'S', 'D', 'Z', 'T', 't', 'I', ... as in proc(5) */
char                  tether_process_get_state       (TetherProcess *process);
guint                 tether_process_get_threads     (TetherProcess *process);
/* The scheduling priority from stat, -20 (favoured) to 19. */
int                   tether_process_get_nice        (TetherProcess *process);
/* The effective user, as the owner of /proc/PID says: root for a process
 * the kernel keeps from being dumped (a setuid program), as ps shows. */
uid_t                 tether_process_get_uid         (TetherProcess *process);
/* The user's login name, or the uid as a number when it has none. */
const char           *tether_process_get_user        (TetherProcess *process);
double                tether_process_get_cpu_percent (TetherProcess *process);
/* User plus system CPU time since the process started, µs. */
guint64               tether_process_get_cpu_time    (TetherProcess *process);
guint64               tether_process_get_rss_bytes   (TetherProcess *process);
/* Its memory as honestly as known: PSS (a page shared by n processes
 * counts 1/n here), read every 5 s with the rest of the tree, else RSS
 * until the first reading. *is_pss (may be NULL) says which. */
guint64               tether_process_get_memory_bytes (TetherProcess *process,
                                                       gboolean      *is_pss);
/* Wall-clock start, µs since the epoch (g_get_real_time's clock). */
gint64                tether_process_get_started_at  (TetherProcess *process);
TetherProcessChanges  tether_process_get_changes     (TetherProcess *process);
/* FALSE once the process has left the tree. */
gboolean              tether_process_is_alive        (TetherProcess *process);
/* Proportional set size, read now from smaps_rollup: it walks every
 * mapping (milliseconds for a big process), so only on request. */
gboolean              tether_process_read_pss        (TetherProcess *process,
                                                      guint64       *pss_bytes,
                                                      GError       **error);
/* CPU and RSS of this process over the history span. */
TetherHistory        *tether_process_get_history     (TetherProcess *process);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherProcess, tether_process_unref)

/* ---- TetherSampler -------------------------------------------------------- */

/* What totals.memory_bytes measures, most honest first. */
typedef enum
{
  TETHER_MEMORY_RSS,     /* sum of RSS: shared pages once per process (until the first PSS) */
  TETHER_MEMORY_PSS,     /* sum of PSS: shared pages split among sharers (every 5 s) */
  TETHER_MEMORY_CGROUP,  /* the leaf's memory.current, page cache and kernel memory included */
} TetherMemorySource;

typedef struct
{
  guint   n_processes;
  guint   n_threads;
  double  cpu_percent;  /* from the owner's whole-tree CPU time when it has one */
  guint64 rss_bytes;    /* sum of RSS: shared pages count once per process */
  guint64 memory_bytes; /* the tree's memory, measured as memory_source says */
  TetherMemorySource memory_source;
  gint64  time;         /* monotonic µs of the tick */
  gint64  real_time;    /* wall-clock µs of the tick, 0 before the first */
} TetherSamplerTotals;

#define TETHER_SAMPLER_MIN_INTERVAL      100    /* ms */
#define TETHER_SAMPLER_MAX_INTERVAL      10000  /* ms */
#define TETHER_SAMPLER_DEFAULT_INTERVAL  1000   /* ms */
#define TETHER_SAMPLER_DEFAULT_SPAN      300    /* s: five minutes of history */

#define TETHER_TYPE_SAMPLER (tether_sampler_get_type ())

G_DECLARE_FINAL_TYPE (TetherSampler, tether_sampler, TETHER, SAMPLER, GObject)

TetherSampler             *tether_sampler_new               (void);

/* Starts sampling owner's tree: one tick at once, then one per interval on
 * the thread-default main context, until the owner reports "empty" (a last
 * tick then removes every process) or another owner is set. NULL stops. */
void                       tether_sampler_set_owner         (TetherSampler *self,
                                                             TetherOwner   *owner);
TetherOwner               *tether_sampler_get_owner         (TetherSampler *self);

/* Milliseconds between ticks, clamped to 100..10000. */
guint                      tether_sampler_get_interval      (TetherSampler *self);
void                       tether_sampler_set_interval      (TetherSampler *self,
                                                             guint          interval_ms);
/* Seconds of history kept (per process and for the tree); the ring
 * buffers hold span / interval samples. */
guint                      tether_sampler_get_history_span  (TetherSampler *self);
void                       tether_sampler_set_history_span  (TetherSampler *self,
                                                             guint          span_s);

/* A tick now (or right after the one under way), without waiting for it:
 * "updated" says when it is done. */
void                       tether_sampler_refresh           (TetherSampler *self);
/* The same, completing once a tick that asked the owner for its members
 * after this call has been emitted: the tree as it is now. */
void                       tether_sampler_refresh_async     (TetherSampler       *self,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
gboolean                   tether_sampler_refresh_finish    (TetherSampler       *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);

/* The members as of the last tick, sorted by pid (a new array of refs). */
GPtrArray                 *tether_sampler_get_processes     (TetherSampler *self);
TetherProcess             *tether_sampler_lookup            (TetherSampler *self,
                                                             pid_t          pid);
const TetherSamplerTotals *tether_sampler_get_totals        (TetherSampler *self);
/* Whole-tree CPU and memory (totals.memory_bytes). */
TetherHistory             *tether_sampler_get_history       (TetherSampler *self);
guint64                    tether_sampler_get_n_ticks       (TetherSampler *self);

G_END_DECLS
