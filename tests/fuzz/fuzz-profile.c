/* fuzz-profile.c: a profile file, parsed and validated
 *
 * A profile is the user's own file, but tetherctl validate and the app's
 * Open dialog read whatever they are pointed at.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "fuzz-common.h"
#include "tether-error.h"
#include "tether-profile.h"

#define DISPLAY_NAME "fuzz.json"
#define BASE_DIR "/srv/backend"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

static void
assert_duration (double value,
                 double min,
                 double max)
{
  g_assert_true (isfinite (value));
  g_assert_cmpfloat (value, >=, min);
  g_assert_cmpfloat (value, <=, max);
}

static void
assert_http_url (const char *url)
{
  const char *scheme = g_uri_peek_scheme (url);

  g_assert_true (g_strcmp0 (scheme, "http") == 0 || g_strcmp0 (scheme, "https") == 0);
}

/* Everything the supervisor relies on without checking again. */
static void
check_profile (const TetherProfile *profile)
{
  const char *dash;

  g_assert_null (profile->path);
  g_assert_nonnull (profile->name);
  g_assert_true (g_utf8_validate (profile->name, -1, NULL));

  /* "<stem>-<8 hex>", safe in a file name */
  g_assert_nonnull (profile->id);
  dash = strrchr (profile->id, '-');
  g_assert_true (dash != NULL && dash > profile->id && strlen (dash + 1) == 8);
  for (const char *p = profile->id; *p != '\0'; p++)
    g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');

  g_assert_nonnull (profile->command);
  g_assert_nonnull (profile->command[0]);
  g_assert_cmpstr (profile->command[0], !=, "");
  g_assert_cmpuint (profile->command_line, >=, 1);
  g_assert_cmpuint (profile->command_column, >=, 1);

  g_assert_nonnull (profile->cwd);
  g_assert_true (g_path_is_absolute (profile->cwd));

  g_assert_nonnull (profile->env);
  for (char **e = profile->env; *e != NULL; e++)
    g_assert_true (strchr (*e, '=') > *e);

  assert_duration (profile->start_timeout, 0.1, 86400);
  assert_duration (profile->stop.graceful_timeout, 0, 3600);
  assert_duration (profile->stop.term_timeout, 0, 3600);
  assert_duration (profile->stop.kill_timeout, 0.1, 3600);
  g_assert_cmpint (profile->stop.signal, >=, 1);
  g_assert_cmpint (profile->stop.signal, <=, 64);

  g_assert_cmpuint (profile->restart.n_backoff, >=, 1);
  g_assert_nonnull (profile->restart.backoff);
  for (guint i = 0; i < profile->restart.n_backoff; i++)
    assert_duration (profile->restart.backoff[i], 0, 3600);
  g_assert_cmpuint (profile->restart.max_restarts, <=, 1000);

  assert_duration (profile->health.interval, 0.1, 3600);
  assert_duration (profile->health.timeout, 0.1, 3600);
  assert_duration (profile->health.watchdog, 0, 3600);
  g_assert_cmpuint (profile->health.failures, >=, 1);
  g_assert_cmpuint (profile->health.failures, <=, 100);
  if (profile->health.http != NULL)
    assert_http_url (profile->health.http);

  g_assert_cmpuint (profile->pool.min, <=, profile->pool.workers);
  g_assert_cmpuint (profile->pool.workers, <=, profile->pool.max);
  g_assert_cmpuint (profile->pool.max, <=, 1024);
  if (profile->pool.worker_command != NULL)
    g_assert_nonnull (profile->pool.worker_command[0]);
  if (profile->pool.limits.memory_soft_mb != 0 && profile->pool.limits.memory_hard_mb != 0)
    g_assert_cmpuint (profile->pool.limits.memory_soft_mb, <=, profile->pool.limits.memory_hard_mb);

  g_assert_nonnull (profile->rollback.env);
  g_assert_cmpstr (profile->rollback.env, !=, "");
  g_assert_null (strchr (profile->rollback.env, '='));
  if (profile->rollback.method == TETHER_ROLLBACK_HTTP)
    g_assert_nonnull (profile->rollback.url);
  if (profile->rollback.url != NULL)
    assert_http_url (profile->rollback.url);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(GError) error = NULL;

  profile = tether_profile_load_from_data ((const char *) data, (gssize) size,
                                           BASE_DIR, DISPLAY_NAME, &error);
  if (profile == NULL)
    {
      /* "FILE:LINE:COLUMN: message", as every editor reads it */
      g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE);
      g_assert_true (g_str_has_prefix (error->message, DISPLAY_NAME ":"));
      g_assert_true (g_ascii_isdigit (error->message[strlen (DISPLAY_NAME ":")]));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  g_assert_no_error (error);
  check_profile (profile);

  return 0;
}
