/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MATH64_H
#define _XBGEN_LINUX_MATH64_H

#include <linux/types.h>

u64 div_u64(u64 dividend, u32 divisor);
u64 div64_u64(u64 dividend, u64 divisor);

#endif
