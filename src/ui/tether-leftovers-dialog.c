/* tether-leftovers-dialog.c: what an earlier run left behind, before a start
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>

#include "tether-leftovers.h"
#include "tether-leftovers-dialog.h"
#include "tether-text.h"

struct _TetherLeftoversDialog
{
  AdwMessageDialog parent_instance;

  /* template children */
  GtkListBox *list;
};

G_DEFINE_FINAL_TYPE (TetherLeftoversDialog, tether_leftovers_dialog, ADW_TYPE_MESSAGE_DIALOG)

/* "python3 (4242)": the program from the command line, as the process
 * tree names it; a leftover's arguments come joined by spaces, so one with
 * spaces inside an argument may read a little off. */
static char *
leftover_title (const TetherLeftover *leftover)
{
  g_auto(GStrv) argv = g_strsplit (leftover->cmdline, " ", -1);
  g_autofree char *program = argv[0] != NULL && argv[0][0] != '\0'
                             ? tether_text_program_name ((const char * const *) argv) : NULL;

  /* translators: a process's name, then its ID */
  return g_strdup_printf (_("%s (%d)"), program != NULL ? program : leftover->name, (int) leftover->pid);
}

static GtkWidget *
leftover_row (const TetherLeftover *leftover)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *title = leftover_title (leftover);
  /* "4242 python3 server.py (12 min old, runs this profile's command)",
   * less the pid the title has already. */
  g_autofree char *description = tether_leftover_describe (leftover);
  g_autofree char *pid = g_strdup_printf ("%d ", (int) leftover->pid);
  const char *subtitle = g_str_has_prefix (description, pid) ? description + strlen (pid) : description;

  /* What a backend chose is text, never markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 3);
  return row;
}

GtkWidget *
tether_leftovers_dialog_new (GtkWindow     *parent,
                             TetherProfile *profile,
                             GPtrArray     *leftovers)
{
  TetherLeftoversDialog *self;
  g_autofree char *body = NULL;
  g_autofree char *how = NULL;

  g_return_val_if_fail (profile != NULL, NULL);
  g_return_val_if_fail (leftovers != NULL, NULL);

  self = g_object_new (TETHER_TYPE_LEFTOVERS_DIALOG, "transient-for", parent, NULL);
  /* translators: %s is the backend's name, %u how many processes */
  body = g_strdup_printf (ngettext ("An earlier run of %s left %u process behind. Starting beside it "
                                    "could fail, or run the backend twice.",
                                    "An earlier run of %s left %u processes behind. Starting beside them "
                                    "could fail, or run the backend twice.",
                                    leftovers->len),
                          profile->name, leftovers->len);
  /* translators: SIG%s is the profile's stop signal (SIGTERM), %g seconds */
  how = g_strdup_printf (_("Ending sends SIG%s, then SIGKILL to what is still there after %g s."),
                         sigabbrev_np (profile->stop.signal), profile->stop.graceful_timeout);
  adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (self), "%s %s", body, how);
  adw_message_dialog_set_response_label (ADW_MESSAGE_DIALOG (self), "end",
                                         ngettext ("_End It and Start", "_End Them and Start",
                                                   leftovers->len));
  for (guint i = 0; i < leftovers->len; i++)
    gtk_list_box_append (self->list, leftover_row (g_ptr_array_index (leftovers, i)));
  return GTK_WIDGET (self);
}

static void
tether_leftovers_dialog_class_init (TetherLeftoversDialogClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/tether/Tether/tether-leftovers-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherLeftoversDialog, list);
}

static void
tether_leftovers_dialog_init (TetherLeftoversDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
