/* tether-signal-dialog.c: Send Signal…, the choice
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-signal-dialog.h"

/* Signals a row of the grid holds. */
#define GRID_COLUMNS 3

struct _TetherSignalDialog
{
  AdwMessageDialog parent_instance;

  /* template children */
  GtkGrid *signal_grid;
  GtkLabel *description_label;
  GtkCheckButton *process_check;
  GtkCheckButton *subtree_check;

  int pid;
  const TetherSignalInfo *chosen;
};

G_DEFINE_FINAL_TYPE (TetherSignalDialog, tether_signal_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
on_signal_toggled (GtkToggleButton    *button,
                   TetherSignalDialog *self)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (self);

  /* The one that goes off says nothing: the one that comes on does. */
  if (!gtk_toggle_button_get_active (button))
    return;
  self->chosen = g_object_get_data (G_OBJECT (button), "tether-signal");
  gtk_label_set_label (self->description_label, _(self->chosen->description));
  adw_message_dialog_set_response_enabled (dialog, "send", TRUE);
  /* The dangerous ones are asked about once more (the window does). */
  adw_message_dialog_set_response_label (dialog, "send", self->chosen->dangerous ? _("_Send…") : _("_Send"));
  adw_message_dialog_set_response_appearance (dialog, "send",
                                              self->chosen->dangerous ? ADW_RESPONSE_DESTRUCTIVE
                                                                      : ADW_RESPONSE_SUGGESTED);
}

GtkWidget *
tether_signal_dialog_new (GtkWindow  *parent,
                          const char *name,
                          int         pid,
                          guint       n_subtree)
{
  TetherSignalDialog *self = g_object_new (TETHER_TYPE_SIGNAL_DIALOG, "transient-for", parent, NULL);
  /* translators: %s is a process's name, %d its ID */
  g_autofree char *heading = g_strdup_printf (_("Send a Signal to %s (%d)"), name, pid);
  /* translators: %u counts the process itself and its descendants */
  g_autofree char *subtree = g_strdup_printf (ngettext ("This process and its _descendants (%u process now)",
                                                        "This process and its _descendants (%u processes now)",
                                                        n_subtree), n_subtree);

  self->pid = pid;
  adw_message_dialog_set_heading (ADW_MESSAGE_DIALOG (self), heading);
  gtk_check_button_set_label (self->subtree_check, subtree);
  return GTK_WIDGET (self);
}

int
tether_signal_dialog_get_pid (TetherSignalDialog *self)
{
  g_return_val_if_fail (TETHER_IS_SIGNAL_DIALOG (self), 0);
  return self->pid;
}

const TetherSignalInfo *
tether_signal_dialog_get_signal (TetherSignalDialog *self)
{
  g_return_val_if_fail (TETHER_IS_SIGNAL_DIALOG (self), NULL);
  return self->chosen;
}

gboolean
tether_signal_dialog_get_subtree (TetherSignalDialog *self)
{
  g_return_val_if_fail (TETHER_IS_SIGNAL_DIALOG (self), FALSE);
  return gtk_check_button_get_active (self->subtree_check);
}

static void
tether_signal_dialog_class_init (TetherSignalDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/tether/Tether/tether-signal-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherSignalDialog, signal_grid);
  gtk_widget_class_bind_template_child (widget_class, TetherSignalDialog, description_label);
  gtk_widget_class_bind_template_child (widget_class, TetherSignalDialog, process_check);
  gtk_widget_class_bind_template_child (widget_class, TetherSignalDialog, subtree_check);
}

/* The buttons come from core's table, which a template cannot loop
 * over; nothing is chosen until someone chooses. */
static void
tether_signal_dialog_init (TetherSignalDialog *self)
{
  const TetherSignalInfo *offered;
  GtkToggleButton *first = NULL;
  guint n;

  gtk_widget_init_template (GTK_WIDGET (self));

  offered = tether_signals_get_offered (&n);
  for (guint i = 0; i < n; i++)
    {
      GtkWidget *button = gtk_toggle_button_new_with_label (offered[i].name);
      const char *description = _(offered[i].description);

      gtk_widget_set_tooltip_text (button, description);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, description, -1);
      g_object_set_data (G_OBJECT (button), "tether-signal", (gpointer) &offered[i]);
      if (first == NULL)
        first = GTK_TOGGLE_BUTTON (button);
      else
        gtk_toggle_button_set_group (GTK_TOGGLE_BUTTON (button), first);
      g_signal_connect (button, "toggled", G_CALLBACK (on_signal_toggled), self);
      gtk_grid_attach (self->signal_grid, button, (int) (i % GRID_COLUMNS), (int) (i / GRID_COLUMNS), 1, 1);
    }
}
