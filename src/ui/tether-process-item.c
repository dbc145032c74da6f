/* tether-process-item.c: one row of the process tree
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-process-item.h"
#include "tether-process-tree.h"

struct _TetherProcessItem
{
  GObject parent_instance;

  TetherProcess *process;
  GListStore *children;
  TetherProcessTree *tree;  /* unowned: the tree owns its items */
  char *cpu_text;
  char *memory_text;
  char *role_text;          /* NULL unless a pool worker */
  char *worker_text;
  guint worker_slot;
  gboolean worker_settled;  /* not a worker, or a ready one */
  gboolean has_children;
  double subtree_cpu;       /* with every descendant; set by the tree */
  guint64 subtree_memory;
};

G_DEFINE_FINAL_TYPE (TetherProcessItem, tether_process_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PID,
  PROP_PARENT,
  PROP_NAME,
  PROP_COMM,
  PROP_CMDLINE,
  PROP_STATE_TEXT,
  PROP_CPU_PERCENT,
  PROP_CPU_TEXT,
  PROP_MEMORY_BYTES,
  PROP_MEMORY_TEXT,
  PROP_THREADS,
  PROP_STARTED_AT,
  PROP_HAS_CHILDREN,
  PROP_TREE,
  PROP_WORKER_SLOT,
  PROP_WORKER_SETTLED,
  PROP_ROLE_TEXT,
  PROP_WORKER_TEXT,
  PROP_SUBTREE_CPU_PERCENT,
  PROP_SUBTREE_MEMORY_BYTES,
  PROP_PPID,
  PROP_NICE,
  PROP_USER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *
tether_process_state_to_label (char state)
{
  switch (state)
    {
    case 'R': return C_("process state", "Running");
    case 'S': return C_("process state", "Sleeping");
    /* Support staff must see at once that a kill may not end it. */
    case 'D': return C_("process state", "Uninterruptible — may not die");
    case 'Z': return C_("process state", "Zombie");
    /* SIGSTOP: not to be mistaken for the backend's Stopped. */
    case 'T': return C_("process state", "Paused");
    case 't': return C_("process state", "Traced");
    case 'X': return C_("process state", "Dead");
    case 'I': return C_("process state", "Idle");
    default: return C_("process state", "Unknown");
    }
}

char *
tether_format_uptime (gint64 seconds)
{
  seconds = MAX (seconds, 0);
  if (seconds < 60)
    return g_strdup_printf (C_("uptime", "%d s"), (int) seconds);
  if (seconds < 3600)
    return g_strdup_printf (C_("uptime", "%d min"), (int) (seconds / 60));
  if (seconds < 86400)
    return g_strdup_printf (C_("uptime", "%d h %02d min"),
                            (int) (seconds / 3600), (int) (seconds % 3600 / 60));
  return g_strdup_printf (C_("uptime", "%d d %d h"),
                          (int) (seconds / 86400), (int) (seconds % 86400 / 3600));
}

/* Replaces *field with value and notifies, only when the text differs:
 * a tree of sleepers must not wake every bound label on every tick. */
static void
set_text (TetherProcessItem  *self,
          char              **field,
          char               *value,
          guint               prop)
{
  if (g_strcmp0 (*field, value) == 0)
    {
      g_free (value);
      return;
    }
  g_free (*field);
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
tether_process_item_update (TetherProcessItem    *self,
                            TetherProcessChanges  changes)
{
  TetherProcess *p;

  g_return_if_fail (TETHER_IS_PROCESS_ITEM (self));

  p = self->process;
  g_object_freeze_notify (G_OBJECT (self));

  if (changes & TETHER_PROCESS_CHANGED_PARENT)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PARENT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PPID]);
    }
  if (changes & TETHER_PROCESS_CHANGED_NICE)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NICE]);
  if (changes & TETHER_PROCESS_CHANGED_USER)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER]);
  if (changes & TETHER_PROCESS_CHANGED_COMMAND)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMM]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CMDLINE]);
    }
  if (changes & TETHER_PROCESS_CHANGED_STATE)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE_TEXT]);
  if (changes & TETHER_PROCESS_CHANGED_CPU)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CPU_PERCENT]);
      set_text (self, &self->cpu_text,
                g_strdup_printf ("%.1f", tether_process_get_cpu_percent (p)),
                PROP_CPU_TEXT);
    }
  if (changes & TETHER_PROCESS_CHANGED_MEMORY)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MEMORY_BYTES]);
      set_text (self, &self->memory_text,
                g_format_size_full (tether_process_get_memory_bytes (p, NULL), G_FORMAT_SIZE_IEC_UNITS),
                PROP_MEMORY_TEXT);
    }
  if (changes & TETHER_PROCESS_CHANGED_THREADS)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THREADS]);

  g_object_thaw_notify (G_OBJECT (self));
}

