/* main.c: the tether desktop application's entry point
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "tether-application.h"
#include "tether-relocation.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TetherApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, tether_localedir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Tether"));
  app = tether_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
