/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_BITS_H
#define _XBGEN_LINUX_BITS_H

#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define GENMASK_ULL(h, l) (((~0ULL) >> (63 - (h))) & ~((1ULL << (l)) - 1))

#endif
