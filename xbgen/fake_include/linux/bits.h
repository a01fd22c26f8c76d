/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_BITS_H
#define _XBGEN_LINUX_BITS_H

#define BIT(nr) (1UL << (nr))

#endif
