/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_STDDEF_H
#define _XBGEN_LINUX_STDDEF_H

#include <linux/types.h>

/* pycparser knows offsetof() itself; gcc (xbgen verify) needs the builtin. */
#if defined(XBGEN_SIM) && !defined(offsetof)
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif
