/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_BITOPS_H
#define _XBGEN_LINUX_BITOPS_H

#include <linux/types.h>

#include <linux/bits.h>

void set_bit(long nr, volatile unsigned long *addr);
void clear_bit(long nr, volatile unsigned long *addr);
bool test_bit(long nr, const volatile unsigned long *addr);
bool test_and_clear_bit(long nr, volatile unsigned long *addr);
bool test_and_set_bit(long nr, volatile unsigned long *addr);

#endif
