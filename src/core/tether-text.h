/* tether-text.h: making text that a backend chose safe to show
 *
 * A backend names its own processes, writes its own STATUS= and checkpoint
 * labels; none of it may drive a terminal (ESC sequences retitle windows,
 * clear screens, fake lines with \r) or spoof text direction.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE for characters that change how a terminal or a text layout treats
 * what follows: C0 and C1 controls, DEL, and the bidirectional overrides
 * and isolates. */
gboolean tether_text_is_unsafe_char    (gunichar    c);

/* A copy for a terminal: ESC as \e, other unsafe characters as \xNN or
 * \uNNNN, invalid UTF-8 made valid. NULL stays NULL. */
char    *tether_text_escape_for_terminal (const char *text);

/* In place, for text that is kept and shown (STATUS=, labels): every
 * unsafe character becomes '?', and text longer than max_bytes is cut at a
 * character boundary and ends in "…". text must be valid UTF-8;
 * max_bytes must be at least 4. */
void     tether_text_sanitize_in_place (char       *text,
                                        gsize       max_bytes);

/* What a person calls the program argv runs, for a process list: the
 * basename of argv[0], or for an interpreter (python, node, java, perl,
 * ruby, php, sh and the like) what it runs: the script's basename, a
 * python -m module, a java -jar's jar or main class. "python3 -c ..." is
 * "python3". The kernel's 15-byte comm ("tether-test-tre", "exe") is what
 * this replaces. NULL for an empty argv. */
char    *tether_text_program_name      (const char * const *argv);

G_END_DECLS
