/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SIZES_H
#define _XBGEN_LINUX_SIZES_H

#define SZ_64K	0x00010000

#endif
