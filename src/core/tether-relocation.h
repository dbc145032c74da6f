/* tether-relocation.h: where an installation's parts are, from where it runs
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* PREFIX/relative_dir/name when this program runs from PREFIX/bindir (an
 * installation, wherever it was moved or staged with DESTDIR); NULL when
 * it does not run from a bindir (the build tree, the tests) or the
 * directories were configured as absolute paths. */
char       *tether_relocated_path (const char *relative_dir,
                                   const char *name);

/* The message catalogs to bind: this installation's own localedir when it
 * has one, else the configured LOCALEDIR. */
const char *tether_localedir      (void);

G_END_DECLS
