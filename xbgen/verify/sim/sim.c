// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: a simulation of the xenbus world the emitted drivers run in.
 *
 * The parts, each named after the kernel file whose behaviour it models
 * (sim_internal.h maps them), are compiled as one translation unit: a unity
 * build.  The helpers they share stay static, so the compiler inlines them
 * across parts as it did when they were one file, and none of their names
 * (fe, be, trace, start, ...) meets a name of the drivers' at the link.
 * Separate units cost 12% more instructions in an exploration,
 * and -flto would not win them back at -O1 (xbgen/verify/compiler.py has
 * the figures).
 */
#include "sim_internal.h"

#include "world.c"
#include "props.c"
#include "sched.c"
#include "snapshot.c"

#include "xenstore.c"
#include "xenbus_xs.c"
#include "xenbus_probe.c"
#include "xenbus_client.c"
#include "grant-table.c"
#include "events.c"

#include "kernel/mm.c"
#include "kernel/sync.c"
#include "kernel/workqueue.c"
#include "kernel/debugfs.c"
#include "kernel/printk.c"
#include "kernel/misc.c"

#include "toolstack.c"
#include "moves.c"
