/* tether-relocation.c: where an installation's parts are, from where it runs
 *
 * An installed tetherctl or tether finds its shim and its translations
 * beside itself rather than at the prefix it was configured with, so a
 * moved installation, a DESTDIR staging (what test-install runs) or a
 * Flatpak's /app all use their own parts, never another installation's or
 * the build tree's.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-relocation.h"

#include <string.h>

char *
tether_relocated_path (const char *relative_dir,
                       const char *name)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *root = NULL;
  const char *bindir = TETHER_BINDIR_RELATIVE;
  size_t dir_len, bindir_len = strlen (bindir);

  if (exe == NULL || g_path_is_absolute (bindir) || g_path_is_absolute (relative_dir))
    return NULL;
  dir = g_path_get_dirname (exe);
  dir_len = strlen (dir);
  if (dir_len <= bindir_len || !g_str_has_suffix (dir, bindir) || dir[dir_len - bindir_len - 1] != '/')
    return NULL;
  root = g_strndup (dir, dir_len - bindir_len - 1);
  return g_build_filename (root, relative_dir, name, NULL);
}

const char *
tether_localedir (void)
{
  static gsize localedir;

  if (g_once_init_enter (&localedir))
    {
      char *found = tether_relocated_path (TETHER_LOCALEDIR_RELATIVE, NULL);

      if (found == NULL || !g_file_test (found, G_FILE_TEST_IS_DIR))
        {
          g_free (found);
          found = g_strdup (LOCALEDIR);
        }
      g_once_init_leave (&localedir, (gsize) found);
    }
  return (const char *) localedir;
}
