/* tether-history.h: a fixed-capacity ring buffer of timestamped samples
 *
 * One per process and one for the whole tree; the graphs draw from it.
 * Storage grows on demand up to the capacity (a process that lives ten
 * seconds costs ten samples, not five minutes' worth), then the oldest
 * sample is overwritten. "changed" is emitted after every push, clear and
 * capacity change.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct
{
  gint64  time;         /* g_get_monotonic_time () of the tick, µs */
  double  cpu_percent;  /* 100 = one core busy for the whole interval */
  guint64 rss_bytes;
} TetherSample;

typedef enum
{
  TETHER_HISTORY_CPU,
  TETHER_HISTORY_RSS,
} TetherHistoryField;

#define TETHER_TYPE_HISTORY (tether_history_get_type ())

G_DECLARE_FINAL_TYPE (TetherHistory, tether_history, TETHER, HISTORY, GObject)

TetherHistory      *tether_history_new          (guint               capacity);

guint               tether_history_get_capacity (TetherHistory      *self);
/* Keeps the newest min (length, capacity) samples. capacity >= 1. */
void                tether_history_set_capacity (TetherHistory      *self,
                                                 guint               capacity);
guint               tether_history_get_length   (TetherHistory      *self);

void                tether_history_push         (TetherHistory      *self,
                                                 const TetherSample *sample);
void                tether_history_clear        (TetherHistory      *self);

/* index 0 is the oldest sample still held; NULL past the end. */
const TetherSample *tether_history_get          (TetherHistory      *self,
                                                 guint               index);
/* The newest sample, or NULL when empty. */
const TetherSample *tether_history_get_last     (TetherHistory      *self);

/* Smallest and largest value of field among the samples taken at or after
 * since (G_MININT64: all). FALSE, and both set to 0, when there is none. */
gboolean            tether_history_get_range    (TetherHistory      *self,
                                                 TetherHistoryField  field,
                                                 gint64              since,
                                                 double             *min,
                                                 double             *max);

double              tether_sample_get_value     (const TetherSample *sample,
                                                 TetherHistoryField  field);

G_END_DECLS
