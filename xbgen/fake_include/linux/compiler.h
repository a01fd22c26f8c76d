/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_COMPILER_H
#define _XBGEN_LINUX_COMPILER_H

#include <linux/types.h>

/* One plain read: a value another domain may change under us. */
#define READ_ONCE(x)		(x)
#define WRITE_ONCE(x, val)	((x) = (val))

/*
 * Publish with release, read with acquire (asm/barrier.h).  The simulation
 * runs on one CPU at a time, so a plain store and load are what they do.
 */
#define smp_store_release(p, v)	(*(p) = (v))
#define smp_load_acquire(p)	(*(p))

#endif
