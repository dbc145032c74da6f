/* fuzz-common.h: what every fuzz target shares
 *
 * Each fuzz-*.c defines the two libFuzzer entry points. Built with
 * -Dfuzz=true they link libFuzzer's main; in every build they also link
 * fuzz-replay.c, which feeds the committed corpus to them as a test, so a
 * regression input fails the ordinary test suite too.
 *
 * A target checks what its function promises, not only that it returns:
 * a broken promise aborts, which libFuzzer reports like a crash.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "tether-text.h"

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

/* A g_return_if_fail or a warning is a bug the fuzzer should stop at, not
 * a line in its log. */
static inline void
fuzz_init (void)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* Text that is shown to a person: valid UTF-8, at most max_bytes, and
 * nothing a terminal or a text layout would obey. */
static inline void
fuzz_assert_safe_text (const char *text,
                       gsize       max_bytes)
{
  g_assert_nonnull (text);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_cmpuint (strlen (text), <=, max_bytes);
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (tether_text_is_unsafe_char (g_utf8_get_char (p)))
      {
        g_autofree char *shown = tether_text_escape_for_terminal (text);

        /* abort, not g_error: libFuzzer catches SIGABRT, not SIGTRAP. */
        g_printerr ("unsafe character U+%04X at byte %" G_GSIZE_FORMAT " of \"%s\"\n",
                    g_utf8_get_char (p), (gsize) (p - text), shown);
        abort ();
      }
}
