/* tether-history.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-history.h"

#define MIN_ALLOC 16

struct _TetherHistory
{
  GObject parent_instance;

  TetherSample *buf;
  guint alloc;     /* slots in buf, <= capacity */
  guint capacity;
  guint head;      /* index of the oldest sample */
  guint length;
};

G_DEFINE_FINAL_TYPE (TetherHistory, tether_history, G_TYPE_OBJECT)

enum
{
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
tether_history_finalize (GObject *object)
{
  TetherHistory *self = TETHER_HISTORY (object);

  g_free (self->buf);

  G_OBJECT_CLASS (tether_history_parent_class)->finalize (object);
}

static void
tether_history_class_init (TetherHistoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_history_finalize;

  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_history_init (TetherHistory *self)
{
}

TetherHistory *
tether_history_new (guint capacity)
{
  TetherHistory *self;

  g_return_val_if_fail (capacity > 0, NULL);

  self = g_object_new (TETHER_TYPE_HISTORY, NULL);
  self->capacity = capacity;
  return self;
}

guint
tether_history_get_capacity (TetherHistory *self)
{
  g_return_val_if_fail (TETHER_IS_HISTORY (self), 0);

  return self->capacity;
}

guint
tether_history_get_length (TetherHistory *self)
{
  g_return_val_if_fail (TETHER_IS_HISTORY (self), 0);

  return self->length;
}

/* Moves the newest `keep` samples, oldest first, into a fresh buffer of
 * new_alloc slots. */
static void
relocate (TetherHistory *self,
          guint          keep,
          guint          new_alloc)
{
  TetherSample *buf = g_new (TetherSample, new_alloc);
  guint skip = self->length - keep;

  for (guint i = 0; i < keep; i++)
    buf[i] = self->buf[(self->head + skip + i) % self->alloc];

  g_free (self->buf);
  self->buf = buf;
  self->alloc = new_alloc;
  self->head = 0;
  self->length = keep;
}

void
tether_history_set_capacity (TetherHistory *self,
                             guint          capacity)
{
  guint keep;

  g_return_if_fail (TETHER_IS_HISTORY (self));
  g_return_if_fail (capacity > 0);

  if (capacity == self->capacity)
    return;

  keep = MIN (self->length, capacity);
  if (self->alloc > capacity || keep == self->alloc)
    relocate (self, keep, MIN (capacity, MAX (keep, MIN_ALLOC)));
  self->capacity = capacity;
  g_signal_emit (self, signals[CHANGED], 0);
}

void
tether_history_push (TetherHistory      *self,
                     const TetherSample *sample)
{
  g_return_if_fail (TETHER_IS_HISTORY (self));
  g_return_if_fail (sample != NULL);

  if (self->length < self->capacity)
    {
      if (self->length == self->alloc)
        relocate (self, self->length,
                  MIN (self->capacity, MAX (MIN_ALLOC, self->alloc * 2)));
      self->buf[(self->head + self->length) % self->alloc] = *sample;
      self->length++;
    }
  else
    {
      /* Full: length == capacity == alloc. Overwrite the oldest. */
      self->buf[self->head] = *sample;
      self->head = (self->head + 1) % self->alloc;
    }

  g_signal_emit (self, signals[CHANGED], 0);
}

void
tether_history_clear (TetherHistory *self)
{
  g_return_if_fail (TETHER_IS_HISTORY (self));

  g_clear_pointer (&self->buf, g_free);
  self->alloc = 0;
  self->head = 0;
  self->length = 0;
  g_signal_emit (self, signals[CHANGED], 0);
}

const TetherSample *
tether_history_get (TetherHistory *self,
                    guint          index)
{
  g_return_val_if_fail (TETHER_IS_HISTORY (self), NULL);

  if (index >= self->length)
    return NULL;
  return &self->buf[(self->head + index) % self->alloc];
}

const TetherSample *
tether_history_get_last (TetherHistory *self)
{
  g_return_val_if_fail (TETHER_IS_HISTORY (self), NULL);

  if (self->length == 0)
    return NULL;
  return tether_history_get (self, self->length - 1);
}

double
tether_sample_get_value (const TetherSample *sample,
                         TetherHistoryField  field)
{
  switch (field)
    {
    case TETHER_HISTORY_CPU:
      return sample->cpu_percent;
    case TETHER_HISTORY_RSS:
      return (double) sample->rss_bytes;
    default:
      g_return_val_if_reached (0.0);
    }
}

gboolean
tether_history_get_range (TetherHistory      *self,
                          TetherHistoryField  field,
                          gint64              since,
                          double             *min,
                          double             *max)
{
  gboolean found = FALSE;
  double lo = 0.0, hi = 0.0;

  g_return_val_if_fail (TETHER_IS_HISTORY (self), FALSE);

  /* Newest first: the scan stops at the first sample older than since. */
  for (guint i = self->length; i > 0; i--)
    {
      const TetherSample *s = tether_history_get (self, i - 1);
      double v;

      if (s->time < since)
        break;
      v = tether_sample_get_value (s, field);
      if (!found || v < lo)
        lo = v;
      if (!found || v > hi)
        hi = v;
      found = TRUE;
    }

  if (min != NULL)
    *min = lo;
  if (max != NULL)
    *max = hi;
  return found;
}