void
tether_process_item_set_subtree_totals (TetherProcessItem *self,
                                        double             cpu_percent,
                                        guint64            memory_bytes)
{
  g_return_if_fail (TETHER_IS_PROCESS_ITEM (self));

  if (self->subtree_cpu != cpu_percent)
    {
      self->subtree_cpu = cpu_percent;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUBTREE_CPU_PERCENT]);
    }
  if (self->subtree_memory != memory_bytes)
    {
      self->subtree_memory = memory_bytes;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUBTREE_MEMORY_BYTES]);
    }
}

double
tether_process_item_get_subtree_cpu_percent (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return self->subtree_cpu;
}

guint64
tether_process_item_get_subtree_memory_bytes (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return self->subtree_memory;
}

/* "worker 3 · recycled 2× · last: memory over the soft limit" */
static char *
format_worker (const TetherWorkerInfo *info)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);

  /* translators: %u is the worker's slot */
  g_ptr_array_add (parts, g_strdup_printf (_("worker %u"), info->slot));
  if (info->state == TETHER_WORKER_STARTING)
    g_ptr_array_add (parts, g_strdup (_("starting")));
  else if (info->state == TETHER_WORKER_RETIRING)
    /* translators: %s says why the worker is let go of */
    g_ptr_array_add (parts, g_strdup_printf (_("retiring: %s"),
                                             tether_worker_reason_to_label (info->reason)));
  if (info->generation > 0)
    {
      /* translators: how many workers this worker's slot had before it */
      g_ptr_array_add (parts, g_strdup_printf (_("recycled %u×"), info->generation));
      if (info->state != TETHER_WORKER_RETIRING && info->reason != TETHER_WORKER_REASON_NONE)
        /* translators: %s says why the slot's previous worker went */
        g_ptr_array_add (parts, g_strdup_printf (_("last: %s"),
                                                 tether_worker_reason_to_label (info->reason)));
    }
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (" · ", (char **) parts->pdata);
}

void
tether_process_item_set_worker (TetherProcessItem      *self,
                                const TetherWorkerInfo *info)
{
  gboolean settled;
  guint slot;

  g_return_if_fail (TETHER_IS_PROCESS_ITEM (self));

  slot = info != NULL ? info->slot : 0;
  settled = info == NULL || info->state == TETHER_WORKER_READY;
  g_object_freeze_notify (G_OBJECT (self));
  if (slot != self->worker_slot)
    {
      self->worker_slot = slot;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKER_SLOT]);
    }
  if (settled != self->worker_settled)
    {
      self->worker_settled = settled;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKER_SETTLED]);
    }
  /* translators: a process's role in the tree; %u is the worker's slot */
  set_text (self, &self->role_text,
            info != NULL ? g_strdup_printf (C_("process role", "worker %u"), info->slot) : NULL,
            PROP_ROLE_TEXT);
  set_text (self, &self->worker_text, info != NULL ? format_worker (info) : NULL, PROP_WORKER_TEXT);
  g_object_thaw_notify (G_OBJECT (self));
}

guint
tether_process_item_get_worker_slot (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return self->worker_slot;
}

const char *
tether_process_item_get_role_text (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return self->role_text;
}

const char *
tether_process_item_get_worker_text (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return self->worker_text;
}

TetherProcessItem *
tether_process_item_new (TetherProcess *process)
{
  TetherProcessItem *self;

  g_return_val_if_fail (process != NULL, NULL);

  self = g_object_new (TETHER_TYPE_PROCESS_ITEM, NULL);
  self->process = tether_process_ref (process);
  self->cpu_text = g_strdup_printf ("%.1f", tether_process_get_cpu_percent (process));
  self->memory_text = g_format_size_full (tether_process_get_memory_bytes (process, NULL),
                                          G_FORMAT_SIZE_IEC_UNITS);
  return self;
}

