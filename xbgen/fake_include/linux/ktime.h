/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_KTIME_H
#define _XBGEN_LINUX_KTIME_H

#include <linux/types.h>

#define NSEC_PER_SEC	1000000000L

u64 ktime_get_ns(void);

#endif
