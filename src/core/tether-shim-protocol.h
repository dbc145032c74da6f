/* tether-shim-protocol.h: the numbers Tether and tether-shim must agree on
 *
 * src/shim/PROTOCOL.md describes the protocol. Plain C, no GLib: the shim
 * includes this too.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

/* The first line the shim sends: "hello VERSION SHIM_PID KIND". */
#define TETHER_SHIM_PROTOCOL_VERSION 2

/* The longest line Tether may send, its '\n' included. */
#define TETHER_SHIM_MAX_LINE (1024 * 1024)

/* Descriptors one spawn may pass (stdout and stderr count). */
#define TETHER_SHIM_MAX_SPAWN_FDS 16
