/* tether-profile.h: a backend profile (JSON) parsed into a validated struct
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  TETHER_READY_SPAWN,   /* RUNNING as soon as the backend has been exec'd */
  TETHER_READY_NOTIFY,  /* RUNNING when the backend sends READY=1 */
} TetherReadyMode;

typedef enum
{
  TETHER_RESTART_NO,
  TETHER_RESTART_ON_FAILURE,
  TETHER_RESTART_ALWAYS,
} TetherRestartPolicy;

typedef enum
{
  TETHER_POOL_NONE,
  TETHER_POOL_MANAGED,
  TETHER_POOL_SIGNALS,
} TetherPoolMode;

typedef enum
{
  TETHER_ROLLBACK_RESTART,
  TETHER_ROLLBACK_HTTP,
} TetherRollbackMethod;

/* How a restart rollback stops the frozen tree. */
typedef enum
{
  TETHER_ROLLBACK_STOP_GRACEFUL,  /* the ladder, thawed as its first signal goes out */
  TETHER_ROLLBACK_STOP_KILL,      /* straight to the forced step: nothing runs again */
} TetherRollbackStop;

/* What a start puts in rollback.env when no rollback asks for a checkpoint. */
typedef enum
{
  TETHER_ROLLBACK_RESUME_NONE,
  TETHER_ROLLBACK_RESUME_LAST_CHECKPOINT,
} TetherRollbackResume;

typedef struct
{
  guint memory_soft_mb;      /* 0 = no limit */
  guint memory_hard_mb;      /* 0 = no limit */
  double cpu_seconds;        /* 0 = no limit */
  guint requests;            /* 0 = no limit */
  double heartbeat_timeout;  /* seconds */
} TetherPoolLimits;

typedef struct _TetherProfile TetherProfile;

/* All fields are read-only once parsed. Durations are in seconds. */
struct _TetherProfile
{
  /*< private >*/
  gatomicrefcount ref_count;

  /*< public >*/
  char *path;            /* absolute path of the JSON file, or NULL when parsed from data */
  char *id;              /* stable identifier: "<basename>-<8 hex of path hash>", safe in file names */
  char *name;            /* default: the file's basename without ".json", or command[0] */
  char **command;        /* argv, at least one element, never NULL */
  char *cwd;             /* absolute; relative paths resolve against the profile's directory */
  char *pidfile;         /* "pidfile": where a daemonizing backend writes its pid, absolute
                          * (relative to cwd), or NULL */
  char **env;            /* "KEY=VALUE" strings added to the environment, never NULL */
  TetherReadyMode ready; /* "ready": "spawn" (default) or "notify" */
  double start_timeout;  /* "start_timeout": 30 by default, how long STARTING may last */

  struct {
    double graceful_timeout;  /* 10 */
    double term_timeout;      /* 5 */
    double kill_timeout;      /* 10: how long the forced step may take before Tether gives up */
    int signal;               /* SIGTERM; "SIGTERM"/"TERM"/"SIGINT"/"SIGQUIT"/"SIGHUP"/"SIGUSR1"/"SIGUSR2" */
  } stop;

  struct {
    TetherRestartPolicy policy; /* "no" (default), "on-failure", "always" */
    guint max_restarts;         /* 5 */
    double on_unresponsive;     /* 0 = never; else restart after NOT_RESPONDING this long */
    double *backoff;            /* seconds, n_backoff >= 1, default {1, 2, 5, 10} */
    guint n_backoff;
  } restart;

  struct {
    char *http;          /* URL or NULL */
    double interval;     /* 5 */
    double timeout;      /* 3 */
    guint failures;      /* 3 */
    double watchdog;     /* 0 = no watchdog; else WATCHDOG_USEC is exported */
  } health;

  struct {
    TetherPoolMode mode;     /* absent: NONE; "managed" or "signals" */
    char *listen;            /* "HOST:PORT", an absolute unix socket path, or NULL;
                              * required in managed mode */
    guint workers, min, max; /* 4, 1, 16; min <= workers <= max */
    char **worker_command;   /* managed: what workers run (default: command,
                              * which then runs no main process); NULL unless given */
    char *worker_match;      /* signals: a regex a worker's command line matches
                              * (default: every child of the main process), or NULL */
    double resize_timeout;   /* 10: how long a resize may take before it is reported */
    TetherPoolLimits limits;
  } pool;

  struct {
    guint max_size_mb;           /* 10: backend.log is rotated beyond this */
    guint keep;                  /* 3: rotated files kept */
    guint lines;                 /* 10000: lines kept in memory */
  } log;

  struct {
    TetherRollbackMethod method; /* "restart" (default) or "http" */
    char *env;                   /* "TETHER_CHECKPOINT" */
    char *url;                   /* for method http, else NULL */
    TetherRollbackStop stop;     /* "graceful" (default) or "kill" */
    TetherRollbackResume resume; /* "none" (default) or "last-checkpoint" */
    double timeout;              /* 10: method http's request; a freeze's wait */
  } rollback;

  /* Where command[0] stands in the file (1-based), for errors found later
   * (e.g. the executable is missing at start). 0 when parsed from data
   * without positions. */
  guint command_line;
  guint command_column;
};

#define TETHER_TYPE_PROFILE (tether_profile_get_type ())

GType          tether_profile_get_type      (void) G_GNUC_CONST;

TetherProfile *tether_profile_load          (const char    *path,
                                             GError       **error);
/* base_dir: directory relative paths resolve against (NULL = current dir).
 * display_name: what errors call the input, e.g. the file name. */
TetherProfile *tether_profile_load_from_data (const char   *data,
                                              gssize        length,
                                              const char   *base_dir,
                                              const char   *display_name,
                                              GError      **error);
TetherProfile *tether_profile_ref           (TetherProfile *self);
void           tether_profile_unref         (TetherProfile *self);

/* Resolves command[0] the way exec will (PATH search, or relative to cwd
 * when it contains a '/') and checks that it is an executable file. Returns
 * the absolute path; the error names the file:line:column of command[0]. */
char          *tether_profile_find_executable (TetherProfile *self,
                                               GError       **error);

/* Every field a profile accepts, as dotted paths ("stop",
 * "stop.graceful_timeout", ...), each section before its fields.
 * NULL-terminated and owned by Tether. */
const char * const *tether_profile_get_field_paths (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherProfile, tether_profile_unref)

G_END_DECLS
