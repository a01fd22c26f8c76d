/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_SLAB_H
#define _XBGEN_LINUX_SLAB_H

#include <linux/types.h>

#define GFP_KERNEL	((gfp_t)0xcc0)
#define __GFP_ZERO	((gfp_t)0x100)

void *kmalloc(size_t size, gfp_t flags);
void *kzalloc(size_t size, gfp_t flags);
void *kcalloc(size_t n, size_t size, gfp_t flags);
void kfree(const void *objp);
void *kvcalloc(size_t n, size_t size, gfp_t flags);
void kvfree(const void *addr);

#endif
