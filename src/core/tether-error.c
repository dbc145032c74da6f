/* tether-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-error.h"

G_DEFINE_QUARK (tether-error-quark, tether_error)
