/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_TYPES_H
#define _XBGEN_LINUX_TYPES_H

#ifdef XBGEN_SIM_HOST
/*
 * xbgen verify's simulation (sim.c) includes the C library's headers as
 * well: take their definitions, which have the same sizes on the hosts it
 * runs on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#else
typedef unsigned long size_t;
typedef long ssize_t;
typedef long long loff_t;
#endif
typedef unsigned int gfp_t;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
#ifndef XBGEN_SIM_HOST
typedef unsigned int uint32_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned long long uint64_t;
typedef _Bool bool;

enum {
	false = 0,
	true = 1
};

#define NULL ((void *)0)
#endif

/* Address-space and attribute markers: nothing to check. */
#define __user
#define __printf(a, b)
#define __must_check

/* What `fallthrough;` expands to, so the checker can see it. */
void __xbgen_fallthrough(void);
#define fallthrough __xbgen_fallthrough()

#endif