TetherProcess *
tether_process_item_get_process (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return self->process;
}

int
tether_process_item_get_pid (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_pid (self->process);
}

int
tether_process_item_get_parent (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_parent (self->process);
}

const char *
tether_process_item_get_name (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return tether_process_get_program (self->process);
}

const char *
tether_process_item_get_cmdline (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return tether_process_get_cmdline (self->process);
}

double
tether_process_item_get_cpu_percent (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_cpu_percent (self->process);
}

guint64
tether_process_item_get_memory_bytes (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_memory_bytes (self->process, NULL);
}

guint
tether_process_item_get_threads (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_threads (self->process);
}

gint64
tether_process_item_get_started_at (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), 0);
  return tether_process_get_started_at (self->process);
}

GListStore *
tether_process_item_get_children (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return self->children;
}

gboolean
tether_process_item_get_has_children (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), FALSE);
  return self->has_children;
}

TetherProcessTree *
tether_process_item_get_tree (TetherProcessItem *self)
{
  g_return_val_if_fail (TETHER_IS_PROCESS_ITEM (self), NULL);
  return self->tree;
}

void
tether_process_item_set_tree (TetherProcessItem *self,
                              TetherProcessTree *tree)
{
  g_return_if_fail (TETHER_IS_PROCESS_ITEM (self));

  if (self->tree == tree)
    return;
  self->tree = tree;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TREE]);
}

/* Only the step between none and some: the window's name cell shows an
 * expander arrow for a row with children, and nothing else cares. */
static void
on_children_changed (TetherProcessItem *self)
{
  gboolean has_children = g_list_model_get_n_items (G_LIST_MODEL (self->children)) > 0;

  if (has_children == self->has_children)
    return;
  self->has_children = has_children;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_CHILDREN]);
}

static void
tether_process_item_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TetherProcessItem *self = TETHER_PROCESS_ITEM (object);
  TetherProcess *p = self->process;

  switch (prop_id)
    {
    case PROP_PID:
      g_value_set_int (value, tether_process_get_pid (p));
      break;
    case PROP_PARENT:
      g_value_set_int (value, tether_process_get_parent (p));
      break;
    case PROP_NAME:
      g_value_set_string (value, tether_process_get_program (p));
      break;
    case PROP_COMM:
      g_value_set_string (value, tether_process_get_name (p));
      break;
    case PROP_CMDLINE:
      g_value_set_string (value, tether_process_get_cmdline (p));
      break;
    case PROP_STATE_TEXT:
      g_value_set_string (value, tether_process_state_to_label (tether_process_get_state (p)));
      break;
    case PROP_CPU_PERCENT:
      g_value_set_double (value, tether_process_get_cpu_percent (p));
      break;
    case PROP_CPU_TEXT:
      g_value_set_string (value, self->cpu_text);
      break;
    case PROP_MEMORY_BYTES:
      g_value_set_uint64 (value, tether_process_get_memory_bytes (p, NULL));
      break;
    case PROP_MEMORY_TEXT:
      g_value_set_string (value, self->memory_text);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, tether_process_get_threads (p));
      break;
    case PROP_STARTED_AT:
      g_value_set_int64 (value, tether_process_get_started_at (p));
      break;
    case PROP_HAS_CHILDREN:
      g_value_set_boolean (value, self->has_children);
      break;
    case PROP_TREE:
      g_value_set_object (value, self->tree);
      break;
    case PROP_WORKER_SLOT:
      g_value_set_uint (value, self->worker_slot);
      break;
    case PROP_WORKER_SETTLED:
      g_value_set_boolean (value, self->worker_settled);
      break;
    case PROP_ROLE_TEXT:
      g_value_set_string (value, self->role_text);
      break;
    case PROP_SUBTREE_CPU_PERCENT:
      g_value_set_double (value, self->subtree_cpu);
      break;
    case PROP_SUBTREE_MEMORY_BYTES:
      g_value_set_uint64 (value, self->subtree_memory);
      break;
    case PROP_WORKER_TEXT:
      g_value_set_string (value, self->worker_text);
      break;
    case PROP_PPID:
      g_value_set_int (value, tether_process_get_ppid (p));
      break;
    case PROP_NICE:
      g_value_set_int (value, tether_process_get_nice (p));
      break;
    case PROP_USER:
      g_value_set_string (value, tether_process_get_user (p));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_process_item_finalize (GObject *object)
{
  TetherProcessItem *self = TETHER_PROCESS_ITEM (object);

  g_clear_pointer (&self->process, tether_process_unref);
  /* The tree list model may hold the store a while longer. */
  g_signal_handlers_disconnect_by_func (self->children, on_children_changed, self);
  g_clear_object (&self->children);
  g_free (self->cpu_text);
  g_free (self->memory_text);
  g_free (self->role_text);
  g_free (self->worker_text);

  G_OBJECT_CLASS (tether_process_item_parent_class)->finalize (object);
}

