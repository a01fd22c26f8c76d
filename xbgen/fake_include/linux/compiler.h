/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_COMPILER_H
#define _XBGEN_LINUX_COMPILER_H

#include <linux/types.h>

/* One plain read: a value another domain may change under us. */
#define READ_ONCE(x)		(x)
#define WRITE_ONCE(x, val)	((x) = (val))

#endif
