/* bench-util.h: helpers shared by the benchmarks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

/* Lines in a file (a pidfile the test tree appends to); 0 if unreadable. */
guint  bench_count_lines (const char *path);
/* The median of n values; sorts v in place. */
double bench_median      (double     *v,
                          guint       n);