static void
tether_process_item_class_init (TetherProcessItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = tether_process_item_get_property;
  object_class->finalize = tether_process_item_finalize;

  properties[PROP_PID] = g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_PARENT] = g_param_spec_int ("parent", NULL, NULL, 0, G_MAXINT, 0, flags);
  /* What the command line runs (an interpreter's script): what the list
   * shows. "comm" is the kernel's 15-byte name, for the tooltip. */
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_COMM] = g_param_spec_string ("comm", NULL, NULL, NULL, flags);
  properties[PROP_CMDLINE] = g_param_spec_string ("cmdline", NULL, NULL, NULL, flags);
  properties[PROP_STATE_TEXT] = g_param_spec_string ("state-text", NULL, NULL, NULL, flags);
  properties[PROP_CPU_PERCENT] = g_param_spec_double ("cpu-percent", NULL, NULL,
                                                      0, G_MAXDOUBLE, 0, flags);
  properties[PROP_CPU_TEXT] = g_param_spec_string ("cpu-text", NULL, NULL, NULL, flags);
  /* PSS once the sampler has read it (every 5 s), RSS before: what
   * tether_process_get_memory_bytes says. */
  properties[PROP_MEMORY_BYTES] = g_param_spec_uint64 ("memory-bytes", NULL, NULL,
                                                    0, G_MAXUINT64, 0, flags);
  properties[PROP_MEMORY_TEXT] = g_param_spec_string ("memory-text", NULL, NULL, NULL, flags);
  properties[PROP_THREADS] = g_param_spec_uint ("threads", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_STARTED_AT] = g_param_spec_int64 ("started-at", NULL, NULL,
                                                    0, G_MAXINT64, 0, flags);
  properties[PROP_HAS_CHILDREN] = g_param_spec_boolean ("has-children", NULL, NULL, FALSE, flags);
  properties[PROP_TREE] = g_param_spec_object ("tree", NULL, NULL, TETHER_TYPE_PROCESS_TREE, flags);
  properties[PROP_WORKER_SLOT] = g_param_spec_uint ("worker-slot", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_WORKER_SETTLED] = g_param_spec_boolean ("worker-settled", NULL, NULL, TRUE, flags);
  properties[PROP_ROLE_TEXT] = g_param_spec_string ("role-text", NULL, NULL, NULL, flags);
  properties[PROP_WORKER_TEXT] = g_param_spec_string ("worker-text", NULL, NULL, NULL, flags);
  /* The process and its descendants: what a branch ranks by in the tree. */
  properties[PROP_SUBTREE_CPU_PERCENT] = g_param_spec_double ("subtree-cpu-percent", NULL, NULL,
                                                              0, G_MAXDOUBLE, 0, flags);
  properties[PROP_SUBTREE_MEMORY_BYTES] = g_param_spec_uint64 ("subtree-memory-bytes", NULL, NULL,
                                                            0, G_MAXUINT64, 0, flags);
  /* The optional columns. ppid is the kernel's parent (0 for a process
   * whose parent is outside the pid namespace), "parent" the tree's. */
  properties[PROP_PPID] = g_param_spec_int ("ppid", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_NICE] = g_param_spec_int ("nice", NULL, NULL, -20, 19, 0, flags);
  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_process_item_init (TetherProcessItem *self)
{
  self->worker_settled = TRUE;
  self->children = g_list_store_new (TETHER_TYPE_PROCESS_ITEM);
  g_signal_connect_swapped (self->children, "items-changed", G_CALLBACK (on_children_changed), self);
}
