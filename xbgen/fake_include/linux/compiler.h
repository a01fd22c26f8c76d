/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_COMPILER_H
#define _XBGEN_LINUX_COMPILER_H

#include <linux/types.h>

/*
 * One untorn access of a value another CPU or domain may change under us.
 * xbgen verify interleaves each domain's threads on one simulated CPU,
 * where a plain access is exactly that.
 */
#define READ_ONCE(x)		(x)
#define WRITE_ONCE(x, val)	((x) = (val))

/*
 * Publish with release, read with acquire (asm/barrier.h).  xbgen verify
 * runs each domain's threads on one simulated CPU, so plain accesses are
 * what they do there; the check only needs them declared.
 */
#define smp_store_release(p, v)	(*(p) = (v))
#define smp_load_acquire(p)	(*(p))

#endif
