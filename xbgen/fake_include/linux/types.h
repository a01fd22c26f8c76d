/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_TYPES_H
#define _XBGEN_LINUX_TYPES_H

typedef unsigned long size_t;
typedef unsigned int gfp_t;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef _Bool bool;

enum {
	false = 0,
	true = 1
};

#define NULL ((void *)0)

/* What `fallthrough;` expands to, so the checker can see it. */
void __xbgen_fallthrough(void);
#define fallthrough __xbgen_fallthrough()

#endif
